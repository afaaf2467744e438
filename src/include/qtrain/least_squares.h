/* Quantized least squares: the convex setting of Li et al. 2017, section 4, trained through
 * the library's real update path (qt_quant_prepare / qt_quant_update on a one-layer net).
 *
 *   f(w) = 1/(2m) ||A w - b||^2,  A (m x d) standard normal, b = A w* + noise,
 *   w* with entries w_scale * N(0, 1),
 * minimised by minibatch SGD with lr_t = lr0 / (1 + t / lr_halflife) on the unbounded grid ΔZ.
 *
 * The theory says: BC's float iterate gets within O(Δ) of the optimum and keeps refining as
 * the learning rate shrinks, while SR's iterates sit on an accuracy floor, linear in Δ, that
 * a smaller learning rate does not lower. tests/quant/test_convex.c checks that, and
 * tools/qconvex sweeps Δ and the learning rate for experiments/convex. */
#ifndef QTRAIN_LEAST_SQUARES_H
#define QTRAIN_LEAST_SQUARES_H

#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/quant.h"

typedef struct qt_lsq_problem {
    int m, d;
    double *a;                /* m x d, row-major */
    double *b;                /* m */
} qt_lsq_problem;

/* Draws a problem from a stream seeded with seed: for each row i in turn, the noise of b[i]
 * (noise * N(0, 1)) and then the d entries of A's row, after w* (w_scale * N(0, 1) each). */
int qt_lsq_make(qt_lsq_problem *p, int m, int d, double w_scale, double noise, uint64_t seed,
                qt_error *err);
void qt_lsq_free(qt_lsq_problem *p);

/* f(w) for w of length d. */
double qt_lsq_loss(const qt_lsq_problem *p, const double *w);

/* The float minimiser (normal equations by Cholesky) into w (length d). Fails when A^T A is
 * not positive definite (m < d or dependent columns). */
int qt_lsq_solve(const qt_lsq_problem *p, double *w, qt_error *err);

/* The best grid point's loss on ΔZ^d, approximately: start from the rounded float minimiser
 * and move single coordinates by +-Δ while the loss drops (a local search; exact when the
 * rounding lands in the right basin, an upper bound otherwise). */
int qt_lsq_best_grid_loss(const qt_lsq_problem *p, double delta, double *loss, qt_error *err);

typedef struct qt_lsq_run {
    qt_quant_mode mode;       /* FP, BC (deterministic rounding of the buffer), SR or R */
    float delta;              /* grid step Δ (ignored for FP) */
    float lr0;                /* lr_t = lr0 / (1 + t / lr_halflife) */
    float lr_halflife;
    int steps, batch;
    uint64_t seed;            /* minibatch sampling and stochastic rounding */
} qt_lsq_run;

typedef struct qt_lsq_result {
    /* Averaged over the second half of training, after each update: */
    double loss;              /* of the iterate the rule keeps: BC's float buffer w_r, else w */
    double quantized_loss;    /* of the quantized weights: BC's Q(w_r); SR, R and FP the same as loss */
    double averaged_loss;     /* f at the average of the kept iterate over the second half
                                 (the point the paper's bounds speak of; off the grid) */
    double final_loss;        /* loss after the last step */
} qt_lsq_result;

/* Trains from w = 0 (a grid point) and fills res. */
int qt_lsq_train(const qt_lsq_problem *p, const qt_lsq_run *run, qt_lsq_result *res,
                 qt_error *err);

#endif

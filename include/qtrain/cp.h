/* CP decomposition of a layer's weight, float (CP-ALS) and with factors on a quantization grid
 * (AO-ADMM; Cherniuk et al., "Quantization Aware Factorization for Deep Neural Network
 * Compression", JAIR 2024: scripts/factorize.py and source/admm.py of their code).
 *
 * A k x k conv weight (C_out, C_in, k, k) is the 3-way tensor X (C_out, C_in, k*k), and
 * X ~ [[A, B, C]], X[i, j, s] ~ sum_r A[i, r] B[j, r] C[s, r]. A 1x1 conv or linear weight is
 * the matrix X (C_out, C_in) ~ A B^T: the same solver with the third factor fixed to ones. */
#ifndef QTRAIN_CP_H
#define QTRAIN_CP_H

#include <stdint.h>

#include "qtrain/alphabet.h"
#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_cp_tensor {
    const float *x;           /* dims[0] x dims[1] x dims[2], row-major */
    int dims[3];              /* dims[2] = 1 for a matrix */
    int nmodes;               /* 3, or 2 for a matrix */
} qt_cp_tensor;

typedef struct qt_cp_factors {
    int nmodes, rank, dims[3];
    double *f[3];             /* factor m: dims[m] x rank, row-major; a matrix's f[2] is ones */
} qt_cp_factors;

/* Rank from a parameter reduction rate: floor(numel / (sum of the mode sizes * rate)), at
 * least 1; e.g. 64x64x9 at rate 2 gives floor(36864 / 274) = 134. */
int qt_cp_rank(const qt_cp_tensor *t, double rate);

int qt_cp_factors_alloc(qt_cp_factors *f, const qt_cp_tensor *t, int rank, qt_error *err);
void qt_cp_factors_free(qt_cp_factors *f);
/* Every free factor entry i.i.d. N(0, 1) (the reference's random init). */
void qt_cp_factors_random(qt_cp_factors *f, uint64_t seed);
/* Rescales the columns of each rank-one term to equal norms across the free factors; the
 * product is unchanged (up to rounding). */
void qt_cp_factors_balance(qt_cp_factors *f);

/* ||X - [[A, B, C]]||_F / ||X||_F (0 for X = 0). */
double qt_cp_rel_error(const qt_cp_tensor *t, const qt_cp_factors *f);

/* Relative error after each sweep (errors may be NULL); n sweeps were run. */
typedef struct qt_cp_trace {
    double *errors;
    int cap, n;
    long inner_iters;         /* ADMM: iterations summed over all factor updates */
} qt_cp_trace;

typedef struct qt_cp_als_opts {
    int max_sweeps;
    double tol;               /* stop when the relative error changes by less */
} qt_cp_als_opts;

/* Float CP-ALS from the factors' current values. */
int qt_cp_als(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_als_opts *o,
              qt_cp_trace *trace, qt_error *err);

typedef struct qt_cp_epc_opts {
    int max_sweeps;           /* the reference: 50 (init_factors' epc_maxiter) */
    double tol;               /* stop when the intensity changes by less, relative (1e-4) */
} qt_cp_epc_opts;

/* Error preserving correction (Phan et al. 2020), ADMM-EPC's initialisation: from a fit with
 * error delta = ||X - [[A, B, C]]||, minimise the intensity sum_r ||a_r||^2 ||b_r||^2 ||c_r||^2
 * subject to ||X - [[A, B, C]]|| <= delta, one factor at a time (each a ridge solution whose
 * ridge is the largest that keeps the error, found by bisection), then balance the columns.
 * Small, balanced terms without cancellation round onto a grid with less error. The trace
 * records sqrt(intensity) per sweep. */
int qt_cp_epc(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_epc_opts *o,
              qt_cp_trace *trace, qt_error *err);

/* The baseline "float CP, then quantize": balances the factors, then projects each free
 * factor onto its own MSE-fitted grid of `bits` (mse_grid.h). */
int qt_cp_quantize_factors(qt_cp_factors *f, int bits, qt_alphabet grids[3], qt_error *err);

typedef struct qt_cp_admm_opts {
    int bits;
    int max_sweeps;           /* outer alternating sweeps over the factors */
    int max_inner;            /* ADMM iterations per factor update */
    double eps;               /* inner stop: ||H - H~||^2/||H||^2 and ||H - H_prev||^2/||U||^2
                                 both below eps */
    double tol;               /* outer stop: the relative error changes by less than tol */
    int diverge_window;       /* stop when the error rose by more than 1e-3 over this many
                                 sweeps (the reference: 5) */
} qt_cp_admm_opts;

/* The reference's settings: eps 1e-8, tol 1e-5, divergence window 5 (it runs up to 1000
 * sweeps and 1000 ADMM iterations; the caller chooses the caps). */
qt_cp_admm_opts qt_cp_admm_defaults(int bits, int max_sweeps, int max_inner);

/* AO-ADMM with quantized factors from the factors' current values (random or a float CP).
 * Each factor update: G = Hadamard product of the other factors' Gram matrices, F = the
 * MTTKRP, rho = trace(G)/R, L = chol(G + rho I); then repeat
 *   H~ = (F + rho (H + U)) (G + rho I)^-1,  H = Q(H~ - U),  U = U + H - H~
 * where Q projects onto the factor's MSE grid, refitted every time. The duals U are kept
 * across sweeps. Sweeps stop when the error changes by less than tol, or when it rose by more
 * than 1e-3 over the last diverge_window sweeps (the reference's divergence guard). The
 * factors returned are the best sweep's (the reference returns the last; best is never worse
 * in e_quant), every free entry on grids[m]. */
int qt_cp_admm(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_admm_opts *o,
               qt_alphabet grids[3], qt_cp_trace *trace, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

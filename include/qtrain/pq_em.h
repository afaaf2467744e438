/* Activation-weighted k-means for one layer's subvectors ("And the Bit Goes Down", EM.step).
 *
 * Minimises sum_j ||A (w_j - c_{a_j})||^2 over the codebook c and the assignment a, with A
 * the layer's input activations unrolled into rows of d values (pq_layout.h): the error of
 * the layer's outputs, not of its weights. With G = A^T A (d x d) the distance is
 * (w - c)^T G (w - c), so A is never formed. Each iteration:
 *   - draws a fresh sample of patches and forms its G (every patch when sample = 0);
 *   - E-step: each subvector goes to the centroid of least distance (the lowest index on ties);
 *   - empty clusters: while one is empty, the most populated cluster m is split,
 *     c_empty = c_m + e and c_m = c_m - e with e = eps N(0, I), and m's members go to the
 *     nearer of the two (the reference reassigns every subvector; the others cannot move
 *     but for ties within |e|, and the full pass made each split cost a whole E-step).
 *     Should the split leave the cluster empty (a cluster of identical subvectors cannot be
 *     split by a perturbation), m's member farthest from c_m becomes the new centroid, so
 *     every iteration ends with k non-empty clusters;
 *   - M-step: c = P mean_{j in cluster}(w_j), the least-squares solution, with P = G^+ G the
 *     projection onto the row space of A: the plain cluster mean when A has full column rank.
 * The objective is tracked on a fixed evaluation sample drawn once at the start. */
#ifndef QTRAIN_PQ_EM_H
#define QTRAIN_PQ_EM_H

#include <stdint.h>

#include "qtrain/pq_layout.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_pq_em_opts {
    int iters;                /* EM iterations (the reference: 100) */
    int sample;               /* patches drawn afresh each iteration (0 = every patch) */
    int eval_sample;          /* patches of the fixed objective sample (0 = every patch) */
    int weighted;             /* 1: the activation metric; 0: plain k-means, G = I */
    double eps;               /* split perturbation (the reference: 1e-8) */
    const float *init;        /* k x d starting centroids; NULL: k subvectors drawn at random */
    uint64_t seed;
} qt_pq_em_opts;

/* 100 iterations, 4096 patches per iteration and for the objective, weighted, eps 1e-8. */
qt_pq_em_opts qt_pq_em_defaults(void);

typedef struct qt_pq_em_stats {
    double *objective;        /* iters entries when non-NULL: the objective after each iteration */
    double first, last;       /* objective after the first and the last iteration */
    int splits;               /* empty clusters resolved */
    int rank_deficient;       /* iterations whose sample did not have full column rank */
} qt_pq_em_stats;

/* w: the n_sub x d subvectors (the layer's weight buffer, see pq_layout.h); x: the layer's
 * input patches (feature-major, s->fan_in rows; may be NULL when !o->weighted). Fills
 * centroids (s->k x d) and assign (n_sub entries in [0, k)). Needs n_sub >= k. */
int qt_pq_em(const float *w, const qt_pq_shape *s, const qt_layer_inputs *x,
             const qt_pq_em_opts *o, float *centroids, int32_t *assign, qt_pq_em_stats *st,
             qt_error *err);

/* sum_j (w_j - c_{a_j})^T G (w_j - c_{a_j}) for a d x d matrix g (NULL: the identity). */
double qt_pq_objective(const float *w, const qt_pq_shape *s, const float *centroids,
                       const int32_t *assign, const double *g);

#ifdef __cplusplus
}
#endif

#endif

/* GPFQ: greedy path-following quantization of one layer (Lybrand and Saab 2021).
 *
 * For a neuron w (N weights), with X (m x N) the layer input in the float network and Xq the
 * same input in the network whose earlier layers are already quantized, walk t = 1..N:
 *     u_0 = 0
 *     q_t = Q_A( <Xq_t, u_{t-1} + w_t X_t> / ||Xq_t||^2 )        (q_t = 0 when ||Xq_t|| = 0)
 *     u_t = u_{t-1} + w_t X_t - q_t Xq_t
 * so u_N = X w - Xq q is the running error of the neuron's pre-activation. Q_A rounds to the
 * nearest alphabet level, or stochastically (unbiased; SPFQ, Zhang and Saab 2023). */
#ifndef QTRAIN_GPFQ_H
#define QTRAIN_GPFQ_H

#include <stdint.h>

#include "qtrain/alphabet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Features are stored feature-major: xt (N x m), row t is feature t across the m samples
 * (column t of X). xqt likewise; xqt may equal xt (first layer). */
typedef struct qt_gpfq_data {
    const float *xt, *xqt;
    int n_features;           /* N */
    int m;                    /* samples */
} qt_gpfq_data;

typedef struct qt_gpfq_opts {
    int stochastic;           /* SPFQ-style rounding */
    uint64_t seed;
} qt_gpfq_opts;

/* Quantizes all rows of w (rows x N, row-major) together: one sweep over t updating the error
 * matrix U (rows x m). Writes alphabet indices into q (rows x N) and, if non-NULL, the final
 * errors u_N into u_out (rows x m). */
int qt_gpfq_layer(const qt_gpfq_data *d, const float *w, int rows, const qt_alphabet *a,
                  const qt_gpfq_opts *o, int32_t *q, float *u_out, qt_error *err);

/* The same algorithm neuron by neuron (the paper's formulation), for tests. */
int qt_gpfq_neuron(const qt_gpfq_data *d, const float *w, const qt_alphabet *a,
                   const qt_gpfq_opts *o, int row, int32_t *q, float *u);

/* Memoryless scalar quantization: each weight to its nearest level. */
void qt_msq(const float *w, size_t n, const qt_alphabet *a, int32_t *q);

#ifdef __cplusplus
}
#endif

#endif

/* AdaRound (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training Quantization",
 * ICML 2020): each weight rounds down or up to a neighbouring level of the layer's alphabet,
 * the direction learnt per layer on the calibration samples. With W~ = lo + step (floor + h(V)),
 * h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1), zeta = 1.1, gamma = -0.1, Adam
 * minimises
 *     mean over outputs and samples of (W X - W~ Xq)^2  +  lambda sum (1 - |2 h(V) - 1|^beta)
 * on minibatches of samples (X: the layer's input in the float net, Xq: in the partly
 * quantized one, as for GPFQ), beta annealed from 20 to 2 after a warm start of 20% of the
 * iterations without the regulariser; V starts where h(V) is the weight's fractional
 * position, so the first iterate is the float weight. The result rounds up where h >= 0.5.
 * The reference implementation (AIMET, used by Cherniuk et al.) runs 10000 iterations with
 * lambda 0.01 and the same beta schedule and warm start. */
#ifndef QTRAIN_ADAROUND_H
#define QTRAIN_ADAROUND_H

#include "qtrain/gpfq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_adaround_opts {
    int iters;                /* Adam steps (default 1000) */
    int batch;                /* samples per step (default 256) */
    double lr;                /* Adam learning rate (default 0.01) */
    double reg;               /* lambda (default 0.01) */
    uint64_t seed;            /* minibatch draws */
} qt_adaround_opts;

qt_adaround_opts qt_adaround_defaults(void);

/* Level indices q (rows x N) for w (rows x N, row-major) on alphabet a. */
int qt_adaround_layer(const qt_gpfq_data *d, const float *w, int rows, const qt_alphabet *a,
                      const qt_adaround_opts *o, int32_t *q, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

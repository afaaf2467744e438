/* Post-training activation quantization: the input of every quantized conv or linear layer
 * is put on a per-tensor uniform grid of 2^bits levels (qt_layer.act, applied by the forward
 * pass), its range calibrated on the calibration images.
 *
 * With per_channel, a conv layer's input channels get a range each (same bits).
 *
 * Ranges: minmax takes [min, max] of the layer's inputs over the calibration images; mse
 * shrinks that range by a factor a in [0.2, 1] (100 values; both ends scaled, so a
 * non-negative input keeps 0 as its lowest level) and keeps the a minimising the squared
 * quantization error of a sample of the inputs: outliers then cost a few clipped values
 * instead of a coarse step for all of them. The reference (Cherniuk et al.,
 * scripts/custom_benchmark.py) also searches the L2-optimal range; mse is the default. */
#ifndef QTRAIN_ACT_QUANT_H
#define QTRAIN_ACT_QUANT_H

#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_ACT_RANGE_MSE, QT_ACT_RANGE_MINMAX } qt_act_range;

enum { QT_ACT_CLIP_CANDIDATES = 100, QT_ACT_SAMPLE = 1 << 18 };

typedef struct qt_act_quant_opts {
    int bits;                 /* 2..8; 0 or 32: inputs stay float */
    qt_act_range range;
    int images;               /* calibration images the ranges are measured on */
    uint64_t seed;            /* which input values the mse search samples */
    int per_channel;          /* conv layers: one range per input channel (linear: per tensor) */
} qt_act_quant_opts;

/* The grid of `bits` for the values x[0..n) whose exact range is [lo, hi]. */
int qt_act_grid_fit(const float *x, size_t n, float lo, float hi, int bits, qt_act_range range,
                    qt_uniform_grid *g, qt_error *err);

/* Measures the input of every layer i with mask[i] (conv or linear) over the first
 * o->images calibration images, with float inputs everywhere (grids found earlier are
 * cleared first), then gives the layer its grid (qt_layer_set_act): one for the tensor, or
 * with o->per_channel one per input channel of a conv layer. */
int qt_act_calibrate(qt_net *net, const int *mask, const qt_calib_set *cs,
                     const qt_act_quant_opts *o, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

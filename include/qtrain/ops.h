/* Differentiable ops. Each takes and returns arena tensors; each has its forward and
 * backward kernels side by side in src/core/ops/<op>.c, with the shapes above each.
 * An op given a NULL input returns NULL (see autograd.h for the error convention). */
#ifndef QTRAIN_OPS_H
#define QTRAIN_OPS_H

#include <stdint.h>

#include "qtrain/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = x W^T + b.  x (N, IN), w (OUT, IN), b (OUT) or NULL -> y (N, OUT). */
qt_tensor *qt_linear(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b);

typedef struct qt_conv_spec {
    int stride;
    int pad;
    int groups;               /* 1 = dense; C_in = C_out = groups is depthwise */
} qt_conv_spec;

/* 2-D convolution (cross-correlation).  x (N, C_in, H, W), w (C_out, C_in/groups, KH, KW),
 * b (C_out) or NULL -> y (N, C_out, (H + 2p - KH)/s + 1, (W + 2p - KW)/s + 1). */
qt_tensor *qt_conv2d(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b, qt_conv_spec spec);

/* Running statistics of a batchnorm layer, owned by the layer. */
typedef struct qt_bn_stats {
    float *running_mean;      /* C */
    float *running_var;       /* C, unbiased batch variance averaged like PyTorch */
    float momentum;           /* running = (1 - momentum) running + momentum batch */
    float eps;
} qt_bn_stats;

/* Batchnorm over N (and H, W) per channel.  x (N, C) or (N, C, H, W), gamma/beta (C) -> y like x.
 * c->training: batch statistics, running stats updated; otherwise the running stats. */
qt_tensor *qt_batchnorm(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                        const qt_bn_stats *stats);
/* Fused y = relu(batchnorm(x) + residual), residual (same shape as x) or NULL: the
 * conv-BN-ReLU unit and the end of a residual block in one pass, without keeping the
 * intermediate tensors. */
qt_tensor *qt_batchnorm_relu(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                             const qt_bn_stats *stats, qt_tensor *residual);

/* Inference: y = [relu](batchnorm(conv2d(x, w, b)) [+ residual]) with the running
 * statistics, in one pass over each image's output while it is in cache. With grad
 * recording or training on, it runs the ops one by one (same result). */
qt_tensor *qt_conv2d_bn_relu(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b,
                             qt_conv_spec spec, qt_tensor *gamma, qt_tensor *beta,
                             const qt_bn_stats *stats, qt_tensor *residual, int relu);

/* Elementwise, any shape. */
qt_tensor *qt_relu(qt_ctx *c, qt_tensor *x);
qt_tensor *qt_hardtanh(qt_ctx *c, qt_tensor *x);                 /* clip to [-1, 1] */
qt_tensor *qt_add(qt_ctx *c, qt_tensor *a, qt_tensor *b);         /* same shapes */
/* Inverted dropout: zero with probability p, scale survivors by 1/(1-p); identity in eval. */
qt_tensor *qt_dropout(qt_ctx *c, qt_tensor *x, float p);

/* Pooling.  x (N, C, H, W) -> (N, C, (H + 2p - k)/s + 1, ...). Max pool pads with -inf and
 * sends the gradient to the first maximum of each window (row-major order); average pool
 * divides by k*k, padding included. A max pool's window is at most QT_MAXPOOL_MAX_K wide: it
 * keeps each maximum's place in its window for backward in one byte. */
#define QT_MAXPOOL_MAX_K 16
qt_tensor *qt_maxpool2d(qt_ctx *c, qt_tensor *x, int k, int stride, int pad);
qt_tensor *qt_avgpool2d(qt_ctx *c, qt_tensor *x, int k, int stride, int pad);
/* (N, C, H, W) -> (N, C): mean over H*W. */
qt_tensor *qt_global_avgpool(qt_ctx *c, qt_tensor *x);

/* ResNet option-A shortcut: x (N, C, H, W) -> (N, C_out, ceil(H/s), ceil(W/s)) taking
 * x[:, :, ::s, ::s] into channels [(C_out - C)/2, (C_out - C)/2 + C), zeros elsewhere. */
qt_tensor *qt_shortcut_pad(qt_ctx *c, qt_tensor *x, int out_channels, int stride);

/* A uniform grid of `levels` values lo + i*step (activation quantization). */
typedef struct qt_uniform_grid {
    float lo, step;
    int levels;               /* 0: no grid */
} qt_uniform_grid;
/* Index of the nearest level of g, clamped to [0, levels - 1]. */
int qt_uniform_grid_index(const qt_uniform_grid *g, float x);
static inline float qt_uniform_grid_value(const qt_uniform_grid *g, int i)
{
    return g->lo + (float)i * g->step;
}
/* x (any) -> y: each value replaced by its nearest level of g (clipped to the range);
 * backward passes the gradient straight through inside the range, 0 outside. */
qt_tensor *qt_uniform_quant(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g);
/* The same with one grid per channel: x (N, C, H, W), g[C] -> y (N, C, H, W). */
qt_tensor *qt_uniform_quant_channels(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g, int nch);

/* Same data, new shape (numel must match).  flatten: (N, ...) -> (N, rest). */
qt_tensor *qt_reshape(qt_ctx *c, qt_tensor *x, int ndim, const int *shape);
qt_tensor *qt_flatten(qt_ctx *c, qt_tensor *x);

/* Softmax cross-entropy, mean over the batch.  logits (N, K), labels[N] in [0, K) -> scalar. */
qt_tensor *qt_cross_entropy(qt_ctx *c, qt_tensor *logits, const int32_t *labels);
/* BinaryConnect's squared hinge: mean over N*K of max(0, 1 - t y)^2 with t = +1 for the label's
 * class and -1 elsewhere.  logits (N, K) -> scalar. */
qt_tensor *qt_squared_hinge(qt_ctx *c, qt_tensor *logits, const int32_t *labels);
/* Distillation: KL(softmax(teacher) || softmax(student)), mean over the batch (PyTorch's
 * kl_div(log_softmax(student), softmax(teacher), 'batchmean')).  student, teacher (N, K) ->
 * scalar; gradients flow to both (a fixed teacher simply does not require one). */
qt_tensor *qt_kl_div(qt_ctx *c, qt_tensor *student, qt_tensor *teacher);

/* Number of rows whose label is among the k largest logits, ties ranked by class index
 * (k = 1: the first arg-max is the label).  logits (N, K). */
int qt_topk_correct(const qt_tensor *logits, const int32_t *labels, int k);
int qt_top1_correct(const qt_tensor *logits, const int32_t *labels);

#ifdef __cplusplus
}
#endif

#endif

/* Where a training step's time goes: per layer and per pass (forward, input gradient,
 * weight gradient, batchnorm, other layers, loss, weight preparation, update), and the
 * GFLOP/s of each conv and linear product. `qbench --profile` prints it.
 *
 * Attach a profile to a context (qt_profile_attach) for the steps to measure and bracket each
 * step with qt_profile_step_begin / _end. The net walk, the tape walk and the training step then
 * read the clock around each layer, node and phase; with c->profile NULL they only test that
 * pointer (no clock reads). Each interval is charged once, so the passes add up to no more
 * than the steps' wall time; the rest ("untracked": tape and arena bookkeeping) is reported.
 *
 * To time a conv or linear layer's input and weight gradients apart, a profiled step runs
 * that node's backward twice, once for the input and once for the weight and bias (the
 * other inputs marked as needing no gradient meanwhile). The results are bit for bit those
 * of the one call; the time can be a little higher, as the two products no longer share
 * their reads of the output gradient. */
#ifndef QTRAIN_PROFILE_H
#define QTRAIN_PROFILE_H

#include "qtrain/autograd.h"
#include "qtrain/clock.h"
#include "qtrain/net.h"
#include "qtrain/threads.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_PASS_FORWARD,          /* conv and linear forward products (with their fused epilogues) */
    QT_PASS_INPUT_GRAD,       /* conv and linear input gradients */
    QT_PASS_WEIGHT_GRAD,      /* conv and linear weight and bias gradients */
    QT_PASS_BATCHNORM,        /* batchnorm forward and backward, with a fused ReLU / residual add */
    QT_PASS_OTHER,            /* every other layer (ReLU, pooling, add, shortcut, ...), both ways */
    QT_PASS_LOSS,             /* the loss, forward and backward */
    QT_PASS_PREPARE,          /* quantized weights for the forward (qt_quant_prepare) */
    QT_PASS_UPDATE,           /* optimizer and update rule */
    QT_PASS_COUNT
} qt_pass;

const char *qt_pass_name(qt_pass p);

/* Seconds and FLOPs (2 per multiply-add of the direct convolution or matrix product, so a
 * Winograd layer's GFLOP/s is its effective rate, which can exceed the FMA peak) of one
 * layer over the profiled steps. A layer that
 * ran fused into the one before it (ReLU after batchnorm, ...) has nothing of its own: its
 * time is in the head's, whose `fused` counts it. */
typedef struct qt_layer_times {
    double forward, input_grad, weight_grad;
    double backward;          /* layers other than conv and linear */
    double forward_flops, input_grad_flops, weight_grad_flops;
    int fused;
} qt_layer_times;

typedef struct qt_profile {
    const qt_net *net;
    qt_layer_times *layers;   /* net->nlayers */
    double loss, prepare, update;
    int steps;
    double step_seconds;      /* wall time of the profiled steps */
    double step_started;
    qt_pool_counts pool;      /* the pool's jobs and sleeps during the profiled steps */
    qt_pool_counts pool_started;
} qt_profile;

qt_profile *qt_profile_new(const qt_net *net, qt_error *err);
void qt_profile_free(qt_profile *p);
/* Profiles c's steps into p from now on (NULL: stops): sets c->profile, and c->backward_hook
 * to qt_profile_backward so that the tape walk (core, which knows no profile) times every
 * node's backward. */
void qt_profile_attach(qt_ctx *c, qt_profile *p);
void qt_profile_step_begin(qt_profile *p, const qt_ctx *c);
void qt_profile_step_end(qt_profile *p, const qt_ctx *c);

/* Seconds of each pass over the profiled steps; returns their sum. */
double qt_profile_passes(const qt_profile *p, double seconds[QT_PASS_COUNT]);
/* FLOPs of the conv and linear products of a pass (0 for the other passes). */
double qt_profile_pass_flops(const qt_profile *p, qt_pass pass);
/* Seconds of layer i in every pass. */
double qt_layer_total(const qt_layer_times *t);

/* Conv layers grouped by shape: those with equal channels, kernel, stride, pad, groups and
 * input size, with their times and FLOPs summed. */
typedef struct qt_conv_shape_times {
    int cin, cout, k, stride, pad, groups, h, w;
    int layers;
    qt_layer_times sum;
} qt_conv_shape_times;

/* Fills out (capacity: the net's layer count) with one entry per conv shape, the most time
 * first; returns the number of entries. */
int qt_profile_conv_shapes(const qt_profile *p, qt_conv_shape_times *out);
/* Indices of the net's layers, the most time first (ties in layer order). */
void qt_profile_layer_order(const qt_profile *p, int *order);

/* ---- hooks, called only when c->profile is set ---- */

/* Layer `layer` and the `span - 1` layers fused after it ran from t0 to now with output out;
 * the tape nodes it recorded (those after tape_before) are marked as its own. */
void qt_profile_forward(qt_ctx *c, int layer, int span, const qt_node *tape_before, double t0,
                        const qt_tensor *out);
/* Runs node n's backward, timed and charged to its layer (or to the loss): c's backward
 * hook while p is attached. */
void qt_profile_backward(qt_ctx *c, const qt_node *n);
/* Adds the seconds since t0 to a pass outside the net (loss forward, prepare, update). */
void qt_profile_phase(qt_ctx *c, qt_pass pass, double t0);

/* The two ends of a timed phase: the clock when profiling (else 0, without reading it) ... */
static inline double qt_profile_clock(const qt_ctx *c) { return c->profile ? qt_now_seconds() : 0.0; }
/* ... and the charge to the pass, when profiling. */
static inline void qt_profile_mark(qt_ctx *c, qt_pass pass, double t0)
{
    if (c->profile)
        qt_profile_phase(c, pass, t0);
}

#ifdef __cplusplus
}
#endif

#endif

/* A context's own state within one step (private to src/core): values one op hands to the
 * next. It lives in the step arena, made on
 * first use after qt_ctx_reset, so that a reset drops it with everything else of the step. */
#ifndef QTRAIN_CORE_CTX_STEP_H
#define QTRAIN_CORE_CTX_STEP_H

#include "qtrain/autograd.h"

struct qt_ctx_step {
    /* Per-plane mean and sum of squared deviations (N x C each) of the last conv2d output,
     * computed in training while the output was still in cache: the batchnorm that reads
     * that tensor next takes its batch statistics from them instead of another pass. */
    struct {
        const qt_tensor *of;
        const float *mean, *m2;
    } plane_moments;
};

/* c's step state; NULL, and a context error, when the arena is out of memory. */
qt_ctx_step *qt_ctx_step_state(qt_ctx *c);

#endif

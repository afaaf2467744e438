/* Finite-difference gradient check, used by the op tests.
 *
 * fn builds a forward pass from the inputs and returns any output tensor y. The check
 * projects y to a scalar L = sum(r * y) with fixed random r, runs backward from y with
 * dL/dy = r, and compares each checked input element's gradient with the central difference
 * (L(x + eps) - L(x - eps)) / 2eps. An element passes when |analytic - numeric| <= atol +
 * rtol * max(|analytic|, |numeric|). The context's RNG is restored before every forward, so
 * ops that draw random numbers (dropout) see the same draws each time. */
#ifndef QTRAIN_GRADCHECK_H
#define QTRAIN_GRADCHECK_H

#include <stdint.h>

#include "qtrain/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef qt_tensor *(*qt_gradcheck_fn)(qt_ctx *c, qt_tensor *const *inputs, void *user);

typedef struct qt_gradcheck_opts {
    double eps;               /* perturbation (default 1e-3) */
    double atol, rtol;        /* default 1e-3 and 1e-2 */
    int max_checks;           /* elements checked per input, chosen at random; 0 = all */
    int training;             /* context mode for the forward passes (default 1) */
    uint64_t seed;
} qt_gradcheck_opts;

typedef struct qt_gradcheck_report {
    int checked, failed;
    double max_abs_err;
    char first_failure[256];  /* "input 1 element 17: analytic 0.5 numeric 0.25" */
} qt_gradcheck_report;

qt_gradcheck_opts qt_gradcheck_defaults(void);

/* inputs: caller-owned tensors with data; those with requires_grad are checked. Returns QT_ERR
 * when the forward or backward failed (not when gradients disagree: see report->failed). */
int qt_gradcheck(qt_gradcheck_fn fn, void *user, qt_tensor *const *inputs, int ninputs,
                 const qt_gradcheck_opts *opts, qt_gradcheck_report *rep, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

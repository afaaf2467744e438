/* Optimizers propose a float step for each weight; the update rule of the parameter's
 * quantizer (quant.h) decides what happens to it. Their state stays float. */
#ifndef QTRAIN_OPTIMIZER_H
#define QTRAIN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/param.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_OPT_SGD, QT_OPT_ADAM } qt_opt_kind;

typedef struct qt_optimizer {
    qt_opt_kind kind;
    float momentum;           /* SGD: heavy-ball coefficient (0 = plain SGD) */
    int nesterov;
    float weight_decay;       /* L2 term added to the gradient (Adam too: classic Adam, not AdamW) */
    float beta1, beta2, eps;  /* Adam */
    uint64_t t;               /* steps taken; Adam's bias correction uses it */
} qt_optimizer;

qt_optimizer qt_optimizer_sgd(float momentum, int nesterov, float weight_decay);
qt_optimizer qt_optimizer_adam(float beta1, float beta2, float eps, float weight_decay);

/* Allocates (zeroed) the state the optimizer keeps for p: momentum, or Adam's two moments. */
int qt_optimizer_init_state(const qt_optimizer *o, qt_param *p, qt_error *err);
/* Bytes of optimizer state per weight. */
size_t qt_optimizer_state_floats(const qt_optimizer *o);

/* Call once per training step before the proposals of that step. */
void qt_optimizer_begin_step(qt_optimizer *o);

/* step[i] = the change the optimizer proposes for weight w[i] with gradient g[i]; updates the
 * state m (and v for Adam) of those n weights. */
void qt_optimizer_propose(const qt_optimizer *o, float lr, const float *w, const float *g,
                          float *m, float *v, float *step, size_t n);

#ifdef __cplusplus
}
#endif

#endif

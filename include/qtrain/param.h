/* Param: a learnable tensor of a network.
 *
 * t is what the ops read (t.data) and where backward writes the gradient (t.grad, from the
 * step arena). A float parameter owns t.data. A quantized parameter (q != NULL) keeps its own
 * storage in q (grid codes, plus the float buffer for BC); qt_quant_prepare() makes t a coded
 * tensor over those codes (or points t.data at BC's buffer) before each forward pass.
 *
 * To nn, q is an opaque handle: only the quant layer (quant.h) defines struct qt_qstate.
 * Whoever attaches it also sets q_free, which qt_param_free calls to hand storage back and
 * release the handle, so nn never includes quant. */
#ifndef QTRAIN_PARAM_H
#define QTRAIN_PARAM_H

#include "qtrain/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_PARAM_WEIGHT,          /* conv or linear weight: the ones that can be quantized */
    QT_PARAM_BIAS,
    QT_PARAM_BN_GAMMA,
    QT_PARAM_BN_BETA,
} qt_param_role;

typedef struct qt_qstate qt_qstate;

typedef struct qt_param {
    char name[64];            /* "stage2.block0.conv1.weight" */
    qt_param_role role;
    qt_tensor t;
    int fan_in, fan_out;      /* conv: C_in/groups*k*k and C_out*k*k; linear: in and out */
    float *owned;             /* float storage (NULL while quantized) */
    qt_qstate *q;             /* quantizer and its storage; NULL for a float parameter */
    void (*q_free)(struct qt_param *p); /* releases q (and sets it to NULL); set with q */
    float *opt_m, *opt_v;     /* optimizer state (momentum / Adam moments), float */
} qt_param;

/* Allocates a zeroed float parameter of the given shape; NULL when out of memory. */
qt_param *qt_param_new(const char *name, qt_param_role role, int ndim, const int *shape);
/* Releases the quantizer (q_free) first, then the parameter's own storage. */
void qt_param_free(qt_param *p);

#ifdef __cplusplus
}
#endif

#endif

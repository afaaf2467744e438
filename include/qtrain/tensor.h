/* Tensor: float32, contiguous, row-major NCHW, 1 to 4 dims.
 * The data is owned either by a parameter (persistent) or by the step arena (reset every step). */
#ifndef QTRAIN_TENSOR_H
#define QTRAIN_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QT_MAX_DIMS 4

typedef struct qt_tensor {
    float *data;
    float *grad;              /* NULL until a gradient flows into this tensor */
    size_t numel;
    int ndim;
    int shape[QT_MAX_DIMS];
    unsigned char requires_grad;
    /* 0 while grad holds nothing from the current backward pass: the first writer overwrites
     * instead of accumulating, which spares a memset of every gradient buffer. */
    unsigned char grad_written;
} qt_tensor;

/* Fills shape/ndim/numel (data and grad untouched). ndim must be 1..4, every dim >= 1. */
void qt_tensor_set_shape(qt_tensor *t, int ndim, const int *shape);
size_t qt_shape_numel(int ndim, const int *shape);
int qt_tensor_same_shape(const qt_tensor *a, const qt_tensor *b);
/* "2x16x32x32" into buf; returns buf. */
const char *qt_tensor_shape_str(const qt_tensor *t, char *buf, size_t len);

/* Dims of a 4-D NCHW tensor, or of a 2-D (N, F) tensor seen as (N, F, 1, 1). */
static inline int qt_dim_n(const qt_tensor *t) { return t->shape[0]; }
static inline int qt_dim_c(const qt_tensor *t) { return t->ndim > 1 ? t->shape[1] : 1; }
static inline int qt_dim_h(const qt_tensor *t) { return t->ndim > 2 ? t->shape[2] : 1; }
static inline int qt_dim_w(const qt_tensor *t) { return t->ndim > 3 ? t->shape[3] : 1; }

#ifdef __cplusplus
}
#endif

#endif

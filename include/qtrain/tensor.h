/* Tensor: float32, contiguous, row-major NCHW, 1 to 4 dims.
 * The data is owned either by a parameter (persistent) or by the step arena (reset every step). */
#ifndef QTRAIN_TENSOR_H
#define QTRAIN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QT_MAX_DIMS 4

typedef struct qt_tensor {
    float *data;              /* NULL for a coded tensor */
    float *grad;              /* NULL until a gradient flows into this tensor */
    size_t numel;
    int ndim;
    int shape[QT_MAX_DIMS];
    unsigned char requires_grad;
    /* 0 while grad holds nothing from the current backward pass: the first writer overwrites
     * instead of accumulating, which spares a memset of every gradient buffer. */
    unsigned char grad_written;
    /* The output of a node on the tape: its gradient dies when that node's backward has run
     * (a heap buffer); any other tensor's gradient lives until the step ends (arena). */
    unsigned char on_tape;
    /* A coded tensor (a quantized layer's weights, see quant.h): element i is
     * codes[i] * code_unit. Only conv2d and linear take one, as their weight; they decode the
     * part they pack, so no float copy of the whole tensor is ever made. */
    const int8_t *codes;
    float code_unit;
} qt_tensor;

/* A read-only operand as kernels see it: floats, or int8 codes times a unit. Decoding is one
 * exact float product, so a coded operand gives bitwise the results of its decoded floats. */
typedef struct qt_values {
    const float *f;           /* NULL: coded */
    const int8_t *codes;
    float unit;
} qt_values;

/* Built field by field, not as compound literals, so the header also compiles as C++. */
static inline qt_values qt_values_float(const float *f)
{
    qt_values v;
    v.f = f;
    v.codes = NULL;
    v.unit = 0.0f;
    return v;
}
static inline qt_values qt_tensor_values(const qt_tensor *t)
{
    qt_values v;
    v.f = t->data;
    v.codes = t->codes;
    v.unit = t->code_unit;
    return v;
}
static inline float qt_values_at(const qt_values *v, ptrdiff_t i)
{
    return v->f ? v->f[i] : (float)v->codes[i] * v->unit;
}
/* The operand starting at element off. */
static inline qt_values qt_values_from(qt_values v, ptrdiff_t off)
{
    if (v.f)
        v.f += off;
    else
        v.codes += off;
    return v;
}

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

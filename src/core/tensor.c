#include "qtrain/tensor.h"

#include <stdio.h>

size_t qt_shape_numel(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

void qt_tensor_set_shape(qt_tensor *t, int ndim, const int *shape)
{
    t->ndim = ndim;
    for (int i = 0; i < QT_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    t->numel = qt_shape_numel(ndim, shape);
}

int qt_tensor_same_shape(const qt_tensor *a, const qt_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const char *qt_tensor_shape_str(const qt_tensor *t, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? "x%d" : "%d", t->shape[i]);
    return buf;
}

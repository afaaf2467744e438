/* Reshape and flatten: the same values under a new shape. The output shares the input's
 * data; its gradient is its own buffer (one writer per buffer), handed over to the input
 * in backward when the input has none yet. */
#include <string.h>

#include "qtrain/ops.h"

/* dy (new shape) -> dx (old shape), same element order */
static void reshape_backward(qt_ctx *c, const qt_node *nd)
{
    if (qt_grad_hand_over(c, nd->out, nd->in[0]))
        return;
    float beta;
    float *dx = qt_grad_target(c, nd->in[0], &beta);
    if (!dx)
        return;
    const float *dy = nd->out->grad;
    if (beta == 0.0f)
        memcpy(dx, dy, nd->out->numel * sizeof(float));
    else
        for (size_t i = 0; i < nd->out->numel; i++)
            dx[i] += dy[i];
}

qt_tensor *qt_reshape(qt_ctx *c, qt_tensor *x, int ndim, const int *shape)
{
    if (!x || c->failed)
        return NULL;
    if (ndim < 1 || ndim > QT_MAX_DIMS || qt_shape_numel(ndim, shape) != x->numel)
        return qt_ctx_fail(c, "reshape: %zu elements cannot take the requested shape", x->numel);
    qt_tensor *y = qt_tensor_wrap(c, x->data, ndim, shape);
    if (!y)
        return NULL;
    qt_tape_record(c, reshape_backward, y, x, NULL, NULL);
    return y;
}

/* (N, ...) -> (N, numel / N) */
qt_tensor *qt_flatten(qt_ctx *c, qt_tensor *x)
{
    if (!x || c->failed)
        return NULL;
    int shape[2] = {x->shape[0], (int)(x->numel / (size_t)x->shape[0])};
    return qt_reshape(c, x, 2, shape);
}

/* Elementwise sum of two tensors of the same shape (residual connections). */
#include <string.h>

#include "qtrain/ops.h"

/* a, b (any, same) -> y = a + b */
static void add_forward(const float *a, const float *b, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void pass_gradient(qt_ctx *c, qt_tensor *t, const float *dy, size_t n)
{
    float beta;
    float *dt = qt_grad_target(c, t, &beta);
    if (!dt)
        return;
    if (beta == 0.0f)
        memcpy(dt, dy, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            dt[i] += dy[i];
}

/* dy -> da = dy, db = dy (summed into each when a == b) */
static void add_backward(qt_ctx *c, const qt_node *nd)
{
    pass_gradient(c, nd->in[0], nd->out->grad, nd->out->numel);
    pass_gradient(c, nd->in[1], nd->out->grad, nd->out->numel);
}

qt_tensor *qt_add(qt_ctx *c, qt_tensor *a, qt_tensor *b)
{
    if (!a || !b || c->failed)
        return NULL;
    if (!qt_tensor_same_shape(a, b)) {
        char sa[64], sb[64];
        return qt_ctx_fail(c, "add: shapes %s and %s differ", qt_tensor_shape_str(a, sa, 64),
                           qt_tensor_shape_str(b, sb, 64));
    }
    qt_tensor *y = qt_tensor_new(c, a->ndim, a->shape);
    if (!y)
        return NULL;
    add_forward(a->data, b->data, y->data, a->numel);
    qt_tape_record(c, add_backward, y, a, b, NULL);
    return y;
}

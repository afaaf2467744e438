/* Pointwise nonlinearities: relu and hardtanh. */
#include "qtrain/ops.h"

/* x (any) -> y = max(x, 0) */
static void relu_forward(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dy (any) -> dx = dy where y > 0 */
static void relu_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    float *dx = qt_grad_target(c, nd->in[0], &beta);
    if (!dx)
        return;
    const float *y = nd->out->data, *dy = nd->out->grad;
    size_t n = nd->out->numel;
    for (size_t i = 0; i < n; i++)
        dx[i] = (beta != 0.0f ? dx[i] : 0.0f) + (y[i] > 0.0f ? dy[i] : 0.0f);
}

qt_tensor *qt_relu(qt_ctx *c, qt_tensor *x)
{
    if (!x || c->failed)
        return NULL;
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    relu_forward(x->data, y->data, x->numel);
    qt_tape_record(c, relu_backward, y, x, NULL, NULL);
    return y;
}

/* x (any) -> y = clip(x, -1, 1) */
static void hardtanh_forward(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < -1.0f ? -1.0f : (x[i] > 1.0f ? 1.0f : x[i]);
}

/* dy (any) -> dx = dy where -1 < x < 1 */
static void hardtanh_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    float *dx = qt_grad_target(c, nd->in[0], &beta);
    if (!dx)
        return;
    const float *x = nd->in[0]->data, *dy = nd->out->grad;
    size_t n = nd->out->numel;
    for (size_t i = 0; i < n; i++)
        dx[i] = (beta != 0.0f ? dx[i] : 0.0f) + (x[i] > -1.0f && x[i] < 1.0f ? dy[i] : 0.0f);
}

qt_tensor *qt_hardtanh(qt_ctx *c, qt_tensor *x)
{
    if (!x || c->failed)
        return NULL;
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    hardtanh_forward(x->data, y->data, x->numel);
    qt_tape_record(c, hardtanh_backward, y, x, NULL, NULL);
    return y;
}

/* Pointwise nonlinearities: relu and hardtanh, spread over the context's workers in
 * contiguous ranges. */
#include "qtrain/ops.h"
#include "qtrain/threads.h"

enum { CHUNK = 16384 };      /* floats per task at least: a task must outweigh its dispatch */

typedef struct {
    const float *x, *y, *dy;
    float *out;
    int accumulate;
} pointwise_job;

/* x (any) -> y = max(x, 0) */
static void relu_forward(void *arg, long lo, long hi, int worker)
{
    const pointwise_job *j = arg;
    for (long i = lo; i < hi; i++)
        j->out[i] = j->x[i] > 0.0f ? j->x[i] : 0.0f;
}

/* dy (any) -> dx = dy where y > 0 */
static void relu_grad(void *arg, long lo, long hi, int worker)
{
    const pointwise_job *j = arg;
    for (long i = lo; i < hi; i++) {
        float g = j->y[i] > 0.0f ? j->dy[i] : 0.0f;
        j->out[i] = j->accumulate ? j->out[i] + g : g;
    }
}

/* x (any) -> y = clip(x, -1, 1) */
static void hardtanh_forward(void *arg, long lo, long hi, int worker)
{
    const pointwise_job *j = arg;
    for (long i = lo; i < hi; i++)
        j->out[i] = j->x[i] < -1.0f ? -1.0f : (j->x[i] > 1.0f ? 1.0f : j->x[i]);
}

/* dy (any) -> dx = dy where -1 < x < 1 */
static void hardtanh_grad(void *arg, long lo, long hi, int worker)
{
    const pointwise_job *j = arg;
    for (long i = lo; i < hi; i++) {
        float g = j->x[i] > -1.0f && j->x[i] < 1.0f ? j->dy[i] : 0.0f;
        j->out[i] = j->accumulate ? j->out[i] + g : g;
    }
}

static void pointwise_backward(qt_ctx *c, const qt_node *nd, qt_range_fn fn)
{
    float beta;
    float *dx = qt_grad_target(c, nd->in[0], &beta);
    if (!dx)
        return;
    pointwise_job j = {nd->in[0]->data, nd->out->data, nd->out->grad, dx, beta != 0.0f};
    qt_pool_for(c->pool, (long)nd->out->numel, CHUNK, fn, &j);
}

static void relu_backward(qt_ctx *c, const qt_node *nd) { pointwise_backward(c, nd, relu_grad); }
static void hardtanh_backward(qt_ctx *c, const qt_node *nd)
{
    pointwise_backward(c, nd, hardtanh_grad);
}

static qt_tensor *pointwise(qt_ctx *c, qt_tensor *x, qt_range_fn forward, qt_backward_fn backward)
{
    if (!x || c->failed)
        return NULL;
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    pointwise_job j = {x->data, NULL, NULL, y->data, 0};
    qt_pool_for(c->pool, (long)x->numel, CHUNK, forward, &j);
    qt_tape_record(c, backward, y, x, NULL, NULL);
    return y;
}

qt_tensor *qt_relu(qt_ctx *c, qt_tensor *x) { return pointwise(c, x, relu_forward, relu_backward); }

qt_tensor *qt_hardtanh(qt_ctx *c, qt_tensor *x)
{
    return pointwise(c, x, hardtanh_forward, hardtanh_backward);
}

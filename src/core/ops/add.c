/* Elementwise sum of two tensors of the same shape (residual connections). */
#include <string.h>

#include "qtrain/ops.h"
#include "qtrain/threads.h"

enum { CHUNK = 16384 };

typedef struct {
    const float *a, *b;
    float *y;
    int accumulate;
} add_job;

/* a, b (any, same) -> y = a + b;  backward: y += a (accumulate) or y = a (copy) */
static void add_range(void *arg, long lo, long hi, int worker)
{
    const add_job *j = arg;
    if (j->b)
        for (long i = lo; i < hi; i++)
            j->y[i] = j->a[i] + j->b[i];
    else if (j->accumulate)
        for (long i = lo; i < hi; i++)
            j->y[i] += j->a[i];
    else
        memcpy(j->y + lo, j->a + lo, (size_t)(hi - lo) * sizeof(float));
}

static void pass_gradient(qt_ctx *c, qt_tensor *t, const float *dy, size_t n)
{
    add_job j = {dy, NULL, NULL, 0};
    float beta;
    if (!(j.y = qt_grad_target(c, t, &beta)))
        return;
    j.accumulate = beta != 0.0f;
    qt_pool_for(c->pool, (long)n, CHUNK, add_range, &j);
}

/* dy -> da = dy, db = dy (summed into each when a == b). The first input takes over dy's
 * buffer when it can. */
static void add_backward(qt_ctx *c, const qt_node *nd)
{
    const float *dy = nd->out->grad;
    size_t n = nd->out->numel;
    if (!qt_grad_hand_over(c, nd->out, nd->in[0]))
        pass_gradient(c, nd->in[0], dy, n);
    pass_gradient(c, nd->in[1], dy, n);
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
    add_job j = {a->data, b->data, y->data, 0};
    qt_pool_for(c->pool, (long)a->numel, CHUNK, add_range, &j);
    qt_tape_record(c, add_backward, y, a, b, NULL);
    return y;
}

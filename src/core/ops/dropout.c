/* Inverted dropout: survivors are scaled by 1/(1-p) so evaluation needs no rescaling. */
#include "qtrain/ops.h"

/* x (any) -> y = x * mask, mask in {0, 1/(1-p)} drawn from the context's RNG */
static void dropout_forward(qt_rng *rng, const float *x, float *y, float *mask, size_t n, float p)
{
    float keep_scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        float m = qt_rng_uniform(rng) < p ? 0.0f : keep_scale;
        if (mask)
            mask[i] = m;
        y[i] = x[i] * m;
    }
}

/* dy (any) -> dx = dy * mask */
static void dropout_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    float *dx = qt_grad_target(c, nd->in[0], &beta);
    if (!dx)
        return;
    const float *mask = nd->saved, *dy = nd->out->grad;
    for (size_t i = 0; i < nd->out->numel; i++)
        dx[i] = (beta != 0.0f ? dx[i] : 0.0f) + dy[i] * mask[i];
}

qt_tensor *qt_dropout(qt_ctx *c, qt_tensor *x, float p)
{
    if (!x || c->failed)
        return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return qt_ctx_fail(c, "dropout: probability %g outside [0, 1)", (double)p);
    if (!c->training || p == 0.0f)
        return x;
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    qt_node *nd = qt_tape_record(c, dropout_backward, y, x, NULL, NULL);
    float *mask = qt_node_save(c, nd, x->numel * sizeof(float));
    if (nd && !mask)
        return NULL;
    dropout_forward(&c->rng, x->data, y->data, mask, x->numel, p);
    return y;
}

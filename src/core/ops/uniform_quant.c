/* Fake quantization of activations onto a uniform grid (post-training activation
 * quantization, ptq.h): values stay float but take at most `levels` distinct values. */
#include <math.h>
#include <string.h>

#include "qtrain/ops.h"

/* dy -> dx = dy where x lies inside the grid's range (straight-through), 0 where clipped */
static void uniform_quant_backward(qt_ctx *c, const qt_node *n)
{
    const qt_uniform_grid *g = n->saved;
    float beta;
    float *dx = qt_grad_target(c, n->in[0], &beta);
    if (!dx || !g)
        return;
    const float *x = n->in[0]->data, *dy = n->out->grad;
    const float hi = g->lo + (float)(g->levels - 1) * g->step;
    for (size_t i = 0; i < n->out->numel; i++) {
        float d = x[i] >= g->lo && x[i] <= hi ? dy[i] : 0.0f;
        dx[i] = beta != 0.0f ? dx[i] + d : d;
    }
}

/* x (any) -> y = lo + step * clamp(round((x - lo) / step), 0, levels - 1) */
qt_tensor *qt_uniform_quant(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g)
{
    if (!x || c->failed)
        return NULL;
    if (g->levels < 2 || !(g->step > 0.0f))
        return qt_ctx_fail(c, "uniform quantization: %d levels of step %g", g->levels, g->step);
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    for (size_t i = 0; i < x->numel; i++)
        y->data[i] = qt_uniform_grid_value(g, qt_uniform_grid_index(g, x->data[i]));
    qt_node *n = qt_tape_record(c, uniform_quant_backward, y, x, NULL, NULL);
    if (n) {
        qt_uniform_grid *saved = qt_node_save(c, n, sizeof *g);
        if (saved)
            *saved = *g;
    }
    return y;
}

int qt_uniform_grid_index(const qt_uniform_grid *g, float x)
{
    float q = rintf((x - g->lo) / g->step);
    if (q != q)               /* NaN: the lowest level, never an undefined conversion */
        return 0;
    return q < 0.0f ? 0 : (q > (float)(g->levels - 1) ? g->levels - 1 : (int)q);
}

/* Fake quantization of activations onto uniform grids (post-training activation
 * quantization, ptq.h): values stay float but take at most `levels` distinct values per
 * grid; one grid for the tensor, or one per channel. */
#include <math.h>
#include <string.h>

#include "qtrain/ops.h"

/* What backward needs: the grids, n of them (1: the whole tensor; C: channel c of NCHW). */
typedef struct {
    int n;
    qt_uniform_grid g[];
} saved_grids;

/* The grid of element i of x (NCHW when there are several). */
static const qt_uniform_grid *grid_of(const qt_uniform_grid *g, int n, const qt_tensor *x, size_t i)
{
    if (n == 1)
        return g;
    size_t plane = (size_t)x->shape[2] * (size_t)x->shape[3];
    return &g[(i / plane) % (size_t)n];
}

/* dy -> dx = dy where x lies inside its grid's range (straight-through), 0 where clipped */
static void uniform_quant_backward(qt_ctx *c, const qt_node *n)
{
    const saved_grids *s = n->saved;
    float beta;
    float *dx = qt_grad_target(c, n->in[0], &beta);
    if (!dx || !s)
        return;
    const float *x = n->in[0]->data, *dy = n->out->grad;
    for (size_t i = 0; i < n->out->numel; i++) {
        const qt_uniform_grid *g = grid_of(s->g, s->n, n->in[0], i);
        const float hi = g->lo + (float)(g->levels - 1) * g->step;
        float d = x[i] >= g->lo && x[i] <= hi ? dy[i] : 0.0f;
        dx[i] = beta != 0.0f ? dx[i] + d : d;
    }
}

/* x (any; NCHW with C = ngrids when ngrids > 1) -> y = lo + step * clamp(round((x - lo) /
 * step), 0, levels - 1), each element on its grid */
static qt_tensor *quant_on_grids(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g, int ngrids)
{
    if (!x || c->failed)
        return NULL;
    if (ngrids > 1 && (x->ndim != 4 || x->shape[1] != ngrids))
        return qt_ctx_fail(c, "uniform quantization: %d channel grids for a tensor of %d dims "
                           "and %d channels", ngrids, x->ndim, x->ndim > 1 ? x->shape[1] : 1);
    for (int k = 0; k < ngrids; k++)
        if (g[k].levels < 2 || !(g[k].step > 0.0f))
            return qt_ctx_fail(c, "uniform quantization: %d levels of step %g", g[k].levels, g[k].step);
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    if (!y)
        return NULL;
    for (size_t i = 0; i < x->numel; i++) {
        const qt_uniform_grid *gi = grid_of(g, ngrids, x, i);
        y->data[i] = qt_uniform_grid_value(gi, qt_uniform_grid_index(gi, x->data[i]));
    }
    qt_node *n = qt_tape_record(c, uniform_quant_backward, y, x, NULL, NULL);
    if (n) {
        saved_grids *s = qt_node_save(c, n, sizeof *s + (size_t)ngrids * sizeof *g);
        if (s) {
            s->n = ngrids;
            memcpy(s->g, g, (size_t)ngrids * sizeof *g);
        }
    }
    return y;
}

qt_tensor *qt_uniform_quant(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g)
{
    return quant_on_grids(c, x, g, 1);
}

qt_tensor *qt_uniform_quant_channels(qt_ctx *c, qt_tensor *x, const qt_uniform_grid *g, int nch)
{
    return quant_on_grids(c, x, g, nch);
}

int qt_uniform_grid_index(const qt_uniform_grid *g, float x)
{
    float q = rintf((x - g->lo) / g->step);
    if (q != q)               /* NaN: the lowest level, never an undefined conversion */
        return 0;
    return q < 0.0f ? 0 : (q > (float)(g->levels - 1) ? g->levels - 1 : (int)q);
}

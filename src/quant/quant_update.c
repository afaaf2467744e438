/* The update rules: the optimizer proposes a float step, the parameter's rule applies it. */
#include <math.h>

#include "qtrain/net.h"
#include "qtrain/quant.h"

enum { CHUNK = 1024 };  /* proposals are made a chunk at a time into a stack buffer */

static void apply_rule(qt_param *p, size_t off, const float *s, size_t n, qt_rng *r)
{
    qt_qstate *q = p->q;
    if (!q) {
        float *w = p->t.data + off;
        for (size_t i = 0; i < n; i++)
            w[i] += s[i];
        return;
    }
    const float *w = p->t.data + off;  /* the grid values the forward pass used (SR, R) */
    int8_t *codes = q->codes + off;
    switch (q->mode) {
    case QT_QUANT_BC: {
        float h = qt_grid_max(&q->grid), *wr = q->w_real + off;
        for (size_t i = 0; i < n; i++)
            wr[i] = fminf(fmaxf(wr[i] + q->lr_scale * s[i], -h), h);
        break;
    }
    case QT_QUANT_SR:
        for (size_t i = 0; i < n; i++)
            codes[i] = qt_round_stoch(&q->grid, w[i] + s[i], r);
        break;
    case QT_QUANT_R:
        for (size_t i = 0; i < n; i++)
            codes[i] = qt_round_det(&q->grid, w[i] + s[i]);
        break;
    case QT_QUANT_FP:
        break;
    }
}

static void update_param(qt_param *p, const qt_optimizer *opt, float lr, qt_rng *r)
{
    /* weight decay acts on the weight the rule moves: BC's buffer, else the current value */
    const float *w = p->q && p->q->w_real ? p->q->w_real : p->t.data;
    float step[CHUNK];
    for (size_t off = 0; off < p->t.numel; off += CHUNK) {
        size_t n = p->t.numel - off < CHUNK ? p->t.numel - off : CHUNK;
        qt_optimizer_propose(opt, lr, w + off, p->t.grad + off, p->opt_m ? p->opt_m + off : NULL,
                             p->opt_v ? p->opt_v + off : NULL, step, n);
        apply_rule(p, off, step, n, r);
    }
}

void qt_quant_update(qt_net *net, const qt_optimizer *opt, float lr, uint64_t seed, uint64_t step)
{
    for (int i = 0; i < net->nparams; i++) {
        qt_param *p = net->params[i];
        if (!p->t.grad || !p->t.grad_written)
            continue;  /* no gradient reached it this step */
        qt_rng r;
        qt_rng_derive(&r, seed ^ 0x5eedULL, step, (uint64_t)i);
        update_param(p, opt, lr, &r);
    }
}

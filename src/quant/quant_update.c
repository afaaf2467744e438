/* The update rules: the optimizer proposes a float step, the parameter's rule applies it.
 * SR and R round w + c*s straight into the codes, a chunk at a time. */
#include <math.h>

#include "qtrain/net.h"
#include "qtrain/quant.h"

enum { CHUNK = 1024 };  /* proposals are made a chunk at a time into a stack buffer */

/* The n weights of p from offset off that a step moves (and weight decay acts on): BC's
 * float buffer, a float parameter's values, else the codes' grid values, decoded into buf. */
static const float *current_weights(const qt_param *p, size_t off, size_t n, float *buf)
{
    const qt_qstate *q = p->q;
    if (!q)
        return p->t.data + off;
    if (q->w_real)
        return q->w_real + off;
    qt_grid_decode(&q->grid, q->codes + off, buf, n);
    return buf;
}

/* Applies the proposed steps s to the n weights w of p from offset off; returns how many
 * quantized values changed (BC: the code of Q_d(w_r); SR, R: the grid code). */
static size_t apply_rule(qt_param *p, size_t off, const float *w, const float *s, size_t n,
                         qt_rng *r)
{
    qt_qstate *q = p->q;
    if (!q) {
        float *wf = p->t.data + off;
        for (size_t i = 0; i < n; i++)
            wf[i] += s[i];
        return 0;
    }
    int8_t *codes = q->codes + off;
    const qt_grid *g = &q->grid;
    float c = q->step_scale;
    size_t flips = 0;
    switch (q->mode) {
    case QT_QUANT_BC: {
        float h = qt_grid_max(g), *wr = q->w_real + off;
        if (g->kind == QT_GRID_BINARY) {  /* Q_d is the sign (0 -> +H): compare signs, no rounding */
            for (size_t i = 0; i < n; i++) {
                int before = wr[i] >= 0.0f;
                wr[i] = fminf(fmaxf(wr[i] + c * s[i], -h), h);
                flips += (wr[i] >= 0.0f) != before;
            }
            break;
        }
        for (size_t i = 0; i < n; i++) {
            int8_t before = qt_round_det(g, wr[i]);
            wr[i] = fminf(fmaxf(wr[i] + c * s[i], -h), h);
            flips += qt_round_det(g, wr[i]) != before;
        }
        break;
    }
    case QT_QUANT_SR:
        for (size_t i = 0; i < n; i++) {
            int8_t code = qt_round_stoch(g, w[i] + c * s[i], r);
            flips += code != codes[i];
            codes[i] = code;
        }
        break;
    case QT_QUANT_R:
        for (size_t i = 0; i < n; i++) {
            int8_t code = qt_round_det(g, w[i] + c * s[i]);
            flips += code != codes[i];
            codes[i] = code;
        }
        break;
    case QT_QUANT_FP:
    case QT_QUANT_FROZEN:
        break;
    }
    return flips;
}

static size_t update_param(qt_param *p, const qt_optimizer *opt, float lr, qt_rng *r)
{
    float step[CHUNK], decoded[CHUNK];
    size_t flips = 0;
    for (size_t off = 0; off < p->t.numel; off += CHUNK) {
        size_t n = p->t.numel - off < CHUNK ? p->t.numel - off : CHUNK;
        const float *w = current_weights(p, off, n, decoded);
        qt_optimizer_propose(opt, lr, w, p->t.grad + off, p->opt_m ? p->opt_m + off : NULL,
                             p->opt_v ? p->opt_v + off : NULL, step, n);
        flips += apply_rule(p, off, w, step, n, r);
    }
    return flips;
}

size_t qt_quant_update(qt_net *net, const qt_optimizer *opt, float lr, uint64_t seed,
                       uint64_t step)
{
    size_t flips = 0;
    for (int i = 0; i < net->nparams; i++) {
        qt_param *p = net->params[i];
        if (!p->t.grad || !p->t.grad_written)
            continue;  /* no gradient reached it this step */
        if (p->q && p->q->mode == QT_QUANT_FROZEN)
            continue;  /* the baseline's weights never move */
        qt_rng r;
        qt_rng_derive(&r, seed ^ 0x5eedULL, step, (uint64_t)i);
        flips += update_param(p, opt, lr, &r);
    }
    return flips;
}

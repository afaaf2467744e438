/* The weights the forward pass sees: a quantized parameter's tensor becomes a coded tensor
 * over its int8 codes (tensor.h), which conv2d and linear decode as they pack them; no float
 * copy of the weights is made. */
#include "qtrain/net.h"
#include "qtrain/threads.h"
#include "quant_rule_steps.h"

/* Weights per task of Q_d's rounding: enough to outweigh the dispatch. */
enum { ROUND_BLOCK = 1 << 16 };

typedef struct {
    const qt_qstate *q;
    size_t n;
} round_job;

/* codes = Q_d(w_r) over blocks [lo, hi): per weight, so any split gives the same codes */
static void round_blocks(void *arg, long lo, long hi, int worker)
{
    (void)worker;
    const round_job *j = arg;
    size_t off = (size_t)lo * ROUND_BLOCK, end = (size_t)hi * ROUND_BLOCK;
    end = end < j->n ? end : j->n;
    qt_round_det_vec(&j->q->grid, j->q->w_real + off, j->q->codes + off, end - off);
}

void qt_rule_prepare_bc(qt_qstate *q, size_t n, qt_weights_view view, uint64_t seed,
                        uint64_t step, qt_pool *pool)
{
    if (view == QT_VIEW_TRAIN && q->stochastic) {
        qt_rng r;
        qt_rng_derive(&r, seed ^ 0xbcbcULL, step, (uint64_t)q->index);
        qt_round_stoch_vec(&q->grid, q->w_real, q->codes, n, &r);
        return;
    }
    /* a serial pass over every weight would cost BC a few % of a small net's step */
    round_job j = {q, n};
    qt_pool_for(pool, (long)((n + ROUND_BLOCK - 1) / ROUND_BLOCK), 1, round_blocks, &j);
}

int qt_quant_prepare(qt_net *net, qt_weights_view view, uint64_t seed, uint64_t step,
                     qt_pool *pool)
{
    for (int i = 0; i < net->nparams; i++) {
        qt_param *p = net->params[i];
        p->t.grad = NULL;
        p->t.grad_written = 0;
        qt_qstate *q = p->q;
        if (!q)
            continue;
        const qt_quant_rule *rule = qt_quant_rule_of(q->mode);
        p->t.codes = NULL;
        if (rule->float_buffer && view == QT_VIEW_FLOAT) {
            p->t.data = q->w_real;
            continue;
        }
        if (rule->prepare)
            rule->prepare(q, p->t.numel, view, seed, step, pool);
        p->t.data = NULL;
        p->t.codes = q->codes;
        p->t.code_unit = q->grid.unit;
    }
    return QT_OK;
}

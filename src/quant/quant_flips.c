/* Sign flips of quantized weights between two moments (the "greedy search phase" signal:
 * with a float buffer they die out once the learning rate decays; with SR they do not). */
#include "qtrain/net.h"
#include "qtrain/quant.h"

static int8_t weight_sign(const qt_qstate *q, size_t i)
{
    if (q->w_real)
        return q->w_real[i] >= 0.0f ? 1 : -1;
    return (int8_t)((q->codes[i] > 0) - (q->codes[i] < 0));
}

void qt_quant_snapshot(qt_net *net)
{
    for (int i = 0; i < net->nparams; i++) {
        qt_qstate *q = net->params[i]->q;
        for (size_t k = 0; q && k < net->params[i]->t.numel; k++)
            q->snapshot[k] = weight_sign(q, k);
    }
}

double qt_quant_flip_fraction(const qt_net *net)
{
    size_t flipped = 0, total = 0;
    for (int i = 0; i < net->nparams; i++) {
        const qt_qstate *q = net->params[i]->q;
        if (!q)
            continue;
        size_t n = net->params[i]->t.numel;
        for (size_t k = 0; k < n; k++)
            flipped += weight_sign(q, k) != q->snapshot[k];
        total += n;
    }
    return total ? (double)flipped / (double)total : 0.0;
}

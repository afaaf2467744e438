/* Sign flips of quantized weights between two moments (the "greedy search phase" signal:
 * with a float buffer they die out once the learning rate decays; with SR they do not). The
 * snapshot packs the signs in 1 or 2 bits per weight, so it costs SR a fraction of the byte
 * its codes take. */
#include "qtrain/net.h"
#include "qtrain/quant_rule.h"

/* The sign of weight i as its rule keeps it: of the float buffer where there is one (so BC's
 * snapshots see the buffer move between codes), else of the code. */
static int8_t weight_sign(const qt_qstate *q, size_t i)
{
    if (qt_quant_rule_of(q->mode)->float_buffer)
        return q->w_real[i] >= 0.0f ? 1 : -1;
    return (int8_t)((q->codes[i] > 0) - (q->codes[i] < 0));
}

size_t qt_quant_snapshot_bytes(const qt_qstate *q, size_t n)
{
    return (n * (size_t)q->snapshot_bits + 7) / 8;
}

int8_t qt_quant_snapshot_sign(const qt_qstate *q, size_t i)
{
    size_t bit = i * (size_t)q->snapshot_bits;
    unsigned v = (q->snapshot[bit / 8] >> (bit % 8)) & ((1u << q->snapshot_bits) - 1);
    if (q->snapshot_bits == 1)
        return v ? 1 : -1;
    return v == 1 ? 1 : (v == 2 ? -1 : 0);
}

void qt_quant_snapshot_set(qt_qstate *q, size_t i, int8_t sign)
{
    size_t bit = i * (size_t)q->snapshot_bits;
    unsigned mask = (1u << q->snapshot_bits) - 1;
    unsigned v = sign > 0 ? 1u : (sign < 0 && q->snapshot_bits == 2 ? 2u : 0u);
    uint8_t *b = &q->snapshot[bit / 8];
    *b = (uint8_t)((*b & ~(mask << (bit % 8))) | (v << (bit % 8)));
}

void qt_quant_snapshot(qt_net *net)
{
    for (int i = 0; i < net->nparams; i++) {
        qt_qstate *q = net->params[i]->q;
        for (size_t k = 0; q && k < net->params[i]->t.numel; k++)
            qt_quant_snapshot_set(q, k, weight_sign(q, k));
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
            flipped += weight_sign(q, k) != qt_quant_snapshot_sign(q, k);
        total += n;
    }
    return total ? (double)flipped / (double)total : 0.0;
}

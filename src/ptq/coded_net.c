/* Quantized layers kept as level indices plus their alphabet, and their storage cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/ptq.h"

static int write_coded(qt_record_writer *w, const qt_param *p, void *user, qt_error *err)
{
    const qt_coded_net *cn = user;
    for (int i = 0; i < cn->n; i++) {
        const qt_coded_layer *cl = &cn->layers[i];
        if (cl->param != p)
            continue;
        char rec[160];
        int64_t shape[QT_MAX_DIMS], three = 3;
        for (int d = 0; d < p->t.ndim; d++)
            shape[d] = p->t.shape[d];
        double lv[3] = {cl->alphabet.lo, cl->alphabet.step, cl->alphabet.levels};
        snprintf(rec, sizeof rec, "param/%s.index", p->name);
        if (qt_record_write(w, rec, QT_REC_U8, p->t.ndim, shape, cl->index, err) != QT_OK)
            return -1;
        snprintf(rec, sizeof rec, "param/%s.levels", p->name);
        return qt_record_write(w, rec, QT_REC_F64, 1, &three, lv, err) == QT_OK ? 1 : -1;
    }
    return 0;
}

qt_checkpoint_extra qt_coded_net_writer(qt_coded_net *cn)
{
    qt_checkpoint_extra e = {.write_param = write_coded, .user = cn};
    return e;
}

void qt_coded_net_free(qt_coded_net *cn)
{
    for (int i = 0; i < cn->n; i++)
        free(cn->layers[i].index);
    free(cn->layers);
    memset(cn, 0, sizeof *cn);
}

double qt_coded_net_bytes(const qt_net *net, const qt_coded_net *cn)
{
    double bits = 0.0;
    size_t coded = 0;
    for (int i = 0; i < cn->n; i++) {
        bits += (double)cn->layers[i].param->t.numel * log2((double)cn->layers[i].alphabet.levels);
        coded += cn->layers[i].param->t.numel;
    }
    return ceil(bits / 8.0) + 8.0 * cn->n + 4.0 * (double)(qt_net_param_count(net) - coded);
}

double qt_coded_net_bits_per_weight(const qt_coded_net *cn)
{
    double bits = 0.0, n = 0.0;
    for (int i = 0; i < cn->n; i++) {
        bits += (double)cn->layers[i].param->t.numel * log2((double)cn->layers[i].alphabet.levels);
        n += (double)cn->layers[i].param->t.numel;
    }
    return n > 0 ? bits / n : 32.0;
}

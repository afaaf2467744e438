/* Product-quantized layers: their plan, decoding, checkpoint records and size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/half.h"
#include "qtrain/pq_coded.h"
#include "qtrain/ptq.h"

static int first_quantizable(const qt_net *net)
{
    for (int i = 0; i < net->nlayers; i++)
        if (qt_ptq_layer_quantizable(net, i))
            return i;
    return -1;
}

static int chosen(const qt_net *net, const int *mask, int keep_first, int i)
{
    if (!qt_ptq_layer_quantizable(net, i) || (keep_first && i == first_quantizable(net)))
        return 0;
    return mask ? mask[i] : 1;
}

int qt_pq_net_plan(const qt_net *net, const int *mask, const qt_pq_blocks *b, int keep_first,
                   qt_pq_net *pq, qt_error *err)
{
    memset(pq, 0, sizeof *pq);
    int total = 0;
    for (int i = 0; i < net->nlayers; i++)
        total += chosen(net, mask, keep_first, i);
    if (!(pq->layers = calloc((size_t)(total ? total : 1), sizeof *pq->layers)))
        return qt_errorf(err, "out of memory");
    for (int i = 0; i < net->nlayers; i++) {
        if (!chosen(net, mask, keep_first, i))
            continue;
        qt_pq_layer *l = &pq->layers[pq->n++];
        l->layer = i;
        l->param = net->layers[i].weight;
        if (qt_pq_layer_shape(net, i, b, &l->shape, err) != QT_OK) {
            qt_pq_net_free(pq);
            return QT_ERR;
        }
        l->centroids = calloc((size_t)l->shape.k * l->shape.d, sizeof *l->centroids);
        l->assign = calloc(qt_pq_subvectors(&l->shape), sizeof *l->assign);
        if (!l->centroids || !l->assign) {
            qt_pq_net_free(pq);
            return qt_errorf(err, "out of memory");
        }
    }
    return QT_OK;
}

void qt_pq_net_free(qt_pq_net *pq)
{
    for (int i = 0; i < pq->n; i++) {
        free(pq->layers[i].centroids);
        free(pq->layers[i].assign);
    }
    free(pq->layers);
    memset(pq, 0, sizeof *pq);
}

void qt_pq_layer_decode(qt_pq_layer *l)
{
    qt_pq_decode(&l->shape, l->centroids, l->assign, l->param->t.data);
}

void qt_pq_layer_round_half(qt_pq_layer *l)
{
    for (size_t i = 0; i < (size_t)l->shape.k * l->shape.d; i++)
        l->centroids[i] = qt_f16_to_f32(qt_f32_to_f16(l->centroids[i]));
    qt_pq_layer_decode(l);
}

static int write_layer(qt_record_writer *w, const qt_pq_layer *l, qt_error *err)
{
    const qt_pq_shape *s = &l->shape;
    size_t n = qt_pq_subvectors(s), nc = (size_t)s->k * s->d;
    int wide = s->k > 256;
    void *idx = malloc(n * (wide ? 2 : 1));
    uint16_t *half = malloc(nc * sizeof *half);
    int rc = idx && half ? QT_OK : qt_errorf(err, "out of memory");
    for (size_t j = 0; rc == QT_OK && j < n; j++) {
        if (wide)
            ((uint16_t *)idx)[j] = (uint16_t)l->assign[j];
        else
            ((uint8_t *)idx)[j] = (uint8_t)l->assign[j];
    }
    for (size_t i = 0; rc == QT_OK && i < nc; i++)
        half[i] = qt_f32_to_f16(l->centroids[i]);
    char rec[160];
    snprintf(rec, sizeof rec, "param/%s.pq_index", l->param->name);
    if (rc == QT_OK)
        rc = qt_record_write(w, rec, wide ? QT_REC_U16 : QT_REC_U8, 2,
                             (int64_t[]){s->rows, s->n_blocks}, idx, err);
    snprintf(rec, sizeof rec, "param/%s.pq_centroids", l->param->name);
    if (rc == QT_OK)
        rc = qt_record_write(w, rec, QT_REC_F16, 2, (int64_t[]){s->k, s->d}, half, err);
    free(idx);
    free(half);
    return rc;
}

static int write_param(qt_record_writer *w, const qt_param *p, void *user, qt_error *err)
{
    const qt_pq_net *pq = user;
    for (int i = 0; i < pq->n; i++)
        if (pq->layers[i].param == p)
            return write_layer(w, &pq->layers[i], err) == QT_OK ? 1 : -1;
    return 0;
}

qt_checkpoint_extra qt_pq_net_writer(qt_pq_net *pq)
{
    qt_checkpoint_extra e = qt_pq_checkpoint_reader();
    e.write_param = write_param;
    e.user = pq;
    return e;
}

void qt_pq_net_size(const qt_net *net, const qt_pq_net *pq, qt_pq_size *out)
{
    memset(out, 0, sizeof *out);
    size_t coded = 0;
    for (int i = 0; i < pq->n; i++) {
        const qt_pq_shape *s = &pq->layers[i].shape;
        size_t numel = pq->layers[i].param->t.numel;
        out->index_bytes += log2((double)s->k) / s->d * (double)numel / 8.0;
        out->centroid_bytes += (double)s->k * s->d * 2.0;
        coded += numel;
    }
    size_t params = qt_net_param_count(net);
    out->other_bytes = 4.0 * (double)(params - coded);
    out->total_bytes = out->index_bytes + out->centroid_bytes + out->other_bytes;
    out->float_bytes = 4.0 * (double)params;
    out->ratio = out->total_bytes > 0 ? out->float_bytes / out->total_bytes : 0.0;
    out->coded_weights = (double)coded;
}

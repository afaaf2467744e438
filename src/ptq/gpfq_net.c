#include "qtrain/gpfq_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/clock.h"
/* GPFQ on the k x k kernels of one input channel at a time (the original code's conv
 * variant): the error state of channel c sees only channel c's patches. */
static int gpfq_per_channel(const qt_layer_inputs *x, const qt_layer_inputs *xq, const float *w,
                            int rows, int channels, const qt_alphabet *a, const qt_gpfq_opts *go,
                            int32_t *q, qt_error *err)
{
    const int n = x->n_features, kk = n / channels;
    float *wc = malloc((size_t)rows * kk * sizeof *wc);
    int32_t *qc = malloc((size_t)rows * kk * sizeof *qc);
    int rc = wc && qc ? QT_OK : qt_errorf(err, "out of memory");
    for (int c = 0; rc == QT_OK && c < channels; c++) {
        for (int r = 0; r < rows; r++)
            memcpy(wc + (size_t)r * kk, w + (size_t)r * n + (size_t)c * kk, (size_t)kk * sizeof *wc);
        qt_gpfq_data d = {x->xt + (size_t)c * kk * x->m, xq->xt + (size_t)c * kk * x->m, kk, x->m};
        qt_gpfq_opts o = *go;
        o.seed = go->seed + (uint64_t)c;
        rc = qt_gpfq_layer(&d, wc, rows, a, &o, qc, NULL, err);
        for (int r = 0; rc == QT_OK && r < rows; r++)
            memcpy(q + (size_t)r * n + (size_t)c * kk, qc + (size_t)r * kk, (size_t)kk * sizeof *qc);
    }
    free(wc);
    free(qc);
    return rc;
}

/* Quantizes layer i of qnet from its float weights; writes values into qnet and indices out. */
static int quantize_layer(qt_net *fnet, qt_net *qnet, int i, const qt_calib_set *cs,
                          const qt_gpfq_net_opts *o, qt_coded_layer *cl, qt_ptq_layer_report *rep,
                          qt_error *err)
{
    const qt_param *fw = fnet->layers[i].weight;
    qt_param *qw = qnet->layers[i].weight;
    const int rows = fw->t.shape[0], n = (int)(fw->t.numel / (size_t)rows);
    double t0 = qt_now_seconds();
    qt_layer_inputs x = {0}, xq = {0};
    int32_t *q = malloc(fw->t.numel * sizeof *q);
    float *qv = malloc(fw->t.numel * sizeof *qv);
    cl->param = qw;
    cl->index = malloc(fw->t.numel);
    int rc = q && qv && cl->index ? QT_OK : qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        rc = qt_alphabet_for_layer(&cl->alphabet, o->alphabet, o->bits, o->c_alpha, fw->t.data,
                                   (size_t)rows, (size_t)n, err);
    if (rc == QT_OK && cl->alphabet.levels > 256)
        rc = qt_errorf(err, "%g bits give %d levels; at most 256 (8 bits) are stored", o->bits,
                       cl->alphabet.levels);
    if (rc == QT_OK)
        rc = qt_ptq_layer_inputs(fnet, i, cs, &o->sample, &x, err);
    if (rc == QT_OK)
        rc = qt_ptq_layer_inputs(qnet, i, cs, &o->sample, &xq, err);
    qt_gpfq_opts go = {o->stochastic, o->seed + (uint64_t)i * 7919u};
    qt_gpfq_data d = {x.xt, xq.xt, n, x.m};
    if (rc == QT_OK && o->method == QT_GPFQ_MSQ)
        qt_msq(fw->t.data, fw->t.numel, &cl->alphabet, q);
    else if (rc == QT_OK && o->method == QT_GPFQ_ADAROUND) {
        qt_adaround_opts ao = o->adaround;
        ao.seed = go.seed;
        rc = qt_adaround_layer(&d, fw->t.data, rows, &cl->alphabet, &ao, q, err);
    } else if (rc == QT_OK && o->per_channel && fnet->layers[i].kind == QT_LAYER_CONV)
        rc = gpfq_per_channel(&x, &xq, fw->t.data, rows, fw->t.shape[1], &cl->alphabet, &go, q, err);
    else if (rc == QT_OK)
        rc = qt_gpfq_layer(&d, fw->t.data, rows, &cl->alphabet, &go, q, NULL, err);
    if (rc == QT_OK) {
        for (size_t k = 0; k < fw->t.numel; k++) {
            cl->index[k] = (uint8_t)q[k];
            qv[k] = qt_alphabet_value(&cl->alphabet, q[k]);
        }
        memcpy(qw->t.data, qv, fw->t.numel * sizeof *qv);
        snprintf(rep->name, sizeof rep->name, "%s", fnet->layers[i].name);
        rep->n_out = rows;
        rep->n_in = n;
        rep->samples = x.m;
        rep->alphabet = cl->alphabet;
        rep->rel_error = qt_ptq_relative_error(fw->t.data, qv, rows, &x, &xq);
        rep->seconds = qt_now_seconds() - t0;
    }
    qt_layer_inputs_free(&x);
    qt_layer_inputs_free(&xq);
    free(q);
    free(qv);
    return rc;
}

int qt_gpfq_quantize_net(qt_net *fnet, qt_net *qnet, const qt_calib_set *cs,
                         const qt_gpfq_net_opts *o, qt_coded_net *coded,
                         qt_ptq_layer_report *reports, qt_ptq_progress_fn progress, void *user,
                         qt_error *err)
{
    memset(coded, 0, sizeof *coded);
    int total = 0;
    for (int i = 0; i < fnet->nlayers; i++)
        total += o->mask ? o->mask[i] : qt_ptq_layer_quantizable(fnet, i);
    if (!(coded->layers = calloc((size_t)(total ? total : 1), sizeof *coded->layers)))
        return qt_errorf(err, "out of memory");
    for (int i = 0; i < fnet->nlayers; i++) {
        if (!(o->mask ? o->mask[i] : qt_ptq_layer_quantizable(fnet, i)))
            continue;
        qt_coded_layer *cl = &coded->layers[coded->n++];
        if (quantize_layer(fnet, qnet, i, cs, o, cl, &reports[i], err) != QT_OK)
            return qt_error_prefix(err, "%s", fnet->layers[i].name);
        if (progress)
            progress(&reports[i], coded->n, total, user);
    }
    return QT_OK;
}

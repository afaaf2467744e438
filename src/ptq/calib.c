/* Calibration images, the inputs of one layer on them, and a layer's output error on them. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/loader.h"
#include "qtrain/ptq.h"
#include "qtrain/quant.h"

int qt_calib_load(qt_calib_set *cs, qt_dataset *ds, int skip, int n, uint64_t seed,
                  qt_error *err)
{
    memset(cs, 0, sizeof *cs);
    int total = qt_dataset_count(ds);
    if (skip < 0 || skip >= total)
        return qt_errorf(err, "%d held-out images leave none of the %d training images", skip,
                         total);
    if (n < 1 || n > total - skip)
        n = total - skip;
    qt_loader_config lc;
    qt_loader_config_init(&lc);
    qt_augment_preset(&lc.augment, qt_dataset_get_kind(ds), 0, qt_dataset_height(ds));
    lc.batch_size = 256;
    lc.shuffle = 1;
    lc.drop_last = 0;
    lc.prefetch = 0;
    lc.seed = seed;
    qt_loader *ld;
    if (qt_loader_open(&ld, ds, &lc, err) != QT_OK)
        return QT_ERR;
    qt_batch b;
    int rc, seen = 0;
    while (cs->n < n && (rc = qt_loader_next(ld, &b, err)) == 1) {
        if (!cs->x) {
            cs->c = b.c, cs->h = b.h, cs->w = b.w;
            cs->x = malloc((size_t)n * b.c * b.h * b.w * sizeof(float));
            cs->y = malloc((size_t)n * sizeof(int32_t));
            if (!cs->x || !cs->y) {
                rc = qt_errorf(err, "out of memory for %d calibration images", n);
                break;
            }
        }
        /* the batch's images [from, from + take) are past the skipped ones */
        int from = skip > seen ? (skip - seen < b.n ? skip - seen : b.n) : 0;
        int take = b.n - from < n - cs->n ? b.n - from : n - cs->n;
        size_t img = (size_t)b.c * b.h * b.w;
        memcpy(cs->x + (size_t)cs->n * img, b.x + (size_t)from * img, (size_t)take * img * sizeof(float));
        memcpy(cs->y + cs->n, b.y + from, (size_t)take * sizeof(int32_t));
        cs->n += take;
        seen += b.n;
    }
    qt_loader_free(ld);
    if (rc < 0) {
        qt_calib_free(cs);
        return QT_ERR;
    }
    return QT_OK;
}

qt_calib_set qt_calib_head(const qt_calib_set *cs, int n)
{
    qt_calib_set h = *cs;
    h.n = n < cs->n ? n : cs->n;
    return h;
}

int qt_calib_accuracy(qt_net *net, const qt_calib_set *cs, double *acc, qt_error *err)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    const int batch = 100;
    size_t img = (size_t)cs->c * cs->h * cs->w;
    long correct = 0;
    int rc = QT_OK;
    for (int b0 = 0; b0 < cs->n; b0 += batch) {
        int nb = cs->n - b0 < batch ? cs->n - b0 : batch;
        qt_ctx_reset(&c);
        qt_tensor *x = qt_tensor_wrap(&c, cs->x + (size_t)b0 * img, 4, (int[]){nb, cs->c, cs->h, cs->w});
        qt_tensor *logits = qt_net_forward(&c, net, x);
        if (!logits) {
            rc = qt_errorf(err, "%s", c.err.msg);
            break;
        }
        correct += qt_top1_correct(logits, cs->y + b0);
    }
    qt_ctx_free(&c);
    *acc = cs->n > 0 ? (double)correct / cs->n : 0.0;
    return rc;
}

void qt_calib_free(qt_calib_set *cs)
{
    free(cs->x);
    free(cs->y);
    memset(cs, 0, sizeof *cs);
}

void qt_layer_inputs_free(qt_layer_inputs *li)
{
    free(li->xt);
    memset(li, 0, sizeof *li);
}

/* Copies patch (oy, ox) of image x (C, H, W) into column s of xt (features C*k*k). */
static void take_patch(const qt_layer *l, const float *x, int ch, int h, int w, int oy, int ox,
                       float *xt, int m, int s)
{
    const int k = l->weight->t.shape[2], st = l->conv.stride, pad = l->conv.pad;
    int t = 0;
    for (int c = 0; c < ch; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++, t++) {
                int yy = oy * st - pad + i, xx = ox * st - pad + j;
                xt[(size_t)t * m + s] =
                    yy >= 0 && yy < h && xx >= 0 && xx < w ? x[((size_t)c * h + yy) * w + xx] : 0.0f;
            }
}

/* Samples of one image: patch positions for a conv layer, the whole vector for a linear one. */
static void gather_image(const qt_layer *l, const qt_tensor *in, int img, int global_img,
                         const qt_sample_opts *o, int layer, int per_image, float *xt, int m,
                         int *positions)
{
    int s0 = global_img * per_image;
    if (l->kind == QT_LAYER_LINEAR) {
        int f = in->shape[1];
        for (int t = 0; t < f; t++)
            xt[(size_t)t * m + s0] = in->data[(size_t)img * f + t];
        return;
    }
    int ch = in->shape[1], h = in->shape[2], w = in->shape[3];
    const float *x = in->data + (size_t)img * ch * h * w;
    qt_rng r;
    qt_rng_derive(&r, o->seed, (uint64_t)layer, (uint64_t)global_img);
    /* positions without replacement: a partial Fisher-Yates shuffle of all of them */
    const int npos = l->out_h * l->out_w;
    for (int k = 0; k < npos; k++)
        positions[k] = k;
    for (int k = 0; k < per_image; k++) {
        int j = k + (int)qt_rng_below(&r, (uint32_t)(npos - k)), pos = positions[j];
        positions[j] = positions[k];
        positions[k] = pos;
        take_patch(l, x, ch, h, w, pos / l->out_w, pos % l->out_w, xt, m, s0 + k);
    }
}

int qt_ptq_layer_inputs(qt_net *net, int layer, const qt_calib_set *cs, const qt_sample_opts *o,
                        qt_layer_inputs *out, qt_error *err)
{
    memset(out, 0, sizeof *out);
    if (!qt_ptq_layer_quantizable(net, layer))
        return qt_errorf(err, "layer %d is not a conv or linear layer", layer);
    const qt_layer *l = &net->layers[layer];
    int conv = l->kind == QT_LAYER_CONV;
    const int npos = conv ? l->out_h * l->out_w : 1;
    int per_image = !conv ? 1 : (o->patches_per_image > 0 && o->patches_per_image < npos
                                 ? o->patches_per_image : npos);
    out->n_features = (int)(l->weight->t.numel / (size_t)l->weight->t.shape[0]);
    out->m = cs->n * per_image;
    if (!(out->xt = malloc((size_t)out->n_features * out->m * sizeof(float))))
        return qt_errorf(err, "out of memory for %d x %d layer inputs of %s", out->n_features,
                         out->m, l->name);
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    int rc = QT_OK, batch = o->batch > 0 ? o->batch : 100;
    size_t img = (size_t)cs->c * cs->h * cs->w;
    qt_tensor **outs = malloc((size_t)(layer > 0 ? layer : 1) * sizeof *outs);
    int *positions = malloc((size_t)npos * sizeof *positions);
    if (!outs || !positions)
        rc = qt_errorf(err, "out of memory");
    for (int b0 = 0; rc == QT_OK && b0 < cs->n; b0 += batch) {
        int nb = cs->n - b0 < batch ? cs->n - b0 : batch;
        qt_ctx_reset(&c);
        qt_tensor *x = qt_tensor_wrap(&c, cs->x + (size_t)b0 * img, 4, (int[]){nb, cs->c, cs->h, cs->w});
        if (qt_quant_prepare(net, QT_VIEW_EVAL, 0, 0, NULL) != QT_OK ||
            (layer > 0 && !qt_net_run(&c, net, x, layer, outs))) {
            rc = qt_errorf(err, "%s", c.err.msg);
            break;
        }
        qt_tensor *in = l->in[0] == QT_NET_INPUT ? x : outs[l->in[0]];
        for (int i = 0; i < nb; i++)
            gather_image(l, in, i, b0 + i, o, layer, per_image, out->xt, out->m, positions);
    }
    free(outs);
    free(positions);
    qt_ctx_free(&c);
    if (rc != QT_OK)
        qt_layer_inputs_free(out);
    return rc;
}

double qt_ptq_relative_error(const float *w, const float *q, int rows, const qt_layer_inputs *x,
                             const qt_layer_inputs *xq)
{
    const int n = x->n_features, m = x->m;
    float *y = malloc((size_t)rows * m * sizeof *y), *yq = malloc((size_t)rows * m * sizeof *yq);
    if (!y || !yq) {
        free(y);
        free(yq);
        return NAN;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, m, n, 1.0f, w, n, x->xt, m,
                0.0f, y, m);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, m, n, 1.0f, q, n, xq->xt, m,
                0.0f, yq, m);
    double e2 = 0.0, y2 = 0.0;
    for (size_t i = 0; i < (size_t)rows * m; i++) {
        e2 += ((double)y[i] - yq[i]) * ((double)y[i] - yq[i]);
        y2 += (double)y[i] * y[i];
    }
    free(y);
    free(yq);
    return y2 > 0 ? sqrt(e2 / y2) : 0.0;
}

/* BatchNorm calibration (see bn_calib.h). */
#include "qtrain/bn_calib.h"

#include <stdlib.h>
#include <string.h>

#include "qtrain/quant.h"

int qt_net_count_batchnorm(const qt_net *net)
{
    int n = 0;
    for (int i = 0; i < net->nlayers; i++)
        n += net->layers[i].kind == QT_LAYER_BATCHNORM;
    return n;
}

/* Saves (save = 1) or restores the batchnorm momenta and dropout rates into/from keep. */
static void keep_settings(qt_net *net, float *keep, int save)
{
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        float *v = l->kind == QT_LAYER_BATCHNORM ? &l->bn.momentum
                   : l->kind == QT_LAYER_DROPOUT ? &l->p : NULL;
        if (v && save)
            keep[i] = *v;
        else if (v)
            *v = keep[i];
    }
}

/* Every batchnorm takes the batch with weight nb / (seen + nb); dropout passes through. */
static void set_weights(qt_net *net, int seen, int nb)
{
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        if (l->kind == QT_LAYER_BATCHNORM)
            l->bn.momentum = (float)nb / (float)(seen + nb);
        else if (l->kind == QT_LAYER_DROPOUT)
            l->p = 0.0f;
    }
}

/* Copies every batchnorm's running statistics into (save = 1) or back from buf. */
static void keep_stats(qt_net *net, float *buf, int save)
{
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        if (l->kind != QT_LAYER_BATCHNORM)
            continue;
        size_t c = (size_t)l->out_c * sizeof *buf;
        memcpy(save ? buf : l->bn.running_mean, save ? l->bn.running_mean : buf, c);
        memcpy(save ? buf + l->out_c : l->bn.running_var, save ? l->bn.running_var : buf + l->out_c, c);
        buf += 2 * l->out_c;
    }
}

static size_t stats_floats(const qt_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->nlayers; i++)
        n += net->layers[i].kind == QT_LAYER_BATCHNORM ? 2 * (size_t)net->layers[i].out_c : 0;
    return n;
}

int qt_bn_calibrate(qt_net *net, const qt_calib_set *cs, int n, int batch, qt_error *err)
{
    if (n < 1 || batch < 1)
        return qt_errorf(err, "batchnorm calibration needs at least one image and a batch of "
                         "at least one (got %d images, batch %d)", n, batch);
    if (n > cs->n)
        n = cs->n;
    if (n < 1)
        return qt_errorf(err, "batchnorm calibration: no images");
    if (cs->c != net->in_c || cs->h != net->in_h || cs->w != net->in_w)
        return qt_errorf(err, "batchnorm calibration: %dx%dx%d images for a %dx%dx%d net", cs->c,
                         cs->h, cs->w, net->in_c, net->in_h, net->in_w);
    float *keep = malloc((size_t)(net->nlayers > 0 ? net->nlayers : 1) * sizeof *keep);
    float *stats = malloc((stats_floats(net) + 1) * sizeof *stats);
    if (!keep || !stats) {
        free(keep);
        free(stats);
        return qt_errorf(err, "out of memory");
    }
    keep_settings(net, keep, 1);
    keep_stats(net, stats, 1);
    qt_ctx c;
    qt_ctx_init(&c);
    int rc = QT_OK;
    const size_t img = (size_t)cs->c * cs->h * cs->w;
    for (int seen = 0; rc == QT_OK && seen < n;) {
        int nb = n - seen < batch ? n - seen : batch;
        qt_ctx_reset(&c);
        c.grad_enabled = 0;
        c.training = 1;
        set_weights(net, seen, nb);
        qt_tensor *x = qt_tensor_wrap(&c, cs->x + (size_t)seen * img, 4,
                                      (int[]){nb, cs->c, cs->h, cs->w});
        if (qt_quant_prepare(net, QT_VIEW_EVAL, 0, 0, NULL) != QT_OK || !qt_net_forward(&c, net, x))
            rc = qt_errorf(err, "batchnorm calibration: %s", c.err.msg);
        seen += nb;
    }
    keep_settings(net, keep, 0);
    if (rc != QT_OK)          /* a failed pass leaves the old statistics */
        keep_stats(net, stats, 0);
    qt_ctx_free(&c);
    free(keep);
    free(stats);
    return rc;
}

/* Activation grids of the quantized layers, calibrated on the calibration images (see
 * act_quant.h). */
#include "qtrain/act_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static qt_uniform_grid grid_on(float lo, float hi, int levels)
{
    qt_uniform_grid g = {lo, (hi - lo) / (float)(levels - 1), levels};
    if (!(g.step > 0.0f))     /* a constant input: one level at its value is exact */
        g.step = fabsf(lo) > 0.0f ? fabsf(lo) : 1.0f;
    return g;
}

static double quant_error(const float *x, size_t n, const qt_uniform_grid *g)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - qt_uniform_grid_value(g, qt_uniform_grid_index(g, x[i]));
        e += d * d;
    }
    return e;
}

int qt_act_grid_fit(const float *x, size_t n, float lo, float hi, int bits, qt_act_range range,
                    qt_uniform_grid *g, qt_error *err)
{
    if (bits < 2 || bits > 8)
        return qt_errorf(err, "activation bits must be 2 to 8 (got %d)", bits);
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return qt_errorf(err, "activation range [%g, %g] is not finite", lo, hi);
    const int levels = 1 << bits;
    *g = grid_on(lo, hi, levels);
    if (range == QT_ACT_RANGE_MINMAX || n == 0)
        return QT_OK;
    double best = quant_error(x, n, g);
    for (int k = 1; k < QT_ACT_CLIP_CANDIDATES; k++) {
        float a = 1.0f - 0.8f * (float)k / (float)(QT_ACT_CLIP_CANDIDATES - 1);
        qt_uniform_grid c = grid_on(a * lo, a * hi, levels);
        double e = quant_error(x, n, &c);
        if (e < best) {
            best = e;
            *g = c;
        }
    }
    return QT_OK;
}

/* One layer's measurements: the exact range and a sample of its input values. */
typedef struct {
    float lo, hi;
    float *sample;
    size_t n, cap;
} act_stats;

/* Adds image img's input values x[0..n) to st: range over all, per_image sampled values. */
static void observe(act_stats *st, const float *x, size_t n, size_t per_image, qt_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        st->lo = x[i] < st->lo ? x[i] : st->lo;
        st->hi = x[i] > st->hi ? x[i] : st->hi;
    }
    for (size_t k = 0; k < per_image && st->n < st->cap; k++)
        st->sample[st->n++] = x[qt_rng_below(r, (uint32_t)n)];
}

/* Runs the net on the images and fills stats[i] for the masked layers. */
static int measure(qt_net *net, const int *mask, const qt_calib_set *cs, int n_images,
                   uint64_t seed, act_stats *stats, qt_error *err)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    const int batch = 50;
    const size_t per_image = QT_ACT_SAMPLE / (size_t)n_images + 1;
    size_t img = (size_t)cs->c * cs->h * cs->w;
    qt_tensor **outs = malloc((size_t)net->nlayers * sizeof *outs);
    int rc = outs ? QT_OK : qt_errorf(err, "out of memory");
    for (int b0 = 0; rc == QT_OK && b0 < n_images; b0 += batch) {
        int nb = n_images - b0 < batch ? n_images - b0 : batch;
        qt_ctx_reset(&c);
        qt_tensor *x = qt_tensor_wrap(&c, cs->x + (size_t)b0 * img, 4, (int[]){nb, cs->c, cs->h, cs->w});
        if (!qt_net_run(&c, net, x, net->nlayers, outs)) {
            rc = qt_errorf(err, "%s", c.err.msg);
            break;
        }
        for (int i = 0; i < net->nlayers; i++) {
            if (!mask[i])
                continue;
            const qt_layer *l = &net->layers[i];
            const qt_tensor *in = l->in[0] == QT_NET_INPUT ? x : outs[l->in[0]];
            size_t per = in->numel / (size_t)nb;
            for (int k = 0; k < nb; k++) {
                qt_rng r;
                qt_rng_derive(&r, seed, (uint64_t)i, (uint64_t)(b0 + k));
                observe(&stats[i], in->data + (size_t)k * per, per, per_image, &r);
            }
        }
    }
    free(outs);
    qt_ctx_free(&c);
    return rc;
}

int qt_act_calibrate(qt_net *net, const int *mask, const qt_calib_set *cs,
                     const qt_act_quant_opts *o, qt_error *err)
{
    const int n_images = o->images < cs->n ? o->images : cs->n;
    if (n_images < 1)
        return qt_errorf(err, "activation calibration needs images (got %d)", n_images);
    for (int i = 0; i < net->nlayers; i++) {
        if (mask[i] && !qt_ptq_layer_quantizable(net, i))
            return qt_errorf(err, "%s: only conv and linear inputs are quantized", net->layers[i].name);
        net->layers[i].act = (qt_uniform_grid){0};
    }
    act_stats *stats = calloc((size_t)net->nlayers, sizeof *stats);
    int rc = stats ? QT_OK : qt_errorf(err, "out of memory");
    for (int i = 0; rc == QT_OK && i < net->nlayers; i++) {
        stats[i] = (act_stats){INFINITY, -INFINITY, NULL, 0, 0};
        if (mask[i] && !(stats[i].sample = malloc(QT_ACT_SAMPLE * sizeof(float))))
            rc = qt_errorf(err, "out of memory");
        stats[i].cap = mask[i] ? QT_ACT_SAMPLE : 0;
    }
    if (rc == QT_OK)
        rc = measure(net, mask, cs, n_images, o->seed, stats, err);
    qt_uniform_grid *grids = calloc((size_t)net->nlayers, sizeof *grids);
    if (rc == QT_OK && !grids)
        rc = qt_errorf(err, "out of memory");
    for (int i = 0; rc == QT_OK && i < net->nlayers; i++)
        if (mask[i] && qt_act_grid_fit(stats[i].sample, stats[i].n, stats[i].lo, stats[i].hi,
                                       o->bits, o->range, &grids[i], err) != QT_OK)
            rc = qt_error_prefix(err, "%s", net->layers[i].name);
    /* grids go in only once all are measured: every layer saw float inputs */
    for (int i = 0; rc == QT_OK && i < net->nlayers; i++)
        net->layers[i].act = grids[i];
    for (int i = 0; stats && i < net->nlayers; i++)
        free(stats[i].sample);
    free(stats);
    free(grids);
    return rc;
}

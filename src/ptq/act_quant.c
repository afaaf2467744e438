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

/* One range's measurements (a layer's input, or one channel of it): the exact range and a
 * sample of the values. */
typedef struct {
    float lo, hi;
    float *sample;
    size_t n, cap;
} act_stats;

/* A measured layer: its ranges (1, or one per input channel) and their values per image. */
typedef struct {
    act_stats *ranges;
    int n;
    size_t per_image;         /* sampled values per image and range */
} layer_stats;

/* Adds x[0..n) (one image's values of a range) to st: range over all, per_image sampled. */
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
                   uint64_t seed, layer_stats *stats, qt_error *err)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    const int batch = 50;
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
            const layer_stats *ls = &stats[i];
            size_t per = in->numel / (size_t)nb / (size_t)ls->n;   /* values per image and range */
            for (int k = 0; k < nb; k++) {
                qt_rng r;
                qt_rng_derive(&r, seed, (uint64_t)i, (uint64_t)(b0 + k));
                for (int j = 0; j < ls->n; j++)
                    observe(&ls->ranges[j], in->data + ((size_t)k * ls->n + j) * per, per,
                            ls->per_image, &r);
            }
        }
    }
    free(outs);
    qt_ctx_free(&c);
    return rc;
}

static void stats_free(layer_stats *stats, int n)
{
    for (int i = 0; stats && i < n; i++) {
        for (int j = 0; j < stats[i].n; j++)
            free(stats[i].ranges[j].sample);
        free(stats[i].ranges);
    }
    free(stats);
}

/* The ranges measured for each masked layer: one per input channel of a conv layer with
 * o->per_channel, else one; QT_ACT_SAMPLE sampled values per layer in all. */
static int stats_alloc(const qt_net *net, const int *mask, const qt_act_quant_opts *o,
                       int n_images, layer_stats **out, qt_error *err)
{
    if (net->nlayers < 1)
        return qt_errorf(err, "%s: the net has no layers", net->name);
    layer_stats *stats = calloc((size_t)net->nlayers, sizeof *stats);
    if (!stats)
        return qt_errorf(err, "out of memory");
    *out = stats;
    for (int i = 0; i < net->nlayers; i++) {
        if (!mask[i])
            continue;
        const qt_layer *l = &net->layers[i];
        int n = o->per_channel && l->kind == QT_LAYER_CONV ? qt_layer_in_channels(l) : 1;
        size_t cap = QT_ACT_SAMPLE / (size_t)n;
        if (!(stats[i].ranges = calloc((size_t)n, sizeof *stats[i].ranges)))
            return qt_errorf(err, "out of memory");
        stats[i].n = n;
        stats[i].per_image = cap / (size_t)n_images + 1;
        for (int j = 0; j < n; j++) {
            stats[i].ranges[j] = (act_stats){INFINITY, -INFINITY, malloc(cap * sizeof(float)), 0, cap};
            if (!stats[i].ranges[j].sample)
                return qt_errorf(err, "out of memory");
        }
    }
    return QT_OK;
}

/* Fits the grids of every measured range and gives them to the layers, only once all are
 * fitted (every layer saw float inputs). */
static int fit_grids(qt_net *net, const layer_stats *stats, const qt_act_quant_opts *o,
                     qt_error *err)
{
    qt_uniform_grid **grids = calloc((size_t)net->nlayers, sizeof *grids);
    int rc = grids ? QT_OK : qt_errorf(err, "out of memory");
    for (int i = 0; rc == QT_OK && i < net->nlayers; i++) {
        if (!stats[i].n)
            continue;
        if (!(grids[i] = malloc((size_t)stats[i].n * sizeof **grids)))
            rc = qt_errorf(err, "out of memory");
        for (int j = 0; rc == QT_OK && j < stats[i].n; j++) {
            const act_stats *st = &stats[i].ranges[j];
            if (qt_act_grid_fit(st->sample, st->n, st->lo, st->hi, o->bits, o->range,
                                &grids[i][j], err) != QT_OK)
                rc = qt_error_prefix(err, "%s", net->layers[i].name);
        }
    }
    for (int i = 0; rc == QT_OK && i < net->nlayers; i++)
        rc = qt_layer_set_act(&net->layers[i], grids[i], stats[i].n, err);
    for (int i = 0; grids && i < net->nlayers; i++)
        free(grids[i]);
    free(grids);
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
        if (qt_layer_set_act(&net->layers[i], NULL, 0, err) != QT_OK)
            return QT_ERR;
    }
    layer_stats *stats = NULL;
    int rc = stats_alloc(net, mask, o, n_images, &stats, err);
    if (rc == QT_OK)
        rc = measure(net, mask, cs, n_images, o->seed, stats, err);
    if (rc == QT_OK)
        rc = fit_grids(net, stats, o, err);
    stats_free(stats, net->nlayers);
    return rc;
}

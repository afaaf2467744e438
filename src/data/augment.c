#include "qtrain/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"

struct qt_augmenter {
    qt_augment_config cfg; /* out_h, out_w resolved */
    int c;
    float inv_std[3];
    float lut[3][256];     /* normalised value of each byte, per channel */
    qt_resample_scratch rs;
};

void qt_augment_init(qt_augment_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->crop = QT_CROP_NONE;
    cfg->scale_min = 0.08f;
    cfg->scale_max = 1.0f;
    cfg->ratio_min = 3.0f / 4.0f;
    cfg->ratio_max = 4.0f / 3.0f;
    for (int c = 0; c < 3; c++)
        cfg->std[c] = 1.0f;
}

void qt_augment_norm_defaults(qt_dataset_kind kind, float mean[3], float std[3])
{
    static const float table[][2][3] = {
        [QT_DATASET_CIFAR10] = {{125.3f / 255, 123.0f / 255, 113.9f / 255},
                                {63.0f / 255, 62.1f / 255, 66.7f / 255}},
        [QT_DATASET_CIFAR100] = {{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}},
        [QT_DATASET_FASHION_MNIST] = {{0.2860406f, 0.2860406f, 0.2860406f},
                                      {0.3530242f, 0.3530242f, 0.3530242f}},
        [QT_DATASET_MNIST] = {{0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}},
        [QT_DATASET_IMAGE_FOLDER] = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
        [QT_DATASET_IMAGENET] = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
        [QT_DATASET_TINY_IMAGENET] = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
        [QT_DATASET_SYNTHETIC] = {{0.5f, 0.5f, 0.5f}, {0.2898054f, 0.2898054f, 0.2898054f}},
    };
    unsigned k = (unsigned)kind < sizeof table / sizeof table[0] ? (unsigned)kind
                                                                : QT_DATASET_SYNTHETIC;
    memcpy(mean, table[k][0], sizeof table[k][0]);
    memcpy(std, table[k][1], sizeof table[k][1]);
}

void qt_augment_preset(qt_augment_config *cfg, qt_dataset_kind kind, int train, int image_size)
{
    qt_augment_init(cfg);
    qt_augment_norm_defaults(kind, cfg->mean, cfg->std);
    switch (kind) {
    case QT_DATASET_CIFAR10:
    case QT_DATASET_CIFAR100:
    case QT_DATASET_SYNTHETIC:
        if (train) {
            cfg->crop = QT_CROP_PAD_RANDOM;
            cfg->pad = 4;
            cfg->hflip = 1;
        }
        break;
    case QT_DATASET_IMAGE_FOLDER:
    case QT_DATASET_IMAGENET:
    case QT_DATASET_TINY_IMAGENET:
        cfg->out_h = cfg->out_w = image_size;
        if (train) {
            cfg->crop = QT_CROP_RANDOM_RESIZED;
            cfg->hflip = 1;
        } else {
            cfg->crop = QT_CROP_RESIZE_CENTER;
            cfg->resize = image_size * 8 / 7;
        }
        break;
    default:
        break;
    }
}

static int check_config(const qt_augment_config *cfg, int channels, qt_error *err)
{
    if (channels < 1 || channels > 3)
        return qt_errorf(err, "augment: %d channels (1..3 supported)", channels);
    if ((unsigned)cfg->crop > QT_CROP_RESIZE_CENTER)
        return qt_errorf(err, "augment: unknown crop mode %d", (int)cfg->crop);
    if (cfg->out_h < 0 || cfg->out_w < 0 || cfg->out_h > 16384 || cfg->out_w > 16384)
        return qt_errorf(err, "augment: output size %dx%d out of range", cfg->out_h, cfg->out_w);
    if (cfg->pad < 0 || cfg->pad > 1024)
        return qt_errorf(err, "augment: pad %d out of range 0..1024", cfg->pad);
    if (cfg->crop == QT_CROP_RANDOM_RESIZED &&
        !(cfg->scale_min > 0 && cfg->scale_min <= cfg->scale_max && cfg->scale_max <= 1 &&
          cfg->ratio_min > 0 && cfg->ratio_min <= cfg->ratio_max))
        return qt_errorf(err, "augment: random-resized crop needs 0 < scale_min <= scale_max <= 1 "
                         "and 0 < ratio_min <= ratio_max");
    if (cfg->crop == QT_CROP_RESIZE_CENTER && cfg->resize <= 0)
        return qt_errorf(err, "augment: resize-centre crop needs resize > 0");
    for (int c = 0; c < channels; c++)
        if (!(cfg->std[c] > 0) || !isfinite(cfg->mean[c]))
            return qt_errorf(err, "augment: channel %d needs a finite mean and std > 0", c);
    return QT_OK;
}

int qt_augmenter_create(qt_augmenter **out, const qt_augment_config *cfg, int channels,
                        int height, int width, qt_error *err)
{
    *out = NULL;
    if (check_config(cfg, channels, err) != QT_OK)
        return QT_ERR;
    qt_augmenter *a = calloc(1, sizeof *a);
    if (!a)
        return qt_errorf(err, "augment: out of memory");
    a->cfg = *cfg;
    a->cfg.out_h = cfg->out_h ? cfg->out_h : height;
    a->cfg.out_w = cfg->out_w ? cfg->out_w : width;
    a->c = channels;
    for (int c = 0; c < channels; c++) {
        a->inv_std[c] = 1.0f / cfg->std[c];
        for (int p = 0; p < 256; p++)
            a->lut[c][p] = ((float)p / 255.0f - cfg->mean[c]) * a->inv_std[c];
    }
    *out = a;
    return QT_OK;
}

void qt_augmenter_free(qt_augmenter *a)
{
    if (!a)
        return;
    qt_resample_scratch_free(&a->rs);
    free(a);
}

int qt_augmenter_out_h(const qt_augmenter *a) { return a->cfg.out_h; }
int qt_augmenter_out_w(const qt_augmenter *a) { return a->cfg.out_w; }
int qt_augmenter_channels(const qt_augmenter *a) { return a->c; }

/* torchvision's RandomResizedCrop.get_params: ten tries at a box of random area and aspect
 * ratio that fits, else the largest centred box within the ratio range. */
static void draw_resized_box(const qt_augment_config *c, int H, int W, qt_rng *rng,
                             qt_augment_params *p)
{
    double area = (double)H * W, lr0 = log(c->ratio_min), lr1 = log(c->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (c->scale_min + (c->scale_max - c->scale_min) * qt_rng_uniform(rng));
        double ratio = exp(lr0 + (lr1 - lr0) * qt_rng_uniform(rng));
        long w = lround(sqrt(target * ratio)), h = lround(sqrt(target / ratio));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            p->y0 = (float)qt_rng_below(rng, (uint32_t)(H - h + 1));
            p->x0 = (float)qt_rng_below(rng, (uint32_t)(W - w + 1));
            p->bw = (float)w;
            p->bh = (float)h;
            return;
        }
    }
    double in_ratio = (double)W / H;
    long w = W, h = H;
    if (in_ratio < c->ratio_min)
        h = lround(w / c->ratio_min);
    else if (in_ratio > c->ratio_max)
        w = lround(h * c->ratio_max);
    p->bw = (float)w;
    p->bh = (float)h;
    p->x0 = (float)((W - w) / 2);
    p->y0 = (float)((H - h) / 2);
}

void qt_augment_draw(const qt_augmenter *a, int src_h, int src_w, qt_rng *rng,
                     qt_augment_params *p)
{
    const qt_augment_config *c = &a->cfg;
    int oh = c->out_h, ow = c->out_w;
    *p = (qt_augment_params){0.0f, 0.0f, (float)src_w, (float)src_h, 0};
    if (c->crop == QT_CROP_PAD_RANDOM) {
        int ry = src_h + 2 * c->pad - oh, rx = src_w + 2 * c->pad - ow;
        p->y0 = (float)((ry > 0 ? (int)qt_rng_below(rng, (uint32_t)ry + 1) : 0) - c->pad);
        p->x0 = (float)((rx > 0 ? (int)qt_rng_below(rng, (uint32_t)rx + 1) : 0) - c->pad);
        p->bw = (float)ow;
        p->bh = (float)oh;
    } else if (c->crop == QT_CROP_RANDOM_RESIZED) {
        draw_resized_box(c, src_h, src_w, rng, p);
    } else if (c->crop == QT_CROP_RESIZE_CENTER) {
        float s = (float)c->resize / (float)(src_h < src_w ? src_h : src_w);
        p->bw = (float)ow / s;
        p->bh = (float)oh / s;
        p->x0 = ((float)src_w - p->bw) / 2.0f;
        p->y0 = ((float)src_h - p->bh) / 2.0f;
    }
    if (c->hflip)
        p->flip = (int)qt_rng_below(rng, 2);
}

/* A whole-pixel window of the output size: a table lookup per pixel, padding outside. */
static void copy_window(const qt_augmenter *a, const qt_image *src, int x0, int y0, int flip,
                        float *out)
{
    int oh = a->cfg.out_h, ow = a->cfg.out_w;
    int lo = x0 < 0 ? -x0 : 0, hi = src->w - x0 < ow ? src->w - x0 : ow;
    for (int c = 0; c < a->c; c++) {
        const float *lut = a->lut[c];
        for (int y = 0; y < oh; y++) {
            float *o = out + ((size_t)c * oh + y) * ow;
            int sy = y0 + y;
            if (sy < 0 || sy >= src->h || lo >= hi || lo > 0 || hi < ow)
                for (int x = 0; x < ow; x++)
                    o[x] = lut[0];
            if (sy < 0 || sy >= src->h)
                continue;
            const uint8_t *row = src->data + c * src->cs + (ptrdiff_t)sy * src->ys;
            if (flip)
                for (int x = lo; x < hi; x++)
                    o[ow - 1 - x] = lut[row[(ptrdiff_t)(x0 + x) * src->xs]];
            else if (src->xs == 1)
                for (int x = lo; x < hi; x++)
                    o[x] = lut[row[x0 + x]];
            else
                for (int x = lo; x < hi; x++)
                    o[x] = lut[row[(ptrdiff_t)(x0 + x) * src->xs]];
        }
    }
}

int qt_augment_apply(qt_augmenter *a, const qt_image *src, const qt_augment_params *p,
                     float *out, qt_error *err)
{
    if (src->c != a->c)
        return qt_errorf(err, "augment: image has %d channels, expected %d", src->c, a->c);
    if (p->bw == (float)a->cfg.out_w && p->bh == (float)a->cfg.out_h &&
        p->x0 == floorf(p->x0) && p->y0 == floorf(p->y0) && fabsf(p->x0) < 1e8f &&
        fabsf(p->y0) < 1e8f) {
        copy_window(a, src, (int)p->x0, (int)p->y0, p->flip, out);
        return QT_OK;
    }
    if (qt_resample(&a->rs, src, p->x0, p->y0, p->bw, p->bh, a->cfg.out_h, a->cfg.out_w,
                    p->flip, a->cfg.mean, a->inv_std, out) != QT_OK)
        return qt_errorf(err, "augment: out of memory resampling a %dx%d image", src->w, src->h);
    return QT_OK;
}

int qt_augment_image(qt_augmenter *a, const qt_image *src, uint64_t seed, uint64_t epoch,
                     uint64_t index, float *out, qt_error *err)
{
    qt_rng rng;
    qt_augment_params p;
    qt_rng_derive(&rng, seed, epoch, index);
    qt_augment_draw(a, src->h, src->w, &rng, &p);
    return qt_augment_apply(a, src, &p, out, err);
}

#include "qtrain/synthetic_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/idx.h"
#include "qtrain/rng.h"

/* Streams of the generators, so CIFAR, IDX and PNG content never share random numbers. */
enum { STREAM_CIFAR = 1, STREAM_IDX = 2, STREAM_TREE = 3 };



static int join(char *out, size_t n, const char *dir, const char *name, qt_error *err)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return qt_errorf(err, "%s/%s: path too long", dir, name);
    return QT_OK;
}

void qt_synth_cifar_record(qt_cifar_labels layout, uint64_t seed, qt_split split, int r,
                           uint8_t *rec)
{
    qt_rng rng;
    qt_rng_derive(&rng, seed ^ STREAM_CIFAR, (uint64_t)split, (uint64_t)r);
    int fine = (int)qt_rng_below(&rng, (uint32_t)qt_cifar_num_classes(layout == QT_CIFAR10_LABELS
                                                                          ? QT_CIFAR10_LABELS
                                                                          : QT_CIFAR100_FINE));
    uint8_t px[QT_CIFAR_IMAGE_BYTES];
    for (int i = 0; i < QT_CIFAR_IMAGE_BYTES; i++)
        px[i] = (uint8_t)qt_rng_u32(&rng);
    /* CIFAR-100 groups five fine classes per superclass; any fixed map serves here */
    qt_cifar_encode_record(rec, layout, fine, fine / 5, px);
}

static int write_cifar_file(const char *dir, const char *name, qt_cifar_labels layout,
                            uint64_t seed, qt_split split, int first, int count, qt_error *err)
{
    char path[4096];
    if (join(path, sizeof path, dir, name, err) != QT_OK)
        return QT_ERR;
    size_t rec = qt_cifar_record_bytes(layout);
    uint8_t *buf = malloc(rec * (size_t)count + 1);
    if (!buf)
        return qt_errorf(err, "%s: out of memory", path);
    for (int r = 0; r < count; r++)
        qt_synth_cifar_record(layout, seed, split, first + r, buf + rec * (size_t)r);
    int rc = qt_write_file_atomic(path, buf, rec * (size_t)count, err);
    free(buf);
    return rc;
}

int qt_synth_cifar(const char *dir, qt_cifar_labels layout, int n_train, int n_test,
                   uint64_t seed, qt_error *err)
{
    if (n_train < 0 || n_test < 0)
        return qt_errorf(err, "synthetic CIFAR: negative image count");
    if (qt_make_dirs(dir, err) != QT_OK)
        return QT_ERR;
    if (layout != QT_CIFAR10_LABELS) {
        if (write_cifar_file(dir, "train.bin", layout, seed, QT_SPLIT_TRAIN, 0, n_train, err))
            return QT_ERR;
        return write_cifar_file(dir, "test.bin", layout, seed, QT_SPLIT_TEST, 0, n_test, err);
    }
    int first = 0;
    for (int b = 0; b < 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        int count = n_train / 5 + (b < n_train % 5);
        if (write_cifar_file(dir, name, layout, seed, QT_SPLIT_TRAIN, first, count, err) != QT_OK)
            return QT_ERR;
        first += count;
    }
    return write_cifar_file(dir, "test_batch.bin", layout, seed, QT_SPLIT_TEST, 0, n_test, err);
}

void qt_synth_idx_image(uint64_t seed, qt_split split, int r, int rows, int cols,
                        uint8_t *pixels, int *label)
{
    qt_rng rng;
    qt_rng_derive(&rng, seed ^ STREAM_IDX, (uint64_t)split, (uint64_t)r);
    *label = (int)qt_rng_below(&rng, 10);
    for (int i = 0; i < rows * cols; i++)
        pixels[i] = (uint8_t)qt_rng_u32(&rng);
}

static int write_idx(const char *dir, const char *name, int gzip, int ndims,
                     const uint32_t *dims, const uint8_t *data, qt_error *err)
{
    char path[4096], file[256];
    snprintf(file, sizeof file, "%s%s", name, gzip ? ".gz" : "");
    if (join(path, sizeof path, dir, file, err) != QT_OK)
        return QT_ERR;
    uint8_t *raw, *gz = NULL;
    size_t raw_len, gz_len = 0;
    if (qt_idx_encode(ndims, dims, data, &raw, &raw_len, err) != QT_OK)
        return QT_ERR;
    int rc = gzip ? qt_gzip(raw, raw_len, &gz, &gz_len, err) : QT_OK;
    if (rc == QT_OK)
        rc = gzip ? qt_write_file_atomic(path, gz, gz_len, err) : qt_write_file_atomic(path, raw, raw_len, err);
    free(raw);
    free(gz);
    return rc;
}

static int write_idx_split(const char *dir, const char *prefix, qt_split split, int n, int rows,
                           int cols, int gzip, uint64_t seed, qt_error *err)
{
    size_t px = (size_t)rows * cols;
    uint8_t *images = malloc(px * (size_t)n + 1), *labels = malloc((size_t)n + 1);
    int rc = QT_ERR;
    if (!images || !labels) {
        qt_errorf(err, "synthetic IDX: out of memory");
        goto done;
    }
    for (int r = 0; r < n; r++) {
        int label;
        qt_synth_idx_image(seed, split, r, rows, cols, images + px * (size_t)r, &label);
        labels[r] = (uint8_t)label;
    }
    char name[64];
    uint32_t idims[3] = {(uint32_t)n, (uint32_t)rows, (uint32_t)cols}, ldims[1] = {(uint32_t)n};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (write_idx(dir, name, gzip, 3, idims, images, err) != QT_OK)
        goto done;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    rc = write_idx(dir, name, gzip, 1, ldims, labels, err);
done:
    free(images);
    free(labels);
    return rc;
}

int qt_synth_idx(const char *dir, int n_train, int n_test, int rows, int cols, int gzip,
                 uint64_t seed, qt_error *err)
{
    if (n_train < 0 || n_test < 0 || rows <= 0 || cols <= 0)
        return qt_errorf(err, "synthetic IDX: bad counts or size");
    if (qt_make_dirs(dir, err) != QT_OK)
        return QT_ERR;
    if (write_idx_split(dir, "train", QT_SPLIT_TRAIN, n_train, rows, cols, gzip, seed, err))
        return QT_ERR;
    return write_idx_split(dir, "t10k", QT_SPLIT_TEST, n_test, rows, cols, gzip, seed, err);
}

/* Every valid colour type / bit depth, plain and Adam7, and with tRNS for the colour types
 * that allow it (0, 2, 3). */
static const qt_png_format png_formats[] = {
#define PLAIN(ct, bd) {ct, bd, 0, 0}, {ct, bd, 1, 0}
#define TRNS(ct, bd) {ct, bd, 0, 0}, {ct, bd, 1, 0}, {ct, bd, 0, 1}, {ct, bd, 1, 1}
    TRNS(0, 1), TRNS(0, 2), TRNS(0, 4), TRNS(0, 8), TRNS(0, 16),
    TRNS(2, 8), TRNS(2, 16),
    TRNS(3, 1), TRNS(3, 2), TRNS(3, 4), TRNS(3, 8),
    PLAIN(4, 8), PLAIN(4, 16),
    PLAIN(6, 8), PLAIN(6, 16),
#undef PLAIN
#undef TRNS
};

int qt_synth_png_formats(const qt_png_format **formats)
{
    *formats = png_formats;
    return (int)(sizeof png_formats / sizeof png_formats[0]);
}

/* A 16-bit sample near x * 257 (the exact 16-bit image of byte x) that still scales back
 * to x: v * 255 / 65535 rounds to x while the offset stays below 257 / 2. */
static uint16_t sample16(qt_rng *rng, uint8_t x)
{
    uint32_t v = (uint32_t)x * 257 + qt_rng_below(rng, 128);
    return (uint16_t)(v > 65535 ? 65535 : v);
}

/* The image's samples, palette and transparency, and the RGB a decoder must produce. */
static void synth_png_content(const qt_synth_png *im, uint16_t *samples, uint8_t *palette,
                              uint16_t *alpha, uint8_t *rgb)
{
    const qt_png_format *f = &im->fmt;
    qt_rng rng;
    qt_rng_seed(&rng, im->seed);
    int ch = qt_png_format_channels(f), bd = f->bit_depth;
    uint32_t levels = bd == 16 ? 256 : 1u << bd;
    int npal = f->color_type == 3 ? (int)levels : 0;
    for (int i = 0; i < 3 * npal; i++)
        palette[i] = (uint8_t)qt_rng_u32(&rng);
    for (int i = 0; i < (npal ? npal : ch); i++)
        alpha[i] = bd == 16 ? sample16(&rng, (uint8_t)qt_rng_u32(&rng))
                            : (uint16_t)qt_rng_below(&rng, npal ? 256 : levels);
    size_t n = (size_t)im->w * im->h;
    for (size_t p = 0; p < n; p++) {
        uint8_t v[4] = {0};
        for (int c = 0; c < ch; c++) {
            uint16_t *s = &samples[p * ch + c];
            v[c] = (uint8_t)qt_rng_below(&rng, levels);
            *s = bd == 16 ? sample16(&rng, v[c]) : v[c];
            if (bd < 8)
                v[c] = (uint8_t)(v[c] * 255 / (levels - 1));
        }
        for (int c = 0; c < 3; c++)
            rgb[3 * p + c] = f->color_type == 3 ? palette[3 * samples[p] + c]
                             : ch >= 3          ? v[c]
                                                : v[0];
    }
}

int qt_synth_png_expected(const qt_synth_png *im, uint8_t *rgb, qt_error *err)
{
    size_t n = (size_t)im->w * im->h;
    uint16_t *samples = malloc(n * 4 * sizeof *samples);
    uint8_t palette[3 * 256];
    uint16_t alpha[256];
    if (!samples)
        return qt_errorf(err, "synthetic PNG: out of memory");
    synth_png_content(im, samples, palette, alpha, rgb);
    free(samples);
    return QT_OK;
}

int qt_synth_png_write(const char *path, const qt_synth_png *im, qt_error *err)
{
    size_t n = (size_t)im->w * im->h;
    uint16_t *samples = malloc(n * 4 * sizeof *samples);
    uint8_t *rgb = malloc(n * 3), palette[3 * 256], *png = NULL;
    uint16_t alpha[256];
    size_t len = 0;
    int rc = QT_ERR;
    if (!samples || !rgb) {
        qt_errorf(err, "%s: out of memory", path);
    } else {
        synth_png_content(im, samples, palette, alpha, rgb);
        int npal = im->fmt.color_type == 3 ? 1 << im->fmt.bit_depth : 0;
        rc = qt_png_encode(&im->fmt, im->w, im->h, samples, palette, npal, alpha, &png, &len, err);
        if (rc == QT_OK)
            rc = qt_write_file_atomic(path, png, len, err);
        else
            qt_error_prefix(err, "%s", path);
    }
    free(samples);
    free(rgb);
    free(png);
    return rc;
}

void qt_synth_tree_image(const qt_synth_tree *t, qt_split split, int cls, int j,
                         qt_synth_png *im, char *relpath, size_t relpath_size)
{
    const qt_png_format *formats;
    int nf = qt_synth_png_formats(&formats);
    int per = split == QT_SPLIT_TRAIN ? t->train_per_class : t->val_per_class;
    qt_rng rng;
    qt_rng_derive(&rng, t->seed ^ STREAM_TREE, (uint64_t)split, (uint64_t)cls << 32 | (uint32_t)j);
    uint32_t span = (uint32_t)(t->max_side - t->min_side + 1);
    im->fmt = formats[((int64_t)cls * per + j + (split == QT_SPLIT_TEST ? 7 : 0)) % nf];
    im->w = t->min_side + (int)qt_rng_below(&rng, span);
    im->h = t->min_side + (int)qt_rng_below(&rng, span);
    im->seed = qt_rng_u64(&rng);
    snprintf(relpath, relpath_size, "%s/class_%02d/img_%04d.png",
             split == QT_SPLIT_TRAIN ? "train" : "val", cls, j);
}

int qt_synth_tree_write(const char *root, const qt_synth_tree *t, qt_error *err)
{
    if (t->classes <= 0 || t->train_per_class < 0 || t->val_per_class < 0 ||
        t->min_side <= 0 || t->max_side < t->min_side)
        return qt_errorf(err, "synthetic PNG tree: bad class count, image count or sides");
    for (int s = 0; s < 2; s++) {
        qt_split split = s ? QT_SPLIT_TEST : QT_SPLIT_TRAIN;
        int per = s ? t->val_per_class : t->train_per_class;
        for (int c = 0; c < t->classes; c++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s/class_%02d", root, s ? "val" : "train", c);
            if (qt_make_dirs(dir, err) != QT_OK)
                return QT_ERR;
            for (int j = 0; j < per; j++) {
                qt_synth_png im;
                char rel[128], path[4096];
                qt_synth_tree_image(t, split, c, j, &im, rel, sizeof rel);
                if (join(path, sizeof path, root, rel, err) != QT_OK ||
                    qt_synth_png_write(path, &im, err) != QT_OK)
                    return QT_ERR;
            }
        }
    }
    return QT_OK;
}

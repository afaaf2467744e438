/* Synthetic trees in the ILSVRC-2012 and Tiny-ImageNet layouts, of synthetic JPEGs. */
#include "qtrain/synthetic_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/file_io.h"
#include "qtrain/rng.h"

enum { STREAM_WNIDS = 6, STREAM_VAL_CLASS = 7, STREAM_IMAGES = 8, MAX_CLASSES = 1024 };

void qt_synth_imagenet_wnid(const qt_synth_imagenet *t, int k, char out[16])
{
    qt_rng rng;
    qt_rng_derive(&rng, t->seed ^ STREAM_WNIDS, (uint64_t)k, 0);
    /* random, so creation order is not sorted order; distinct through the low bits */
    uint32_t v = qt_rng_below(&rng, 100000000 / MAX_CLASSES) * MAX_CLASSES + (uint32_t)k;
    snprintf(out, 16, "n%08u", v);
}

int qt_synth_imagenet_val_class(const qt_synth_imagenet *t, int v)
{
    qt_rng rng;
    qt_rng_derive(&rng, t->seed ^ STREAM_VAL_CLASS, (uint64_t)v, 0);
    return (int)qt_rng_below(&rng, (uint32_t)t->classes);
}

static const qt_jpeg_format photo_format = {QT_JPEG_YCBCR, 0, 90, 1};

void qt_synth_imagenet_image(const qt_synth_imagenet *t, qt_split split, int k, int j,
                             qt_synth_jpeg *im, char *rel, size_t n)
{
    const qt_jpeg_format *formats;
    int nf = qt_synth_jpeg_formats(&formats);
    int train = split == QT_SPLIT_TRAIN;
    int64_t serial = train ? (int64_t)k * t->train_per_class + j
                           : (int64_t)t->classes * t->train_per_class + j;
    qt_rng rng;
    qt_rng_derive(&rng, t->seed ^ STREAM_IMAGES, (uint64_t)split, (uint64_t)serial);
    uint32_t span = (uint32_t)(t->max_side - t->min_side + 1);
    im->fmt = t->photo ? photo_format : formats[serial % nf];
    im->w = t->width > 0 ? t->width : t->min_side + (int)qt_rng_below(&rng, span);
    im->h = t->height > 0 ? t->height : t->min_side + (int)qt_rng_below(&rng, span);
    im->block = 16;
    im->noise = t->photo ? QT_SYNTH_PHOTO_NOISE : 0;
    im->seed = qt_rng_u64(&rng);
    char wnid[16];
    qt_synth_imagenet_wnid(t, train ? k : qt_synth_imagenet_val_class(t, j), wnid);
    if (train)
        snprintf(rel, n, "train/%s/%s%s_%d.JPEG", wnid, t->tiny ? "images/" : "", wnid, j);
    else if (t->tiny)
        snprintf(rel, n, "val/images/val_%d.JPEG", j);
    else
        snprintf(rel, n, "val/%s%sILSVRC2012_val_%08d.JPEG",
                 t->val == QT_SYNTH_VAL_SORTED ? wnid : "",
                 t->val == QT_SYNTH_VAL_SORTED ? "/" : "", j + 1);
}

static int write_image(const char *root, const qt_synth_imagenet *t, qt_split split, int k,
                       int j, qt_error *err)
{
    qt_synth_jpeg im;
    char rel[256], path[4096];
    qt_synth_imagenet_image(t, split, k, j, &im, rel, sizeof rel);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path)
        return qt_errorf(err, "%s/%s: path too long", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = qt_make_dirs(path, err);
    *slash = '/';
    return rc == QT_OK ? qt_synth_jpeg_write(path, &im, err) : QT_ERR;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

/* Position of class k's wnid in sorted order (the index Caffe's val.txt gives). */
static int sorted_index(const qt_synth_imagenet *t, int k)
{
    char mine[16], other[16];
    qt_synth_imagenet_wnid(t, k, mine);
    int below = 0;
    for (int i = 0; i < t->classes; i++) {
        qt_synth_imagenet_wnid(t, i, other);
        below += cmp_str(other, mine) < 0;
    }
    return below;
}

/* The text of a label or class file, written atomically. */
static int write_text(const char *root, const char *rel, const char *text, size_t len,
                      qt_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path)
        return qt_errorf(err, "%s/%s: path too long", root, rel);
    return qt_write_file_atomic(path, text, len, err);
}

typedef enum list_kind {
    LIST_WNIDS,      /* wnids.txt: one wnid per class, in creation order */
    LIST_WORDS,      /* words.txt: wnid and a name */
    LIST_LOC_CSV,    /* LOC_val_solution.csv rows, last image first (that file is unordered) */
    LIST_TINY,       /* val_annotations.txt: file, wnid, box */
    LIST_INDEX,      /* file and sorted class index (Caffe's val.txt) */
    LIST_WNID,       /* file and wnid */
} list_kind;

/* Line i of a list. */
static size_t format_line(const qt_synth_imagenet *t, list_kind kind, int i, char *out,
                          size_t n)
{
    char wnid[16];
    int v = kind == LIST_LOC_CSV ? t->val_images - 1 - i : i;
    int k = kind == LIST_WNIDS || kind == LIST_WORDS ? i : qt_synth_imagenet_val_class(t, v);
    qt_synth_imagenet_wnid(t, k, wnid);
    int len;
    switch (kind) {
    case LIST_WNIDS: len = snprintf(out, n, "%s\n", wnid); break;
    case LIST_WORDS: len = snprintf(out, n, "%s\tthing %d\n", wnid, k); break;
    case LIST_LOC_CSV:
        len = snprintf(out, n, "ILSVRC2012_val_%08d,%s 1 2 30 40 %s 5 6 20 21\n", v + 1, wnid,
                       wnid);
        break;
    case LIST_TINY: len = snprintf(out, n, "val_%d.JPEG\t%s\t0\t0\t10\t10\n", v, wnid); break;
    case LIST_INDEX:
        len = snprintf(out, n, "ILSVRC2012_val_%08d.JPEG %d\n", v + 1, sorted_index(t, k));
        break;
    default: len = snprintf(out, n, "ILSVRC2012_val_%08d.JPEG %s\n", v + 1, wnid); break;
    }
    return (size_t)len;
}

static int write_list(const char *root, const char *rel, const qt_synth_imagenet *t,
                      list_kind kind, int count, const char *header, qt_error *err)
{
    size_t cap = strlen(header) + 96 * (size_t)count + 1, len = strlen(header);
    char *text = malloc(cap);
    if (!text)
        return qt_errorf(err, "%s/%s: out of memory", root, rel);
    memcpy(text, header, len);
    for (int i = 0; i < count; i++)
        len += format_line(t, kind, i, text + len, cap - len);
    int rc = write_text(root, rel, text, len, err);
    free(text);
    return rc;
}

static int write_lists(const char *root, const qt_synth_imagenet *t, qt_error *err)
{
    if (t->tiny) {
        if (write_list(root, "wnids.txt", t, LIST_WNIDS, t->classes, "", err) != QT_OK ||
            write_list(root, "words.txt", t, LIST_WORDS, t->classes, "", err) != QT_OK)
            return QT_ERR;
        return write_list(root, "val/val_annotations.txt", t, LIST_TINY, t->val_images, "", err);
    }
    switch (t->val) {
    case QT_SYNTH_VAL_LOC_CSV:
        return write_list(root, "LOC_val_solution.csv", t, LIST_LOC_CSV, t->val_images,
                          "ImageId,PredictionString\n", err);
    case QT_SYNTH_VAL_WNID_LIST:
        return write_list(root, "val_labels.txt", t, LIST_WNID, t->val_images, "", err);
    case QT_SYNTH_VAL_INDEX_LIST:
        return write_list(root, "val_labels.txt", t, LIST_INDEX, t->val_images, "", err);
    default:
        return QT_OK;
    }
}

int qt_synth_imagenet_write(const char *root, const qt_synth_imagenet *t, qt_error *err)
{
    if (t->classes <= 0 || t->classes > MAX_CLASSES || t->train_per_class < 0 ||
        t->val_images < 0 || (t->width <= 0 && (t->min_side <= 0 || t->max_side < t->min_side)) ||
        (t->width > 0) != (t->height > 0))
        return qt_errorf(err, "synthetic ImageNet: bad class count (1..%d), image count or sides",
                         MAX_CLASSES);
    for (int k = 0; k < t->classes; k++)
        for (int j = 0; j < t->train_per_class; j++)
            if (write_image(root, t, QT_SPLIT_TRAIN, k, j, err) != QT_OK)
                return QT_ERR;
    for (int v = 0; v < t->val_images; v++)
        if (write_image(root, t, QT_SPLIT_TEST, 0, v, err) != QT_OK)
            return QT_ERR;
    char val[4096];
    snprintf(val, sizeof val, "%s/val", root);
    if (qt_make_dirs(val, err) != QT_OK)
        return QT_ERR;
    return write_lists(root, t, err);
}

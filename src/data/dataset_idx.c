/* MNIST and Fashion-MNIST IDX files (plain or gzip), decoded into the in-memory cache. */
#include "dataset_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/idx.h"

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static const char *const digit_names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

/* The IDX files are far below this; the cap stops a hostile .gz from exhausting memory. */
#define IDX_MAX_BYTES ((size_t)1 << 32)

/* root/base if it exists, else root/base.gz. */
static int find_file(const char *root, const char *base, char *path, size_t n, qt_error *err)
{
    if (qt_ds_join_path(path, n, root, base, err) != QT_OK)
        return QT_ERR;
    if (access(path, F_OK) == 0)
        return QT_OK;
    int e = errno;
    size_t len = strlen(path);
    if (len + 4 > n)
        return qt_errorf(err, "%s: path too long", path);
    memcpy(path + len, ".gz", 4);
    if (access(path, F_OK) == 0)
        return QT_OK;
    path[len] = 0;
    return qt_errorf(err, "%s: cannot open (nor %s.gz): %s", path, base, strerror(e));
}

static int read_idx(const char *root, const char *base, int ndims, char *path, size_t n,
                    uint8_t **buf, qt_idx *idx, qt_error *err)
{
    size_t len;
    if (find_file(root, base, path, n, err) != QT_OK ||
        qt_read_file_maybe_gz(path, IDX_MAX_BYTES, buf, &len, err) != QT_OK)
        return QT_ERR;
    if (qt_idx_parse(path, *buf, len, ndims, idx, err) != QT_OK) {
        free(*buf);
        *buf = NULL;
        return QT_ERR;
    }
    return QT_OK;
}

/* Moves labels into ds (as int32), leaving out (skip_bad) or rejecting labels >= 10. */
static int take_records(qt_dataset *ds, const qt_idx *images, const qt_idx *labels,
                        const char *label_path, int skip_bad, qt_error *err)
{
    size_t hw = (size_t)ds->h * ds->w, n = labels->dims[0], kept = 0;
    ds->labels = malloc(sizeof *ds->labels * (n ? n : 1));
    if (!ds->labels)
        return qt_errorf(err, "%s: out of memory for %zu labels", label_path, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t label = labels->data[i];
        if (label >= 10) {
            if (!skip_bad)
                return qt_errorf(err, "%s: label %d of image %zu out of range 0..9", label_path,
                                 label, i);
            ds->skipped++;
            continue;
        }
        if (kept != i)
            memcpy(ds->pixels + hw * kept, images->data + hw * i, hw);
        ds->labels[kept++] = label;
    }
    ds->n = (int)kept;
    if (kept < n)
        return qt_ds_add_skip_note(ds, err, "%s: left out %zu image%s whose label is outside "
                                   "0..9", label_path, n - kept, n - kept == 1 ? "" : "s");
    return QT_OK;
}

int qt_ds_open_idx(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err)
{
    const char *prefix = cfg->split == QT_SPLIT_TRAIN ? "train" : "t10k";
    char base[64], ipath[4096], lpath[4096];
    uint8_t *ibuf = NULL, *lbuf = NULL;
    qt_idx images, labels;
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (read_idx(cfg->root, base, 3, ipath, sizeof ipath, &ibuf, &images, err))
        return QT_ERR;
    ds->store = ibuf;
    if (qt_ds_set_source(ds, ipath, err) != QT_OK)
        return QT_ERR;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (read_idx(cfg->root, base, 1, lpath, sizeof lpath, &lbuf, &labels, err))
        return QT_ERR;
    int rc = QT_OK;
    if (images.dims[0] != labels.dims[0])
        rc = qt_errorf(err, "%s has %u images but %s has %u labels", ipath, images.dims[0],
                       lpath, labels.dims[0]);
    else if (images.dims[0] > (uint32_t)1 << 30 || images.dims[1] == 0 || images.dims[2] == 0 ||
             images.dims[1] > QT_PNG_MAX_SIDE || images.dims[2] > QT_PNG_MAX_SIDE)
        rc = qt_errorf(err, "%s: unsupported image count or size %ux%ux%u", ipath,
                       images.dims[0], images.dims[1], images.dims[2]);
    if (rc == QT_OK) {
        ds->c = 1;
        ds->h = (int)images.dims[1];
        ds->w = (int)images.dims[2];
        ds->pixels = (uint8_t *)images.data;
        rc = take_records(ds, &images, &labels, lpath, cfg->skip_bad, err);
    }
    free(lbuf);
    if (rc != QT_OK)
        return QT_ERR;
    return qt_ds_set_class_names(ds, cfg->kind == QT_DATASET_MNIST ? digit_names : fashion_names,
                                 10, err);
}

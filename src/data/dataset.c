/* What every dataset kind shares: configuration, subsets, accessors, the class map file. */
#include "dataset_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/rng.h"

void qt_dataset_config_init(qt_dataset_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = QT_DATASET_CIFAR10;
    cfg->split = QT_SPLIT_TRAIN;
    cfg->cifar100_label = QT_CIFAR100_LABEL_FINE;
    cfg->fraction = 1.0;
    cfg->image_size = 224;
}

static const char *const kind_names[] = {
    [QT_DATASET_CIFAR10] = "cifar10",
    [QT_DATASET_CIFAR100] = "cifar100",
    [QT_DATASET_FASHION_MNIST] = "fashion_mnist",
    [QT_DATASET_MNIST] = "mnist",
    [QT_DATASET_IMAGE_FOLDER] = "image_folder",
    [QT_DATASET_IMAGENET] = "imagenet",
    [QT_DATASET_TINY_IMAGENET] = "tiny_imagenet",
    [QT_DATASET_SYNTHETIC] = "synthetic",
};

const char *qt_dataset_kind_name(qt_dataset_kind kind)
{
    return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "unknown";
}

int qt_dataset_kind_parse(const char *name, qt_dataset_kind *kind, qt_error *err)
{
    for (int k = 0; k < QT_DATASET_SYNTHETIC; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (qt_dataset_kind)k;
            return QT_OK;
        }
    }
    if (strcmp(name, "png_folder") == 0) {
        *kind = QT_DATASET_IMAGE_FOLDER;
        return QT_OK;
    }
    return qt_errorf(err, "unknown dataset '%s' (expected cifar10, cifar100, fashion_mnist, "
                     "mnist, image_folder, imagenet or tiny_imagenet)", name);
}

static int is_folder_kind(qt_dataset_kind kind)
{
    return kind == QT_DATASET_IMAGE_FOLDER || kind == QT_DATASET_IMAGENET ||
           kind == QT_DATASET_TINY_IMAGENET;
}

/* Debian's dataset-fashion-mnist when installed, else where tools/get-data.sh puts it. */
static const char *fashion_mnist_root(void)
{
    struct stat st;
    const char *debian = "/usr/share/datasets/fashion-mnist";
    return stat(debian, &st) == 0 && S_ISDIR(st.st_mode) ? debian : "datasets/fashion-mnist";
}

const char *qt_dataset_default_root(qt_dataset_kind kind)
{
    switch (kind) {
    case QT_DATASET_CIFAR10: return "datasets/cifar-10-batches-bin";
    case QT_DATASET_CIFAR100: return "datasets/cifar-100-binary";
    case QT_DATASET_FASHION_MNIST: return fashion_mnist_root();
    case QT_DATASET_MNIST: return "datasets/mnist";
    case QT_DATASET_IMAGENET: return "datasets/imagenet";
    case QT_DATASET_TINY_IMAGENET: return "datasets/tiny-imagenet-200";
    default: return NULL;
    }
}

int qt_ds_join_path(char *out, size_t n, const char *dir, const char *name, qt_error *err)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return qt_errorf(err, "%s/%s: path too long", dir, name);
    return QT_OK;
}

int qt_ds_set_class_names(qt_dataset *ds, const char *const *names, int count, qt_error *err)
{
    ds->class_names = calloc((size_t)count, sizeof *ds->class_names);
    if (!ds->class_names)
        return qt_errorf(err, "out of memory for class names");
    ds->num_classes = count;
    for (int k = 0; k < count; k++) {
        ds->class_names[k] = strdup(names[k]);
        if (!ds->class_names[k])
            return qt_errorf(err, "out of memory for class names");
    }
    return QT_OK;
}

int qt_ds_set_source(qt_dataset *ds, const char *path, qt_error *err)
{
    free(ds->source);
    if (!(ds->source = strdup(path)))
        return qt_errorf(err, "%s: out of memory", path);
    return QT_OK;
}

int qt_ds_add_skip_note(qt_dataset *ds, qt_error *err, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **notes = realloc(ds->skip_notes, sizeof *notes * (size_t)(ds->n_skip_notes + 1));
    if (!notes)
        return qt_errorf(err, "out of memory noting a skipped image");
    ds->skip_notes = notes;
    if (!(notes[ds->n_skip_notes] = strdup(line)))
        return qt_errorf(err, "out of memory noting a skipped image");
    ds->n_skip_notes++;
    return QT_OK;
}

static int check_config(const qt_dataset_config *cfg, qt_error *err)
{
    if (cfg->kind < 0 || cfg->kind >= QT_DATASET_SYNTHETIC)
        return qt_errorf(err, "dataset: unknown kind %d", (int)cfg->kind);
    if ((!cfg->root || !cfg->root[0]) && !qt_dataset_default_root(cfg->kind))
        return qt_errorf(err, "dataset %s: no root directory given", qt_dataset_kind_name(cfg->kind));
    if (!(cfg->fraction > 0.0 && cfg->fraction <= 1.0))
        return qt_errorf(err, "dataset %s: fraction %g out of range (0, 1]",
                         qt_dataset_kind_name(cfg->kind), cfg->fraction);
    if (cfg->limit < 0 || cfg->classes < 0 || cfg->per_class < 0)
        return qt_errorf(err, "dataset %s: limit, classes and per_class must be >= 0",
                         qt_dataset_kind_name(cfg->kind));
    const char *kind = qt_dataset_kind_name(cfg->kind);
    if (is_folder_kind(cfg->kind) && (cfg->image_size <= 0 || cfg->image_size > QT_PNG_MAX_SIDE))
        return qt_errorf(err, "dataset %s: image_size %d out of range 1..%d", kind,
                         cfg->image_size, QT_PNG_MAX_SIDE);
    int class_list = cfg->class_list && cfg->class_list[0];
    if (class_list && !is_folder_kind(cfg->kind))
        return qt_errorf(err, "dataset %s: a class list applies only to image_folder, imagenet "
                         "and tiny_imagenet", kind);
    if (class_list && cfg->classes)
        return qt_errorf(err, "dataset %s: give either a class count or a class list, not both",
                         kind);
    return QT_OK;
}

/* Marks in drawn[] a random round(fraction * n_k) (at least 1) of the n_k images of each
 * class k, every subset of that size equally likely: selection sampling in one pass over the
 * file order, keeping an image with probability (still needed) / (still to come). left[]
 * starts as the class sizes. */
static void draw_fraction(const qt_dataset *ds, const qt_dataset_config *cfg, int classes,
                          int *left, int *need, unsigned char *drawn)
{
    qt_rng r;
    qt_rng_derive(&r, cfg->seed, 0xf4ac, 0);
    for (int k = 0; k < classes; k++) {
        int f = (int)(cfg->fraction * left[k] + 0.5);
        need[k] = left[k] > 0 && f < 1 ? 1 : f;
    }
    for (int i = 0; i < ds->n; i++) {
        int k = ds->labels[i];
        if (k >= classes)
            continue;
        drawn[i] = qt_rng_below(&r, (uint32_t)left[k]) < (uint32_t)need[k];
        need[k] -= drawn[i];
        left[k]--;
    }
}

/* Fills keep[] with the indices the subset options retain, in order; returns the count
 * (-1 when out of memory). */
static int select_subset(const qt_dataset *ds, const qt_dataset_config *cfg, int *keep)
{
    int classes = cfg->classes ? cfg->classes : ds->num_classes;
    int *have = calloc((size_t)classes, sizeof *have), *count = calloc((size_t)classes, sizeof *count);
    unsigned char *drawn = cfg->fraction < 1.0 ? malloc((size_t)(ds->n ? ds->n : 1)) : NULL;
    int kept = -1;
    if (!have || !count || (cfg->fraction < 1.0 && !drawn))
        goto done;
    kept = 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] < classes)
            count[ds->labels[i]]++;
    if (drawn)
        draw_fraction(ds, cfg, classes, count, have, drawn);  /* uses count and have as scratch */
    memset(have, 0, (size_t)classes * sizeof *have);
    for (int i = 0; i < ds->n && (!cfg->limit || kept < cfg->limit); i++) {
        int k = ds->labels[i];
        if (k < classes && (!drawn || drawn[i]) && (!cfg->per_class || have[k] < cfg->per_class)) {
            have[k]++;
            keep[kept++] = i;
        }
    }
done:
    free(have);
    free(count);
    free(drawn);
    return kept;
}

/* Keeps only the images listed in keep (ascending), moving pixels, labels and paths down. */
static void compact(qt_dataset *ds, const int *keep, int kept)
{
    size_t chw = (size_t)ds->c * ds->h * ds->w;
    for (int j = 0; j < kept; j++) {
        int i = keep[j];
        ds->labels[j] = ds->labels[i];
        if (ds->pixels && i != j)
            memcpy(ds->pixels + chw * j, ds->pixels + chw * i, chw);
        if (ds->path_off)
            ds->path_off[j] = ds->path_off[i];
    }
    ds->n = kept;
}

static int apply_subset(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err)
{
    const char *kind = qt_dataset_kind_name(cfg->kind);
    if (cfg->classes > ds->num_classes)
        return qt_errorf(err, "dataset %s at %s: classes %d exceeds the %d classes present",
                         kind, cfg->root, cfg->classes, ds->num_classes);
    int *keep = malloc(sizeof *keep * (size_t)(ds->n ? ds->n : 1));
    if (!keep)
        return qt_errorf(err, "dataset %s: out of memory selecting the subset", kind);
    int kept = select_subset(ds, cfg, keep);
    if (kept >= 0)
        compact(ds, keep, kept);
    free(keep);
    if (kept < 0)
        return qt_errorf(err, "dataset %s: out of memory selecting the subset", kind);
    if (cfg->classes) {
        for (int k = cfg->classes; k < ds->num_classes; k++)
            free(ds->class_names[k]);
        ds->num_classes = cfg->classes;
    }
    if (ds->n == 0)
        return qt_errorf(err, "dataset %s at %s: no images selected%s", kind, cfg->root,
                         ds->skipped ? " (all were skipped as bad)" : "");
    return QT_OK;
}

int qt_dataset_open(qt_dataset **out, const qt_dataset_config *given, qt_error *err)
{
    *out = NULL;
    if (check_config(given, err) != QT_OK)
        return QT_ERR;
    qt_dataset_config resolved = *given;
    if (!resolved.root || !resolved.root[0])
        resolved.root = qt_dataset_default_root(resolved.kind);
    const qt_dataset_config *cfg = &resolved;
    qt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return qt_errorf(err, "dataset: out of memory");
    ds->kind = cfg->kind;
    ds->skip_bad = cfg->skip_bad;
    int rc;
    switch (cfg->kind) {
    case QT_DATASET_CIFAR10:
    case QT_DATASET_CIFAR100:
        rc = qt_ds_open_cifar(ds, cfg, err);
        break;
    case QT_DATASET_FASHION_MNIST:
    case QT_DATASET_MNIST:
        rc = qt_ds_open_idx(ds, cfg, err);
        break;
    default:
        rc = qt_ds_open_folder(ds, cfg, err);
        break;
    }
    if (rc == QT_OK)
        rc = apply_subset(ds, cfg, err);
    if (rc != QT_OK) {
        qt_dataset_free(ds);
        return QT_ERR;
    }
    *out = ds;
    return QT_OK;
}

void qt_dataset_free(qt_dataset *ds)
{
    if (!ds)
        return;
    if (ds->class_names)
        for (int k = 0; k < ds->num_classes; k++)
            free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->labels);
    free(ds->store);
    free(ds->paths);
    free(ds->path_off);
    for (int i = 0; i < ds->n_skip_notes; i++)
        free(ds->skip_notes[i]);
    free(ds->skip_notes);
    free(ds->source);
    free(ds);
}

qt_dataset_kind qt_dataset_get_kind(const qt_dataset *ds) { return ds->kind; }
int qt_dataset_count(const qt_dataset *ds) { return ds->n; }
int qt_dataset_channels(const qt_dataset *ds) { return ds->c; }
int qt_dataset_height(const qt_dataset *ds) { return ds->h; }
int qt_dataset_width(const qt_dataset *ds) { return ds->w; }
int qt_dataset_num_classes(const qt_dataset *ds) { return ds->num_classes; }
int qt_dataset_skipped(const qt_dataset *ds) { return ds->skipped; }
int qt_dataset_skips_bad(const qt_dataset *ds) { return ds->skip_bad; }
int qt_dataset_decodes(const qt_dataset *ds) { return ds->paths != NULL; }
const char *qt_dataset_source(const qt_dataset *ds) { return ds->source ? ds->source : "(memory)"; }

int qt_dataset_skip_notes(const qt_dataset *ds, const char *const **notes)
{
    *notes = (const char *const *)ds->skip_notes;
    return ds->n_skip_notes;
}

int qt_dataset_check_splits(const qt_dataset *train, const qt_dataset *test, qt_error *err)
{
    if (train->c == test->c && train->h == test->h && train->w == test->w &&
        train->num_classes == test->num_classes)
        return QT_OK;
    return qt_errorf(err, "the splits differ: the train split (%s) has %dx%dx%d images and %d "
                     "classes, the test split (%s) %dx%dx%d images and %d classes; a net "
                     "needs both the same", qt_dataset_source(train), train->c, train->h,
                     train->w, train->num_classes, qt_dataset_source(test), test->c, test->h,
                     test->w, test->num_classes);
}

const char *qt_dataset_class_name(const qt_dataset *ds, int k)
{
    return k >= 0 && k < ds->num_classes ? ds->class_names[k] : NULL;
}

int qt_dataset_label(const qt_dataset *ds, int i) { return ds->labels[i]; }

const char *qt_dataset_image_path(const qt_dataset *ds, int i)
{
    return ds->paths ? ds->paths + ds->path_off[i] : NULL;
}

int qt_dataset_image(const qt_dataset *ds, int i, qt_image_reader *rd, qt_image *out,
                     qt_error *err)
{
    if (i < 0 || i >= ds->n)
        return qt_errorf(err, "dataset %s: image %d out of range 0..%d",
                         qt_dataset_kind_name(ds->kind), i, ds->n - 1);
    if (ds->paths)
        return qt_image_read(rd, ds->paths + ds->path_off[i], out, err);
    size_t hw = (size_t)ds->h * ds->w;
    *out = (qt_image){ds->pixels + hw * ds->c * i, ds->c, ds->h, ds->w, (ptrdiff_t)hw, ds->w, 1};
    return QT_OK;
}

/* Appends s to the buffer as a JSON string literal. */
static size_t json_string(char *out, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)sprintf(out + n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    return n;
}

int qt_dataset_write_classes(const qt_dataset *ds, const char *dir, qt_error *err)
{
    char path[4096];
    if (qt_ds_join_path(path, sizeof path, dir, "classes.json", err) != QT_OK)
        return QT_ERR;
    size_t cap = 128;
    for (int k = 0; k < ds->num_classes; k++)
        cap += 6 * strlen(ds->class_names[k]) + 8;
    char *buf = malloc(cap);
    if (!buf)
        return qt_errorf(err, "%s: out of memory", path);
    size_t n = (size_t)sprintf(buf, "{\"dataset\": \"%s\", \"num_classes\": %d, \"classes\": [",
                               qt_dataset_kind_name(ds->kind), ds->num_classes);
    for (int k = 0; k < ds->num_classes; k++) {
        if (k)
            n += (size_t)sprintf(buf + n, ", ");
        n += json_string(buf + n, ds->class_names[k]);
    }
    n += (size_t)sprintf(buf + n, "]}\n");
    int rc = qt_write_file_atomic(path, buf, n, err);
    free(buf);
    return rc;
}

/* The dataset object shared by the per-format openers in src/data/ (not a public header). */
#ifndef QTRAIN_DATASET_INTERNAL_H
#define QTRAIN_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/dataset.h"

struct qt_dataset {
    qt_dataset_kind kind;
    int n, c, h, w;
    int num_classes;
    char **class_names;
    int32_t *labels;
    /* cached datasets: n images of c*h*w bytes (CHW), inside the allocation store */
    uint8_t *pixels;
    void *store;
    /* folder kinds: image i's path is paths + path_off[i] */
    char *paths;
    size_t *path_off;
    int skipped;
    int skip_bad;
    char **skip_notes;        /* skip_bad: one line per file with left-out images */
    int n_skip_notes;
    char *source;             /* the split's file or folder, named in messages */
};

/* Per-format openers: fill n, c, h, w, num_classes, class_names, labels and either pixels
 * or paths, before the subset is applied. */
int qt_ds_open_cifar(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err);
int qt_ds_open_idx(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err);
int qt_ds_open_folder(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err);

/* Copies count names into ds->class_names. */
int qt_ds_set_class_names(qt_dataset *ds, const char *const *names, int count, qt_error *err);

/* Records where the split comes from (qt_dataset_source). */
int qt_ds_set_source(qt_dataset *ds, const char *path, qt_error *err);
/* Adds a line to the skip notes (qt_dataset_skip_notes). */
int qt_ds_add_skip_note(qt_dataset *ds, qt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Joins dir and name into out (size n); an error when it does not fit. */
int qt_ds_join_path(char *out, size_t n, const char *dir, const char *name, qt_error *err);

#endif

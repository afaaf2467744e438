/* A cached dataset of random images made in memory (benchmarks, loader tests). */
#include "dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "qtrain/rng.h"

int qt_dataset_synthetic(qt_dataset **out, int n, int channels, int height, int width,
                         int num_classes, uint64_t seed, qt_error *err)
{
    *out = NULL;
    if (n <= 0 || channels <= 0 || channels > 3 || height <= 0 || width <= 0 ||
        num_classes <= 0 || num_classes > 100000 ||
        (size_t)n * channels * height * width > ((size_t)1 << 34))
        return qt_errorf(err, "synthetic dataset: bad shape %d x %d x %d x %d or %d classes", n,
                         channels, height, width, num_classes);
    qt_dataset *ds = calloc(1, sizeof *ds);
    size_t bytes = (size_t)n * channels * height * width;
    if (!ds || !(ds->store = malloc(bytes)) || !(ds->labels = malloc(sizeof *ds->labels * n))) {
        qt_dataset_free(ds);
        return qt_errorf(err, "synthetic dataset: out of memory for %zu bytes", bytes);
    }
    ds->kind = QT_DATASET_SYNTHETIC;
    ds->n = n;
    ds->c = channels;
    ds->h = height;
    ds->w = width;
    ds->pixels = ds->store;
    qt_rng rng;
    qt_rng_seed(&rng, seed);
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        uint64_t r = qt_rng_u64(&rng);
        for (int k = 0; k < 8; k++)
            ds->pixels[i + k] = (uint8_t)(r >> (8 * k));
    }
    for (size_t i = bytes & ~(size_t)7; i < bytes; i++)
        ds->pixels[i] = (uint8_t)qt_rng_u32(&rng);
    for (int i = 0; i < n; i++)
        ds->labels[i] = (int32_t)qt_rng_below(&rng, (uint32_t)num_classes);
    char **names = malloc(sizeof *names * (size_t)num_classes);
    int rc = names ? QT_OK : qt_errorf(err, "synthetic dataset: out of memory for class names");
    for (int k = 0; rc == QT_OK && k < num_classes; k++) {
        names[k] = malloc(24);
        if (!names[k]) {
            rc = qt_errorf(err, "synthetic dataset: out of memory for class names");
            for (int j = 0; j < k; j++)
                free(names[j]);
        } else {
            snprintf(names[k], 24, "class_%d", k);
        }
    }
    if (rc == QT_OK) {
        ds->class_names = names;
        ds->num_classes = num_classes;
        *out = ds;
        return QT_OK;
    }
    free(names);
    qt_dataset_free(ds);
    return QT_ERR;
}

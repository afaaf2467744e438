/* The batch loader: shuffles each epoch, cuts batches, augments each image and hands the
 * trainer float NCHW batches, optionally prepared ahead on a background thread.
 *
 * Determinism: epoch e's order is a permutation drawn from qt_rng_derive(seed, e,
 * QT_LOADER_PERM_STREAM) and image i's augmentation in epoch e comes from
 * qt_rng_derive(seed, e, i). A batch is therefore a function of (seed, epoch, batch index)
 * only: prefetching, the number of threads and seeking never change it.
 *
 * Position: the loader is at (epoch, batch_index), the batch the next qt_loader_next
 * returns. batch_index == qt_loader_batches_per_epoch means the next call returns 0 (end
 * of epoch) and moves to (epoch + 1, 0). Save the position in a checkpoint and
 * qt_loader_seek to it to resume exactly. */
#ifndef QTRAIN_LOADER_H
#define QTRAIN_LOADER_H

#include <stdint.h>

#include "qtrain/augment.h"
#include "qtrain/dataset.h"
#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_LOADER_PERM_STREAM UINT64_MAX

typedef struct qt_loader_config {
    int batch_size;
    int shuffle;    /* 0: dataset order every epoch */
    int drop_last;  /* 0: the last batch of an epoch may be smaller */
    uint64_t seed;
    qt_augment_config augment;
    int prefetch;   /* prepare the next batch on a background thread */
    int threads;    /* threads that decode and augment one batch (1 = no helpers) */
    int scaled_decode; /* decode JPEGs at 1/2, 1/4 or 1/8 when the crop allows
                          (qt_augment_decode_scale); 0: always at full size */
    /* Data parallelism: this loader yields only shard `shard` of `shards` of every batch,
     * images [floor(n * shard / shards), floor(n * (shard + 1) / shards)) of the batch's n.
     * The batches, their order and every image's augmentation are those of one loader
     * (shards = 1), so which images a step sees does not depend on the number of shards.
     * With shards > 1 a shard left empty is returned (n = 0), not passed over, so every
     * shard sees the same number of batches. */
    int shard, shards;
} qt_loader_config;

typedef struct qt_batch {
    const float *x;    /* n * c * h * w, NCHW, normalised */
    const int32_t *y;  /* n labels */
    int n, c, h, w;
    int64_t epoch;
    int64_t index;     /* batch index within the epoch */
    int total_n;       /* images of the whole batch, over every shard */
} qt_batch;

typedef struct qt_loader qt_loader;

/* Batch 128, shuffle, keep the last partial batch, seed 0, no augmentation, prefetch on,
 * 1 thread, scaled JPEG decoding on, one shard. */
void qt_loader_config_init(qt_loader_config *cfg);

/* The loader borrows ds, which must outlive it. */
int qt_loader_open(qt_loader **out, qt_dataset *ds, const qt_loader_config *cfg, qt_error *err);

/* Returns 1 and fills *out (valid until the next call on this loader), 0 at the end of an
 * epoch (the following call starts the next epoch), or QT_ERR. After an error every call
 * fails with the same message until qt_loader_seek. With the dataset's skip_bad, images
 * that fail to decode are dropped from their batch (out->n shrinks; a batch left empty
 * is passed over) and counted by qt_loader_skipped. */
int qt_loader_next(qt_loader *ld, qt_batch *out, qt_error *err);

/* Moves to (epoch, batch_index); 0 <= batch_index <= batches per epoch. */
int qt_loader_seek(qt_loader *ld, int64_t epoch, int64_t batch_index, qt_error *err);

int64_t qt_loader_batches_per_epoch(const qt_loader *ld);
void qt_loader_position(const qt_loader *ld, int64_t *epoch, int64_t *batch_index);
/* Images dropped because they failed to decode (skip_bad), counted as they are met. */
int64_t qt_loader_skipped(const qt_loader *ld);
/* Distinct images dropped so far (each once, however many epochs met it). */
int64_t qt_loader_skipped_images(const qt_loader *ld);
/* skip_bad: why the next not yet reported image was dropped ("<file>: corrupt PNG: ..."),
 * each image reported once in the loader's life; NULL when there is nothing new. The text
 * is valid until the next call. */
const char *qt_loader_take_skip_note(qt_loader *ld);

void qt_loader_free(qt_loader *ld);

/* Throughput of a loader over ds: one warm-up batch, then iters timed batches (epochs
 * wrap). cpu_seconds counts every thread of the process, so images_per_cpu_second is the
 * rate one core sustains. */
typedef struct qt_loader_bench {
    int64_t batches, images;
    double seconds, cpu_seconds;
    double images_per_second, images_per_cpu_second;
} qt_loader_bench;

int qt_loader_benchmark(qt_dataset *ds, const qt_loader_config *cfg, int iters,
                        qt_loader_bench *res, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

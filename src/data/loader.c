/* The batch loader. Batches are numbered by seq = epoch * batches_per_epoch + index; slot
 * seq % 2 holds batch seq. With prefetch, a producer thread fills the slots in seq order
 * while the caller reads them (double buffering); without, the caller fills slot 0 itself.
 * Each batch's images are spread over a worker pool (threads.h); every value written depends only on
 * (seed, epoch, image index), so the result is the same however the work is split. */
#include "qtrain/loader.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/threads.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct slot {
    float *x;
    int32_t *y;
    uint8_t *ok;      /* per image: decoded and augmented */
    char **note_of;   /* skip_bad, per image: why it failed, the first time it did */
    char **notes;     /* those notes, in batch order, until the consumer takes them */
    int nnotes;
    int n, state, status;
    int64_t seq, skipped;
    qt_error err;
} slot;

/* What one pool thread owns: its augmenter scratch, its decoding buffers, its first failure. */
typedef struct worker {
    qt_augmenter *aug;
    qt_image_reader rd;
    int fail_item;
    qt_error err;
} worker;

struct qt_loader {
    qt_dataset *ds;
    qt_loader_config cfg;
    int c, h, w;
    size_t img_floats;
    int64_t n, nb;
    /* producer side: the epoch order and the pool, used by one thread at a time */
    uint32_t *perm;
    int64_t perm_epoch;
    qt_pool *pool;
    worker *workers;
    int nworkers;
    slot *job_slot;
    const uint32_t *job_idx;
    int64_t job_epoch;
    slot slots[2];
    int nslots;
    uint8_t *seen_bad;        /* skip_bad: per image, already reported (producer side) */
    int64_t bad_images;
    /* consumer side */
    int64_t epoch, batch, skipped;
    char **pending;           /* skip notes not yet taken */
    int npending, pending_head;
    char *taken;              /* the note last returned */
    slot *held;
    int failed;
    qt_error fail_err;
    /* prefetch thread */
    pthread_t thread;
    int running, stop;
    int64_t prod_seq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void qt_loader_config_init(qt_loader_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch_size = 128;
    cfg->shuffle = 1;
    qt_augment_init(&cfg->augment);
    cfg->prefetch = 1;
    cfg->threads = 1;
    cfg->scaled_decode = 1;
    cfg->shards = 1;
}

/* The order of epoch e: identity, shuffled with a stream of (seed, e) alone. */
static void ensure_perm(qt_loader *ld, int64_t epoch)
{
    if (ld->perm_epoch == epoch || (!ld->cfg.shuffle && ld->perm_epoch >= 0))
        return;
    for (int64_t i = 0; i < ld->n; i++)
        ld->perm[i] = (uint32_t)i;
    if (ld->cfg.shuffle) {
        qt_rng rng;
        qt_rng_derive(&rng, ld->cfg.seed, (uint64_t)epoch, QT_LOADER_PERM_STREAM);
        qt_rng_shuffle_u32(&rng, ld->perm, (uint32_t)ld->n);
    }
    ld->perm_epoch = epoch;
}

/* Image i augmented into out: a cached image, or a file decoded (JPEGs scaled per config). */
static int augment_item(qt_loader *ld, worker *w, uint32_t i, float *out, qt_error *e)
{
    const char *path = qt_dataset_image_path(ld->ds, (int)i);
    if (path)
        return qt_augment_file(w->aug, &w->rd, path, ld->cfg.scaled_decode, ld->cfg.seed,
                               (uint64_t)ld->job_epoch, i, out, e);
    qt_image im;
    if (qt_dataset_image(ld->ds, (int)i, &w->rd, &im, e) != QT_OK)
        return QT_ERR;
    return qt_augment_image(w->aug, &im, ld->cfg.seed, (uint64_t)ld->job_epoch, i, out, e);
}

static void load_item(void *ctx, int item, int wi)
{
    qt_loader *ld = ctx;
    worker *w = &ld->workers[wi];
    slot *s = ld->job_slot;
    uint32_t i = ld->job_idx[item];
    qt_error e;
    if (augment_item(ld, w, i, s->x + ld->img_floats * item, &e) != QT_OK) {
        s->ok[item] = 0;
        if (ld->seen_bad && !ld->seen_bad[i])
            s->note_of[item] = strdup(e.msg);
        if (item < w->fail_item) {
            w->fail_item = item;
            w->err = e;
        }
        return;
    }
    s->y[item] = qt_dataset_label(ld->ds, (int)i);
    s->ok[item] = 1;
}

/* Keeps the note of a failed image the first time that image fails. */
static void keep_note(qt_loader *ld, slot *s, int item)
{
    uint32_t i = ld->job_idx[item];
    char *note = s->note_of[item];
    s->note_of[item] = NULL;
    if (ld->seen_bad[i]) {
        free(note);
        return;
    }
    ld->seen_bad[i] = 1;
    ld->bad_images++;
    char **grown = note ? realloc(s->notes, sizeof *grown * (size_t)(s->nnotes + 1)) : NULL;
    if (!grown) {
        free(note);
        return;
    }
    s->notes = grown;
    s->notes[s->nnotes++] = note;
}

/* Drops the images that failed (skip_bad) or records the first failure as the error. */
static void settle_failures(qt_loader *ld, slot *s)
{
    const worker *first = NULL;
    for (int t = 0; t < ld->nworkers; t++)
        if (ld->workers[t].fail_item != INT_MAX &&
            (!first || ld->workers[t].fail_item < first->fail_item))
            first = &ld->workers[t];
    if (!first)
        return;
    if (!qt_dataset_skips_bad(ld->ds)) {
        s->status = QT_ERR;
        s->err = first->err;
        return;
    }
    int kept = 0;
    for (int i = 0; i < s->n; i++) {
        if (!s->ok[i]) {
            keep_note(ld, s, i);
            continue;
        }
        if (i != kept) {
            memcpy(s->x + ld->img_floats * kept, s->x + ld->img_floats * i,
                   ld->img_floats * sizeof *s->x);
            s->y[kept] = s->y[i];
        }
        kept++;
    }
    s->skipped = s->n - kept;
    s->n = kept;
}

/* Images in batch b of an epoch, over every shard. */
static int batch_images(const qt_loader *ld, int64_t b)
{
    int64_t bs = ld->cfg.batch_size, start = b * bs;
    return (int)(ld->n - start < bs ? ld->n - start : bs);
}

static void produce(qt_loader *ld, int64_t seq, slot *s)
{
    int64_t epoch = seq / ld->nb, b = seq % ld->nb;
    int64_t total = batch_images(ld, b), shards = ld->cfg.shards;
    int64_t lo = total * ld->cfg.shard / shards, hi = total * (ld->cfg.shard + 1) / shards;
    int n = (int)(hi - lo);
    ensure_perm(ld, epoch);
    ld->job_slot = s;
    ld->job_idx = ld->perm + b * ld->cfg.batch_size + lo;
    ld->job_epoch = epoch;
    for (int t = 0; t < ld->nworkers; t++)
        ld->workers[t].fail_item = INT_MAX;
    qt_pool_run(ld->pool, n, load_item, ld);
    s->seq = seq;
    s->n = n;
    s->skipped = 0;
    s->status = QT_OK;
    settle_failures(ld, s);
}

static void *producer_main(void *arg)
{
    qt_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        slot *s = &ld->slots[ld->prod_seq % 2];
        while (!ld->stop && s->state != SLOT_FREE)
            pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop)
            break;
        s->state = SLOT_FILLING;
        int64_t seq = ld->prod_seq;
        pthread_mutex_unlock(&ld->mu);
        produce(ld, seq, s);
        pthread_mutex_lock(&ld->mu);
        s->state = SLOT_READY;
        ld->prod_seq++;
        pthread_cond_broadcast(&ld->cv);
        if (s->status != QT_OK)
            break; /* the caller gets the error; nothing after it is produced */
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void stop_producer(qt_loader *ld)
{
    if (!ld->running)
        return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    ld->running = 0;
    ld->stop = 0;
}

/* Empties the slots and, with prefetch, starts producing from the current position. */
static int restart(qt_loader *ld, qt_error *err)
{
    stop_producer(ld);
    for (int i = 0; i < ld->nslots; i++)
        ld->slots[i].state = SLOT_FREE;
    ld->held = NULL;
    ld->failed = 0;
    ld->prod_seq = ld->epoch * ld->nb + ld->batch;
    if (!ld->cfg.prefetch)
        return QT_OK;
    if (pthread_create(&ld->thread, NULL, producer_main, ld) != 0)
        return qt_errorf(err, "loader: cannot start the prefetch thread");
    ld->running = 1;
    return QT_OK;
}

static int alloc_slot(slot *s, int bs, size_t img_floats)
{
    s->x = malloc(sizeof *s->x * img_floats * (size_t)bs);
    s->y = malloc(sizeof *s->y * (size_t)bs);
    s->ok = malloc((size_t)bs);
    s->note_of = calloc((size_t)bs, sizeof *s->note_of);
    return s->x && s->y && s->ok && s->note_of ? QT_OK : QT_ERR;
}

static void free_notes(char **notes, int n)
{
    for (int i = 0; i < n; i++)
        free(notes[i]);
    free(notes);
}

static int check_config(const qt_dataset *ds, const qt_loader_config *cfg, qt_error *err)
{
    int n = qt_dataset_count(ds);
    if (cfg->batch_size <= 0 || cfg->batch_size > (1 << 20))
        return qt_errorf(err, "loader: batch size %d out of range 1..%d", cfg->batch_size, 1 << 20);
    if (cfg->threads < 1 || cfg->threads > 256)
        return qt_errorf(err, "loader: threads %d out of range 1..256", cfg->threads);
    if (cfg->shards < 1 || cfg->shard < 0 || cfg->shard >= cfg->shards)
        return qt_errorf(err, "loader: shard %d of %d", cfg->shard, cfg->shards);
    if (cfg->drop_last && n < cfg->batch_size)
        return qt_errorf(err, "loader: %d images make no full batch of %d (drop_last)", n,
                         cfg->batch_size);
    return QT_OK;
}

int qt_loader_open(qt_loader **out, qt_dataset *ds, const qt_loader_config *cfg, qt_error *err)
{
    *out = NULL;
    if (check_config(ds, cfg, err) != QT_OK)
        return QT_ERR;
    qt_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return qt_errorf(err, "loader: out of memory");
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->n = qt_dataset_count(ds);
    ld->nb = cfg->drop_last ? ld->n / cfg->batch_size
                            : (ld->n + cfg->batch_size - 1) / cfg->batch_size;
    ld->perm_epoch = -1;
    ld->nworkers = cfg->threads;
    ld->nslots = cfg->prefetch ? 2 : 1;
    ld->perm = malloc(sizeof *ld->perm * (size_t)ld->n);
    ld->workers = calloc((size_t)ld->nworkers, sizeof *ld->workers);
    if (qt_dataset_skips_bad(ds))
        ld->seen_bad = calloc((size_t)ld->n + 1, 1);
    int rc = ld->perm && ld->workers && (ld->seen_bad || !qt_dataset_skips_bad(ds))
                 ? QT_OK : qt_errorf(err, "loader: out of memory");
    for (int t = 0; rc == QT_OK && t < ld->nworkers; t++)
        rc = qt_augmenter_create(&ld->workers[t].aug, &cfg->augment, qt_dataset_channels(ds),
                                 qt_dataset_height(ds), qt_dataset_width(ds), err);
    if (rc == QT_OK) {
        ld->c = qt_dataset_channels(ds);
        ld->h = qt_augmenter_out_h(ld->workers[0].aug);
        ld->w = qt_augmenter_out_w(ld->workers[0].aug);
        ld->img_floats = (size_t)ld->c * ld->h * ld->w;
        for (int i = 0; rc == QT_OK && i < ld->nslots; i++)
            if (alloc_slot(&ld->slots[i], cfg->batch_size, ld->img_floats) != QT_OK)
                rc = qt_errorf(err, "loader: out of memory for a batch of %d x %zu floats",
                               cfg->batch_size, ld->img_floats);
    }
    if (rc == QT_OK)
        rc = qt_pool_create(&ld->pool, cfg->threads, err);
    if (rc == QT_OK)
        rc = restart(ld, err);
    if (rc != QT_OK) {
        qt_loader_free(ld);
        return QT_ERR;
    }
    *out = ld;
    return QT_OK;
}

void qt_loader_free(qt_loader *ld)
{
    if (!ld)
        return;
    stop_producer(ld);
    qt_pool_free(ld->pool);
    for (int t = 0; ld->workers && t < ld->nworkers; t++) {
        qt_augmenter_free(ld->workers[t].aug);
        qt_image_reader_free(&ld->workers[t].rd);
    }
    for (int i = 0; i < 2; i++) {
        free(ld->slots[i].x);
        free(ld->slots[i].y);
        free(ld->slots[i].ok);
        free(ld->slots[i].note_of);
        free_notes(ld->slots[i].notes, ld->slots[i].nnotes);
    }
    for (int i = ld->pending_head; i < ld->npending; i++)
        free(ld->pending[i]);
    free(ld->pending);
    free(ld->taken);
    free(ld->seen_bad);
    free(ld->workers);
    free(ld->perm);
    pthread_cond_destroy(&ld->cv);
    pthread_mutex_destroy(&ld->mu);
    free(ld);
}

static void release_held(qt_loader *ld)
{
    if (!ld->held)
        return;
    pthread_mutex_lock(&ld->mu);
    ld->held->state = SLOT_FREE;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    ld->held = NULL;
}

/* The slot holding batch seq, filled by the producer or, without prefetch, right here. */
static slot *take_slot(qt_loader *ld, int64_t seq)
{
    if (!ld->cfg.prefetch) {
        produce(ld, seq, &ld->slots[0]);
        ld->slots[0].state = SLOT_HELD;
        return &ld->slots[0];
    }
    slot *s = &ld->slots[seq % 2];
    pthread_mutex_lock(&ld->mu);
    while (s->state != SLOT_READY)
        pthread_cond_wait(&ld->cv, &ld->mu);
    s->state = SLOT_HELD;
    pthread_mutex_unlock(&ld->mu);
    return s;
}

/* Moves the slot's notes to the consumer's queue (dropping them only when out of memory). */
static void take_slot_notes(qt_loader *ld, slot *s)
{
    if (!s->nnotes)
        return;
    char **grown = realloc(ld->pending, sizeof *grown * (size_t)(ld->npending + s->nnotes));
    if (grown) {
        ld->pending = grown;
        memcpy(ld->pending + ld->npending, s->notes, sizeof *s->notes * (size_t)s->nnotes);
        ld->npending += s->nnotes;
        free(s->notes);
    } else {
        free_notes(s->notes, s->nnotes);
    }
    s->notes = NULL;
    s->nnotes = 0;
}

int qt_loader_next(qt_loader *ld, qt_batch *out, qt_error *err)
{
    if (ld->failed)
        return qt_errorf(err, "%s", ld->fail_err.msg);
    release_held(ld);
    for (;;) {
        if (ld->batch == ld->nb) {
            ld->epoch++;
            ld->batch = 0;
            return 0;
        }
        slot *s = take_slot(ld, ld->epoch * ld->nb + ld->batch);
        ld->held = s;
        if (s->status != QT_OK) {
            ld->failed = 1;
            ld->fail_err = s->err;
            return qt_errorf(err, "%s", s->err.msg);
        }
        ld->skipped += s->skipped;
        take_slot_notes(ld, s);
        *out = (qt_batch){s->x, s->y, s->n, ld->c, ld->h, ld->w, ld->epoch, ld->batch,
                          batch_images(ld, ld->batch)};
        ld->batch++;
        if (s->n > 0 || ld->cfg.shards > 1)
            return 1;
        release_held(ld);
    }
}

int qt_loader_seek(qt_loader *ld, int64_t epoch, int64_t batch_index, qt_error *err)
{
    if (epoch < 0 || batch_index < 0 || batch_index > ld->nb ||
        epoch > (INT64_MAX - ld->nb) / (ld->nb ? ld->nb : 1) - 1)
        return qt_errorf(err, "loader: cannot seek to epoch %lld batch %lld (%lld batches per "
                         "epoch)", (long long)epoch, (long long)batch_index, (long long)ld->nb);
    ld->epoch = epoch;
    ld->batch = batch_index;
    return restart(ld, err);
}

int64_t qt_loader_batches_per_epoch(const qt_loader *ld) { return ld->nb; }

void qt_loader_position(const qt_loader *ld, int64_t *epoch, int64_t *batch_index)
{
    *epoch = ld->epoch;
    *batch_index = ld->batch;
}

int64_t qt_loader_skipped(const qt_loader *ld) { return ld->skipped; }
int64_t qt_loader_skipped_images(const qt_loader *ld) { return ld->bad_images; }

const char *qt_loader_take_skip_note(qt_loader *ld)
{
    free(ld->taken);
    ld->taken = NULL;
    if (ld->pending_head == ld->npending) {
        ld->npending = ld->pending_head = 0;
        return NULL;
    }
    ld->taken = ld->pending[ld->pending_head++];
    return ld->taken;
}

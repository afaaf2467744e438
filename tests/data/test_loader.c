/* The batch loader: each epoch is a permutation, batches and labels are right, drop_last,
 * and the same batches whatever the prefetching and threads, and after a seek. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/augment.h"
#include "qtrain/dataset.h"
#include "qtrain/loader.h"

/* Finds which dataset image an unaugmented batch image is (x = p / 255). */
static int identify(const qt_dataset *ds, const float *x)
{
    int chw = qt_dataset_channels(ds) * qt_dataset_height(ds) * qt_dataset_width(ds);
    for (int i = 0; i < qt_dataset_count(ds); i++) {
        qt_image im;
        qt_error err;
        qt_dataset_image(ds, i, NULL, &im, &err);
        int same = 1;
        for (int p = 0; p < chw && same; p++)
            same = (int)(x[p] * 255.0f + 0.5f) == im.data[p];
        if (same)
            return i;
    }
    return -1;
}

static qt_loader *open_loader(qt_dataset *ds, const qt_loader_config *cfg)
{
    qt_loader *ld;
    qt_error err;
    assert_int_equal(qt_loader_open(&ld, ds, cfg, &err), QT_OK);
    return ld;
}

static void test_epochs_are_permutations(void **state)
{
    qt_dataset *ds;
    qt_error err;
    qt_batch b;
    assert_int_equal(qt_dataset_synthetic(&ds, 50, 3, 4, 4, 7, 1, &err), QT_OK);
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        qt_loader_config cfg;
        qt_loader_config_init(&cfg);
        cfg.batch_size = 8;
        cfg.shuffle = shuffle;
        cfg.seed = 3;
        qt_loader *ld = open_loader(ds, &cfg);
        assert_int_equal(qt_loader_batches_per_epoch(ld), 7);
        int order[2][50];
        for (int e = 0; e < 2; e++) {
            int seen[50] = {0}, pos = 0;
            for (int k = 0; k < 7; k++) {
                int64_t pe, pb;
                qt_loader_position(ld, &pe, &pb);
                assert_int_equal(pe, e);
                assert_int_equal(pb, k);
                assert_int_equal(qt_loader_next(ld, &b, &err), 1);
                assert_int_equal(b.n, k < 6 ? 8 : 2);
                assert_int_equal(b.epoch, e);
                assert_int_equal(b.index, k);
                assert_int_equal(b.c, 3);
                assert_int_equal(b.h, 4);
                for (int j = 0; j < b.n; j++) {
                    int i = identify(ds, b.x + (size_t)j * 48);
                    assert_true(i >= 0);
                    assert_int_equal(b.y[j], qt_dataset_label(ds, i));
                    seen[i]++;
                    order[e][pos++] = i;
                }
            }
            assert_int_equal(qt_loader_next(ld, &b, &err), 0);
            for (int i = 0; i < 50; i++)
                assert_int_equal(seen[i], 1);
        }
        if (shuffle) {
            assert_memory_not_equal(order[0], order[1], sizeof order[0]);
        } else {
            for (int i = 0; i < 50; i++)
                assert_int_equal(order[1][i], i);
        }
        qt_loader_free(ld);
    }
    qt_dataset_free(ds);
}

static void test_drop_last(void **state)
{
    qt_dataset *ds;
    qt_error err;
    qt_batch b;
    assert_int_equal(qt_dataset_synthetic(&ds, 50, 1, 2, 2, 3, 2, &err), QT_OK);
    qt_loader_config cfg;
    qt_loader_config_init(&cfg);
    cfg.batch_size = 8;
    cfg.drop_last = 1;
    qt_loader *ld = open_loader(ds, &cfg);
    assert_int_equal(qt_loader_batches_per_epoch(ld), 6);
    for (int k = 0; k < 6; k++) {
        assert_int_equal(qt_loader_next(ld, &b, &err), 1);
        assert_int_equal(b.n, 8);
    }
    assert_int_equal(qt_loader_next(ld, &b, &err), 0);
    qt_loader_free(ld);
    cfg.batch_size = 64;
    assert_int_equal(qt_loader_open(&ld, ds, &cfg, &err), QT_ERR);
    assert_string_equal(err.msg, "loader: 50 images make no full batch of 64 (drop_last)");
    cfg.batch_size = 0;
    assert_int_equal(qt_loader_open(&ld, ds, &cfg, &err), QT_ERR);
    assert_string_equal(err.msg, "loader: batch size 0 out of range 1..1048576");
    qt_dataset_free(ds);
}

enum { N = 100, BS = 16, NB = 7, EPOCHS = 3, IMG = 3 * 32 * 32 };

typedef struct run {
    float x[EPOCHS][NB][BS * IMG];
    int32_t y[EPOCHS][NB][BS];
    int n[EPOCHS][NB];
} run;

static void cifar_config(qt_loader_config *cfg, int prefetch, int threads, uint64_t seed)
{
    qt_loader_config_init(cfg);
    cfg->batch_size = BS;
    cfg->seed = seed;
    cfg->prefetch = prefetch;
    cfg->threads = threads;
    qt_augment_preset(&cfg->augment, QT_DATASET_CIFAR10, 1, 0);
}

static void record(qt_dataset *ds, const qt_loader_config *cfg, run *r)
{
    qt_loader *ld = open_loader(ds, cfg);
    qt_batch b;
    qt_error err;
    for (int e = 0; e < EPOCHS; e++) {
        for (int k = 0; k < NB; k++) {
            assert_int_equal(qt_loader_next(ld, &b, &err), 1);
            memcpy(r->x[e][k], b.x, sizeof(float) * IMG * b.n);
            memcpy(r->y[e][k], b.y, sizeof(int32_t) * b.n);
            r->n[e][k] = b.n;
        }
        assert_int_equal(qt_loader_next(ld, &b, &err), 0);
    }
    qt_loader_free(ld);
}

static void expect_batch(const run *r, int e, int k, const qt_batch *b)
{
    assert_int_equal(b->epoch, e);
    assert_int_equal(b->index, k);
    assert_int_equal(b->n, r->n[e][k]);
    assert_memory_equal(b->y, r->y[e][k], sizeof(int32_t) * b->n);
    assert_memory_equal(b->x, r->x[e][k], sizeof(float) * IMG * b->n);
}

/* Prefetching and any number of threads produce bit-identical batches; a seed changes them. */
static void test_same_batches_in_every_mode(void **state)
{
    qt_dataset *ds;
    qt_error err;
    assert_int_equal(qt_dataset_synthetic(&ds, N, 3, 32, 32, 10, 5, &err), QT_OK);
    run *ref = malloc(sizeof *ref), *other = malloc(sizeof *other);
    qt_loader_config cfg;
    cifar_config(&cfg, 0, 1, 42);
    record(ds, &cfg, ref);
    const int modes[][2] = {{0, 1}, {1, 1}, {0, 3}, {1, 2}};
    for (int m = 0; m < 4; m++) {
        cifar_config(&cfg, modes[m][0], modes[m][1], 42);
        record(ds, &cfg, other);
        assert_memory_equal(other, ref, sizeof *ref);
    }
    cifar_config(&cfg, 1, 1, 43);
    record(ds, &cfg, other);
    assert_memory_not_equal(other->x[0][0], ref->x[0][0], sizeof ref->x[0][0]);
    free(ref);
    free(other);
    qt_dataset_free(ds);
}

/* Data parallelism: shards 0..S-1 of every batch, put end to end, are the unsharded batch
 * (augmented images included), each shard holding images [n k / S, n (k + 1) / S); the last
 * batch of 4 images on 3 shards gives the third shard 2 of them. */
static void test_shards_make_the_batch(void **state)
{
    qt_dataset *ds;
    qt_error err;
    qt_batch b;
    assert_int_equal(qt_dataset_synthetic(&ds, N, 3, 32, 32, 10, 5, &err), QT_OK);
    run *ref = malloc(sizeof *ref);
    qt_loader_config cfg;
    cifar_config(&cfg, 1, 1, 42);
    record(ds, &cfg, ref);
    enum { SHARDS = 3 };
    qt_loader *ld[SHARDS];
    for (int k = 0; k < SHARDS; k++) {
        cifar_config(&cfg, k != 1, 1 + k % 2, 42);
        cfg.shard = k;
        cfg.shards = SHARDS;
        ld[k] = open_loader(ds, &cfg);
    }
    for (int e = 0; e < EPOCHS; e++) {
        for (int bi = 0; bi < NB; bi++) {
            int total = ref->n[e][bi], at = 0;
            for (int k = 0; k < SHARDS; k++) {
                assert_int_equal(qt_loader_next(ld[k], &b, &err), 1);
                assert_int_equal(b.total_n, total);
                assert_int_equal(at, total * k / SHARDS);
                assert_int_equal(b.n, total * (k + 1) / SHARDS - total * k / SHARDS);
                assert_memory_equal(b.y, ref->y[e][bi] + at, sizeof(int32_t) * b.n);
                assert_memory_equal(b.x, ref->x[e][bi] + (size_t)IMG * at, sizeof(float) * IMG * b.n);
                at += b.n;
            }
            assert_int_equal(at, total);
        }
        for (int k = 0; k < SHARDS; k++)
            assert_int_equal(qt_loader_next(ld[k], &b, &err), 0);
    }
    assert_int_equal(ref->n[0][NB - 1], 4);
    for (int k = 0; k < SHARDS; k++)
        qt_loader_free(ld[k]);
    cfg.shard = 3;
    assert_int_equal(qt_loader_open(&ld[0], ds, &cfg, &err), QT_ERR);
    assert_string_equal(err.msg, "loader: shard 3 of 3");
    free(ref);
    qt_dataset_free(ds);
}

/* Seeking to (epoch, index) returns the batch that iterating reached there. */
static void test_seek_matches_iteration(void **state)
{
    qt_dataset *ds;
    qt_error err;
    qt_batch b;
    assert_int_equal(qt_dataset_synthetic(&ds, N, 3, 32, 32, 10, 6, &err), QT_OK);
    run *ref = malloc(sizeof *ref);
    qt_loader_config cfg;
    cifar_config(&cfg, 1, 1, 7);
    record(ds, &cfg, ref);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        cifar_config(&cfg, prefetch, 2, 7);
        qt_loader *ld = open_loader(ds, &cfg);
        assert_int_equal(qt_loader_next(ld, &b, &err), 1); /* seek from a running loader */
        const int points[][2] = {{2, 3}, {0, 0}, {1, 6}, {0, 5}, {2, 0}};
        for (int p = 0; p < 5; p++) {
            int e = points[p][0], k = points[p][1];
            assert_int_equal(qt_loader_seek(ld, e, k, &err), QT_OK);
            int64_t pe, pb;
            qt_loader_position(ld, &pe, &pb);
            assert_int_equal(pe, e);
            assert_int_equal(pb, k);
            assert_int_equal(qt_loader_next(ld, &b, &err), 1);
            expect_batch(ref, e, k, &b);
            if (k + 1 < NB) {
                assert_int_equal(qt_loader_next(ld, &b, &err), 1);
                expect_batch(ref, e, k + 1, &b);
            }
        }
        /* the end-of-epoch position: 0 first, then the next epoch's first batch */
        assert_int_equal(qt_loader_seek(ld, 1, NB, &err), QT_OK);
        assert_int_equal(qt_loader_next(ld, &b, &err), 0);
        assert_int_equal(qt_loader_next(ld, &b, &err), 1);
        expect_batch(ref, 2, 0, &b);
        assert_int_equal(qt_loader_seek(ld, 0, NB + 1, &err), QT_ERR);
        assert_string_equal(err.msg, "loader: cannot seek to epoch 0 batch 8 (7 batches per epoch)");
        qt_loader_free(ld);
    }
    free(ref);
    qt_dataset_free(ds);
}

/* Freeing while the prefetch thread is mid-epoch shuts it down cleanly (ASan checks leaks). */
static void test_free_mid_epoch(void **state)
{
    qt_dataset *ds;
    qt_error err;
    qt_batch b;
    assert_int_equal(qt_dataset_synthetic(&ds, N, 3, 32, 32, 10, 6, &err), QT_OK);
    qt_loader_config cfg;
    cifar_config(&cfg, 1, 3, 1);
    for (int taken = 0; taken < 3; taken++) {
        qt_loader *ld = open_loader(ds, &cfg);
        for (int k = 0; k < taken; k++)
            assert_int_equal(qt_loader_next(ld, &b, &err), 1);
        qt_loader_free(ld);
    }
    qt_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epochs_are_permutations),
        cmocka_unit_test(test_drop_last),
        cmocka_unit_test(test_same_batches_in_every_mode),
        cmocka_unit_test(test_shards_make_the_batch),
        cmocka_unit_test(test_seek_matches_iteration),
        cmocka_unit_test(test_free_mid_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* CIFAR-10 / CIFAR-100 binary readers: hand-made records, generated files, fine and
 * coarse labels, and the message for each broken-file case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/cifar.h"
#include "qtrain/dataset.h"
#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

enum { REC10 = 3073, REC100 = 3074 };

/* Record r of the hand-made CIFAR-10 files: label (r + 3) % 10, pixel byte j = (7 j + r) % 256. */
static void hand_record(uint8_t *rec, int r)
{
    rec[0] = (uint8_t)((r + 3) % 10);
    for (int j = 0; j < QT_CIFAR_IMAGE_BYTES; j++)
        rec[1 + j] = (uint8_t)((7 * j + r) & 255);
}

/* Writes data_batch_1..5.bin with counts[] records (numbered on across files). */
static void write_hand_batches(const char *dir, const int *counts)
{
    int r = 0;
    for (int b = 0; b < 5; b++) {
        uint8_t *buf = malloc((size_t)REC10 * counts[b] + 1);
        for (int k = 0; k < counts[b]; k++)
            hand_record(buf + (size_t)REC10 * k, r++);
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        assert_int_equal(tmpdir_write(dir, name, buf, (size_t)REC10 * counts[b]), 0);
        free(buf);
    }
}

static int open_cifar(const char *dir, qt_dataset_kind kind, qt_split split,
                      qt_cifar100_label label, int skip_bad, qt_dataset **ds, qt_error *err)
{
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    cfg.kind = kind;
    cfg.root = dir;
    cfg.split = split;
    cfg.cifar100_label = label;
    cfg.skip_bad = skip_bad;
    return qt_dataset_open(ds, &cfg, err);
}

static void test_hand_made_cifar10(void **state)
{
    char dir[256];
    qt_error err;
    qt_dataset *ds;
    const int counts[5] = {2, 1, 1, 1, 1};
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    write_hand_batches(dir, counts);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR10, QT_SPLIT_TRAIN, 0, 0, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 6);
    assert_int_equal(qt_dataset_channels(ds), 3);
    assert_int_equal(qt_dataset_height(ds), 32);
    assert_int_equal(qt_dataset_width(ds), 32);
    assert_int_equal(qt_dataset_num_classes(ds), 10);
    assert_string_equal(qt_dataset_class_name(ds, 0), "airplane");
    assert_string_equal(qt_dataset_class_name(ds, 9), "truck");
    for (int r = 0; r < 6; r++) {
        qt_image im;
        assert_int_equal(qt_dataset_label(ds, r), (r + 3) % 10);
        assert_int_equal(qt_dataset_image(ds, r, NULL, &im, &err), QT_OK);
        /* green plane, row 2, column 3 is pixel byte 1024 + 2 * 32 + 3 */
        assert_int_equal(qt_image_at(&im, 1, 2, 3), (7 * (1024 + 67) + r) & 255);
        assert_int_equal(qt_image_at(&im, 2, 31, 31), (7 * 3071 + r) & 255);
    }
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

/* The generator's files hold the documented layout, and the reader returns every record. */
static void test_generated_cifar10(void **state)
{
    char dir[256], path[512];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(qt_synth_cifar(dir, QT_CIFAR10_LABELS, 23, 7, 11, &err), QT_OK);
    uint8_t *file;
    size_t len;
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    assert_int_equal(qt_read_file(path, &file, &len, &err), QT_OK);
    assert_int_equal(len, 4 * REC10); /* 23 = 5 + 5 + 5 + 4 + 4 */
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR10, QT_SPLIT_TRAIN, 0, 0, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 23);
    qt_image im;
    assert_int_equal(qt_dataset_image(ds, 15, NULL, &im, &err), QT_OK); /* file 4, record 0 */
    assert_int_equal(qt_dataset_label(ds, 15), file[0]);
    assert_int_equal(qt_image_at(&im, 0, 0, 0), file[1]);
    assert_int_equal(qt_image_at(&im, 1, 0, 0), file[1 + 1024]);
    assert_int_equal(qt_image_at(&im, 2, 0, 1), file[1 + 2048 + 1]);
    free(file);
    for (int r = 0; r < 23; r++) {
        uint8_t rec[REC10];
        qt_synth_cifar_record(QT_CIFAR10_LABELS, 11, QT_SPLIT_TRAIN, r, rec);
        assert_int_equal(qt_dataset_image(ds, r, NULL, &im, &err), QT_OK);
        assert_int_equal(qt_dataset_label(ds, r), rec[0]);
        assert_memory_equal(im.data, rec + 1, QT_CIFAR_IMAGE_BYTES);
    }
    qt_dataset_free(ds);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR10, QT_SPLIT_TEST, 0, 0, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 7);
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

static void test_cifar100_fine_and_coarse(void **state)
{
    char dir[256];
    qt_error err;
    qt_dataset *fine, *coarse;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(qt_synth_cifar(dir, QT_CIFAR100_FINE, 40, 9, 3, &err), QT_OK);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TEST, QT_CIFAR100_LABEL_FINE,
                                0, &fine, &err), QT_OK);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TEST, QT_CIFAR100_LABEL_COARSE,
                                0, &coarse, &err), QT_OK);
    assert_int_equal(qt_dataset_count(fine), 9);
    assert_int_equal(qt_dataset_num_classes(fine), 100);
    assert_int_equal(qt_dataset_num_classes(coarse), 20);
    assert_string_equal(qt_dataset_class_name(fine, 0), "apple");
    assert_string_equal(qt_dataset_class_name(fine, 99), "worm");
    assert_string_equal(qt_dataset_class_name(coarse, 19), "vehicles_2");
    for (int r = 0; r < 9; r++) {
        uint8_t rec[REC100];
        qt_image im;
        qt_synth_cifar_record(QT_CIFAR100_FINE, 3, QT_SPLIT_TEST, r, rec);
        assert_int_equal(qt_dataset_label(coarse, r), rec[0]);
        assert_int_equal(qt_dataset_label(fine, r), rec[1]);
        assert_int_equal(qt_dataset_image(fine, r, NULL, &im, &err), QT_OK);
        assert_memory_equal(im.data, rec + 2, QT_CIFAR_IMAGE_BYTES);
    }
    qt_dataset_free(fine);
    qt_dataset_free(coarse);
    tmpdir_remove(dir);
}

/* Replaces dir/name with bytes and expects opening the CIFAR-10 train split to fail with
 * "<dir>/<name>: <tail>". */
static void expect_cifar10_error(const char *dir, const char *name, const uint8_t *bytes,
                                 size_t len, const char *tail)
{
    char want[1024];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_write(dir, name, bytes, len), 0);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR10, QT_SPLIT_TRAIN, 0, 0, &ds, &err), QT_ERR);
    assert_null(ds);
    snprintf(want, sizeof want, "%s/%s: %s", dir, name, tail);
    assert_string_equal(err.msg, want);
}

static void test_broken_files(void **state)
{
    char dir[256];
    const int counts[5] = {2, 2, 2, 2, 2};
    uint8_t recs[3 * REC100];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    write_hand_batches(dir, counts);
    for (int r = 0; r < 2; r++)
        hand_record(recs + REC10 * r, r);
    expect_cifar10_error(dir, "data_batch_3.bin", recs, 2 * REC10 - 10,
                         "truncated: 6136 bytes is not a whole number of 3073-byte records "
                         "(last record has 3063 bytes)");
    expect_cifar10_error(dir, "data_batch_3.bin", recs, 0, "empty file");
    memset(recs, 1, sizeof recs);
    expect_cifar10_error(dir, "data_batch_3.bin", recs, 3 * REC100,
                         "wrong record size: 9222 bytes is a whole number of 3074-byte records, "
                         "not of the 3073-byte CIFAR-10 records expected");
    hand_record(recs, 0);
    hand_record(recs + REC10, 1);
    recs[REC10] = 10;
    expect_cifar10_error(dir, "data_batch_3.bin", recs, 2 * REC10,
                         "record 1: label 10 out of range 0..9");
    tmpdir_remove(dir);

    char want[1024];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TRAIN, 0, 0, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/train.bin: cannot open: No such file or directory", dir);
    assert_string_equal(err.msg, want);
    memset(recs, 3, sizeof recs);
    recs[REC100 + 1] = 100; /* fine label of record 1 */
    assert_int_equal(tmpdir_write(dir, "train.bin", recs, sizeof recs), 0);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TRAIN, 0, 0, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/train.bin: record 1: fine label 100 out of range 0..99", dir);
    assert_string_equal(err.msg, want);
    /* skip_bad: the record is left out and counted */
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TRAIN, 0, 1, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 2);
    assert_int_equal(qt_dataset_skipped(ds), 1);
    qt_dataset_free(ds);
    recs[2 * REC100] = 20; /* coarse label of record 2 */
    assert_int_equal(tmpdir_write(dir, "train.bin", recs, sizeof recs), 0);
    assert_int_equal(open_cifar(dir, QT_DATASET_CIFAR100, QT_SPLIT_TRAIN, 0, 1, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 1);
    assert_int_equal(qt_dataset_skipped(ds), 2);
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

/* The decoder alone, on a buffer: labels chosen by layout, pixels after the label bytes. */
static void test_decode_buffer(void **state)
{
    uint8_t rec[REC100], px[QT_CIFAR_IMAGE_BYTES], out[QT_CIFAR_IMAGE_BYTES];
    int32_t label;
    size_t kept, skipped;
    qt_error err;
    for (int j = 0; j < QT_CIFAR_IMAGE_BYTES; j++)
        px[j] = (uint8_t)(j * 13);
    qt_cifar_encode_record(rec, QT_CIFAR100_COARSE, 42, 8, px);
    assert_int_equal(rec[0], 8);
    assert_int_equal(rec[1], 42);
    assert_int_equal(qt_cifar_decode("m", rec, REC100, QT_CIFAR100_COARSE, 0, out, &label, &kept,
                                     &skipped, &err), QT_OK);
    assert_int_equal(kept, 1);
    assert_int_equal(label, 8);
    assert_memory_equal(out, px, sizeof px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_made_cifar10),
        cmocka_unit_test(test_generated_cifar10),
        cmocka_unit_test(test_cifar100_fine_and_coarse),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_decode_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

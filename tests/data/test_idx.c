/* IDX reader (MNIST / Fashion-MNIST layout): exact values from hand-made files, gzip,
 * generated datasets, and the message for each broken-file case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/dataset.h"
#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/idx.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

/* Two 2x3 images with pixels 0..11 and labels 3, 7, written byte by byte. */
static const uint8_t images_2x2x3[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
                                       0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t labels_2[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};

static int open_split(const char *dir, qt_split split, int skip_bad, qt_dataset **ds,
                      qt_error *err)
{
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    cfg.kind = QT_DATASET_MNIST;
    cfg.root = dir;
    cfg.split = split;
    cfg.skip_bad = skip_bad;
    return qt_dataset_open(ds, &cfg, err);
}

static int open_mnist(const char *dir, int skip_bad, qt_dataset **ds, qt_error *err)
{
    return open_split(dir, QT_SPLIT_TRAIN, skip_bad, ds, err);
}

static void test_hand_made_files(void **state)
{
    char dir[256];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(tmpdir_write(dir, "train-images-idx3-ubyte", images_2x2x3, sizeof images_2x2x3), 0);
    assert_int_equal(tmpdir_write(dir, "train-labels-idx1-ubyte", labels_2, sizeof labels_2), 0);
    assert_int_equal(open_mnist(dir, 0, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 2);
    assert_int_equal(qt_dataset_channels(ds), 1);
    assert_int_equal(qt_dataset_height(ds), 2);
    assert_int_equal(qt_dataset_width(ds), 3);
    assert_int_equal(qt_dataset_label(ds, 0), 3);
    assert_int_equal(qt_dataset_label(ds, 1), 7);
    assert_string_equal(qt_dataset_class_name(ds, 7), "7");
    qt_image im;
    assert_int_equal(qt_dataset_image(ds, 1, NULL, &im, &err), QT_OK);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            assert_int_equal(qt_image_at(&im, 0, y, x), 6 + 3 * y + x);
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

/* Generated gzip files: every record matches the generator; Fashion-MNIST class names. */
static void test_generated_gzip(void **state)
{
    char dir[256];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(qt_synth_idx(dir, 50, 20, 28, 28, 1, 5, &err), QT_OK);
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    cfg.kind = QT_DATASET_FASHION_MNIST;
    cfg.root = dir;
    cfg.split = QT_SPLIT_TEST;
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 20);
    assert_string_equal(qt_dataset_class_name(ds, 0), "T-shirt/top");
    assert_string_equal(qt_dataset_class_name(ds, 9), "Ankle boot");
    for (int r = 0; r < 20; r++) {
        uint8_t want[28 * 28];
        int label;
        qt_image im;
        qt_synth_idx_image(5, QT_SPLIT_TEST, r, 28, 28, want, &label);
        assert_int_equal(qt_dataset_label(ds, r), label);
        assert_int_equal(qt_dataset_image(ds, r, NULL, &im, &err), QT_OK);
        assert_memory_equal(im.data, want, sizeof want);
    }
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

static void test_parse_errors(void **state)
{
    qt_idx idx;
    qt_error err;
    assert_int_equal(qt_idx_parse("a", images_2x2x3, sizeof images_2x2x3, 1, &idx, &err), QT_ERR);
    assert_string_equal(err.msg, "a: bad magic number 0x00000803 (expected 0x00000801: "
                                 "unsigned-byte IDX with 1 dimensions)");
    assert_int_equal(qt_idx_parse("b", images_2x2x3, sizeof images_2x2x3 - 1, 3, &idx, &err), QT_ERR);
    assert_string_equal(err.msg, "b: truncated: header announces 12 data bytes, file has 11");
    assert_int_equal(qt_idx_parse("c", images_2x2x3, 10, 3, &idx, &err), QT_ERR);
    assert_string_equal(err.msg, "c: truncated: 10 bytes, header needs 16");
    uint8_t longer[sizeof labels_2 + 1];
    memcpy(longer, labels_2, sizeof labels_2);
    longer[sizeof labels_2] = 1;
    assert_int_equal(qt_idx_parse("d", longer, sizeof longer, 1, &idx, &err), QT_ERR);
    assert_string_equal(err.msg, "d: size mismatch: header announces 2 data bytes, file has 3");
    uint8_t floats[] = {0, 0, 0x0d, 1, 0, 0, 0, 0};
    assert_int_equal(qt_idx_parse("e", floats, sizeof floats, 1, &idx, &err), QT_ERR);
    assert_string_equal(err.msg, "e: bad magic number 0x00000d01 (expected 0x00000801: "
                                 "unsigned-byte IDX with 1 dimensions)");
}

/* Writes the images file and a labels file (name + suffix); the open must fail with
 * "<dir>/<want_tail>". */
static void expect_open_error(const uint8_t *images, size_t ilen, const uint8_t *labels,
                              size_t llen, const char *suffix, const char *want_tail)
{
    char dir[256], want[1024];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(tmpdir_write(dir, "train-images-idx3-ubyte", images, ilen), 0);
    char lname[64];
    snprintf(lname, sizeof lname, "train-labels-idx1-ubyte%s", suffix);
    assert_int_equal(tmpdir_write(dir, lname, labels, llen), 0);
    assert_int_equal(open_mnist(dir, 0, &ds, &err), QT_ERR);
    assert_null(ds);
    snprintf(want, sizeof want, "%s/%s", dir, want_tail);
    assert_string_equal(err.msg, want);
    tmpdir_remove(dir);
}

static void test_dataset_errors(void **state)
{
    /* wrong magic: the images file given as the labels file */
    expect_open_error(images_2x2x3, sizeof images_2x2x3, images_2x2x3, sizeof images_2x2x3, "",
                      "train-labels-idx1-ubyte: bad magic number 0x00000803 (expected "
                      "0x00000801: unsigned-byte IDX with 1 dimensions)");
    /* truncated */
    expect_open_error(images_2x2x3, sizeof images_2x2x3, labels_2, sizeof labels_2 - 1, "",
                      "train-labels-idx1-ubyte: truncated: header announces 2 data bytes, file has 1");
    /* label out of range */
    uint8_t bad_label[sizeof labels_2];
    memcpy(bad_label, labels_2, sizeof labels_2);
    bad_label[9] = 10;
    expect_open_error(images_2x2x3, sizeof images_2x2x3, bad_label, sizeof bad_label, "",
                      "train-labels-idx1-ubyte: label 10 of image 1 out of range 0..9");
    /* truncated gzip */
    uint8_t *gz;
    size_t gz_len;
    qt_error err;
    assert_int_equal(qt_gzip(labels_2, sizeof labels_2, &gz, &gz_len, &err), QT_OK);
    expect_open_error(images_2x2x3, sizeof images_2x2x3, gz, gz_len - 9, ".gz",
                      "train-labels-idx1-ubyte.gz: truncated gzip stream");
    free(gz);
}

static void test_count_mismatch_and_missing(void **state)
{
    char dir[256], want[1024];
    qt_error err;
    qt_dataset *ds;
    uint8_t one_label[] = {0, 0, 8, 1, 0, 0, 0, 1, 4};
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(open_mnist(dir, 0, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte: cannot open (nor "
             "train-images-idx3-ubyte.gz): No such file or directory", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(tmpdir_write(dir, "train-images-idx3-ubyte", images_2x2x3, sizeof images_2x2x3), 0);
    assert_int_equal(tmpdir_write(dir, "train-labels-idx1-ubyte", one_label, sizeof one_label), 0);
    assert_int_equal(open_mnist(dir, 0, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte has 2 images but "
             "%s/train-labels-idx1-ubyte has 1 labels", dir, dir);
    assert_string_equal(err.msg, want);
    tmpdir_remove(dir);
}

/* skip_bad leaves out the image whose label is out of range and counts it. */
static void test_skip_bad_label(void **state)
{
    char dir[256];
    qt_error err;
    qt_dataset *ds;
    uint8_t bad_first[sizeof labels_2];
    memcpy(bad_first, labels_2, sizeof labels_2);
    bad_first[8] = 200;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(tmpdir_write(dir, "train-images-idx3-ubyte", images_2x2x3, sizeof images_2x2x3), 0);
    assert_int_equal(tmpdir_write(dir, "train-labels-idx1-ubyte", bad_first, sizeof bad_first), 0);
    assert_int_equal(open_mnist(dir, 1, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 1);
    assert_int_equal(qt_dataset_skipped(ds), 1);
    assert_int_equal(qt_dataset_label(ds, 0), 7);
    qt_image im;
    assert_int_equal(qt_dataset_image(ds, 0, NULL, &im, &err), QT_OK);
    assert_int_equal(qt_image_at(&im, 0, 0, 0), 6);
    const char *const *notes;
    char want[600];
    snprintf(want, sizeof want, "%s/train-labels-idx1-ubyte: left out 1 image whose label is "
             "outside 0..9", dir);
    assert_int_equal(qt_dataset_skip_notes(ds, &notes), 1);
    assert_string_equal(notes[0], want);
    qt_dataset_free(ds);
    tmpdir_remove(dir);
}

/* Train images 32x32 and test images 28x28: the splits disagree, and the check names both
 * files (issue 15, defect 4: unchecked, evaluation read past the test batch). */
static void test_splits_must_agree(void **state)
{
    char dir[256], want[2048];
    qt_error err;
    qt_dataset *train, *test;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(qt_synth_idx(dir, 4, 3, 32, 32, 0, 1, &err), QT_OK);
    char small[300];
    snprintf(small, sizeof small, "%s/small", dir);
    assert_int_equal(qt_synth_idx(small, 4, 3, 28, 28, 0, 1, &err), QT_OK);
    assert_int_equal(open_mnist(dir, 0, &train, &err), QT_OK);
    assert_int_equal(open_split(dir, QT_SPLIT_TEST, 0, &test, &err), QT_OK);
    assert_int_equal(qt_dataset_check_splits(train, test, &err), QT_OK);
    qt_dataset_free(test);
    assert_int_equal(open_split(small, QT_SPLIT_TEST, 0, &test, &err), QT_OK);
    assert_int_equal(qt_dataset_check_splits(train, test, &err), QT_ERR);
    snprintf(want, sizeof want, "the splits differ: the train split (%s/train-images-idx3-ubyte) "
             "has 1x32x32 images and 10 classes, the test split (%s/t10k-images-idx3-ubyte) "
             "1x28x28 images and 10 classes; a net needs both the same", dir, small);
    assert_string_equal(err.msg, want);
    qt_dataset_free(test);
    qt_dataset_free(train);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_made_files),
        cmocka_unit_test(test_generated_gzip),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_dataset_errors),
        cmocka_unit_test(test_count_mismatch_and_missing),
        cmocka_unit_test(test_skip_bad_label),
        cmocka_unit_test(test_splits_must_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

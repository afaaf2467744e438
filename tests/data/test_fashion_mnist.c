/* The real Fashion-MNIST from Debian's dataset-fashion-mnist package (or the folder named
 * by QTRAIN_FASHION_MNIST): counts, class histogram, known records, and the normalisation
 * constants recomputed from the training pixels. Skipped when the data is not installed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtrain/augment.h"
#include "qtrain/dataset.h"
#include "qtrain/loader.h"

static const char *data_root(void)
{
    const char *env = getenv("QTRAIN_FASHION_MNIST");
    return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

static qt_dataset *open_split(qt_split split)
{
    qt_dataset_config cfg;
    qt_dataset *ds;
    qt_error err;
    qt_dataset_config_init(&cfg);
    cfg.kind = QT_DATASET_FASHION_MNIST;
    cfg.root = data_root();
    cfg.split = split;
    if (qt_dataset_open(&ds, &cfg, &err) != QT_OK)
        fail_msg("%s", err.msg);
    return ds;
}

static void require_data(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", data_root());
    if (access(path, R_OK) != 0) {
        print_message("Fashion-MNIST not found at %s (apt-get install dataset-fashion-mnist)\n",
                      data_root());
        skip();
    }
}

static void check_split(qt_split split, int count, int per_class)
{
    qt_dataset *ds = open_split(split);
    int hist[10] = {0};
    assert_int_equal(qt_dataset_count(ds), count);
    assert_int_equal(qt_dataset_channels(ds), 1);
    assert_int_equal(qt_dataset_height(ds), 28);
    assert_int_equal(qt_dataset_width(ds), 28);
    for (int i = 0; i < count; i++)
        hist[qt_dataset_label(ds, i)]++;
    for (int k = 0; k < 10; k++)
        assert_int_equal(hist[k], per_class);
    qt_dataset_free(ds);
}

static void test_counts_and_histogram(void **state)
{
    require_data();
    check_split(QT_SPLIT_TRAIN, 60000, 6000);
    check_split(QT_SPLIT_TEST, 10000, 1000);
}

/* Values read from the files with Python's gzip module. */
static void test_known_records(void **state)
{
    require_data();
    qt_dataset *train = open_split(QT_SPLIT_TRAIN), *test = open_split(QT_SPLIT_TEST);
    const int train_labels[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    const int test_labels[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(qt_dataset_label(train, i), train_labels[i]);
        assert_int_equal(qt_dataset_label(test, i), test_labels[i]);
    }
    assert_int_equal(qt_dataset_label(test, 9999), 5);
    const int row14_train0[5] = {0, 0, 237, 226, 217}, row14_test9999[5] = {69, 128, 100, 120, 132};
    qt_image a, b;
    qt_error err;
    assert_int_equal(qt_dataset_image(train, 0, NULL, &a, &err), QT_OK);
    assert_int_equal(qt_dataset_image(test, 9999, NULL, &b, &err), QT_OK);
    for (int x = 0; x < 5; x++) {
        assert_int_equal(qt_image_at(&a, 0, 14, 10 + x), row14_train0[x]);
        assert_int_equal(qt_image_at(&b, 0, 14, 10 + x), row14_test9999[x]);
    }
    assert_string_equal(qt_dataset_class_name(train, 9), "Ankle boot");
    qt_dataset_free(train);
    qt_dataset_free(test);
}

/* The constants in qt_augment_norm_defaults are the training set's mean and population
 * std of p / 255, and the loader's normalised training batches have mean 0 and std 1. */
static void test_normalisation_constants(void **state)
{
    require_data();
    qt_dataset *ds = open_split(QT_SPLIT_TRAIN);
    uint64_t s = 0, s2 = 0;
    for (int i = 0; i < 60000; i++) {
        qt_image im;
        qt_error err;
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        for (int p = 0; p < 784; p++) {
            s += im.data[p];
            s2 += (uint64_t)im.data[p] * im.data[p];
        }
    }
    assert_true(s == 3431114169ULL);
    assert_true(s2 == 631470052347ULL);
    const double n = 60000.0 * 784, mean = s / n / 255, sd = sqrt(s2 / n - (s / n) * (s / n)) / 255;
    float dmean[3], dstd[3];
    qt_augment_norm_defaults(QT_DATASET_FASHION_MNIST, dmean, dstd);
    assert_true(fabs(dmean[0] - mean) < 1e-6);
    assert_true(fabs(dstd[0] - sd) < 1e-6);

    qt_loader_config cfg;
    qt_loader *ld;
    qt_batch b;
    qt_error err;
    qt_loader_config_init(&cfg);
    cfg.batch_size = 1000;
    qt_augment_preset(&cfg.augment, QT_DATASET_FASHION_MNIST, 1, 0);
    assert_int_equal(qt_loader_open(&ld, ds, &cfg, &err), QT_OK);
    double o = 0, o2 = 0;
    while (qt_loader_next(ld, &b, &err) == 1)
        for (size_t k = 0; k < (size_t)b.n * 784; k++) {
            o += b.x[k];
            o2 += (double)b.x[k] * b.x[k];
        }
    assert_true(fabs(o / n) < 1e-5);
    assert_true(fabs(sqrt(o2 / n - (o / n) * (o / n)) - 1.0) < 1e-5);
    qt_loader_free(ld);
    qt_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_histogram),
        cmocka_unit_test(test_known_records),
        cmocka_unit_test(test_normalisation_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

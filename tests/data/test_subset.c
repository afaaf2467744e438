/* Subsets (first N classes, a random fraction or at most M images per class, first N images)
 * on a generated CIFAR-10 training set, checked against a direct reading of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtrain/cifar.h"
#include "qtrain/dataset.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

enum { N = 200, SEED = 21 };

static char root[256];

static int setup(void **state)
{
    qt_error err;
    if (tmpdir_make(root, sizeof root) != 0)
        return -1;
    return qt_synth_cifar(root, QT_CIFAR10_LABELS, N, 10, SEED, &err) == QT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tmpdir_remove(root);
    return 0;
}

static qt_dataset_config config(int classes, double fraction, int per_class, int limit)
{
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    cfg.seed = 1;
    cfg.kind = QT_DATASET_CIFAR10;
    cfg.root = root;
    cfg.classes = classes;
    cfg.fraction = fraction;
    cfg.per_class = per_class;
    cfg.limit = limit;
    return cfg;
}

/* The documented rules without a fraction (the fraction draw is random), applied to the
 * generator's records: returns the kept record numbers. */
static int expected_subset(const qt_dataset_config *cfg, int *keep)
{
    int label[N], count[10] = {0}, cap[10], have[10] = {0}, kept = 0;
    int classes = cfg->classes ? cfg->classes : 10;
    for (int r = 0; r < N; r++) {
        uint8_t rec[3073];
        qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, r, rec);
        label[r] = rec[0];
        count[rec[0]]++;
    }
    for (int k = 0; k < 10; k++) {
        cap[k] = count[k];
        if (cfg->per_class && cap[k] > cfg->per_class)
            cap[k] = cfg->per_class;
    }
    for (int r = 0; r < N; r++) {
        if (cfg->limit && kept == cfg->limit)
            break;
        if (label[r] < classes && have[label[r]] < cap[label[r]]) {
            have[label[r]]++;
            keep[kept++] = r;
        }
    }
    return kept;
}

static void check_subset(int classes, double fraction, int per_class, int limit, int want_count)
{
    qt_dataset_config cfg = config(classes, fraction, per_class, limit);
    qt_dataset *ds;
    qt_error err;
    int keep[N];
    int n = expected_subset(&cfg, keep);
    assert_int_equal(n, want_count);
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), n);
    assert_int_equal(qt_dataset_num_classes(ds), classes ? classes : 10);
    for (int i = 0; i < n; i++) {
        uint8_t rec[3073];
        qt_image im;
        qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, keep[i], rec);
        assert_int_equal(qt_dataset_label(ds, i), rec[0]);
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        assert_memory_equal(im.data, rec + 1, QT_CIFAR_IMAGE_BYTES);
    }
    qt_dataset_free(ds);
}

static void test_no_subset(void **state) { check_subset(0, 1.0, 0, 0, N); }

/* The generator's record number of every image of ds (they keep file order), into rec_of. */
static void record_numbers(qt_dataset *ds, int *rec_of)
{
    qt_error err;
    int r = 0;
    for (int i = 0; i < qt_dataset_count(ds); i++) {
        qt_image im;
        uint8_t rec[3073];
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        for (;; r++) {
            assert_true(r < N);
            qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, r, rec);
            if (memcmp(im.data, rec + 1, QT_CIFAR_IMAGE_BYTES) == 0)
                break;
        }
        assert_int_equal(qt_dataset_label(ds, i), rec[0]);
        rec_of[i] = r++;
    }
}

/* A fraction keeps round(f * n_k) of each class (class balance), and which ones depends on
 * the seed: the same seed draws the same subset, another seed another one. */
static int fraction_subset(double fraction, uint64_t seed, int *rec_of, int *per_class)
{
    qt_dataset_config cfg = config(0, fraction, 0, 0);
    cfg.seed = seed;
    qt_dataset *ds;
    qt_error err;
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_OK);
    int n = qt_dataset_count(ds);
    record_numbers(ds, rec_of);
    memset(per_class, 0, 10 * sizeof *per_class);
    for (int i = 0; i < n; i++)
        per_class[qt_dataset_label(ds, i)]++;
    qt_dataset_free(ds);
    return n;
}

static void test_fraction_is_drawn_with_the_seed(void **state)
{
    int count[10] = {0};
    for (int r = 0; r < N; r++) {
        uint8_t rec[3073];
        qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, r, rec);
        count[rec[0]]++;
    }
    int a[N], b[N], c[N], ka[10], kb[10], kc[10];
    int na = fraction_subset(0.5, 1, a, ka), nb = fraction_subset(0.5, 1, b, kb);
    int nc = fraction_subset(0.5, 2, c, kc);
    for (int k = 0; k < 10; k++) {
        int want = (int)(0.5 * count[k] + 0.5);
        assert_int_equal(ka[k], want < 1 && count[k] ? 1 : want);
        assert_int_equal(kc[k], ka[k]);
    }
    assert_int_equal(na, nb);
    assert_int_equal(na, nc);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    int differ = 0;
    for (int i = 0; i < na; i++)
        differ += a[i] != c[i];
    assert_true(differ > 0);
    /* not simply the first half of each class in file order */
    int first_half = 1, seen[10] = {0};
    for (int i = 0; i < na; i++) {
        uint8_t rec[3073];
        qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, a[i], rec);
        int rank = 0;
        for (int r = 0; r < a[i]; r++) {
            uint8_t other[3073];
            qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, r, other);
            rank += other[0] == rec[0];
        }
        first_half &= rank == seen[rec[0]]++;
    }
    assert_false(first_half);
}

/* Counts derived from the class sizes alone, so the rules are pinned down independently
 * of expected_subset. */
static void test_class_sizes(void **state)
{
    int count[10] = {0};
    for (int r = 0; r < N; r++) {
        uint8_t rec[3073];
        qt_synth_cifar_record(QT_CIFAR10_LABELS, SEED, QT_SPLIT_TRAIN, r, rec);
        count[rec[0]]++;
    }
    int sum3 = count[0] + count[1] + count[2];
    check_subset(3, 1.0, 0, 0, sum3);
    int capped = 0;
    for (int k = 0; k < 10; k++)
        capped += count[k] < 4 ? count[k] : 4;
    check_subset(0, 1.0, 4, 0, capped);
}

/* Fraction with the other rules: only counts, the fraction's picks being random. */
static void check_fraction_count(int classes, double fraction, int per_class, int limit, int want)
{
    qt_dataset_config cfg = config(classes, fraction, per_class, limit);
    qt_dataset *ds;
    qt_error err;
    int rec_of[N];
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), want);
    record_numbers(ds, rec_of);  /* every image is a record, in file order, with its label */
    qt_dataset_free(ds);
}

static void test_limit_and_combinations(void **state)
{
    check_subset(0, 1.0, 0, 7, 7);
    check_subset(2, 1.0, 3, 5, 5);
    check_fraction_count(4, 0.25, 2, 0, 8);    /* every class has >= 8 of the 200 images */
    check_fraction_count(10, 0.001, 0, 0, 10); /* at least one image per class */
    check_fraction_count(0, 0.5, 0, 9, 9);
}

static void test_class_names_follow_subset(void **state)
{
    qt_dataset_config cfg = config(3, 1.0, 0, 0);
    qt_dataset *ds;
    qt_error err;
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_OK);
    assert_string_equal(qt_dataset_class_name(ds, 2), "bird");
    assert_null(qt_dataset_class_name(ds, 3));
    qt_dataset_free(ds);
}

static void expect_config_error(qt_dataset_config cfg, const char *want)
{
    qt_dataset *ds;
    qt_error err;
    char w[1024];
    assert_int_equal(qt_dataset_open(&ds, &cfg, &err), QT_ERR);
    assert_null(ds);
    snprintf(w, sizeof w, want, root);
    assert_string_equal(err.msg, w);
}

static void test_bad_settings(void **state)
{
    expect_config_error(config(0, 0.0, 0, 0), "dataset cifar10: fraction 0 out of range (0, 1]");
    expect_config_error(config(0, 1.5, 0, 0), "dataset cifar10: fraction 1.5 out of range (0, 1]");
    expect_config_error(config(0, 1.0, -1, 0),
                        "dataset cifar10: limit, classes and per_class must be >= 0");
    expect_config_error(config(11, 1.0, 0, 0),
                        "dataset cifar10 at %s: classes 11 exceeds the 10 classes present");
    qt_dataset_config cfg = config(0, 1.0, 0, 0);
    cfg.kind = QT_DATASET_IMAGE_FOLDER;
    cfg.root = "";
    expect_config_error(cfg, "dataset image_folder: no root directory given");
    /* no root: the standard location, relative to the working directory (here the scratch
     * folder, which holds no CIFAR-100) */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root), 0);
    cfg.kind = QT_DATASET_CIFAR100;
    cfg.root = NULL;
    expect_config_error(cfg, "datasets/cifar-100-binary/train.bin: cannot open: No such file or "
                             "directory");
    assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_subset),
        cmocka_unit_test(test_class_sizes),
        cmocka_unit_test(test_fraction_is_drawn_with_the_seed),
        cmocka_unit_test(test_limit_and_combinations),
        cmocka_unit_test(test_class_names_follow_subset),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

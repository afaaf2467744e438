/* Folder datasets of JPEGs in the layouts users download: ILSVRC-2012 (val/ sorted, or
 * flat with LOC_val_solution.csv, "file wnid" or "file index" labels), Tiny-ImageNet, and
 * image folders mixing PNG and JPEG. Class indices must be the sorted wnids (torchvision's
 * ImageFolder order), val classes are matched by name, class lists select classes, and bad
 * files are rejected with their name or skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "qtrain/augment.h"
#include "qtrain/dataset.h"
#include "qtrain/file_io.h"
#include "qtrain/loader.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

enum { COLOUR_TOLERANCE = 3 };

typedef struct open_args {
    qt_dataset_kind kind;
    qt_split split;
    int classes, skip_bad;
    const char *class_list, *val_labels;
} open_args;

static int open_ds(const char *root, open_args a, qt_dataset **ds, qt_error *err)
{
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    cfg.kind = a.kind;
    cfg.root = root;
    cfg.split = a.split;
    cfg.classes = a.classes;
    cfg.skip_bad = a.skip_bad;
    cfg.class_list = a.class_list;
    cfg.val_labels = a.val_labels;
    cfg.image_size = 16;
    return qt_dataset_open(ds, &cfg, err);
}

static int cmp_wnid(const void *a, const void *b) { return strcmp(a, b); }

/* The generator's wnids in sorted order: index = the class index a reader must give. */
static void sorted_wnids(const qt_synth_imagenet *t, char (*out)[16])
{
    for (int k = 0; k < t->classes; k++)
        qt_synth_imagenet_wnid(t, k, out[k]);
    qsort(out, (size_t)t->classes, 16, cmp_wnid);
}

static int sorted_label(const qt_synth_imagenet *t, int k)
{
    char wnids[64][16], mine[16];
    sorted_wnids(t, wnids);
    qt_synth_imagenet_wnid(t, k, mine);
    for (int i = 0; i < t->classes; i++)
        if (!strcmp(wnids[i], mine))
            return i;
    return -1;
}

/* A fresh folder holding the generator's tree (its path in root). */
static void make_tree(char *root, size_t n, const qt_synth_imagenet *t)
{
    qt_error err;
    assert_int_equal(tmpdir_make(root, n), 0);
    assert_int_equal(qt_synth_imagenet_write(root, t, &err), QT_OK);
}

/* Image i of ds is the generator's image (split, k, j): same path, right label, and the
 * decoded squares have their colours. */
static void expect_image(const qt_dataset *ds, int i, const char *root,
                         const qt_synth_imagenet *t, qt_split split, int k, int j,
                         qt_image_reader *rd)
{
    qt_synth_jpeg im;
    char rel[256], path[600];
    qt_error err;
    qt_image got;
    qt_synth_imagenet_image(t, split, k, j, &im, rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    assert_string_equal(qt_dataset_image_path(ds, i), path);
    int cls = split == QT_SPLIT_TRAIN ? k : qt_synth_imagenet_val_class(t, j);
    assert_int_equal(qt_dataset_label(ds, i), sorted_label(t, cls));
    assert_int_equal(qt_dataset_image(ds, i, rd, &got, &err), QT_OK);
    assert_int_equal(got.w, im.w);
    assert_int_equal(got.h, im.h);
    assert_true(qt_synth_jpeg_max_error(&im, &got, 1) <= COLOUR_TOLERANCE);
}

static void expect_train_split(const char *root, const qt_synth_imagenet *t,
                               qt_dataset_kind kind)
{
    qt_dataset *ds;
    qt_error err;
    qt_image_reader rd = {0};
    char wnids[64][16];
    sorted_wnids(t, wnids);
    assert_int_equal(open_ds(root, (open_args){.kind = kind, .split = QT_SPLIT_TRAIN}, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_num_classes(ds), t->classes);
    for (int k = 0; k < t->classes; k++)
        assert_string_equal(qt_dataset_class_name(ds, k), wnids[k]);
    assert_int_equal(qt_dataset_count(ds), t->classes * t->train_per_class);
    /* images come class by class in sorted wnid order, files in name order */
    int i = 0;
    for (int s = 0; s < t->classes; s++)
        for (int k = 0; k < t->classes; k++)
            if (sorted_label(t, k) == s)
                for (int j = 0; j < t->train_per_class; j++)
                    expect_image(ds, i++, root, t, QT_SPLIT_TRAIN, k, j, &rd);
    qt_dataset_free(ds);
    qt_image_reader_free(&rd);
}

/* The val split, whatever its form, holds every val image with its class's sorted index.
 * Flat: in file-name order (= image number); sorted: class by class. */
static void expect_val_split(const char *root, const qt_synth_imagenet *t, qt_dataset_kind kind,
                             int flat)
{
    qt_dataset *ds;
    qt_error err;
    qt_image_reader rd = {0};
    assert_int_equal(open_ds(root, (open_args){.kind = kind, .split = QT_SPLIT_TEST}, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_num_classes(ds), t->classes);
    assert_int_equal(qt_dataset_count(ds), t->val_images);
    int i = 0;
    for (int s = 0; s < (flat ? 1 : t->classes); s++)
        for (int v = 0; v < t->val_images; v++)
            if (flat || sorted_label(t, qt_synth_imagenet_val_class(t, v)) == s)
                expect_image(ds, i++, root, t, QT_SPLIT_TEST, 0, v, &rd);
    qt_dataset_free(ds);
    qt_image_reader_free(&rd);
}

static void test_ilsvrc_layouts(void **state)
{
    for (int form = QT_SYNTH_VAL_SORTED; form <= QT_SYNTH_VAL_INDEX_LIST; form++) {
        char root[256];
        qt_synth_imagenet t = {5, 3, 14, 20, 50, 0, 0, 0, 0, (qt_synth_val_form)form,
                               40 + (uint64_t)form};
        make_tree(root, sizeof root, &t);
        if (form == QT_SYNTH_VAL_SORTED)
            expect_train_split(root, &t, QT_DATASET_IMAGENET);
        expect_val_split(root, &t, QT_DATASET_IMAGENET, form != QT_SYNTH_VAL_SORTED);
        tmpdir_remove(root);
    }
}

static void test_tiny_imagenet(void **state)
{
    char root[256];
    qt_error err;
    qt_synth_imagenet t = {6, 2, 9, 0, 0, 64, 64, 0, 1, QT_SYNTH_VAL_SORTED, 77};
    make_tree(root, sizeof root, &t);
    expect_train_split(root, &t, QT_DATASET_TINY_IMAGENET);
    expect_val_split(root, &t, QT_DATASET_TINY_IMAGENET, 1);
    /* a class of wnids.txt without its train folder */
    char path[512];
    snprintf(path, sizeof path, "%s/wnids.txt", root);
    assert_int_equal(qt_write_file_atomic(path, "n00000001\n", 10, &err), QT_OK);
    qt_dataset *ds;
    assert_int_equal(open_ds(root, (open_args){.kind = QT_DATASET_TINY_IMAGENET, .split = QT_SPLIT_TRAIN}, &ds,
                             &err), QT_ERR);
    char want[1024];
    snprintf(want, sizeof want, "%s/train/n00000001/images: cannot open directory: No such file "
             "or directory", root);
    assert_string_equal(err.msg, want);
    tmpdir_remove(root);
}

/* A class list file picks classes by wnid (any order, extra words, comments); they are
 * numbered in sorted order in both splits. */
static void test_class_list(void **state)
{
    char root[256], list[512], want[1024];
    qt_error err;
    qt_dataset *ds;
    qt_synth_imagenet t = {6, 2, 30, 20, 40, 0, 0, 0, 0, QT_SYNTH_VAL_LOC_CSV, 5};
    char wnids[64][16];
    make_tree(root, sizeof root, &t);
    sorted_wnids(&t, wnids);
    char text[256];
    int n = snprintf(text, sizeof text, "# chosen\n%s some words, here\n\n  %s\t\n", wnids[4],
                     wnids[1]);
    snprintf(list, sizeof list, "%s/classes.txt", root);
    assert_int_equal(qt_write_file_atomic(list, text, (size_t)n, &err), QT_OK);
    open_args a = {QT_DATASET_IMAGENET, QT_SPLIT_TRAIN, 0, 0, list, NULL};
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_num_classes(ds), 2);
    assert_string_equal(qt_dataset_class_name(ds, 0), wnids[1]);
    assert_string_equal(qt_dataset_class_name(ds, 1), wnids[4]);
    assert_int_equal(qt_dataset_count(ds), 4);
    assert_int_equal(qt_dataset_label(ds, 0), 0);
    assert_int_equal(qt_dataset_label(ds, 3), 1);
    qt_dataset_free(ds);
    a.split = QT_SPLIT_TEST;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    int expected = 0;
    for (int v = 0; v < t.val_images; v++) {
        int s = sorted_label(&t, qt_synth_imagenet_val_class(&t, v));
        if (s == 1 || s == 4) {
            assert_int_equal(qt_dataset_label(ds, expected), s == 4);
            expected++;
        }
    }
    assert_true(expected > 0);
    assert_int_equal(qt_dataset_count(ds), expected);
    qt_dataset_free(ds);
    /* a class the dataset does not have, a class listed twice, and a count beside a list */
    n = snprintf(text, sizeof text, "%s\nn99999999\n", wnids[0]);
    assert_int_equal(qt_write_file_atomic(list, text, (size_t)n, &err), QT_OK);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: class 'n99999999' is not among the 6 classes of %s/train",
             list, root);
    assert_string_equal(err.msg, want);
    n = snprintf(text, sizeof text, "%s\n%s\n", wnids[2], wnids[2]);
    assert_int_equal(qt_write_file_atomic(list, text, (size_t)n, &err), QT_OK);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: class '%s' is listed twice", list, wnids[2]);
    assert_string_equal(err.msg, want);
    a.classes = 2;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    assert_string_equal(err.msg, "dataset imagenet: give either a class count or a class list, "
                                 "not both");
    a = (open_args){QT_DATASET_CIFAR10, QT_SPLIT_TEST, 0, 0, list, NULL};
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    assert_string_equal(err.msg, "dataset cifar10: a class list applies only to image_folder, "
                                 "imagenet and tiny_imagenet");
    tmpdir_remove(root);
}

/* root/rel as a path, its folder made. */
static void prepare_path(const char *root, const char *rel, char *path, size_t n)
{
    qt_error err;
    snprintf(path, n, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(qt_make_dirs(path, &err), QT_OK);
    *slash = '/';
}

static void write_jpeg(const char *root, const char *rel, uint64_t seed)
{
    char path[600];
    qt_error err;
    qt_synth_jpeg im = {{QT_JPEG_YCBCR, 0, 90, 1}, 24, 20, 16, 0, seed};
    prepare_path(root, rel, path, sizeof path);
    assert_int_equal(qt_synth_jpeg_write(path, &im, &err), QT_OK);
}

static void write_png(const char *root, const char *rel, uint64_t seed)
{
    char path[600];
    qt_error err;
    qt_synth_png im = {{6, 8, 0, 0}, 9, 7, seed};
    prepare_path(root, rel, path, sizeof path);
    assert_int_equal(qt_synth_png_write(path, &im, &err), QT_OK);
}

/* image_folder: PNG and JPEG in one class; val/ classes found by name, so a class missing
 * from val/ does not shift the others, a class only in val/ is an error, and a class left
 * out of the subset is passed over. */
static void test_image_folder_by_name(void **state)
{
    char root[256], want[1024];
    qt_error err;
    qt_dataset *ds;
    qt_image_reader rd = {0};
    qt_image got;
    assert_int_equal(tmpdir_make(root, sizeof root), 0);
    write_jpeg(root, "train/ant/1.jpg", 1);
    write_png(root, "train/ant/2.png", 2);
    write_jpeg(root, "train/bee/1.JPEG", 3);
    write_jpeg(root, "train/cat/1.jpeg", 4);
    write_jpeg(root, "val/ant/x.jpg", 5);
    write_png(root, "val/cat/y.PNG", 6);
    open_args a = {.kind = QT_DATASET_IMAGE_FOLDER, .split = QT_SPLIT_TRAIN};
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 4);
    assert_int_equal(qt_dataset_image(ds, 0, &rd, &got, &err), QT_OK);
    assert_int_equal(got.w, 24);
    assert_int_equal(qt_dataset_image(ds, 1, &rd, &got, &err), QT_OK);
    assert_int_equal(got.w, 9);
    qt_dataset_free(ds);
    a.split = QT_SPLIT_TEST;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_num_classes(ds), 3);
    assert_int_equal(qt_dataset_count(ds), 2);
    assert_int_equal(qt_dataset_label(ds, 0), 0);
    assert_int_equal(qt_dataset_label(ds, 1), 2); /* cat, though val/ has only two folders */
    qt_dataset_free(ds);
    a.classes = 2;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 1);
    qt_dataset_free(ds);
    a.classes = 0;
    write_jpeg(root, "val/dog/z.jpg", 7);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/val/dog: class 'dog' is not among the classes of %s/train",
             root, root);
    assert_string_equal(err.msg, want);
    a.kind = QT_DATASET_IMAGENET; /* the same rules, whatever the kind's name */
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    qt_image_reader_free(&rd);
    tmpdir_remove(root);
}

/* Label files that do not fit the images are rejected with the file and line. */
static void test_bad_label_files(void **state)
{
    char root[256], labels[512], want[1024];
    qt_error err;
    qt_dataset *ds;
    qt_synth_imagenet t = {3, 1, 4, 20, 30, 0, 0, 0, 0, QT_SYNTH_VAL_WNID_LIST, 8};
    char wnids[64][16];
    make_tree(root, sizeof root, &t);
    sorted_wnids(&t, wnids);
    snprintf(labels, sizeof labels, "%s/val_labels.txt", root);
    open_args a = {.kind = QT_DATASET_IMAGENET, .split = QT_SPLIT_TEST};
    const char *bad_label = "ILSVRC2012_val_00000001.JPEG 0\nILSVRC2012_val_00000002.JPEG 3\n";
    assert_int_equal(qt_write_file_atomic(labels, bad_label, strlen(bad_label), &err), QT_OK);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s:2: label '3' is neither a class name nor a class index below 3",
             labels);
    assert_string_equal(err.msg, want);
    char text[512];
    int n = snprintf(text, sizeof text, "ILSVRC2012_val_00000001.JPEG %s\n"
                     "ILSVRC2012_val_00000002.JPEG 1\nILSVRC2012_val_00000003.JPEG 2\n", wnids[0]);
    assert_int_equal(qt_write_file_atomic(labels, text, (size_t)n, &err), QT_OK);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/val/ILSVRC2012_val_00000004.JPEG: no label in %s", root,
             labels);
    assert_string_equal(err.msg, want);
    n = snprintf(text, sizeof text, "ILSVRC2012_val_00000001.JPEG 0\nILSVRC2012_val_00000001 1\n");
    assert_int_equal(qt_write_file_atomic(labels, text, (size_t)n, &err), QT_OK);
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: image 'ILSVRC2012_val_00000001' is listed twice", labels);
    assert_string_equal(err.msg, want);
    /* data.val_labels names a label file elsewhere; here one that is missing */
    a.val_labels = "/nonexistent/labels.txt";
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    assert_string_equal(err.msg, "/nonexistent/labels.txt: cannot open: No such file or directory");
    tmpdir_remove(root);
}

/* A JPEG whose header is cut off fails the open with its name (or is skipped); one cut in
 * its pixel data fails in the loader with its name (or is dropped and counted). */
static void test_bad_jpegs(void **state)
{
    char root[256], path[600], want[1024];
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(tmpdir_make(root, sizeof root), 0);
    for (int i = 0; i < 4; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "train/n01/%d.JPEG", i);
        write_jpeg(root, rel, 20 + (uint64_t)i);
    }
    uint8_t *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/train/n01/1.JPEG", root);
    assert_int_equal(qt_read_file(path, &buf, &len, &err), QT_OK);
    assert_int_equal(tmpdir_write(root, "train/n01/1.JPEG", buf, 100), 0);
    assert_int_equal(tmpdir_write(root, "train/n01/2.JPEG", buf, len / 2), 0);
    free(buf);
    open_args a = {.kind = QT_DATASET_IMAGENET, .split = QT_SPLIT_TRAIN};
    assert_int_equal(open_ds(root, a, &ds, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: truncated JPEG: no frame header", path);
    assert_string_equal(err.msg, want);
    qt_loader_config lc;
    qt_loader_config_init(&lc);
    lc.batch_size = 3;
    lc.shuffle = 0;
    qt_augment_preset(&lc.augment, QT_DATASET_IMAGENET, 1, 16);
    a.skip_bad = 1;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_dataset_count(ds), 3);
    assert_int_equal(qt_dataset_skipped(ds), 1);
    qt_loader *ld;
    qt_batch b;
    assert_int_equal(qt_loader_open(&ld, ds, &lc, &err), QT_OK);
    assert_int_equal(qt_loader_next(ld, &b, &err), 1);
    assert_int_equal(b.n, 2);
    assert_int_equal(qt_loader_skipped(ld), 1);
    qt_loader_free(ld);
    qt_dataset_free(ds);
    /* without skip_bad the loader stops at the damaged file */
    snprintf(path, sizeof path, "%s/train/n01/1.JPEG", root);
    assert_int_equal(remove(path), 0);
    a.skip_bad = 0;
    assert_int_equal(open_ds(root, a, &ds, &err), QT_OK);
    assert_int_equal(qt_loader_open(&ld, ds, &lc, &err), QT_OK);
    assert_int_equal(qt_loader_next(ld, &b, &err), QT_ERR);
    snprintf(want, sizeof want, "%s/train/n01/2.JPEG: corrupt JPEG: Premature end of JPEG file",
             root);
    assert_string_equal(err.msg, want);
    qt_loader_free(ld);
    qt_dataset_free(ds);
    tmpdir_remove(root);
}

/* Scaled decoding: the scale is the largest that keeps the box at least the output size,
 * and the loader's images with and without it agree closely (here exactly in the squares'
 * interiors, to the coding error). */
static void test_scaled_decode_in_loader(void **state)
{
    qt_augment_config ac;
    qt_augment_init(&ac);
    ac.out_h = ac.out_w = 32;
    qt_augmenter *aug;
    qt_error err;
    assert_int_equal(qt_augmenter_create(&aug, &ac, 3, 32, 32, &err), QT_OK);
    const struct { float bw, bh; int d; } cases[] = {
        {500, 375, 8}, {255, 300, 4}, {256, 256, 8}, {64, 64, 2}, {63.9f, 1000, 1},
        {100, 64, 2}, {127, 129, 2}, {31, 31, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_augment_params p = {0, 0, cases[i].bw, cases[i].bh, 0};
        assert_int_equal(qt_augment_decode_scale(aug, &p), cases[i].d);
    }
    qt_augmenter_free(aug);

    char root[256], path[600];
    assert_int_equal(tmpdir_make(root, sizeof root), 0);
    qt_synth_jpeg im = {{QT_JPEG_YCBCR, 1, 100, 1}, 512, 384, 128, 0, 3};
    snprintf(path, sizeof path, "%s/train/a", root);
    assert_int_equal(qt_make_dirs(path, &err), QT_OK);
    snprintf(path, sizeof path, "%s/train/a/big.jpg", root);
    assert_int_equal(qt_synth_jpeg_write(path, &im, &err), QT_OK);
    qt_dataset *ds;
    assert_int_equal(open_ds(root, (open_args){.kind = QT_DATASET_IMAGE_FOLDER, .split = QT_SPLIT_TRAIN}, &ds,
                             &err), QT_OK);
    float out[2][3 * 64 * 48];
    for (int scaled = 0; scaled < 2; scaled++) {
        qt_loader_config lc;
        qt_loader_config_init(&lc);
        lc.batch_size = 1;
        lc.scaled_decode = scaled;
        lc.augment.out_w = 64; /* the whole image shrunk 8 times: decoded at 1/8 */
        lc.augment.out_h = 48;
        qt_loader *ld;
        qt_batch b;
        assert_int_equal(qt_loader_open(&ld, ds, &lc, &err), QT_OK);
        assert_int_equal(qt_loader_next(ld, &b, &err), 1);
        memcpy(out[scaled], b.x, sizeof out[scaled]);
        qt_loader_free(ld);
    }
    /* inside each 16-pixel output square (a 128-pixel square of the image) both are the
     * square's colour */
    for (int by = 0; by < 3; by++)
        for (int bx = 0; bx < 4; bx++) {
            uint8_t want[3];
            qt_synth_jpeg_block_rgb(&im, bx, by, want);
            for (int c = 0; c < 3; c++)
                for (int y = by * 16 + 4; y < by * 16 + 12; y++)
                    for (int x = bx * 16 + 4; x < bx * 16 + 12; x++)
                        for (int s = 0; s < 2; s++)
                            assert_float_equal(out[s][(c * 48 + y) * 64 + x] * 255.0f, want[c],
                                               COLOUR_TOLERANCE);
        }
    qt_dataset_free(ds);
    tmpdir_remove(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ilsvrc_layouts),
        cmocka_unit_test(test_tiny_imagenet),
        cmocka_unit_test(test_class_list),
        cmocka_unit_test(test_image_folder_by_name),
        cmocka_unit_test(test_bad_label_files),
        cmocka_unit_test(test_bad_jpegs),
        cmocka_unit_test(test_scaled_decode_in_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Augmentation: crop offsets stay in range and reach both ends, crops and flips are exact,
 * normalisation gives the stated mean and std, resizing boxes follow their recipes, and a
 * fixed (seed, epoch, index) gives the same result. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/augment.h"
#include "qtrain/dataset.h"

static qt_augmenter *make(const qt_augment_config *cfg, int c, int h, int w)
{
    qt_augmenter *a;
    qt_error err;
    assert_int_equal(qt_augmenter_create(&a, cfg, c, h, w, &err), QT_OK);
    return a;
}

static qt_image chw_view(const uint8_t *px, int c, int h, int w)
{
    return (qt_image){px, c, h, w, (ptrdiff_t)h * w, w, 1};
}

static void test_pad_crop_offsets_in_range(void **state)
{
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_CIFAR10, 1, 0);
    qt_augmenter *a = make(&cfg, 3, 32, 32);
    qt_rng rng;
    qt_rng_seed(&rng, 1);
    int seen_x[9] = {0}, seen_y[9] = {0};
    for (int i = 0; i < 10000; i++) {
        qt_augment_params p;
        qt_augment_draw(a, 32, 32, &rng, &p);
        assert_true(p.x0 >= -4 && p.x0 <= 4 && p.y0 >= -4 && p.y0 <= 4);
        assert_true(p.x0 == floorf(p.x0) && p.y0 == floorf(p.y0));
        assert_true(p.bw == 32 && p.bh == 32);
        seen_x[(int)p.x0 + 4]++;
        seen_y[(int)p.y0 + 4]++;
    }
    /* each of the 9 offsets has probability 1/9: in 10000 draws every one appears */
    for (int k = 0; k < 9; k++) {
        assert_true(seen_x[k] > 0);
        assert_true(seen_y[k] > 0);
    }
    qt_augmenter_free(a);
}

/* A padded crop equals the window read by hand: pixels inside, normalised 0 outside. */
static void test_pad_crop_content(void **state)
{
    enum { C = 3, H = 6, W = 5 };
    uint8_t px[C * H * W];
    for (int i = 0; i < C * H * W; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_CIFAR10, 1, 0);
    cfg.pad = 2;
    qt_augmenter *a = make(&cfg, C, H, W);
    qt_image im = chw_view(px, C, H, W);
    float out[C * H * W];
    qt_augment_params p = {-2, 1, W, H, 0};
    qt_error err;
    assert_int_equal(qt_augment_apply(a, &im, &p, out, &err), QT_OK);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + 1, sx = x - 2;
                int v = sy < H && sx >= 0 ? px[(c * H + sy) * W + sx] : 0;
                float want = (v / 255.0f - cfg.mean[c]) / cfg.std[c];
                assert_float_equal(out[(c * H + y) * W + x], want, 1e-5);
            }
    qt_augmenter_free(a);
}

/* Flipping mirrors the unflipped output exactly, on the copy path and the resampling path. */
static void test_flip_exact(void **state)
{
    enum { C = 3, H = 9, W = 11 };
    uint8_t px[C * H * W];
    for (int i = 0; i < C * H * W; i++)
        px[i] = (uint8_t)(i * 91 + 5);
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_CIFAR10, 1, 0);
    qt_augmenter *a = make(&cfg, C, H, W);
    qt_image im = chw_view(px, C, H, W);
    const qt_augment_params boxes[] = {{-3, 2, W, H, 0}, {0.5f, 1.25f, 7.5f, 6.0f, 0}};
    qt_error err;
    for (int b = 0; b < 2; b++) {
        float plain[C * H * W], flipped[C * H * W];
        qt_augment_params p = boxes[b];
        assert_int_equal(qt_augment_apply(a, &im, &p, plain, &err), QT_OK);
        p.flip = 1;
        assert_int_equal(qt_augment_apply(a, &im, &p, flipped, &err), QT_OK);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    assert_true(flipped[(c * H + y) * W + x] == plain[(c * H + y) * W + W - 1 - x]);
    }
    qt_augmenter_free(a);
}

/* Flip has probability 1/2: 10000 draws give 5000 +- 5 sd (sd = 50). */
static void test_flip_probability(void **state)
{
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_CIFAR10, 1, 0);
    qt_augmenter *a = make(&cfg, 3, 32, 32);
    qt_rng rng;
    qt_rng_seed(&rng, 2);
    int flips = 0;
    for (int i = 0; i < 10000; i++) {
        qt_augment_params p;
        qt_augment_draw(a, 32, 32, &rng, &p);
        flips += p.flip;
    }
    assert_true(abs(flips - 5000) < 250);
    qt_augmenter_free(a);
}

/* Normalising with a dataset's own mean and std gives mean 0 and std 1 per channel. */
static void test_normalisation_stats(void **state)
{
    qt_dataset *ds;
    qt_error err;
    enum { N = 300, C = 3, H = 8, W = 8 };
    assert_int_equal(qt_dataset_synthetic(&ds, N, C, H, W, 10, 4, &err), QT_OK);
    double s[C] = {0}, s2[C] = {0};
    for (int i = 0; i < N; i++) {
        qt_image im;
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) {
                double v = im.data[c * H * W + p] / 255.0;
                s[c] += v;
                s2[c] += v * v;
            }
    }
    qt_augment_config cfg;
    qt_augment_init(&cfg);
    const double n = (double)N * H * W;
    for (int c = 0; c < C; c++) {
        cfg.mean[c] = (float)(s[c] / n);
        cfg.std[c] = (float)sqrt(s2[c] / n - (s[c] / n) * (s[c] / n));
    }
    qt_augmenter *a = make(&cfg, C, H, W);
    double o[C] = {0}, o2[C] = {0};
    float out[C * H * W];
    for (int i = 0; i < N; i++) {
        qt_image im;
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        assert_int_equal(qt_augment_image(a, &im, 1, 0, (uint64_t)i, out, &err), QT_OK);
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) {
                o[c] += out[c * H * W + p];
                o2[c] += (double)out[c * H * W + p] * out[c * H * W + p];
            }
    }
    for (int c = 0; c < C; c++) {
        assert_true(fabs(o[c] / n) < 1e-4);
        assert_true(fabs(sqrt(o2[c] / n - (o[c] / n) * (o[c] / n)) - 1.0) < 1e-4);
    }
    qt_augmenter_free(a);
    qt_dataset_free(ds);
}

static void test_cifar10_constants(void **state)
{
    float mean[3], std[3];
    qt_augment_norm_defaults(QT_DATASET_CIFAR10, mean, std);
    assert_float_equal(mean[0], 125.3 / 255, 1e-7);
    assert_float_equal(mean[2], 113.9 / 255, 1e-7);
    assert_float_equal(std[1], 62.1 / 255, 1e-7);
    assert_float_equal(std[2], 66.7 / 255, 1e-7);
}

static void test_same_seed_same_image(void **state)
{
    qt_dataset *ds;
    qt_error err;
    assert_int_equal(qt_dataset_synthetic(&ds, 20, 3, 32, 32, 10, 8, &err), QT_OK);
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_CIFAR10, 1, 0);
    qt_augmenter *a = make(&cfg, 3, 32, 32), *b = make(&cfg, 3, 32, 32);
    static float x[3072], y[3072];
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        qt_image im;
        assert_int_equal(qt_dataset_image(ds, i, NULL, &im, &err), QT_OK);
        assert_int_equal(qt_augment_image(a, &im, 99, 3, (uint64_t)i, x, &err), QT_OK);
        assert_int_equal(qt_augment_image(b, &im, 99, 3, (uint64_t)i, y, &err), QT_OK);
        assert_memory_equal(x, y, sizeof x);
        assert_int_equal(qt_augment_image(b, &im, 99, 4, (uint64_t)i, y, &err), QT_OK);
        differ += memcmp(x, y, sizeof x) != 0;
    }
    /* another epoch redraws: 162 crop/flip choices, so almost every image changes */
    assert_true(differ >= 15);
    qt_augmenter_free(a);
    qt_augmenter_free(b);
    qt_dataset_free(ds);
}

/* Random-resized boxes lie inside the image with area fraction and aspect ratio in range
 * (up to the rounding of the sides to whole pixels). */
static void test_random_resized_box(void **state)
{
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_IMAGE_FOLDER, 1, 24);
    qt_augmenter *a = make(&cfg, 3, 24, 24);
    qt_rng rng;
    qt_rng_seed(&rng, 5);
    const int H = 60, W = 100;
    for (int i = 0; i < 5000; i++) {
        qt_augment_params p;
        qt_augment_draw(a, H, W, &rng, &p);
        assert_true(p.x0 >= 0 && p.y0 >= 0 && p.x0 + p.bw <= W && p.y0 + p.bh <= H);
        assert_true(p.x0 == floorf(p.x0) && p.bw == floorf(p.bw));
        double area = p.bw * p.bh / (H * W), ratio = p.bw / p.bh;
        double slack = 1.0 / p.bw + 1.0 / p.bh;
        assert_true(area <= 1.0 && area >= 0.08 * (1 - 2 * slack));
        assert_true(ratio >= 0.75 * (1 - slack) && ratio <= 4.0 / 3.0 * (1 + slack));
    }
    qt_augmenter_free(a);
}

static void test_resize_center_box(void **state)
{
    qt_augment_config cfg;
    qt_augment_preset(&cfg, QT_DATASET_IMAGE_FOLDER, 0, 28);
    assert_int_equal(cfg.resize, 32);
    qt_augmenter *a = make(&cfg, 3, 28, 28);
    qt_rng rng;
    qt_rng_seed(&rng, 0);
    qt_augment_params p;
    qt_augment_draw(a, 100, 200, &rng, &p);
    /* shorter side 100 -> 32: the 28-pixel crop covers 28 / 0.32 = 87.5 source pixels */
    assert_float_equal(p.bw, 87.5f, 1e-4);
    assert_float_equal(p.bh, 87.5f, 1e-4);
    assert_float_equal(p.x0, 56.25f, 1e-4);
    assert_float_equal(p.y0, 6.25f, 1e-4);
    assert_int_equal(p.flip, 0);
    qt_augmenter_free(a);
}

/* Halving averages pixel pairs; doubling interpolates between pixel centres and repeats
 * the edges; a box of the output size at whole pixels copies. */
static void test_resample_values(void **state)
{
    const uint8_t px[4] = {0, 100, 200, 60};
    qt_image im = {px, 1, 2, 2, 4, 2, 1};
    qt_augment_config cfg;
    qt_augment_init(&cfg);
    cfg.out_h = cfg.out_w = 1;
    qt_augmenter *a = make(&cfg, 1, 2, 2);
    qt_augment_params p = {0, 0, 2, 2, 0};
    float out[4];
    qt_error err;
    assert_int_equal(qt_augment_apply(a, &im, &p, out, &err), QT_OK);
    assert_float_equal(out[0], 90.0f / 255, 1e-6);
    qt_augmenter_free(a);

    qt_image row = {px, 1, 1, 2, 2, 2, 1};
    cfg.out_h = 1;
    cfg.out_w = 4;
    a = make(&cfg, 1, 1, 2);
    p = (qt_augment_params){0, 0, 2, 1, 0};
    assert_int_equal(qt_augment_apply(a, &row, &p, out, &err), QT_OK);
    const float want[4] = {0, 25, 75, 100};
    for (int x = 0; x < 4; x++)
        assert_float_equal(out[x], want[x] / 255, 1e-6);
    qt_augmenter_free(a);
}

static void test_errors(void **state)
{
    qt_augment_config cfg;
    qt_augmenter *a;
    qt_error err;
    qt_augment_init(&cfg);
    cfg.std[1] = 0;
    assert_int_equal(qt_augmenter_create(&a, &cfg, 3, 8, 8, &err), QT_ERR);
    assert_string_equal(err.msg, "augment: channel 1 needs a finite mean and std > 0");
    qt_augment_init(&cfg);
    cfg.crop = QT_CROP_RESIZE_CENTER;
    assert_int_equal(qt_augmenter_create(&a, &cfg, 3, 8, 8, &err), QT_ERR);
    assert_string_equal(err.msg, "augment: resize-centre crop needs resize > 0");
    qt_augment_init(&cfg);
    a = make(&cfg, 3, 2, 2);
    const uint8_t px[4] = {0};
    qt_image grey = {px, 1, 2, 2, 4, 2, 1};
    float out[12];
    assert_int_equal(qt_augment_image(a, &grey, 0, 0, 0, out, &err), QT_ERR);
    assert_string_equal(err.msg, "augment: image has 1 channels, expected 3");
    qt_augmenter_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_crop_offsets_in_range),
        cmocka_unit_test(test_pad_crop_content),
        cmocka_unit_test(test_flip_exact),
        cmocka_unit_test(test_flip_probability),
        cmocka_unit_test(test_normalisation_stats),
        cmocka_unit_test(test_cifar10_constants),
        cmocka_unit_test(test_same_seed_same_image),
        cmocka_unit_test(test_random_resized_box),
        cmocka_unit_test(test_resize_center_box),
        cmocka_unit_test(test_resample_values),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

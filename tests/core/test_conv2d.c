/* conv2d forward and backward against a naive direct 7-loop convolution on random shapes
 * (odd sizes, strides 1-3, padding 0-2, groups), through every kernel path: each instruction
 * set this CPU has (portable C, AVX2, AVX-512), each algorithm (im2col; the direct one, with
 * stride 2 through phase planes;
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) for all three products, wherever they apply), serial
 * and on 3 workers. When the output has the input's shape the case runs again as x + conv(x), so dx
 * accumulates onto a gradient already written.
 * Tolerance 1e-4 relative to the magnitude of the sum (float32 reorders the additions). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/ops.h"
#include "qtrain/rng.h"
#include "qtrain/threads.h"
#include "naive_conv.h"
#include "test_tensor.h"

static void assert_close(const float *got, const double *want, size_t n, const char *what)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > 1e-4 * (scale + 1.0))
            fail_msg("%s[%zu]: got %g, want %g", what, i, (double)got[i], want[i]);
}

typedef struct {
    qt_isa isa;
    qt_conv_algo algo;
    int threads;
} kernel_path;

static void run_path(const shape_case *q, uint64_t seed, kernel_path path, int residual)
{
    qt_tensor *x = tt_uniform(4, (int[]){q->n, q->ci, q->h, q->w}, -1, 1, seed, 1);
    qt_tensor *w = tt_uniform(4, (int[]){q->co, q->ci / q->g, q->k, q->k}, -1, 1, seed + 1, 1);
    qt_tensor *b = tt_uniform(1, (int[]){q->co}, -1, 1, seed + 2, 1);
    x->grad = malloc(x->numel * sizeof(float));
    w->grad = malloc(w->numel * sizeof(float));
    b->grad = malloc(b->numel * sizeof(float));
    qt_ctx c;
    qt_ctx_init(&c);
    c.arena.poison = 1; /* NaN in every buffer a kernel should write before reading */
    c.conv_algo = path.algo;
    qt_error err;
    assert_int_equal(qt_ctx_set_isa(&c, path.isa, &err), QT_OK);
    assert_int_equal(qt_ctx_set_threads(&c, path.threads, &err), QT_OK);
    qt_tensor *y = qt_conv2d(&c, x, w, q->bias ? b : NULL, (qt_conv_spec){q->s, q->p, q->g});
    assert_non_null(y);
    double *ref = calloc(y->numel, sizeof(double));
    naive_conv_forward(q, x->data, w->data, q->bias ? b->data : NULL, ref);
    assert_close(y->data, ref, y->numel, "y");
    qt_tensor *out = residual ? qt_add(&c, y, x) : y;
    assert_non_null(out);

    float *dy = malloc(y->numel * sizeof(float));
    qt_rng r;
    qt_rng_seed(&r, seed + 3);
    for (size_t i = 0; i < y->numel; i++)
        dy[i] = qt_rng_uniform(&r) * 2 - 1;
    assert_int_equal(qt_backward_from(&c, out, dy, &err), QT_OK);
    double *dx = calloc(x->numel, sizeof(double)), *dw = calloc(w->numel, sizeof(double));
    double *db = calloc(b->numel, sizeof(double));
    naive_conv_backward(q, x->data, w->data, dy, dx, dw, db);
    for (size_t i = 0; residual && i < x->numel; i++)
        dx[i] += dy[i];
    assert_close(x->grad, dx, x->numel, "dx");
    assert_close(w->grad, dw, w->numel, "dw");
    if (q->bias)
        assert_close(b->grad, db, b->numel, "db");
    free(ref), free(dy), free(dx), free(dw), free(db);
    free(x->grad), free(w->grad), free(b->grad);
    tt_free(x), tt_free(w), tt_free(b);
    qt_ctx_free(&c);
}

static void run_case(const shape_case *q, uint64_t seed)
{
    const qt_isa isas[] = {QT_ISA_PORTABLE, QT_ISA_AVX2, QT_ISA_AVX512};
    const qt_conv_algo algos[] = {QT_CONV_IM2COL, QT_CONV_AUTO, QT_CONV_WINOGRAD,
                                   QT_CONV_WINOGRAD_F4};
    const int same = q->ci == q->co && q->s == 1 && 2 * q->p == q->k - 1;
    for (int i = 0; i < 3; i++) {
        if (!qt_isa_supported(isas[i]))
            continue;
        for (int a = 0; a < (int)(sizeof algos / sizeof *algos); a++)
            for (int t = 1; t <= 3; t += 2) {
                kernel_path path = {isas[i], algos[a], t};
                run_path(q, seed, path, 0);
                if (same)
                    run_path(q, seed, path, 1);
            }
    }
}

static void test_fixed_shapes(void **state)
{
    for (qt_isa isa = QT_ISA_PORTABLE; isa <= QT_ISA_AVX512; isa++)
        print_message("%s kernels: %s\n", qt_isa_name(isa),
                      qt_isa_supported(isa) ? "tested" : "not supported here, skipped");
    const shape_case cases[] = {
        {2, 3, 8, 8, 4, 3, 1, 1, 1, 1},   {3, 16, 9, 7, 8, 3, 2, 1, 1, 0},
        {1, 5, 11, 13, 7, 5, 3, 2, 1, 1}, {2, 8, 6, 6, 8, 1, 1, 0, 1, 0},
        {2, 6, 7, 7, 6, 3, 1, 1, 6, 1},   {2, 6, 9, 5, 4, 3, 2, 0, 2, 0},
        {1, 3, 13, 13, 64, 7, 2, 3, 1, 0}, {4, 2, 1, 1, 3, 1, 1, 0, 1, 1},
        /* direct-path shapes: odd widths, widths past one vector, row panels not a multiple
         * of 8, 5x5, grouped and depthwise, 1x1, enough images for multi-image tiles */
        {3, 5, 7, 9, 6, 3, 1, 1, 1, 1},   {2, 3, 17, 33, 20, 3, 1, 1, 1, 1},
        {2, 4, 5, 5, 4, 5, 1, 2, 2, 0},   {2, 6, 6, 6, 6, 3, 1, 1, 6, 0},
        {3, 6, 5, 7, 9, 1, 1, 0, 3, 1},   {9, 8, 4, 4, 8, 3, 1, 1, 1, 0},
        {2, 16, 8, 8, 16, 3, 1, 1, 1, 0}, {1, 2, 2, 1, 3, 3, 1, 1, 1, 1},
        /* weight gradients on padded planes (padded_planes.h): 5x5 on a wide image, grouped
         * 3x3 on 16x16, and stacked small images whose last tile fills its stack partly */
        {2, 3, 12, 20, 5, 5, 1, 2, 1, 1}, {3, 4, 16, 16, 6, 3, 1, 1, 2, 0},
        {10, 4, 6, 5, 5, 3, 1, 1, 1, 1},
        /* weights too large for cache: depth slices, and several images per weight sweep */
        {8, 128, 2, 3, 128, 3, 1, 1, 1, 1},
        /* Winograd weight gradients under AUTO with a direct forward (64 channels): rounds
         * of 5 odd-sized images and a short last round; channels in != out */
        {7, 64, 13, 13, 64, 3, 1, 1, 1, 1}, {5, 64, 6, 5, 80, 3, 1, 1, 1, 0},
        /* im2col tiles of several small images side by side (enough images per worker):
         * strided 3x3 and 1x1, grouped, bias, a short last tile */
        {18, 6, 6, 6, 8, 3, 2, 1, 1, 1},  {16, 8, 4, 5, 12, 1, 2, 0, 1, 0},
        {13, 6, 5, 5, 4, 3, 2, 1, 2, 1},
        /* Winograd chunks of tile rows across images, F(4x4) under AUTO (from 32 channels,
         * 8x8 and more): ragged edges (13x11), widths a multiple of 4, a chunk ending inside
         * an image */
        {6, 40, 13, 11, 36, 3, 1, 1, 1, 1}, {5, 32, 8, 12, 32, 3, 1, 1, 1, 0},
        /* F(4x4)'s transforms on whole planes in registers (AVX-512): 16x16 planes, and 8x8
         * ones by 4 with the rest of a task's images by the loops */
        {3, 32, 16, 16, 32, 3, 1, 1, 1, 1}, {9, 8, 8, 8, 8, 3, 1, 1, 1, 0},
        /* stride 2 on even sizes, read as phase planes (direct): ResNet's 16 -> 32 with
         * several images per backward tile, 5x5 grouped with bias on a non-square image,
         * a 7x7 stem, small images stacked in padded planes, depthwise, a 1x1 output */
        {9, 16, 32, 32, 32, 3, 2, 1, 1, 0}, {3, 4, 10, 12, 6, 5, 2, 2, 2, 1},
        {2, 3, 14, 14, 8, 7, 2, 3, 1, 0},   {20, 8, 8, 8, 16, 3, 2, 1, 1, 1},
        {2, 6, 8, 6, 6, 3, 2, 1, 6, 0},     {3, 4, 2, 2, 5, 3, 2, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i], 100 + i * 10);
}

static void test_random_shapes(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 2024);
    for (int t = 0; t < 25; t++) {
        shape_case q;
        q.k = 1 + 2 * (int)qt_rng_below(&r, 3);
        q.s = 1 + (int)qt_rng_below(&r, 3);
        q.p = (int)qt_rng_below(&r, (uint32_t)(q.k / 2 + 2));
        q.g = 1 + (int)qt_rng_below(&r, 3);
        q.ci = q.g * (1 + (int)qt_rng_below(&r, 4));
        q.co = q.g * (1 + (int)qt_rng_below(&r, 4));
        q.n = 1 + (int)qt_rng_below(&r, 3);
        q.h = q.k + (int)qt_rng_below(&r, 9);
        q.w = q.k + (int)qt_rng_below(&r, 9);
        q.bias = (int)qt_rng_below(&r, 2);
        run_case(&q, 500 + (uint64_t)t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_shapes),
        cmocka_unit_test(test_random_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Coded weights (int8 codes times a unit, tensor.h) give bitwise the results of their decoded
 * floats: conv2d forward, input and weight gradients through every kernel path (each
 * instruction set this CPU has; im2col, direct and Winograd; serial and on 3 workers), the
 * fused inference conv + batchnorm + ReLU, and linear forward and backward on shapes that take
 * several weight tiles. Decoding is one exact product, and the ops decode while packing, so
 * the products see the same floats in the same order: any difference is a bug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/ops.h"
#include "qtrain/rng.h"
#include "test_tensor.h"

/* Random codes in [-top, top] and the float tensor of their values; the coded twin shares
 * the shape and holds the codes. */
typedef struct {
    qt_tensor *f, coded;
    int8_t *codes;
} weight_pair;

static weight_pair weight_pair_make(int ndim, const int *shape, int top, float unit, uint64_t seed)
{
    weight_pair p;
    p.f = tt_uniform(ndim, shape, 0, 1, seed, 1);
    p.codes = malloc(p.f->numel);
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (size_t i = 0; i < p.f->numel; i++) {
        p.codes[i] = (int8_t)((int)qt_rng_below(&r, (uint32_t)(2 * top + 1)) - top);
        p.f->data[i] = (float)p.codes[i] * unit;
    }
    memset(&p.coded, 0, sizeof p.coded);
    qt_tensor_set_shape(&p.coded, ndim, shape);
    p.coded.codes = p.codes;
    p.coded.code_unit = unit;
    p.coded.requires_grad = 1;
    return p;
}

static void weight_pair_free(weight_pair *p)
{
    tt_free(p->f);
    free(p->codes);
}

/* One op run's outputs, copied out of the context. */
typedef struct {
    float *y, *dx, *dw;
    size_t ny;
} op_result;

static float *copy_of(const float *v, size_t n)
{
    float *c = malloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    return c;
}

static void result_free(op_result *r)
{
    free(r->y), free(r->dx), free(r->dw);
}

static void assert_same(const op_result *a, const op_result *b, size_t nx, size_t nw, const char *what)
{
    assert_int_equal(a->ny, b->ny);
    if (memcmp(a->y, b->y, a->ny * sizeof(float)))
        fail_msg("%s: forward differs", what);
    if (a->dx && memcmp(a->dx, b->dx, nx * sizeof(float)))
        fail_msg("%s: input gradient differs", what);
    if (a->dw && memcmp(a->dw, b->dw, nw * sizeof(float)))
        fail_msg("%s: weight gradient differs", what);
}

typedef struct {
    qt_isa isa;
    qt_conv_algo algo;
    int threads;
} kernel_path;

static void ctx_for(qt_ctx *c, kernel_path path)
{
    qt_error err;
    qt_ctx_init(c);
    c->arena.poison = 1;
    c->conv_algo = path.algo;
    assert_int_equal(qt_ctx_set_isa(c, path.isa, &err), QT_OK);
    assert_int_equal(qt_ctx_set_threads(c, path.threads, &err), QT_OK);
}

/* Forward and backward of one op on x and w (float or coded), dy from a fixed stream. */
static op_result run_op(kernel_path path, qt_tensor *x, qt_tensor *w, qt_tensor *b,
                        const qt_conv_spec *conv)
{
    qt_ctx c;
    ctx_for(&c, path);
    x->grad = NULL;
    x->grad_written = 0;
    w->grad = NULL;
    w->grad_written = 0;
    qt_tensor *y = conv ? qt_conv2d(&c, x, w, b, *conv) : qt_linear(&c, x, w, b);
    assert_non_null(y);
    float *dy = malloc(y->numel * sizeof *dy);
    qt_rng r;
    qt_rng_seed(&r, 77);
    for (size_t i = 0; i < y->numel; i++)
        dy[i] = qt_rng_uniform(&r) * 2 - 1;
    qt_error err;
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    op_result res = {copy_of(y->data, y->numel), copy_of(x->grad, x->numel),
                     copy_of(w->grad, w->numel), y->numel};
    free(dy);
    qt_ctx_free(&c);
    return res;
}

typedef struct {
    int n, ci, h, w, co, k, s, p, g;
} conv_case;

static void conv_case_run(const conv_case *q, uint64_t seed)
{
    const qt_isa isas[] = {QT_ISA_PORTABLE, QT_ISA_AVX2, QT_ISA_AVX512};
    const qt_conv_algo algos[] = {QT_CONV_IM2COL, QT_CONV_DIRECT, QT_CONV_WINOGRAD,
                                   QT_CONV_WINOGRAD_F4};
    qt_tensor *x = tt_uniform(4, (int[]){q->n, q->ci, q->h, q->w}, -1, 1, seed, 1);
    qt_tensor *b = tt_uniform(1, (int[]){q->co}, -1, 1, seed + 1, 0);
    weight_pair w = weight_pair_make(4, (int[]){q->co, q->ci / q->g, q->k, q->k}, 7, 0.0371f, seed + 2);
    const qt_conv_spec spec = {q->s, q->p, q->g};
    for (int i = 0; i < 3; i++) {
        if (!qt_isa_supported(isas[i]))
            continue;
        for (int a = 0; a < (int)(sizeof algos / sizeof *algos); a++)
            for (int t = 1; t <= 3; t += 2) {
                kernel_path path = {isas[i], algos[a], t};
                op_result rf = run_op(path, x, w.f, b, &spec), rc = run_op(path, x, &w.coded, b, &spec);
                assert_same(&rf, &rc, x->numel, w.f->numel, "conv2d");
                result_free(&rf), result_free(&rc);
            }
    }
    weight_pair_free(&w);
    tt_free(x), tt_free(b);
}

static void test_conv2d_coded_equals_float(void **state)
{
    const conv_case cases[] = {
        {2, 16, 8, 8, 16, 3, 1, 1, 1},   /* direct or Winograd, as forced */
        {3, 8, 9, 7, 12, 3, 2, 1, 1},    /* strided: im2col */
        {2, 6, 7, 7, 6, 3, 1, 1, 3},     /* grouped */
        {2, 10, 5, 6, 7, 1, 1, 0, 1},    /* 1x1 */
        {2, 4, 6, 5, 4, 5, 1, 2, 1},     /* 5x5 direct */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_case_run(&cases[i], 300 + 10 * i);
}

/* The inference path folds batchnorm and ReLU into the conv's epilogue. */
static void test_fused_inference_coded_equals_float(void **state)
{
    enum { N = 2, C = 16, H = 8, CO = 24 };
    qt_tensor *x = tt_uniform(4, (int[]){N, C, H, H}, -1, 1, 41, 0);
    qt_tensor *gamma = tt_uniform(1, (int[]){CO}, 0.5f, 1.5f, 42, 0);
    qt_tensor *beta = tt_uniform(1, (int[]){CO}, -0.5f, 0.5f, 43, 0);
    qt_tensor *stats_t = tt_uniform(1, (int[]){2 * CO}, 0.2f, 1.0f, 44, 0);
    qt_bn_stats stats = {stats_t->data, stats_t->data + CO, 0.1f, 1e-5f};
    weight_pair w = weight_pair_make(4, (int[]){CO, C, 3, 3}, 1, 0.25f, 45);
    w.coded.requires_grad = w.f->requires_grad = 0;
    const qt_conv_algo algos[] = {QT_CONV_IM2COL, QT_CONV_DIRECT, QT_CONV_WINOGRAD,
                                   QT_CONV_WINOGRAD_F4};
    for (int a = 0; a < (int)(sizeof algos / sizeof *algos); a++) {
        float *y[2];
        for (int k = 0; k < 2; k++) {
            qt_ctx c;
            ctx_for(&c, (kernel_path){QT_ISA_AUTO, algos[a], 2});
            c.grad_enabled = c.training = 0;
            qt_tensor *out = qt_conv2d_bn_relu(&c, x, k ? &w.coded : w.f, NULL, (qt_conv_spec){1, 1, 1},
                                               gamma, beta, &stats, NULL, 1);
            assert_non_null(out);
            y[k] = copy_of(out->data, out->numel);
            qt_ctx_free(&c);
        }
        assert_memory_equal(y[0], y[1], (size_t)N * CO * H * H * sizeof(float));
        free(y[0]), free(y[1]);
    }
    weight_pair_free(&w);
    tt_free(x), tt_free(gamma), tt_free(beta), tt_free(stats_t);
}

/* in = 3000: several row tiles in the forward; out = 40000: several column tiles for dx (of
 * at least 32 columns: in = 100), the last one short in both. */
static void test_linear_coded_equals_float(void **state)
{
    const int shapes[][3] = {{4, 3000, 200}, {3, 100, 40000}, {5, 33, 17}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const int n = shapes[i][0], in = shapes[i][1], out = shapes[i][2];
        qt_tensor *x = tt_uniform(2, (int[]){n, in}, -1, 1, 50 + i, 1);
        qt_tensor *b = tt_uniform(1, (int[]){out}, -1, 1, 60 + i, 0);
        weight_pair w = weight_pair_make(2, (int[]){out, in}, 127, 0.0011f, 70 + i);
        for (int t = 1; t <= 3; t += 2) {
            kernel_path path = {QT_ISA_AUTO, QT_CONV_AUTO, t};
            op_result rf = run_op(path, x, w.f, b, NULL), rc = run_op(path, x, &w.coded, b, NULL);
            assert_same(&rf, &rc, x->numel, w.f->numel, "linear");
            result_free(&rf), result_free(&rc);
        }
        weight_pair_free(&w);
        tt_free(x), tt_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_coded_equals_float),
        cmocka_unit_test(test_fused_inference_coded_equals_float),
        cmocka_unit_test(test_linear_coded_equals_float),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

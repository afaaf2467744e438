/* Finite-difference gradient check of every op with respect to every input.
 *
 * Tolerance: float32 kernels, central differences with eps = 1e-3, pass when
 * |analytic - numeric| <= 2e-3 + 2e-2 * max(|analytic|, |numeric|). Inputs of piecewise ops
 * are chosen away from their kinks (|x| >= 0.05 for relu, distinct values spaced 0.01 for
 * max pool) so that x +- eps never crosses one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/gradcheck.h"
#include "qtrain/ops.h"
#include "test_tensor.h"

static qt_gradcheck_opts opts(void)
{
    qt_gradcheck_opts o = qt_gradcheck_defaults();
    o.atol = 2e-3;
    o.rtol = 2e-2;
    o.max_checks = 60;
    return o;
}

static void check(qt_gradcheck_fn fn, void *user, qt_tensor **in, int n, qt_gradcheck_opts o)
{
    qt_gradcheck_report rep;
    qt_error err;
    int rc = qt_gradcheck(fn, user, in, n, &o, &rep, &err);
    if (rc != QT_OK)
        fail_msg("%s", err.msg);
    if (rep.failed)
        fail_msg("%d of %d elements failed; first: %s", rep.failed, rep.checked, rep.first_failure);
    assert_true(rep.checked > 0);
}

static void free_all(qt_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        tt_free(t[i]);
}

/* ---- linear ---- */
static qt_tensor *fn_linear(qt_ctx *c, qt_tensor *const *in, void *u)
{
    return qt_linear(c, in[0], in[1], u ? in[2] : NULL);
}

static void test_linear(void **state)
{
    for (int bias = 0; bias < 2; bias++) {
        qt_tensor *in[3] = {tt_uniform(2, (int[]){5, 7}, -1, 1, 1, 1),
                            tt_uniform(2, (int[]){4, 7}, -1, 1, 2, 1),
                            tt_uniform(1, (int[]){4}, -1, 1, 3, 1)};
        check(fn_linear, bias ? (void *)1 : NULL, in, bias ? 3 : 2, opts());
        free_all(in, 3);
    }
}

/* ---- conv2d ---- */
typedef struct {
    qt_conv_spec spec;
    int bias;
} conv_case;

static qt_tensor *fn_conv(qt_ctx *c, qt_tensor *const *in, void *u)
{
    const conv_case *cc = u;
    return qt_conv2d(c, in[0], in[1], cc->bias ? in[2] : NULL, cc->spec);
}

static void run_conv_case(int n, int cin, int h, int w, int cout, int k, conv_case cc, uint64_t seed)
{
    int g = cc.spec.groups;
    qt_tensor *in[3] = {tt_uniform(4, (int[]){n, cin, h, w}, -1, 1, seed, 1),
                        tt_uniform(4, (int[]){cout, cin / g, k, k}, -1, 1, seed + 1, 1),
                        tt_uniform(1, (int[]){cout}, -1, 1, seed + 2, 1)};
    check(fn_conv, &cc, in, cc.bias ? 3 : 2, opts());
    free_all(in, 3);
}

static void test_conv2d(void **state)
{
    run_conv_case(2, 3, 7, 6, 4, 3, (conv_case){{1, 1, 1}, 1}, 10);   /* 3x3 pad 1 with bias */
    run_conv_case(2, 3, 8, 7, 5, 3, (conv_case){{2, 1, 1}, 0}, 20);   /* stride 2 and padding */
    run_conv_case(1, 4, 5, 5, 3, 1, (conv_case){{1, 0, 1}, 1}, 30);   /* 1x1 (no patch matrix) */
    run_conv_case(2, 2, 9, 9, 3, 5, (conv_case){{2, 2, 1}, 0}, 40);   /* 5x5 stride 2 pad 2 */
    run_conv_case(1, 3, 7, 7, 2, 1, (conv_case){{2, 0, 1}, 0}, 50);   /* 1x1 stride 2 (option B) */
    run_conv_case(2, 4, 6, 6, 4, 3, (conv_case){{1, 1, 4}, 0}, 60);   /* depthwise */
    run_conv_case(1, 4, 6, 5, 6, 3, (conv_case){{2, 1, 2}, 1}, 70);   /* 2 groups */
    run_conv_case(2, 5, 7, 6, 5, 3, (conv_case){{2, 1, 5}, 0}, 80);   /* depthwise stride 2 (CP middle conv) */
}

/* ---- batchnorm ---- */
typedef struct {
    float mean[8], var[8];
    qt_bn_stats st;
} bn_case;

static qt_tensor *fn_bn(qt_ctx *c, qt_tensor *const *in, void *u)
{
    return qt_batchnorm(c, in[0], in[1], in[2], &((bn_case *)u)->st);
}

static void run_bn(int ndim, const int *shape, int training)
{
    bn_case bc = {{0}, {0}, {bc.mean, bc.var, 0.1f, 1e-5f}};
    bc.st.running_mean = bc.mean;
    bc.st.running_var = bc.var;
    int ch = shape[1];
    for (int i = 0; i < ch; i++) {
        bc.mean[i] = 0.1f * i;
        bc.var[i] = 0.5f + 0.2f * i;
    }
    qt_tensor *in[3] = {tt_uniform(ndim, shape, -2, 2, 100 + ndim, 1),
                        tt_uniform(1, &ch, 0.5f, 1.5f, 200, 1),
                        tt_uniform(1, &ch, -1, 1, 300, 1)};
    qt_gradcheck_opts o = opts();
    o.training = training;
    check(fn_bn, &bc, in, 3, o);
    free_all(in, 3);
}

static void test_batchnorm(void **state)
{
    run_bn(4, (int[]){3, 4, 3, 5}, 1);   /* 2-d, training: batch statistics */
    run_bn(2, (int[]){6, 5}, 1);         /* 1-d, training */
    run_bn(4, (int[]){2, 3, 4, 4}, 0);   /* eval: running statistics */
}

/* ---- pointwise ---- */
static qt_tensor *fn_relu(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_relu(c, in[0]); }
static qt_tensor *fn_hardtanh(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_hardtanh(c, in[0]); }
static qt_tensor *fn_add(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_add(c, in[0], in[1]); }
/* The same tensor used twice: d(x + x)/dx = 2 (gradients of a reused tensor are summed). */
static qt_tensor *fn_add_self(qt_ctx *c, qt_tensor *const *in, void *u)
{
    qt_tensor *r = qt_relu(c, in[0]);
    return qt_add(c, r, r);
}
static qt_tensor *fn_dropout(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_dropout(c, in[0], 0.3f); }

static void test_pointwise(void **state)
{
    int shape[4] = {2, 3, 4, 5};
    qt_tensor *a = tt_away_from_zero(4, shape, 0.05f, 2.0f, 1, 1);
    check(fn_relu, NULL, &a, 1, opts());
    /* hardtanh: values away from 0 and from +-1 */
    for (size_t i = 0; i < a->numel; i++)
        if (a->data[i] > 0.95f && a->data[i] < 1.05f)
            a->data[i] = 0.5f;
        else if (a->data[i] < -0.95f && a->data[i] > -1.05f)
            a->data[i] = -0.5f;
    check(fn_hardtanh, NULL, &a, 1, opts());
    qt_tensor *in[2] = {a, tt_uniform(4, shape, -1, 1, 2, 1)};
    check(fn_add, NULL, in, 2, opts());
    check(fn_add_self, NULL, &a, 1, opts());
    check(fn_dropout, NULL, &a, 1, opts());
    free_all(in, 2);
}

/* ---- pooling ---- */
typedef struct {
    int k, s, p;
} pool_case;

static qt_tensor *fn_maxpool(qt_ctx *c, qt_tensor *const *in, void *u)
{
    const pool_case *pc = u;
    return qt_maxpool2d(c, in[0], pc->k, pc->s, pc->p);
}
static qt_tensor *fn_avgpool(qt_ctx *c, qt_tensor *const *in, void *u)
{
    const pool_case *pc = u;
    return qt_avgpool2d(c, in[0], pc->k, pc->s, pc->p);
}
static qt_tensor *fn_gap(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_global_avgpool(c, in[0]); }

static void test_pooling(void **state)
{
    pool_case cases[] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {5, 2, 2}};
    for (int i = 0; i < 4; i++) {
        qt_tensor *x = tt_distinct(4, (int[]){2, 3, 7, 6}, 0.01f, 5 + i, 1);
        check(fn_maxpool, &cases[i], &x, 1, opts());
        check(fn_avgpool, &cases[i], &x, 1, opts());
        tt_free(x);
    }
    qt_tensor *x = tt_uniform(4, (int[]){2, 3, 5, 4}, -1, 1, 9, 1);
    check(fn_gap, NULL, &x, 1, opts());
    tt_free(x);
}

/* Ties: the finite difference is undefined at a tie, so check the stated rule instead: the
 * whole gradient of a window goes to its first maximum, and raising that element by eps raises
 * the output by eps (the one-sided derivative is 1). */
static void test_maxpool_ties(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    float xv[16] = {1, 1, 0, 0, 1, 1, 0, 0, 2, 0, 3, 3, 0, 2, 3, 3};
    qt_tensor *x = qt_tensor_wrap(&c, xv, 4, (int[]){1, 1, 4, 4});
    x->requires_grad = 1;
    float gx[16];
    x->grad = gx;
    qt_tensor *y = qt_maxpool2d(&c, x, 2, 2, 0);
    float dy[4] = {1, 10, 100, 1000};
    qt_error err;
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    float expect[16] = {1, 0, 10, 0, 0, 0, 0, 0, 100, 0, 1000, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        assert_float_equal(gx[i], expect[i], 0.0f);
    qt_ctx_reset(&c);
    xv[0] += 1e-3f;
    x = qt_tensor_wrap(&c, xv, 4, (int[]){1, 1, 4, 4});
    y = qt_maxpool2d(&c, x, 2, 2, 0);
    assert_float_equal(y->data[0], 1.0f + 1e-3f, 1e-7f);
    qt_ctx_free(&c);
}

/* The 2x2 stride-2 window has a branch-free kernel of its own: against a naive first-maximum
 * reference on values with many ties (three levels), odd sizes (the last row and column
 * fall outside every window) and two workers, outputs and routed gradients must agree exactly. */
static void test_maxpool2x2_reference(void **state)
{
    enum { N = 2, C = 3, H = 9, W = 7, OH = H / 2, OW = W / 2 };
    float xv[N * C * H * W], gx[N * C * H * W], dy[N * C * OH * OW];
    uint32_t r = 12345;
    for (int i = 0; i < N * C * H * W; i++) {
        r = r * 1664525u + 1013904223u;
        xv[i] = (float)(r >> 30) - 1.0f;  /* -1, 0, 1 or 2 */
    }
    for (int i = 0; i < N * C * OH * OW; i++)
        dy[i] = (float)(i + 1);
    qt_ctx c;
    qt_error err;
    qt_ctx_init(&c);
    assert_int_equal(qt_ctx_set_threads(&c, 2, &err), QT_OK);
    qt_tensor *x = qt_tensor_wrap(&c, xv, 4, (int[]){N, C, H, W});
    x->requires_grad = 1;
    x->grad = gx;
    qt_tensor *y = qt_maxpool2d(&c, x, 2, 2, 0);
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    float expect_g[N * C * H * W] = {0};
    for (int pl = 0; pl < N * C; pl++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *xp = xv + pl * H * W;
                int at = (2 * oy) * W + 2 * ox;
                for (int q = 1; q < 4; q++) {
                    int cand = (2 * oy + q / 2) * W + 2 * ox + q % 2;
                    if (xp[cand] > xp[at])
                        at = cand;
                }
                int o = (pl * OH + oy) * OW + ox;
                assert_float_equal(y->data[o], xp[at], 0.0f);
                expect_g[pl * H * W + at] += dy[o];
            }
    for (int i = 0; i < N * C * H * W; i++)
        assert_float_equal(gx[i], expect_g[i], 0.0f);
    /* x pooled twice and summed: the second pool's gradient accumulates onto the first's,
     * leaving the elements no window routes to as the first left them */
    qt_ctx_reset(&c);
    x = qt_tensor_wrap(&c, xv, 4, (int[]){N, C, H, W});
    x->requires_grad = 1;
    x->grad = gx;
    y = qt_add(&c, qt_maxpool2d(&c, x, 2, 2, 0), qt_maxpool2d(&c, x, 2, 2, 0));
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    for (int i = 0; i < N * C * H * W; i++)
        assert_float_equal(gx[i], 2.0f * expect_g[i], 0.0f);
    qt_ctx_free(&c);
}

/* ---- shortcut, reshape ---- */
static qt_tensor *fn_shortcut(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_shortcut_pad(c, in[0], 8, 2); }
static qt_tensor *fn_flatten(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_flatten(c, in[0]); }

static void test_shortcut_and_reshape(void **state)
{
    qt_tensor *x = tt_uniform(4, (int[]){2, 4, 5, 6}, -1, 1, 3, 1);
    check(fn_shortcut, NULL, &x, 1, opts());
    check(fn_flatten, NULL, &x, 1, opts());
    tt_free(x);
}

/* Option A places x[:, :, ::2, ::2] in the middle channels. */
static void test_shortcut_values(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* (1, 2, 2, 2) */
    qt_tensor *y = qt_shortcut_pad(&c, qt_tensor_wrap(&c, xv, 4, (int[]){1, 2, 2, 2}), 4, 2);
    assert_int_equal(y->shape[1], 4);
    assert_int_equal(y->shape[2], 1);
    float expect[4] = {0, 1, 5, 0};
    for (int i = 0; i < 4; i++)
        assert_float_equal(y->data[i], expect[i], 0.0f);
    qt_ctx_free(&c);
}

/* ---- losses ---- */
static const int32_t labels5[5] = {0, 3, 2, 2, 1};
static qt_tensor *fn_xent(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_cross_entropy(c, in[0], labels5); }
static qt_tensor *fn_hinge(qt_ctx *c, qt_tensor *const *in, void *u) { return qt_squared_hinge(c, in[0], labels5); }

static void test_losses(void **state)
{
    qt_tensor *z = tt_uniform(2, (int[]){5, 4}, -3, 3, 4, 1);
    check(fn_xent, NULL, &z, 1, opts());
    /* hinge kink at t*y = 1: keep |y| away from 1 */
    for (size_t i = 0; i < z->numel; i++)
        if (z->data[i] > 0.9f && z->data[i] < 1.1f)
            z->data[i] = 0.5f;
        else if (z->data[i] < -0.9f && z->data[i] > -1.1f)
            z->data[i] = -0.5f;
    check(fn_hinge, NULL, &z, 1, opts());
    tt_free(z);
}

/* Logits of 1e4 give a finite loss equal to the exact log-sum-exp value. */
static void test_cross_entropy_large_logits(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    float zv[6] = {1e4f, 0.0f, -1e4f, 1e4f, 1e4f - 1.0f, 0.0f};
    int32_t y[2] = {1, 0};
    qt_tensor *loss = qt_cross_entropy(&c, qt_tensor_wrap(&c, zv, 2, (int[]){2, 3}), y);
    /* row 0: 1e4 - 0 = 1e4; row 1: log(1 + e^-1) */
    double expect = (1e4 + log1p(exp(-1.0))) / 2.0;
    assert_true(isfinite(loss->data[0]));
    assert_float_equal(loss->data[0], expect, 1e-3 * expect);
    qt_ctx_free(&c);
}

static void test_top1(void **state)
{
    float zv[6] = {0.1f, 0.9f, 0.0f, 2.0f, 2.0f, 1.0f};
    qt_tensor z = {.data = zv, .ndim = 2, .shape = {2, 3, 1, 1}, .numel = 6};
    assert_int_equal(qt_top1_correct(&z, (int32_t[]){1, 0}), 2); /* tie: first index wins */
    assert_int_equal(qt_top1_correct(&z, (int32_t[]){2, 1}), 0);
}

/* Top-5 by hand. Row 0 ranks classes 1, 5, 2, 3 (tie with 2, larger index after), 0, 6, 4;
 * row 1 is a seven-way tie, ranked by index; row 2 has a NaN logit for class 0, which never
 * counts as correct and never ranks ahead of another class. */
static void test_top5(void **state)
{
    float nan = NAN;
    float zv[21] = {0.5f, 3.0f, 1.0f, 1.0f, -2.0f, 2.0f, 0.0f,
                    1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
                    nan,  0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    qt_tensor z = {.data = zv, .ndim = 2, .shape = {3, 7, 1, 1}, .numel = 21};
    int32_t a[3] = {0, 4, 1}, b[3] = {6, 5, 0}, c[3] = {3, 0, 1};
    assert_int_equal(qt_topk_correct(&z, a, 5), 3); /* ranks 5, 5, 1 */
    assert_int_equal(qt_topk_correct(&z, a, 1), 1);
    assert_int_equal(qt_topk_correct(&z, a, 4), 1);
    assert_int_equal(qt_topk_correct(&z, b, 5), 0); /* ranks 6, 6, NaN */
    assert_int_equal(qt_topk_correct(&z, b, 7), 2);
    assert_int_equal(qt_topk_correct(&z, c, 5), 3); /* ranks 4, 1, 1 */
    assert_int_equal(qt_topk_correct(&z, c, 3), 2);
    assert_int_equal(qt_top1_correct(&z, c), 2);
}

/* A shape mismatch fails the context with a message and yields NULL downstream. */
/* A max pool's argmax is kept as the place in its window, one byte: the widest window allowed
 * (16) reaches place 255; a wider one is refused. On x[i] = i every 16x16 window's maximum is
 * its bottom-right element. */
static void test_maxpool_window_limit(void **state)
{
    enum { H = 17, K = QT_MAXPOOL_MAX_K };
    qt_ctx c;
    qt_ctx_init(&c);
    float x[H * H];
    for (int i = 0; i < H * H; i++)
        x[i] = (float)i;
    qt_tensor *xt = qt_tensor_wrap(&c, x, 4, (int[]){1, 1, H, H});
    assert_null(qt_maxpool2d(&c, xt, K + 1, 1, 0));
    assert_true(qt_ctx_failed(&c));
    assert_non_null(strstr(c.err.msg, "maxpool2d: window 17"));
    qt_ctx_reset(&c);
    xt = qt_tensor_wrap(&c, x, 4, (int[]){1, 1, H, H});
    xt->requires_grad = 1;
    qt_tensor *y = qt_maxpool2d(&c, xt, K, 1, 0);
    assert_non_null(y);
    const float dout[4] = {1, 2, 3, 4};
    qt_error err;
    assert_int_equal(qt_backward_from(&c, y, dout, &err), QT_OK);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            int at = (oy + K - 1) * H + ox + K - 1;
            assert_float_equal(y->data[oy * 2 + ox], x[at], 0);
            assert_float_equal(xt->grad[at], dout[oy * 2 + ox], 0);
        }
    float total = 0;
    for (int i = 0; i < H * H; i++)
        total += xt->grad[i];
    assert_float_equal(total, 10, 0);
    qt_ctx_free(&c);
}

static void test_shape_error_propagates(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    qt_tensor *x = qt_tensor_new2(&c, 2, 3), *w = qt_tensor_new2(&c, 4, 5);
    qt_tensor *y = qt_relu(&c, qt_linear(&c, x, w, NULL));
    assert_null(y);
    assert_true(qt_ctx_failed(&c));
    assert_non_null(strstr(c.err.msg, "linear: input of 3 features, weight expects 5"));
    qt_ctx_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_pointwise),
        cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_maxpool_ties),
        cmocka_unit_test(test_maxpool2x2_reference),
        cmocka_unit_test(test_maxpool_window_limit),
        cmocka_unit_test(test_shortcut_and_reshape),
        cmocka_unit_test(test_shortcut_values),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_cross_entropy_large_logits),
        cmocka_unit_test(test_top1),
        cmocka_unit_test(test_top5),
        cmocka_unit_test(test_shape_error_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

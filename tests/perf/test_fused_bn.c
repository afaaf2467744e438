/* The fused batchnorm + [residual add] + ReLU against the same ops run one by one
 * (batchnorm, add, relu, each checked by finite differences in tests/core), forward and
 * backward, training and eval, 4-D and 2-D, a residual that is x itself, serial and on
 * 3 workers; plus a finite-difference check of the fused op itself, and the batch statistics
 * a conv2d hands to the batchnorm that reads its output against those computed from scratch.
 * For inference, conv2d + batchnorm + [add] + [ReLU] in one op against the same chain, and
 * a whole net walked fused against the unfused walk.
 *
 * Tolerances: the fused kernels do the same float operations as the chain except that the
 * gradient sums may be added in another order, so outputs must agree to 1e-6 and gradients
 * to 1e-5 relative to the largest magnitude. Threads only split channels and planes, so a
 * 3-worker run must reproduce the serial one bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/core/ctx_step.h"
#include "qtrain/gradcheck.h"
#include "qtrain/models.h"
#include "qtrain/ops.h"
#include "qtrain/rng.h"
#include "test_tensor.h"

enum { X, GAMMA, BETA, RES, NIN };

typedef struct {
    int ndim, shape[4];
    int training, residual, residual_is_x, threads;
} bn_case;

/* Outputs of one forward + backward: y, the running stats after it, and every gradient. */
typedef struct {
    float *y, *rm, *rv, *grad[NIN];
} bn_result;

static void result_free(bn_result *r)
{
    free(r->y), free(r->rm), free(r->rv);
    for (int i = 0; i < NIN; i++)
        free(r->grad[i]);
}

static float *copy_of(const float *p, size_t n)
{
    float *q = malloc(n * sizeof *q);
    memcpy(q, p, n * sizeof *q);
    return q;
}

static bn_result run(const bn_case *q, qt_tensor **in, int fused)
{
    const int ch = q->shape[1];
    float rm[64], rv[64];
    for (int i = 0; i < ch; i++) {
        rm[i] = 0.05f * i;
        rv[i] = 0.8f + 0.1f * i;
    }
    qt_bn_stats st = {rm, rv, 0.1f, 1e-5f};
    for (int i = 0; i < NIN; i++) {
        free(in[i]->grad);
        in[i]->grad = malloc(in[i]->numel * sizeof(float));
        in[i]->grad_written = 0;
    }
    qt_ctx c;
    qt_ctx_init(&c);
    c.arena.poison = 1;
    c.training = q->training;
    qt_error err;
    assert_int_equal(qt_ctx_set_threads(&c, q->threads, &err), QT_OK);
    qt_tensor *r = !q->residual ? NULL : q->residual_is_x ? in[X] : in[RES];
    qt_tensor *y;
    if (fused) {
        y = qt_batchnorm_relu(&c, in[X], in[GAMMA], in[BETA], &st, r);
    } else {
        y = qt_batchnorm(&c, in[X], in[GAMMA], in[BETA], &st);
        y = qt_relu(&c, r ? qt_add(&c, y, r) : y);
    }
    assert_non_null(y);
    float *dy = malloc(y->numel * sizeof *dy);
    qt_rng g;
    qt_rng_seed(&g, 77);
    for (size_t i = 0; i < y->numel; i++)
        dy[i] = 2 * qt_rng_uniform(&g) - 1;
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    bn_result res = {copy_of(y->data, y->numel), copy_of(rm, ch), copy_of(rv, ch), {0}};
    for (int i = 0; i < NIN; i++)
        if (in[i]->grad_written)
            res.grad[i] = copy_of(in[i]->grad, in[i]->numel);
    free(dy);
    qt_ctx_free(&c);
    return res;
}

static void assert_close(const float *got, const float *want, size_t n, double rel, const char *what)
{
    assert_true((got == NULL) == (want == NULL));
    if (!got)
        return;
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rel * (scale + 1e-30)))
            fail_msg("%s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], (double)want[i]);
}

static void assert_identical(const float *got, const float *want, size_t n, const char *what)
{
    assert_true((got == NULL) == (want == NULL));
    if (got && memcmp(got, want, n * sizeof *got) != 0)
        fail_msg("%s differs between serial and threaded runs", what);
}

static qt_tensor **inputs(const bn_case *q, uint64_t seed)
{
    qt_tensor **in = calloc(NIN, sizeof *in);
    int ch = q->shape[1];
    in[X] = tt_uniform(q->ndim, q->shape, -2, 3, seed, 1);
    in[GAMMA] = tt_uniform(1, &ch, 0.5f, 1.5f, seed + 1, 1);
    in[BETA] = tt_uniform(1, &ch, -0.5f, 0.5f, seed + 2, 1);
    in[RES] = tt_uniform(q->ndim, q->shape, -1, 1, seed + 3, 1);
    return in;
}

static void check_case(bn_case q, uint64_t seed)
{
    qt_tensor **in = inputs(&q, seed);
    size_t n = in[X]->numel, ch = (size_t)q.shape[1];
    size_t sizes[NIN] = {n, ch, ch, n};
    bn_result want = run(&q, in, 0), got = run(&q, in, 1);
    assert_close(got.y, want.y, n, 1e-6, "y");
    assert_close(got.rm, want.rm, ch, 1e-6, "running mean");
    assert_close(got.rv, want.rv, ch, 1e-6, "running var");
    const char *names[NIN] = {"dx", "dgamma", "dbeta", "dresidual"};
    for (int i = 0; i < NIN; i++)
        assert_close(got.grad[i], want.grad[i], sizes[i], 1e-5, names[i]);
    q.threads = 3;
    bn_result par = run(&q, in, 1);
    assert_identical(par.y, got.y, n, "y");
    for (int i = 0; i < NIN; i++)
        assert_identical(par.grad[i], got.grad[i], sizes[i], names[i]);
    result_free(&want), result_free(&got), result_free(&par);
    for (int i = 0; i < NIN; i++) {
        free(in[i]->grad);
        tt_free(in[i]);
    }
    free(in);
}

static void test_matches_unfused_chain(void **state)
{
    const bn_case cases[] = {
        {4, {4, 3, 5, 7}, 1, 0, 0, 1},  {4, {4, 3, 5, 7}, 1, 1, 0, 1},
        {4, {3, 16, 8, 8}, 1, 1, 0, 1}, {4, {2, 5, 3, 3}, 0, 1, 0, 1},
        {4, {2, 5, 3, 3}, 0, 0, 0, 1},  {2, {9, 6}, 1, 1, 0, 1},
        {2, {9, 6}, 1, 0, 0, 1},        {4, {3, 4, 2, 5}, 1, 1, 1, 1},
        {4, {5, 2, 17, 1}, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_case(cases[i], 10 + 10 * i);
}

/* Backward without a residual recomputes the ReLU's mask from x, as a x + b with the
 * forward's a and b (batchnorm.c). Half of each plane here sits within a few ulps of the
 * kink (x near -b / a, eval mode: run()'s running statistics, so a and b are known), where
 * a rounding that differs from the forward's, e.g. an FMA in one loop only, would flip the
 * mask of some elements: their dx would then differ from the chain's by gamma invstd dy. */
static void test_relu_mask_at_the_kink(void **state)
{
    const bn_case q = {4, {2, 3, 4, 4}, 0, 0, 0, 1};
    qt_tensor **in = inputs(&q, 90);
    const int ch = q.shape[1];
    const size_t s = 16, n = in[X]->numel;
    int near_zero = 0;
    for (size_t i = 0; i < n; i++) {
        const int c = (int)(i / s % ch);
        const float a = in[GAMMA]->data[c] * (1.0f / sqrtf(0.8f + 0.1f * c + 1e-5f));
        const float b = in[BETA]->data[c] - a * (0.05f * c);
        if (i % 2)
            continue;
        float x = -b / a;
        for (int step = 0; step < (int)(i / 2 % 7); step++)
            x = nextafterf(x, i % 4 ? INFINITY : -INFINITY);
        in[X]->data[i] = x;
        near_zero += fabsf(a * x + b) < 1e-6f;
    }
    assert_true(near_zero > (int)n / 4);
    size_t sizes[NIN] = {n, (size_t)ch, (size_t)ch, n};
    bn_result want = run(&q, in, 0), got = run(&q, in, 1);
    assert_close(got.y, want.y, n, 1e-6, "y");
    const char *names[NIN] = {"dx", "dgamma", "dbeta", "dresidual"};
    for (int i = 0; i < NIN; i++)
        assert_close(got.grad[i], want.grad[i], sizes[i], 1e-5, names[i]);
    result_free(&want), result_free(&got);
    for (int i = 0; i < NIN; i++) {
        free(in[i]->grad);
        tt_free(in[i]);
    }
    free(in);
}

/* ---- finite differences ---- */

typedef struct {
    float mean[4], var[4];
    qt_bn_stats st;
} stats_holder;

static qt_tensor *fn_fused(qt_ctx *c, qt_tensor *const *in, void *u)
{
    return qt_batchnorm_relu(c, in[X], in[GAMMA], in[BETA], &((stats_holder *)u)->st, in[RES]);
}

/* The residual is chosen as v - batchnorm(x) with |v| in [0.2, 1], so every pre-activation
 * sits at least 0.2 from the ReLU's kink; a 1e-3 step in x moves batchnorm(x) by about
 * 1e-3 * gamma / std(x) < 0.01, never across it. */
static void test_finite_differences(void **state)
{
    const int shape[4] = {3, 4, 3, 3}, ch = 4;
    stats_holder sh = {{0}, {1, 1, 1, 1}, {NULL, NULL, 0.1f, 1e-5f}};
    sh.st.running_mean = sh.mean;
    sh.st.running_var = sh.var;
    qt_tensor *in[NIN] = {tt_uniform(4, shape, -2, 2, 5, 1), tt_uniform(1, &ch, 0.5f, 1.5f, 6, 1),
                          tt_uniform(1, &ch, -0.5f, 0.5f, 7, 1),
                          tt_away_from_zero(4, shape, 0.2f, 1.0f, 8, 1)};
    qt_ctx c;
    qt_ctx_init(&c);
    qt_tensor *bn = qt_batchnorm(&c, in[X], in[GAMMA], in[BETA], &sh.st);
    for (size_t i = 0; i < in[RES]->numel; i++)
        in[RES]->data[i] -= bn->data[i];
    qt_ctx_free(&c);
    qt_gradcheck_opts o = qt_gradcheck_defaults();
    o.atol = 2e-3;
    o.rtol = 2e-2;
    qt_gradcheck_report rep;
    qt_error err;
    assert_int_equal(qt_gradcheck(fn_fused, &sh, in, NIN, &o, &rep, &err), QT_OK);
    if (rep.failed)
        fail_msg("%d of %d elements failed; first: %s", rep.failed, rep.checked, rep.first_failure);
    assert_int_equal(rep.checked, 108 + 4 + 4 + 108); /* every element of every input */
    for (int i = 0; i < NIN; i++)
        tt_free(in[i]);
}

/* conv2d leaves its output's per-plane moments in the context (training); a batchnorm of
 * that output uses them, one of a copy of it cannot: both must give the same normalised
 * values and running statistics (to 1e-5: the moments are summed in another order). */
static void test_statistics_from_conv(void **state)
{
    enum { N = 5, CI = 3, CO = 6, H = 7, W = 9 };
    qt_tensor *x = tt_uniform(4, (int[]){N, CI, H, W}, -1, 2, 41, 0);
    qt_tensor *w = tt_uniform(4, (int[]){CO, CI, 3, 3}, -0.5f, 1, 42, 0);
    qt_tensor *g = tt_uniform(1, (int[]){CO}, 0.5f, 1.5f, 43, 0);
    qt_tensor *b = tt_uniform(1, (int[]){CO}, -1, 1, 44, 0);
    float rm[2][CO] = {{0}}, rv[2][CO] = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
    qt_bn_stats st0 = {rm[0], rv[0], 0.1f, 1e-5f}, st1 = {rm[1], rv[1], 0.1f, 1e-5f};
    qt_ctx c;
    qt_ctx_init(&c);
    qt_tensor *y = qt_conv2d(&c, x, w, NULL, (qt_conv_spec){1, 1, 1});
    assert_ptr_equal(c.step->plane_moments.of, y);   /* the hand-off under test */
    qt_tensor *copy = qt_tensor_new(&c, 4, y->shape);
    memcpy(copy->data, y->data, y->numel * sizeof(float));
    qt_tensor *a = qt_batchnorm(&c, y, g, b, &st0), *r = qt_batchnorm(&c, copy, g, b, &st1);
    assert_close(a->data, r->data, a->numel, 1e-5, "normalised");
    assert_close(rm[0], rm[1], CO, 1e-5, "running mean");
    assert_close(rv[0], rv[1], CO, 1e-5, "running var");
    tt_free(x), tt_free(w), tt_free(g), tt_free(b);
    qt_ctx_free(&c);
}

typedef struct {
    int n, ci, h, w, co, k, stride, pad, groups, bias, residual, relu;
} conv_case;

static void check_conv_bn(const conv_case *q, uint64_t seed)
{
    qt_tensor *x = tt_uniform(4, (int[]){q->n, q->ci, q->h, q->w}, -1, 1, seed, 0);
    qt_tensor *w = tt_uniform(4, (int[]){q->co, q->ci / q->groups, q->k, q->k}, -1, 1, seed + 1, 0);
    qt_tensor *b = tt_uniform(1, (int[]){q->co}, -1, 1, seed + 2, 0);
    qt_tensor *g = tt_uniform(1, (int[]){q->co}, 0.5f, 1.5f, seed + 3, 0);
    qt_tensor *be = tt_uniform(1, (int[]){q->co}, -1, 1, seed + 4, 0);
    float rm[16], rv[16];
    for (int o = 0; o < q->co; o++) {
        rm[o] = 0.1f * o - 0.3f;
        rv[o] = 0.5f + 0.2f * o;
    }
    qt_bn_stats st = {rm, rv, 0.1f, 1e-5f};
    qt_conv_spec spec = {q->stride, q->pad, q->groups};
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    qt_tensor *z = qt_conv2d(&c, x, w, q->bias ? b : NULL, spec);
    qt_tensor *r = q->residual ? qt_tensor_new(&c, 4, z->shape) : NULL;
    for (size_t i = 0; r && i < r->numel; i++)
        r->data[i] = (float)((i * 7919) % 13) / 6.5f - 1.0f;
    qt_tensor *want = qt_batchnorm(&c, z, g, be, &st);
    if (r)
        want = qt_add(&c, want, r);
    if (q->relu)
        want = qt_relu(&c, want);
    qt_tensor *got = qt_conv2d_bn_relu(&c, x, w, q->bias ? b : NULL, spec, g, be, &st, r, q->relu);
    assert_non_null(got);
    assert_close(got->data, want->data, want->numel, 1e-6, "conv_bn_relu");
    tt_free(x), tt_free(w), tt_free(b), tt_free(g), tt_free(be);
    qt_ctx_free(&c);
}

static void test_conv_bn_relu_inference(void **state)
{
    const conv_case cases[] = {
        {3, 4, 9, 7, 6, 3, 1, 1, 1, 0, 0, 1}, {2, 5, 8, 8, 5, 3, 1, 1, 1, 1, 1, 1},
        {2, 6, 9, 9, 8, 3, 2, 1, 2, 0, 0, 1}, {2, 4, 6, 5, 4, 1, 1, 0, 1, 0, 1, 0},
        {1, 3, 7, 7, 3, 3, 1, 1, 3, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_conv_bn(&cases[i], 50 + 10 * i);
}

/* A ResNet with BN running statistics away from their initial values, evaluated by the
 * fused walk (qt_net_forward) and by the unfused one (qt_net_run with every output). */
static void test_inference_walk(void **state)
{
    enum { N = 3, S = 8, K = 10 };
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("resnet20", 3, S, S, K);
    qt_net *net = qt_model_build(&spec, &err);
    assert_non_null(net);
    qt_net_init_params(net, 4);
    qt_rng r;
    qt_rng_seed(&r, 12);
    for (int i = 0; i < net->nlayers; i++)
        for (int ch = 0; net->layers[i].kind == QT_LAYER_BATCHNORM && ch < net->layers[i].out_c; ch++) {
            net->layers[i].bn.running_mean[ch] = 0.2f * qt_rng_normal(&r);
            net->layers[i].bn.running_var[ch] = 0.5f + qt_rng_uniform(&r);
        }
    float x[N * 3 * S * S];
    for (int i = 0; i < N * 3 * S * S; i++)
        x[i] = qt_rng_normal(&r);
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    qt_tensor *in = qt_tensor_wrap(&c, x, 4, (int[]){N, 3, S, S});
    qt_tensor **outs = qt_ctx_alloc(&c, (size_t)net->nlayers * sizeof *outs);
    qt_tensor *want = qt_net_run(&c, net, in, net->nlayers, outs);
    qt_tensor *got = qt_net_forward(&c, net, in);
    assert_non_null(want);
    assert_non_null(got);
    assert_close(got->data, want->data, want->numel, 1e-5, "logits");
    qt_ctx_free(&c);
    qt_net_free(net);
}

static void test_shape_errors(void **state)
{
    float m[2] = {0}, v[2] = {1, 1};
    qt_bn_stats st = {m, v, 0.1f, 1e-5f};
    qt_tensor *x = tt_uniform(4, (int[]){2, 2, 3, 3}, -1, 1, 1, 0);
    qt_tensor *r = tt_uniform(4, (int[]){2, 2, 3, 2}, -1, 1, 2, 0);
    qt_tensor *g = tt_uniform(1, (int[]){2}, 1, 1, 3, 0);
    qt_ctx c;
    qt_ctx_init(&c);
    assert_null(qt_batchnorm_relu(&c, x, g, g, &st, r));
    assert_string_equal(c.err.msg, "batchnorm_relu: residual 2x2x3x2 does not match input 2x2x3x3");
    tt_free(x), tt_free(r), tt_free(g);
    qt_ctx_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_unfused_chain),
        cmocka_unit_test(test_relu_mask_at_the_kink),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_statistics_from_conv),
        cmocka_unit_test(test_conv_bn_relu_inference),
        cmocka_unit_test(test_inference_walk),
        cmocka_unit_test(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

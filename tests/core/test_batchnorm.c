/* Batchnorm running statistics against the hand-computed exponential average, and the eval
 * path using them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/ops.h"
#include "test_tensor.h"

/* After 5 training steps with momentum m the running mean is
 *   r_t = (1-m) r_{t-1} + m mean_t,  r_0 = 0,
 * and the running variance uses the unbiased batch variance (M/(M-1)) var_t, r_0 = 1. */
static void test_running_stats_exponential_average(void **state)
{
    enum { N = 4, C = 3, H = 2, W = 3, STEPS = 5 };
    float rm[C] = {0, 0, 0}, rv[C] = {1, 1, 1};
    qt_bn_stats st = {rm, rv, 0.1f, 1e-5f};
    double expect_m[C] = {0, 0, 0}, expect_v[C] = {1, 1, 1};
    qt_tensor *gamma = tt_uniform(1, (int[]){C}, 1, 1, 1, 0);
    qt_tensor *beta = tt_uniform(1, (int[]){C}, 0, 0, 1, 0);
    qt_ctx c;
    qt_ctx_init(&c);
    for (int step = 0; step < STEPS; step++) {
        qt_tensor *x = tt_uniform(4, (int[]){N, C, H, W}, -2.0f + step, 3.0f + 2 * step, 10 + step, 0);
        const int M = N * H * W;
        for (int ch = 0; ch < C; ch++) {
            double s = 0, s2 = 0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < H * W; k++) {
                    double v = x->data[(n * C + ch) * H * W + k];
                    s += v;
                    s2 += v * v;
                }
            double mean = s / M, var = s2 / M - mean * mean;
            expect_m[ch] = 0.9 * expect_m[ch] + 0.1 * mean;
            expect_v[ch] = 0.9 * expect_v[ch] + 0.1 * var * M / (M - 1);
        }
        qt_ctx_reset(&c);
        assert_non_null(qt_batchnorm(&c, x, gamma, beta, &st));
        tt_free(x);
    }
    for (int ch = 0; ch < C; ch++) {
        assert_float_equal(rm[ch], expect_m[ch], 1e-5);
        assert_float_equal(rv[ch], expect_v[ch], 1e-4);
    }
    /* eval: y = (x - running_mean) / sqrt(running_var + eps), stats untouched */
    c.training = 0;
    qt_ctx_reset(&c);
    qt_tensor *x = tt_uniform(4, (int[]){1, C, 1, 1}, -1, 1, 99, 0);
    qt_tensor *y = qt_batchnorm(&c, x, gamma, beta, &st);
    for (int ch = 0; ch < C; ch++) {
        assert_float_equal(y->data[ch], (x->data[ch] - expect_m[ch]) / sqrt(expect_v[ch] + 1e-5), 1e-4);
        assert_float_equal(rm[ch], expect_m[ch], 1e-5);
    }
    tt_free(x), tt_free(gamma), tt_free(beta);
    qt_ctx_free(&c);
}

/* Training-mode output has per-channel mean beta and variance gamma^2 var/(var+eps). */
static void test_training_output_normalised(void **state)
{
    enum { N = 8, C = 2, S = 9 };
    float rm[C] = {0}, rv[C] = {1, 1};
    qt_bn_stats st = {rm, rv, 0.1f, 1e-5f};
    float g[C] = {2.0f, 0.5f}, b[C] = {1.0f, -3.0f};
    qt_ctx c;
    qt_ctx_init(&c);
    qt_tensor *x = tt_uniform(4, (int[]){N, C, 3, 3}, -5, 7, 3, 0);
    qt_tensor *y = qt_batchnorm(&c, x, qt_tensor_wrap(&c, g, 1, (int[]){C}),
                                qt_tensor_wrap(&c, b, 1, (int[]){C}), &st);
    for (int ch = 0; ch < C; ch++) {
        double s = 0, s2 = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                double v = y->data[(n * C + ch) * S + k];
                s += v;
                s2 += v * v;
            }
        double mean = s / (N * S), var = s2 / (N * S) - mean * mean;
        assert_float_equal(mean, b[ch], 1e-4);
        assert_float_equal(var, g[ch] * g[ch], 1e-3);
    }
    tt_free(x);
    qt_ctx_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_stats_exponential_average),
        cmocka_unit_test(test_training_output_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

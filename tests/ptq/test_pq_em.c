/* Activation-weighted k-means of product quantization: the activation metric changes the
 * assignment for the better, the objective never increases, empty clusters are always
 * resolved, the M-step is the least-squares solution, the centroid clamp. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/pq_em.h"

/* A layer of `rows` outputs, each one block of d = fan_in values: n_sub = rows. */
static qt_pq_shape one_block_shape(int rows, int d, int k)
{
    qt_pq_shape s = {rows, d, d, 1, k};
    return s;
}

/* m samples of d features, feature-major, feature t scaled by scale[t]. */
static qt_layer_inputs gaussian_inputs(int d, int m, const double *scale, uint64_t seed)
{
    qt_layer_inputs x = {malloc(sizeof(float) * d * m), d, m};
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (int t = 0; t < d; t++)
        for (int i = 0; i < m; i++)
            x.xt[(size_t)t * m + i] = (float)(scale[t] * qt_rng_normal(&r));
    return x;
}

static qt_pq_em_opts full_batch_opts(int iters, int weighted)
{
    qt_pq_em_opts o = qt_pq_em_defaults();
    o.iters = iters;
    o.sample = 0;             /* the same activations every iteration */
    o.eval_sample = 0;
    o.weighted = weighted;
    return o;
}

/* Four groups of 5 subvectors near the corners (+-1, +-5). The inputs vary along the first
 * coordinate only (std 1 against 0.01), so the outputs see the first coordinate and hardly
 * the second. From the same start, c = (1, 5) and (-1, -5), plain k-means splits the groups
 * by the second coordinate (the large one in weight space) while the activation-weighted
 * E-step splits them by the first, and its output error is far lower. */
static void test_weighted_assignment_differs_and_is_better(void **state)
{
    const int n = 20, d = 2, k = 2;
    float w[20 * 2];
    qt_rng r;
    qt_rng_seed(&r, 5);
    for (int j = 0; j < n; j++) {
        int g = j / 5;        /* 0: (1, 5), 1: (1, -5), 2: (-1, 5), 3: (-1, -5) */
        w[j * d] = (g < 2 ? 1.0f : -1.0f) + 0.01f * qt_rng_normal(&r);
        w[j * d + 1] = (g % 2 == 0 ? 5.0f : -5.0f) + 0.01f * qt_rng_normal(&r);
    }
    const float init[4] = {1.0f, 5.0f, -1.0f, -5.0f};
    qt_layer_inputs x = gaussian_inputs(d, 400, (double[]){1.0, 0.01}, 7);
    qt_pq_shape s = one_block_shape(n, d, k);
    float cw[4], cp[4];
    int32_t aw[20], ap[20];
    qt_pq_em_stats st = {0};
    qt_error err;
    qt_pq_em_opts o = full_batch_opts(10, 1);
    o.init = init;
    assert_int_equal(qt_pq_em(w, &s, &x, &o, cw, aw, &st, &err), QT_OK);
    o.weighted = 0;
    assert_int_equal(qt_pq_em(w, &s, NULL, &o, cp, ap, &st, &err), QT_OK);
    /* weighted: (1, +-5) together; plain: (+-1, 5) together */
    assert_int_equal(aw[0], aw[5]);
    assert_int_not_equal(aw[0], aw[10]);
    assert_int_equal(ap[0], ap[10]);
    assert_int_not_equal(ap[0], ap[5]);
    double g[4];
    qt_pq_gram(x.xt, x.m, d, 1, NULL, 0, g);
    double out_w = qt_pq_objective(w, &s, cw, aw, g), out_p = qt_pq_objective(w, &s, cp, ap, g);
    double wt_w = qt_pq_objective(w, &s, cw, aw, NULL), wt_p = qt_pq_objective(w, &s, cp, ap, NULL);
    print_message("output error: weighted %.4g, plain %.4g; weight error: %.4g, %.4g\n", out_w,
                  out_p, wt_w, wt_p);
    /* G ~ 400 diag(1, 1e-4): plain leaves |dx0| = 1 on all 20 (about 8000), weighted
     * |dx1| = 5 (about 20) */
    assert_true(out_w < out_p / 100.0);
    assert_true(wt_p < wt_w);   /* plain k-means does win its own, weight-space, objective */
    free(x.xt);
}

/* With the same activations every iteration, neither the E-step nor the M-step can raise
 * the objective: up to the float rounding of the centroids (relative 1e-6 allowed), the
 * trace never increases, and it does decrease overall. */
static void test_objective_never_increases(void **state)
{
    const int rows = 32, d = 9, nb = 4, k = 16, m = 300, iters = 30;
    qt_pq_shape s = {rows, d * nb, d, nb, k};
    float *w = malloc(sizeof(float) * rows * d * nb);
    qt_rng r;
    qt_rng_seed(&r, 11);
    for (int i = 0; i < rows * d * nb; i++)
        w[i] = 0.1f * qt_rng_normal(&r);
    /* correlated inputs: each feature mixes a shared factor, so G is far from diagonal */
    qt_layer_inputs x = {malloc(sizeof(float) * d * nb * m), d * nb, m};
    for (int i = 0; i < m; i++) {
        float shared = qt_rng_normal(&r);
        for (int t = 0; t < d * nb; t++)
            x.xt[(size_t)t * m + i] = shared * (float)(t % 3) + 0.5f * qt_rng_normal(&r);
    }
    double trace[30];
    float c[16 * 9];
    int32_t a[128];
    qt_pq_em_stats st = {trace, 0, 0, 0, 0};
    qt_error err;
    qt_pq_em_opts o = full_batch_opts(iters, 1);
    assert_int_equal(qt_pq_em(w, &s, &x, &o, c, a, &st, &err), QT_OK);
    for (int t = 1; t < iters; t++)
        if (trace[t] > trace[t - 1] * (1.0 + 1e-6))
            fail_msg("iteration %d: objective %.9g after %.9g", t, trace[t], trace[t - 1]);
    assert_true(trace[iters - 1] < 0.95 * trace[0]);
    double g[81];
    qt_pq_gram(x.xt, m, d, nb, NULL, 0, g);
    assert_float_equal(st.last, qt_pq_objective(w, &s, c, a, g), 1e-9 * st.last);
    assert_true(st.first == trace[0] && st.last == trace[iters - 1]);
    free(w);
    free(x.xt);
}

static void assert_all_clusters_used(const int32_t *a, int n, int k)
{
    int *count = calloc((size_t)k, sizeof *count);
    for (int j = 0; j < n; j++) {
        assert_in_range(a[j], 0, k - 1);
        count[a[j]]++;
    }
    for (int c = 0; c < k; c++)
        if (!count[c])
            fail_msg("cluster %d of %d is empty", c, k);
    free(count);
}

/* Every start collapses into one cluster (all k centroids equal): splitting the most
 * populated cluster must leave k non-empty clusters after every iteration's E-step, and it
 * took at least k - 1 splits. Half of the subvectors are exact copies of one vector, which a
 * perturbation cannot split: the farthest-member fallback still fills every cluster. */
static void test_empty_clusters_are_split(void **state)
{
    const int n = 64, d = 4, k = 16;
    float w[64 * 4], init[16 * 4], c[16 * 4];
    int32_t a[64];
    qt_rng r;
    qt_rng_seed(&r, 3);
    for (int j = 0; j < n; j++)
        for (int t = 0; t < d; t++)
            w[j * d + t] = j < n / 2 ? 0.25f : qt_rng_normal(&r);
    for (int i = 0; i < k * d; i++)
        init[i] = 0.25f;      /* on top of the 32 copies */
    qt_layer_inputs x = gaussian_inputs(d, 200, (double[]){1, 1, 1, 1}, 9);
    qt_pq_shape s = one_block_shape(n, d, k);
    qt_pq_em_stats st = {0};
    qt_error err;
    for (int iters = 1; iters <= 5; iters += 4) {
        qt_pq_em_opts o = full_batch_opts(iters, 1);
        o.init = init;
        assert_int_equal(qt_pq_em(w, &s, &x, &o, c, a, &st, &err), QT_OK);
        assert_all_clusters_used(a, n, k);
        assert_true(st.splits >= k - 1);
    }
    free(x.xt);
}

/* A feature that is zero in every sample leaves A without full column rank. The least-squares
 * centroid is then the projection of the cluster mean onto A's row space: exactly 0 on that
 * feature, the mean on the others. */
static void test_m_step_is_least_squares(void **state)
{
    const int n = 40, d = 3, k = 1;
    float w[40 * 3], c[3];
    int32_t a[40];
    double mean[3] = {0, 0, 0};
    qt_rng r;
    qt_rng_seed(&r, 21);
    for (int j = 0; j < n; j++)
        for (int t = 0; t < d; t++) {
            w[j * d + t] = 1.0f + qt_rng_normal(&r);
            mean[t] += w[j * d + t] / n;
        }
    qt_layer_inputs x = gaussian_inputs(d, 100, (double[]){1.0, 2.0, 0.0}, 4);
    qt_pq_shape s = one_block_shape(n, d, k);
    qt_pq_em_stats st = {0};
    qt_error err;
    qt_pq_em_opts o = full_batch_opts(2, 1);
    assert_int_equal(qt_pq_em(w, &s, &x, &o, c, a, &st, &err), QT_OK);
    assert_true(c[2] == 0.0f);
    assert_float_equal(c[0], mean[0], 1e-5);
    assert_float_equal(c[1], mean[1], 1e-5);
    assert_int_equal(st.rank_deficient, 2);
    /* full rank: the plain mean */
    free(x.xt);
    x = gaussian_inputs(d, 100, (double[]){1.0, 2.0, 0.5}, 4);
    assert_int_equal(qt_pq_em(w, &s, &x, &o, c, a, &st, &err), QT_OK);
    assert_float_equal(c[2], mean[2], 1e-5);
    assert_int_equal(st.rank_deficient, 0);
    free(x.xt);
}

static void test_bad_arguments(void **state)
{
    float w[8] = {0}, c[8];
    int32_t a[4];
    qt_pq_em_stats st = {0};
    qt_error err;
    qt_pq_shape s = one_block_shape(4, 2, 8);
    qt_pq_em_opts o = full_batch_opts(1, 0);
    assert_int_equal(qt_pq_em(w, &s, NULL, &o, c, a, &st, &err), QT_ERR);
    assert_string_equal(err.msg, "pq: 4 subvectors for 8 centroids");
    s.k = 2;
    o.weighted = 1;
    assert_int_equal(qt_pq_em(w, &s, NULL, &o, c, a, &st, &err), QT_ERR);
    assert_string_equal(err.msg, "pq: the activations have 0 features and 0 samples, the layer takes 2 inputs");
    s.fan_in = 3;
    assert_int_equal(qt_pq_em(w, &s, NULL, &o, c, a, &st, &err), QT_ERR);
    assert_string_equal(err.msg, "pq: 4 outputs of 3 inputs in 1 blocks of 2, 2 centroids: not a valid layout");
}

/* min(k, the largest power of two strictly below n_sub / 4), as kill-the-bits' bisect_left. */
static void test_centroid_clamp(void **state)
{
    assert_int_equal(qt_pq_clamp_centroids(256, 4096, 4), 256);   /* 1024 -> 512 */
    assert_int_equal(qt_pq_clamp_centroids(256, 256, 4), 32);     /* 64 exactly -> 32 */
    assert_int_equal(qt_pq_clamp_centroids(256, 260, 4), 64);     /* 65 -> 64 */
    assert_int_equal(qt_pq_clamp_centroids(2048, 160, 4), 32);    /* resnet20's fc, d = 4 */
    assert_int_equal(qt_pq_clamp_centroids(256, 4, 4), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weighted_assignment_differs_and_is_better),
        cmocka_unit_test(test_objective_never_increases),
        cmocka_unit_test(test_empty_clusters_are_split),
        cmocka_unit_test(test_m_step_is_least_squares),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_centroid_clamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

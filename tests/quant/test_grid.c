/* Grids and rounding: levels, Q_d error bound, Q_s unbiasedness, hard-sigmoid binarisation,
 * the cuts between levels, and the vectorised Q_d and decoding against their definitions. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "qtrain/grid.h"

static qt_grid grid(qt_grid_kind kind, int bits, float scale)
{
    qt_grid g;
    qt_error err;
    assert_int_equal(qt_grid_make(&g, kind, bits, scale, &err), QT_OK);
    return g;
}

static void test_levels(void **state)
{
    qt_grid b = grid(QT_GRID_BINARY, 1, 0.5f);
    assert_int_equal(qt_round_det(&b, -0.01f), -1);
    assert_int_equal(qt_round_det(&b, 0.0f), 1);          /* 0 maps to +H */
    assert_float_equal(qt_grid_value(&b, 1), 0.5f, 0.0f);
    qt_grid t = grid(QT_GRID_TERNARY, 2, 1.0f);
    assert_int_equal(qt_round_det(&t, 0.49f), 0);
    assert_int_equal(qt_round_det(&t, 0.5f), 1);
    assert_int_equal(qt_round_det(&t, -7.0f), -1);        /* clipped */
    qt_grid u = grid(QT_GRID_UNIFORM, 4, 0.7f);           /* codes -7..7, Δ = 0.1 */
    assert_int_equal(u.levels, 15);
    assert_float_equal(u.unit, 0.1f, 1e-7f);
    assert_int_equal(qt_round_det(&u, 0.34f), 3);
    assert_int_equal(qt_round_det(&u, 5.0f), 7);
    assert_float_equal(qt_grid_max(&u), 0.7f, 1e-6f);
    qt_grid z = grid(QT_GRID_UNBOUNDED, 8, 0.25f);
    assert_int_equal(qt_round_det(&z, -10.1f), -40);
    assert_int_equal(qt_round_det(&z, 1e6f), 127);
}

static void test_bad_grids(void **state)
{
    qt_grid g;
    qt_error err;
    assert_int_equal(qt_grid_make(&g, QT_GRID_UNIFORM, 9, 1.0f, &err), QT_ERR);
    assert_string_equal(err.msg, "uniform grid needs 2..8 bits, got 9");
    assert_int_equal(qt_grid_make(&g, QT_GRID_BINARY, 1, 0.0f, &err), QT_ERR);
}

/* |Q_d(w) - w| <= Δ/2 for every w inside the grid's range. */
static void test_det_error_bound(void **state)
{
    qt_grid g = grid(QT_GRID_UNIFORM, 3, 0.9f); /* Δ = 0.3, range [-0.9, 0.9] */
    qt_rng r;
    qt_rng_seed(&r, 1);
    for (int i = 0; i < 100000; i++) {
        float w = -0.9f + 1.8f * qt_rng_uniform(&r);
        float e = qt_grid_value(&g, qt_round_det(&g, w)) - w;
        assert_true(fabsf(e) <= 0.15f + 1e-6f);
    }
}

/* E[Q_s(w)] = w: for each fractional position p the mean error over 10^6 draws is within 5
 * standard errors, SE = Δ sqrt(p (1-p) / n), of zero. */
static void check_unbiased(const qt_grid *g, float w, uint64_t seed)
{
    const int n = 1000000;
    qt_rng r;
    qt_rng_seed(&r, seed);
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += qt_grid_value(g, qt_round_stoch(g, w, &r)) - (double)w;
    double spacing = qt_grid_spacing(g);
    double pos = (w - (qt_grid_value(g, (int8_t)g->code0))) / spacing;
    double p = pos - floor(pos);
    double se = spacing * sqrt(p * (1 - p) / n);
    if (fabs(sum / n) > 5 * se + 1e-7)
        fail_msg("w=%g: mean error %g, 5 SE = %g", (double)w, sum / n, 5 * se);
}

static void test_stoch_unbiased(void **state)
{
    qt_grid u = grid(QT_GRID_UNBOUNDED, 8, 0.1f);
    const float fracs[] = {0.03f, 0.25f, 0.5f, 0.77f, 0.97f};
    for (int i = 0; i < 5; i++)
        check_unbiased(&u, (3 + fracs[i]) * 0.1f, 10 + i);
    qt_grid b = grid(QT_GRID_BINARY, 1, 1.0f);
    check_unbiased(&b, -0.6f, 20);
    check_unbiased(&b, 0.3f, 21);
}

/* Stochastic binarisation: P(+H) = hard_sigmoid(w/H) = clip((w/H + 1)/2, 0, 1). */
static void test_binary_hard_sigmoid(void **state)
{
    qt_grid b = grid(QT_GRID_BINARY, 1, 2.0f);
    qt_rng r;
    qt_rng_seed(&r, 3);
    const float ws[] = {-3.0f, -1.0f, 0.0f, 1.2f, 2.5f};
    const double p[] = {0.0, 0.25, 0.5, 0.8, 1.0};
    for (int i = 0; i < 5; i++) {
        int plus = 0, n = 200000;
        for (int k = 0; k < n; k++)
            plus += qt_round_stoch(&b, ws[i], &r) == 1;
        double se = sqrt(p[i] * (1 - p[i]) / n);
        assert_true(fabs((double)plus / n - p[i]) <= 5 * se + 1e-9);
    }
}

/* Weights around the cuts, specials and a spread of magnitudes: where a comparison with the
 * cut and the division-based Q_d could part. */
static size_t probe_weights(const qt_grid *g, float *w, size_t cap)
{
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, FLT_MAX, -FLT_MAX,
                             FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f};
    size_t n = 0;
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        w[n++] = special[i];
    for (int k = 0; k + 1 < g->levels && n + 80 <= cap; k += 1 + g->levels / 8) {
        float c = qt_grid_det_cut(g, k);
        for (int d = 0; d < 20; d++) {
            w[n++] = c;
            c = nextafterf(c, -INFINITY);
        }
        c = qt_grid_det_cut(g, k);
        for (int d = 0; d < 20; d++) {
            c = nextafterf(c, INFINITY);
            w[n++] = c;
        }
    }
    qt_rng r;
    qt_rng_seed(&r, 5);
    while (n < cap)  /* |w| from 1e-12 H to 1e3 H, both signs */
        w[n++] = (qt_rng_uniform(&r) < 0.5f ? -1.0f : 1.0f) * qt_grid_max(g) *
                 powf(10.0f, -12.0f + 15.0f * qt_rng_uniform(&r));
    return n;
}

/* The cut above level k is the largest float of level <= k, on every kind of grid and on
 * units from denormal-adjacent to huge (the walk from the midpoint and the bisection). */
static void test_det_cut(void **state)
{
    const float scales[] = {1.0f, 0.37f, 3e-3f, 7.5e4f, 1e-36f, 2e-38f, 1e37f};
    const qt_grid_kind kinds[] = {QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM,
                                  QT_GRID_UNBOUNDED};
    for (size_t si = 0; si < sizeof scales / sizeof *scales; si++)
        for (int ki = 0; ki < 4; ki++) {
            qt_grid g = grid(kinds[ki], kinds[ki] == QT_GRID_UNIFORM ? 3 : 1, scales[si]);
            for (int k = 0; k + 1 < g.levels; k++) {
                float c = qt_grid_det_cut(&g, k);
                if (!(qt_grid_det_level(&g, c) <= k &&
                      qt_grid_det_level(&g, nextafterf(c, INFINITY)) > k))
                    fail_msg("kind %d scale %g: cut %d at %a is not the last float of level <= %d",
                             (int)kinds[ki], (double)scales[si], k, (double)c, k);
            }
        }
}

/* The vectorised Q_d (the cut on the binary grid, the division elsewhere) against
 * qt_round_det, weight by weight. */
static void test_round_det_vec_matches(void **state)
{
    enum { N = 4099 };
    float *w = malloc(N * sizeof(float));
    int8_t *codes = malloc(N);
    const float scales[] = {1.0f, 0.0123f, 5e-30f, 3e30f};
    const qt_grid_kind kinds[] = {QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM,
                                  QT_GRID_UNBOUNDED};
    for (size_t si = 0; si < sizeof scales / sizeof *scales; si++)
        for (int ki = 0; ki < 4; ki++) {
            qt_grid g = grid(kinds[ki], kinds[ki] == QT_GRID_UNIFORM ? 4 : 1, scales[si]);
            size_t n = probe_weights(&g, w, N);
            qt_round_det_vec(&g, w, codes, n);
            for (size_t i = 0; i < n; i++)
                if (codes[i] != qt_round_det(&g, w[i]))
                    fail_msg("kind %d scale %g: w = %a gives %d, Q_d %d", (int)kinds[ki],
                             (double)scales[si], (double)w[i], codes[i], qt_round_det(&g, w[i]));
        }
    free(w);
    free(codes);
}

/* Decoding is code times unit, for every int8 code, at every position of a vector loop. */
static void test_decode_matches(void **state)
{
    enum { N = 256 * 3 + 5 };
    int8_t codes[N];
    float w[N];
    for (int i = 0; i < N; i++)
        codes[i] = (int8_t)(i * 7 + 3);
    qt_grid g = grid(QT_GRID_UNBOUNDED, 8, 0.0173f);
    qt_grid_decode(&g, codes, w, N);
    for (int i = 0; i < N; i++)
        assert_memory_equal(&w[i], &(float){(float)codes[i] * g.unit}, sizeof(float));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_bad_grids),
        cmocka_unit_test(test_det_error_bound),
        cmocka_unit_test(test_stoch_unbiased),
        cmocka_unit_test(test_binary_hard_sigmoid),
        cmocka_unit_test(test_det_cut),
        cmocka_unit_test(test_round_det_vec_matches),
        cmocka_unit_test(test_decode_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

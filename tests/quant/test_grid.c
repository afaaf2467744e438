/* Grids and rounding: levels, Q_d error bound, Q_s unbiasedness, hard-sigmoid binarisation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_bad_grids),
        cmocka_unit_test(test_det_error_bound),
        cmocka_unit_test(test_stoch_unbiased),
        cmocka_unit_test(test_binary_hard_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

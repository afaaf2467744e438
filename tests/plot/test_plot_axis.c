/* Axes: nice steps, tick sets that cover the data, linear and log mapping, labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/plot_axis.h"
#include "plot_test_util.h"

static void test_nice_step(void **state)
{
    assert_true(qt_nice_step(0.7) == 1);
    assert_true(qt_nice_step(1) == 1);
    assert_true(qt_nice_step(1.1) == 2);
    assert_true(qt_nice_step(3) == 5);
    assert_true(qt_nice_step(7) == 10);
    assert_close(qt_nice_step(0.013), 0.02, 1e-15);
    assert_true(qt_nice_step(250) == 500);
    assert_close(qt_nice_step(0.1), 0.1, 1e-15);
}

static void test_linear_exact(void **state)
{
    qt_axis a;
    qt_axis_fit(&a, 0.13, 2.71, 0, 7);
    assert_int_equal(a.nticks, 7);
    for (int i = 0; i < 7; i++)
        assert_close(a.ticks[i], 0.5 * i, 1e-12);
    assert_true(a.lo == a.ticks[0] && a.hi == a.ticks[6]);
    char buf[32];
    qt_axis_label(&a, a.ticks[0], buf, sizeof buf);
    assert_string_equal(buf, "0.0");
    qt_axis_label(&a, a.ticks[5], buf, sizeof buf);
    assert_string_equal(buf, "2.5");
}

/* The step between ticks, as a multiple of a power of ten, is 1, 2 or 5 (up to the
 * rounding of tick values far from zero, e.g. 2.30000002 - 2.3). */
static int is_nice(double step)
{
    double m = step / pow(10, floor(log10(step) + 1e-6));
    return fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6;
}

/* Over many ranges: ticks are evenly spaced multiples of a nice step, the first is at
 * or below the data minimum and the last at or above the maximum, and neither is more
 * than one step outside the data (so the axis is not padded needlessly). */
static void test_linear_covers_range(void **state)
{
    const double ranges[][2] = {{0, 1}, {-3.7, 12.2}, {0.001, 0.0047}, {1e5, 3.3e6},
                                {-1e-3, -2e-4}, {99.5, 100.5}, {0, 10000}, {2.3, 2.3000001},
                                {-5, 5}, {7, 7}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        for (int max_ticks = 2; max_ticks <= 12; max_ticks++) {
            double lo = ranges[r][0], hi = ranges[r][1];
            qt_axis a;
            qt_axis_fit(&a, lo, hi, 0, max_ticks);
            assert_true(a.nticks >= 2 && a.nticks <= (max_ticks < 3 ? 3 : max_ticks));
            double step = a.ticks[1] - a.ticks[0];
            assert_true(is_nice(step));
            for (int i = 1; i < a.nticks; i++)
                assert_close(a.ticks[i] - a.ticks[i - 1], step, step * 1e-6);
            assert_true(a.ticks[0] <= lo && a.ticks[a.nticks - 1] >= hi);
            if (lo < hi) {
                assert_true(a.ticks[0] > lo - step);
                assert_true(a.ticks[a.nticks - 1] < hi + step);
            }
            assert_true(a.lo == a.ticks[0] && a.hi == a.ticks[a.nticks - 1]);
        }
}

static void test_linear_frac(void **state)
{
    qt_axis a;
    qt_axis_fit(&a, 0, 100, 0, 6);
    assert_true(a.lo == 0 && a.hi == 100);
    assert_close(qt_axis_frac(&a, 0), 0, 1e-15);
    assert_close(qt_axis_frac(&a, 25), 0.25, 1e-15);
    assert_close(qt_axis_frac(&a, 100), 1, 1e-15);
}

/* Few decades: limits and labels at 1, 2, 5 x 10^k; mapping linear in log10. */
static void test_log_125(void **state)
{
    qt_axis a;
    qt_axis_fit(&a, 0.09, 2.7, 1, 10);
    const double want[] = {0.05, 0.1, 0.2, 0.5, 1, 2, 5};
    assert_int_equal(a.nticks, 7);
    for (int i = 0; i < 7; i++)
        assert_close(a.ticks[i], want[i], 1e-12);
    assert_close(qt_axis_frac(&a, 0.05), 0, 1e-12);
    assert_close(qt_axis_frac(&a, 5), 1, 1e-12);
    assert_close(qt_axis_frac(&a, 0.5), 0.5, 1e-12);
    /* Equal ratios, equal distances. */
    assert_close(qt_axis_frac(&a, 0.2) - qt_axis_frac(&a, 0.1),
                        qt_axis_frac(&a, 2) - qt_axis_frac(&a, 1), 1e-12);
    char buf[32];
    qt_axis_label(&a, 0.05, buf, sizeof buf);
    assert_string_equal(buf, "0.05");
    qt_axis_label(&a, 2, buf, sizeof buf);
    assert_string_equal(buf, "2");
}

/* Many decades: whole decades, every k-th labelled, limits on labelled ticks. */
static void test_log_decades(void **state)
{
    qt_axis a;
    qt_axis_fit(&a, 3e-6, 400, 1, 5);
    assert_true(a.nticks <= 5);
    assert_true(a.ticks[0] <= 3e-6 && a.ticks[a.nticks - 1] >= 400);
    for (int i = 0; i < a.nticks; i++) {
        double e = log10(a.ticks[i]);
        assert_close(e, round(e), 1e-9);
    }
    assert_close(a.lo, 1e-6, 1e-18);
    assert_close(a.hi, 1e3, 1e-9);
    char buf[32];
    qt_axis_label(&a, 1e-6, buf, sizeof buf);
    assert_string_equal(buf, "1e-6");
    assert_close(qt_axis_frac(&a, 1e-3), 1.0 / 3, 1e-12);
}

static void test_scientific_labels(void **state)
{
    qt_axis a;
    qt_axis_fit(&a, 0, 3e6, 0, 7);
    char buf[32];
    qt_axis_label(&a, a.ticks[1], buf, sizeof buf);
    assert_string_equal(buf, "5e5");
    qt_axis_label(&a, a.ticks[3], buf, sizeof buf);
    assert_string_equal(buf, "1.5e6");
    qt_axis_label(&a, a.ticks[0], buf, sizeof buf);
    assert_string_equal(buf, "0");
    qt_axis_fit(&a, -1, 1, 0, 3);
    qt_axis_label(&a, a.ticks[1], buf, sizeof buf);
    assert_string_equal(buf, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_step),
        cmocka_unit_test(test_linear_exact),
        cmocka_unit_test(test_linear_covers_range),
        cmocka_unit_test(test_linear_frac),
        cmocka_unit_test(test_log_125),
        cmocka_unit_test(test_log_decades),
        cmocka_unit_test(test_scientific_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

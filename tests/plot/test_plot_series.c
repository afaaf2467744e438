/* Series preparation: dropping unusable points and the trailing moving average. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/plot_series.h"
#include "plot_test_util.h"

static void test_moving_average_exact(void **state)
{
    const double y[] = {1, 2, 3, 4, 10};
    double out[5];
    qt_series_moving_average(y, 5, 3, out);
    const double want[] = {1, 1.5, 2, 3, 17.0 / 3};
    for (int i = 0; i < 5; i++)
        assert_close(out[i], want[i], 1e-15);
}

static void test_moving_average_edge_windows(void **state)
{
    const double y[] = {4, -2, 7};
    double out[3];
    qt_series_moving_average(y, 3, 1, out);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == y[i]);
    /* A window longer than the series is the running mean. */
    qt_series_moving_average(y, 3, 10, out);
    assert_close(out[0], 4, 1e-15);
    assert_close(out[1], 1, 1e-15);
    assert_close(out[2], 3, 1e-15);
}

static void test_keep_valid(void **state)
{
    const double x[] = {0, 1, NAN, 3, 4, 5, INFINITY};
    const double y[] = {1, NAN, 2, -INFINITY, 0, -1, 3};
    double ox[7], oy[7];
    size_t n = qt_series_keep_valid(x, y, 7, 0, ox, oy);
    assert_int_equal(n, 3);
    assert_true(ox[0] == 0 && ox[1] == 4 && ox[2] == 5);
    assert_true(oy[0] == 1 && oy[1] == 0 && oy[2] == -1);
    /* On a log axis y must also be positive. */
    n = qt_series_keep_valid(x, y, 7, 1, ox, oy);
    assert_int_equal(n, 1);
    assert_true(ox[0] == 0 && oy[0] == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moving_average_exact),
        cmocka_unit_test(test_moving_average_edge_windows),
        cmocka_unit_test(test_keep_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

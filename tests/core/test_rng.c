/* RNG: determinism, derived streams, and the distributions' first moments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/rng.h"

static void test_same_seed_same_stream(void **state)
{
    qt_rng a, b;
    qt_rng_seed(&a, 42);
    qt_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(qt_rng_u64(&a), qt_rng_u64(&b));
    qt_rng_seed(&b, 43);
    assert_int_not_equal(qt_rng_u64(&a), qt_rng_u64(&b));
}

static void test_derive_depends_on_all_inputs(void **state)
{
    qt_rng a, b, c;
    qt_rng_derive(&a, 1, 2, 3);
    qt_rng_derive(&b, 1, 3, 2);
    qt_rng_derive(&c, 1, 2, 3);
    uint64_t x = qt_rng_u64(&a);
    assert_int_not_equal(x, qt_rng_u64(&b));
    assert_int_equal(x, qt_rng_u64(&c));
}

/* Mean of U[0,1) over 1e6 draws is 0.5 within 5 standard errors (sd = 1/sqrt(12)). */
static void test_uniform_mean(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 7);
    const int n = 1000000;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float u = qt_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    assert_true(fabs(sum / n - 0.5) < 5.0 * sqrt(1.0 / 12.0 / n));
}

/* Normal: mean 0 and variance 1 within 5 standard errors. */
static void test_normal_moments(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 9);
    const int n = 1000000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double z = qt_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    assert_true(fabs(s / n) < 5.0 / sqrt(n));
    assert_true(fabs(s2 / n - 1.0) < 5.0 * sqrt(2.0 / n));
}

/* below(n) stays in range and hits every value with the right frequency (chi-square-ish bound). */
static void test_below_uniform(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 11);
    int counts[7] = {0};
    const int n = 700000;
    for (int i = 0; i < n; i++) {
        uint32_t v = qt_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int k = 0; k < 7; k++)
        assert_true(fabs(counts[k] - 100000.0) < 5.0 * sqrt(100000.0 * 6.0 / 7.0));
}

static void test_shuffle_is_permutation(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 3);
    uint32_t idx[100];
    int seen[100] = {0};
    for (uint32_t i = 0; i < 100; i++)
        idx[i] = i;
    qt_rng_shuffle_u32(&r, idx, 100);
    int moved = 0;
    for (uint32_t i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_derive_depends_on_all_inputs),
        cmocka_unit_test(test_uniform_mean),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_below_uniform),
        cmocka_unit_test(test_shuffle_is_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The FMA peak kernels: every chain does exactly the FMAs counted (the sum of all lanes after
 * n steps of a <- a * 1 + 1 is chains * lanes * n, exact below 2^24); the measurement's
 * fastest round is at least its median; bad requests are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/fma_peak.h"

static void test_chains_count(void **state)
{
    const qt_isa isas[] = {QT_ISA_AVX2, QT_ISA_AVX512};
    for (int k = 0; k < 2; k++) {
        if (!qt_isa_supported(isas[k]))
            continue;
        const int lanes = qt_fma_lanes(isas[k]);
        assert_int_equal(lanes, isas[k] == QT_ISA_AVX512 ? 16 : 8);
        for (long n = 0; n <= 30000; n += 7919)
            assert_true(qt_fma_chains(isas[k], n) == (double)QT_FMA_CHAINS * lanes * n);
    }
    assert_true(qt_fma_chains(QT_ISA_PORTABLE, 10) == -1.0);
}

static void test_measure(void **state)
{
    qt_fma_peak p;
    qt_error err;
    if (!qt_isa_supported(QT_ISA_AVX2))
        skip();
    assert_int_equal(qt_fma_peak_measure(QT_ISA_AVX2, 2, 3, 1000, &p, &err), QT_OK);
    assert_true(p.best_gflops > 0.0 && p.median_gflops > 0.0 && p.best_gflops >= p.median_gflops);
    assert_int_equal(qt_fma_peak_measure(QT_ISA_PORTABLE, 1, 3, 1000, &p, &err), QT_ERR);
    assert_string_equal(err.msg, "FMA peak: this CPU or build cannot run portable");
    assert_int_equal(qt_fma_peak_measure(QT_ISA_AVX2, 0, 3, 1000, &p, &err), QT_ERR);
    assert_string_equal(err.msg, "FMA peak: needs threads, rounds and iterations >= 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chains_count),
        cmocka_unit_test(test_measure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

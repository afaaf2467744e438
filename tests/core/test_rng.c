/* RNG: determinism, derived streams, the distributions' first moments, and the counter
 * uniforms' moments and independence of how their range is split. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* Counter uniforms over 1e6 counters: in [0, 1); mean 1/2 and variance 1/12 within 5
 * standard errors (the variance estimate's is sqrt(1/180/n)); neighbouring counters, and
 * the same counter under keys one bit apart, uncorrelated within 5 standard errors (1/sqrt(n)). */
static void test_counter_uniform_moments(void **state)
{
    enum { N = 1000000 };
    const uint64_t key = 0x243f6a8885a308d3ULL;
    float *u = malloc(N * sizeof(float)), *v = malloc(N * sizeof(float));
    qt_rng_counter_uniforms(key, 0, u, N);
    qt_rng_counter_uniforms(key ^ 1, 0, v, N);
    double s = 0, s2 = 0, lag = 0, cross = 0;
    for (int i = 0; i < N; i++) {
        assert_true(u[i] >= 0.0f && u[i] < 1.0f);
        double d = u[i] - 0.5;
        s += d;
        s2 += d * d;
        cross += d * (v[i] - 0.5);
        if (i)
            lag += d * (u[i - 1] - 0.5);
    }
    assert_true(fabs(s / N) < 5.0 * sqrt(1.0 / 12.0 / N));
    assert_true(fabs(s2 / N - 1.0 / 12.0) < 5.0 * sqrt(1.0 / 180.0 / N));
    assert_true(fabs(lag / (N - 1) * 12.0) < 5.0 / sqrt(N));
    assert_true(fabs(cross / N * 12.0) < 5.0 / sqrt(N));
    free(u), free(v);
}

/* The generator as documented, one value at a time (rng_counter.c): lowbias32 twice */
static uint32_t ref_mix32(uint32_t x)
{
    x = (x ^ (x >> 16)) * 0x7feb352dU;
    x = (x ^ (x >> 15)) * 0x846ca68bU;
    return x ^ (x >> 16);
}

static float ref_counter_uniform(uint64_t key, uint64_t counter)
{
    uint32_t k1 = (uint32_t)(key >> 32) ^ ref_mix32((uint32_t)(counter >> 32) * 0x9e3779b9U);
    uint32_t x = ref_mix32(ref_mix32((uint32_t)counter ^ (uint32_t)key) ^ k1);
    return (float)(x >> 8) / 16777216.0f;
}

/* A range of counters drawn in one call (the vector paths), in pieces, or one at a time gives
 * the values of the scalar reference, also across a change of the counters' high 32 bits;
 * another key gives other values. */
static void test_counter_uniforms_split_independent(void **state)
{
    enum { N = 10000 };
    const uint64_t key = 77, first = (1ULL << 32) - 4321;
    float whole[N], pieces[N], other[N];
    qt_rng_counter_uniforms(key, first, whole, N);
    const size_t sizes[] = {1, 13, 1024, 3000, 999};
    for (size_t off = 0, k = 0; off < N; k++) {
        size_t n = sizes[k % 5] < N - off ? sizes[k % 5] : N - off;
        qt_rng_counter_uniforms(key, first + off, pieces + off, n);
        off += n;
    }
    assert_memory_equal(whole, pieces, sizeof whole);
    for (size_t i = 0; i < N; i++)
        assert_true(whole[i] == ref_counter_uniform(key, first + i));
    for (size_t i = 0; i < N; i += 997) {
        float one;
        qt_rng_counter_uniforms(key, first + i, &one, 1);
        assert_true(one == whole[i]);
    }
    qt_rng_counter_uniforms(key + 1, first, other, N);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += other[i] == whole[i];
    assert_true(same < 10);  /* 24-bit values: about N / 2^24 coincide by chance */
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
        cmocka_unit_test(test_counter_uniform_moments),
        cmocka_unit_test(test_counter_uniforms_split_independent),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_below_uniform),
        cmocka_unit_test(test_shuffle_is_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

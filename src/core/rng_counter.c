/* Counter-based uniforms: value i is a hash of (key, i), so a range of them can be drawn in
 * any pieces and in any order with the same result, in a loop with no carried state, which
 * gcc vectorises (32-bit lanes: AVX2 has no 64-bit multiply). The loop is also compiled for
 * AVX-512 and taken when the CPU has it (cpu.h): integer hashing and exact conversions give
 * the same values on every path. */
#include "qtrain/cpu.h"
#include "qtrain/rng.h"

/* lowbias32 (C. Wellons' hash-prospector): a bijection on 32 bits with a low avalanche bias */
static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* u[i] for counters lo + i that share their high 32 bits (folded into k1 by the caller) */
static inline __attribute__((always_inline)) void uniforms_loop(uint32_t k0, uint32_t k1,
                                                                uint32_t lo,
                                                                float *restrict u, size_t n)
{
    uint32_t counter = lo;  /* its own 32-bit induction: lo + (uint32_t)i made the vector
                               loop step i in 64-bit lanes and narrow them every iteration */
    for (size_t i = 0; i < n; i++, counter++) {
        uint32_t x = mix32(mix32(counter ^ k0) ^ k1);
        u[i] = (float)(int32_t)(x >> 8) * 0x1.0p-24f;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 16 lanes: about twice the AVX2 loop's rate where 512-bit multiplies run at full width */
__attribute__((target("avx512f,avx2,fma,prefer-vector-width=512")))
static void uniforms_avx512(uint32_t k0, uint32_t k1, uint32_t lo, float *restrict u, size_t n)
{
    uniforms_loop(k0, k1, lo, u, n);
}
#endif

static void uniforms_low(uint32_t k0, uint32_t k1, uint32_t lo, float *u, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (qt_isa_supported(QT_ISA_AVX512)) {
        uniforms_avx512(k0, k1, lo, u, n);
        return;
    }
#endif
    uniforms_loop(k0, k1, lo, u, n);
}

void qt_rng_counter_uniforms(uint64_t key, uint64_t first, float *u, size_t n)
{
    while (n) {
        uint32_t lo = (uint32_t)first;
        uint64_t left = (1ULL << 32) - lo;  /* counters before the high bits change */
        size_t m = n < left ? n : (size_t)left;
        uint32_t k1 = (uint32_t)(key >> 32) ^ mix32((uint32_t)(first >> 32) * 0x9e3779b9U);
        uniforms_low((uint32_t)key, k1, lo, u, m);
        first += m;
        u += m;
        n -= m;
    }
}

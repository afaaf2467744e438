/* Seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64).
 * Every random choice in qtrain comes from a qt_rng that was seeded explicitly. Long runs
 * derive a fresh generator per use from (seed, step, index) with qt_rng_derive, so no
 * generator state needs saving: a resumed run draws exactly what the straight run drew. */
#ifndef QTRAIN_RNG_H
#define QTRAIN_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_rng {
    uint64_t s[4];
} qt_rng;

void qt_rng_seed(qt_rng *r, uint64_t seed);
/* A stream derived from (seed, a, b): independent of how many numbers other streams drew,
 * so work split across threads or resumed mid-epoch draws the same values. */
void qt_rng_derive(qt_rng *r, uint64_t seed, uint64_t a, uint64_t b);
/* xoshiro256** (inline: drawn once per weight by stochastic rounding at attach and by
 * stochastic BC) */
static inline uint64_t qt_rng_u64(qt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
uint32_t qt_rng_u32(qt_rng *r);
/* Uniform in [0, 1) with 24 random bits (every value exactly representable as float). */
static inline float qt_rng_uniform(qt_rng *r) { return (float)(qt_rng_u64(r) >> 40) * 0x1.0p-24f; }
/* u[i] = the uniform in [0, 1) (24 random bits) at counter first + i of key's stream, for
 * i < n: a hash of (key, counter), so any split of a range of counters into calls draws the
 * same values. For draws per element of large arrays (SR's update), where it vectorises. */
void qt_rng_counter_uniforms(uint64_t key, uint64_t first, float *u, size_t n);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint32_t qt_rng_below(qt_rng *r, uint32_t n);
/* Standard normal (Box-Muller; one value per call). */
float qt_rng_normal(qt_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void qt_rng_shuffle_u32(qt_rng *r, uint32_t *idx, uint32_t n);

#ifdef __cplusplus
}
#endif

#endif

/* AVX2 + FMA micro-kernels (8 floats per vector, 16 registers), compiled for AVX2 whatever
 * the build's baseline and only called when the CPU has it (see cpu.h).
 *
 * packed: a 6 x 16 block of C in 12 accumulators (2 loads of B, 6 broadcasts of A per
 *   k step), the classic Haswell shape.
 * dot: a 2 x 4 block of dot products in 8 accumulators. */
#include "gemm.h"

#ifdef QT_GEMM_X86

#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline)) TARGET

enum { MR = 6, NVMAX = 2, VL = 8, MRD = 2, NRD = 4 };

/* Lane mask from 8 bits (bit l: lane l). */
INLINE __m256i lanes_of(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}

/* The 8 mask bits of vector v of a block whose mask words start at bits. */
INLINE unsigned vector_bits(const uint16_t *bits, int v)
{
    return (bits[v / 2] >> (8 * (v & 1))) & 0xFFu;
}

INLINE void packed_tile(const int nv, const int masked, int k, const float *a, const float *b,
                        const ptrdiff_t *boff, const qt_gemm_lanes *lanes, const uint16_t *bits,
                        float *c, ptrdiff_t ldc, int mr, unsigned last, int accumulate)
{
    __m256 acc[MR][NVMAX];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm256_setzero_ps();
    const int ntaps = masked ? lanes->ntaps : 1, words = masked ? lanes->words : 0;
    const uint16_t *tapbits = bits;
    const __m256i lastm = lanes_of(last);
    for (int l = 0, tap = 0; l < k; l++) {
        const float *bl = b + boff[l], *al = a + (size_t)l * MR;
        __m256 bv[NVMAX];
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            unsigned part = v == nv - 1 ? last : 0xFFu;
            if (masked)
                bv[v] = _mm256_maskload_ps(bl + v * VL, lanes_of(vector_bits(tapbits, v) & part));
            else if (v == nv - 1)
                bv[v] = _mm256_maskload_ps(bl + v * VL, lastm);
            else
                bv[v] = _mm256_loadu_ps(bl + v * VL);
        }
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 ar = _mm256_broadcast_ss(al + r);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        if (masked) {
            tapbits += words;
            if (++tap == ntaps) {
                tap = 0;
                tapbits = bits;
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (r >= mr)
            break;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            float *cp = c + r * ldc + v * VL;
            __m256i m = v == nv - 1 ? lastm : _mm256_set1_epi32(-1);
            __m256 val = acc[r][v];
            if (accumulate)
                val = _mm256_add_ps(val, _mm256_maskload_ps(cp, m));
            _mm256_maskstore_ps(cp, m, val);
        }
    }
}

TARGET static void packed_kernel(int k, const float *a, const float *b, const ptrdiff_t *boff,
                                 const qt_gemm_lanes *lanes, const uint16_t *bits, float *c,
                                 ptrdiff_t ldc, int mr, int nc, int accumulate)
{
    int nv = (nc + VL - 1) / VL;
    unsigned last = 0xFFu >> (nv * VL - nc);
#define TILE(NV, M) packed_tile(NV, M, k, a, b, boff, lanes, bits, c, ldc, mr, last, accumulate)
    if (lanes) {
        if (nv == 2)
            TILE(2, 1);
        else
            TILE(1, 1);
    } else if (nv == 2) {
        TILE(2, 0);
    } else {
        TILE(1, 0);
    }
#undef TILE
}

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* acc[r][s] += A row r . B row s over the 8 pixels at q (lanes in `part`). */
INLINE void dot_step(int q, unsigned part, const float *const *ar, const float *const *bs,
                     __m256 acc[MRD][NRD])
{
    const int full = part == 0xFFu;
    __m256 bv[NRD];
#pragma GCC unroll 4
    for (int s = 0; s < NRD; s++)
        bv[s] = full ? _mm256_loadu_ps(bs[s] + q) : _mm256_maskload_ps(bs[s] + q, lanes_of(part));
#pragma GCC unroll 2
    for (int r = 0; r < MRD; r++) {
        __m256 av = full ? _mm256_loadu_ps(ar[r] + q)
                         : _mm256_maskload_ps(ar[r] + q, lanes_of(part));
#pragma GCC unroll 4
        for (int s = 0; s < NRD; s++)
            acc[r][s] = _mm256_fmadd_ps(av, bv[s], acc[r][s]);
    }
}

TARGET static void dot_kernel(int p, int nt, const float *a, ptrdiff_t a_step,
                              const ptrdiff_t *aoff, const float *b, ptrdiff_t b_step,
                              const ptrdiff_t *boff, float *c, ptrdiff_t ldc, int mr, int nr)
{
    __m256 acc[MRD][NRD];
#pragma GCC unroll 2
    for (int r = 0; r < MRD; r++)
#pragma GCC unroll 4
        for (int s = 0; s < NRD; s++)
            acc[r][s] = _mm256_setzero_ps();
    const int pv = p & ~(VL - 1);
    const unsigned tail = (1u << (p - pv)) - 1;
    for (int t = 0; t < nt; t++) {
        const float *ar[MRD], *bs[NRD];
        /* Rows past mr / nr repeat the last valid one; their sums are dropped. */
#pragma GCC unroll 2
        for (int r = 0; r < MRD; r++)
            ar[r] = a + t * a_step + aoff[r < mr ? r : mr - 1];
#pragma GCC unroll 4
        for (int s = 0; s < NRD; s++)
            bs[s] = b + t * b_step + boff[s < nr ? s : nr - 1];
        for (int q = 0; q < pv; q += VL)
            dot_step(q, 0xFFu, ar, bs, acc);
        if (tail)
            dot_step(pv, tail, ar, bs, acc);
    }
#pragma GCC unroll 2
    for (int r = 0; r < MRD; r++)
#pragma GCC unroll 4
        for (int s = 0; s < NRD; s++)
            if (r < mr && s < nr)
                c[r * ldc + s] += hsum(acc[r][s]);
}

const qt_gemm_kernels qt_gemm_avx2 = {MR, NVMAX * VL, MRD, NRD, packed_kernel, dot_kernel};

#endif

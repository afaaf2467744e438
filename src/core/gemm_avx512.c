/* AVX-512 micro-kernels (16 floats per vector, 32 registers), compiled for AVX-512 whatever
 * the build's baseline and only called when the CPU has it (see cpu.h).
 *
 * packed: an 8 x 48 block of C in 24 accumulators; per k step it loads 3 vectors of B and
 *   broadcasts 8 values of A: 24 FMAs for 11 loads.
 * dot: a 4 x 6 block of dot products in 24 accumulators; per 16 pixels it loads 4 rows of A
 *   and 6 of B: 24 FMAs for 10 loads, the horizontal sums at the end by transposing adds. */
#include "gemm.h"

#ifdef QT_GEMM_X86

#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define INLINE static inline __attribute__((always_inline)) TARGET

enum { MR = 8, NVMAX = 3, VL = 16, MRD = 4, NRD = 6 };

/* Loads n (1..16) floats; lanes past n read as zero and are never touched in memory. */
INLINE __m512 load_part(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

INLINE void packed_tile(const int nv, const int masked, int k, const float *a, const float *b,
                        const ptrdiff_t *boff, const qt_gemm_lanes *lanes, const uint16_t *bits,
                        float *c, ptrdiff_t ldc, int mr, __mmask16 last, int accumulate)
{
    __m512 acc[MR][NVMAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    const int ntaps = masked ? lanes->ntaps : 1, words = masked ? lanes->words : 0;
    const uint16_t *tapbits = bits;
    for (int l = 0, tap = 0; l < k; l++) {
        const float *bl = b + boff[l], *al = a + (size_t)l * MR;
        /* this row's columns two blocks ahead (the tile after next reads them): the direct
         * convolution's rows are 144 shifted views of 16 planes, which the hardware
         * prefetcher does not keep ahead of (16 -> 16 channels on 32x32, 1 thread: 4.7-5.2
         * ms without, 3.8-4.0 with; two blocks ahead beat one, four and 1.3 blocks) */
        _mm_prefetch((const char *)(bl + 2 * NVMAX * VL), _MM_HINT_T0);
        __m512 bv[NVMAX];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            if (masked)
                m &= tapbits[v];
            bv[v] = masked || v == nv - 1 ? load_part(bl + v * VL, m)
                                          : _mm512_loadu_ps(bl + v * VL);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(al[r]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        if (masked) {
            tapbits += words;
            if (++tap == ntaps) {
                tap = 0;
                tapbits = bits;
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        if (r >= mr)
            break;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            float *cp = c + r * ldc + v * VL;
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 val = acc[r][v];
            if (accumulate)
                val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(m, cp));
            _mm512_mask_storeu_ps(cp, m, val);
        }
    }
}

TARGET static void packed_kernel(int k, const float *a, const float *b, const ptrdiff_t *boff,
                                 const qt_gemm_lanes *lanes, const uint16_t *bits, float *c,
                                 ptrdiff_t ldc, int mr, int nc, int accumulate)
{
    int nv = (nc + VL - 1) / VL;
    __mmask16 last = (__mmask16)(0xFFFFu >> (nv * VL - nc));
#define TILE(NV, M) packed_tile(NV, M, k, a, b, boff, lanes, bits, c, ldc, mr, last, accumulate)
    if (lanes)
        switch (nv) {
        case 3: TILE(3, 1); break;
        case 2: TILE(2, 1); break;
        default: TILE(1, 1); break;
        }
    else
        switch (nv) {
        case 3: TILE(3, 0); break;
        case 2: TILE(2, 0); break;
        default: TILE(1, 0); break;
        }
#undef TILE
}

/* The horizontal sums of v[0..16), as one vector in that order: a transpose-and-add tree
 * (45 instructions instead of 16 separate reductions). */
INLINE __m512 sum16(const __m512 *v)
{
    __m512 w[8], x[4];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* per 128-bit lane: pair sums of vectors 2i, 2i+1 */
        w[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* per 128-bit lane: the lane sums of vectors 4i .. 4i+3 */
        __m512d a = _mm512_castps_pd(w[2 * i]), b = _mm512_castps_pd(w[2 * i + 1]);
        x[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    /* add the four 128-bit lanes: pairs of lanes, then pairs of pairs */
    __m512 y0 = _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88),
                              _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
    __m512 y1 = _mm512_add_ps(_mm512_shuffle_f32x4(x[2], x[3], 0x88),
                              _mm512_shuffle_f32x4(x[2], x[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(y0, y1, 0x88), _mm512_shuffle_f32x4(y0, y1, 0xDD));
}

/* acc[r][s] += A row r . B row s over the 16 pixels at q (lanes in `part`). */
INLINE void dot_step(int q, __mmask16 part, const float *const *ar, const float *const *bs,
                     __m512 acc[MRD][NRD])
{
    __m512 bv[NRD];
#pragma GCC unroll 6
    for (int s = 0; s < NRD; s++)
        bv[s] = load_part(bs[s] + q, part);
#pragma GCC unroll 4
    for (int r = 0; r < MRD; r++) { /* one A row at a time: 24 + 6 + 1 registers */
        __m512 av = load_part(ar[r] + q, part);
#pragma GCC unroll 6
        for (int s = 0; s < NRD; s++)
            acc[r][s] = _mm512_fmadd_ps(av, bv[s], acc[r][s]);
    }
}

TARGET static void dot_kernel(int p, int nt, const float *a, ptrdiff_t a_step,
                              const ptrdiff_t *aoff, const float *b, ptrdiff_t b_step,
                              const ptrdiff_t *boff, float *c, ptrdiff_t ldc, int mr, int nr)
{
    __m512 acc[MRD][NRD];
#pragma GCC unroll 4
    for (int r = 0; r < MRD; r++)
#pragma GCC unroll 6
        for (int s = 0; s < NRD; s++)
            acc[r][s] = _mm512_setzero_ps();
    const int pv = p & ~(VL - 1);
    const __mmask16 tail = (__mmask16)((1u << (p - pv)) - 1);
    for (int t = 0; t < nt; t++) {
        const float *ar[MRD], *bs[NRD];
        /* Rows past mr / nr repeat the last valid one; their sums are dropped. */
#pragma GCC unroll 4
        for (int r = 0; r < MRD; r++)
            ar[r] = a + t * a_step + aoff[r < mr ? r : mr - 1];
#pragma GCC unroll 6
        for (int s = 0; s < NRD; s++)
            bs[s] = b + t * b_step + boff[s < nr ? s : nr - 1];
        for (int q = 0; q < pv; q += VL)
            dot_step(q, 0xFFFF, ar, bs, acc);
        if (tail)
            dot_step(pv, tail, ar, bs, acc);
    }
    __m512 flat[32];
#pragma GCC unroll 32
    for (int k = 0; k < 32; k++)
        flat[k] = k < MRD * NRD ? acc[k / NRD][k % NRD] : _mm512_setzero_ps();
    float sums[32];
    _mm512_storeu_ps(sums, sum16(flat));
    _mm512_storeu_ps(sums + 16, sum16(flat + 16));
#pragma GCC unroll 4
    for (int r = 0; r < MRD; r++)
#pragma GCC unroll 6
        for (int s = 0; s < NRD; s++)
            if (r < mr && s < nr)
                c[r * ldc + s] += sums[r * NRD + s];
}

const qt_gemm_kernels qt_gemm_avx512 = {MR, NVMAX * VL, MRD, NRD, packed_kernel, dot_kernel};

#endif

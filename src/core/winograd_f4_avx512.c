/* F(4x4, 3x3)'s input and output transforms (winograd_f4.c) on whole planes with AVX-512:
 * 32x32 planes two tile rows at a time, 16x16 planes one at a time, 8x8 planes four at a
 * time. Compiled for AVX-512 whatever the build's baseline and only called when the CPU
 * has it.
 *
 * Two tile rows of a 32x32 plane are 2 x 8 tiles, a 16x16 plane is 4 x 4, four 8x8 planes
 * are 4 x 2 x 2: their transformed patches at one position are one vector of 16 tiles. The
 * generic transforms run each pass as a loop over memory, 8 to 32 floats long on these
 * planes (ResNets' three stages), so their calls, loop heads and stride-4 gathers through
 * buffers cost more than the arithmetic; here the planes stay in registers. Input: B^T down
 * each tile row's 6 patch rows (a vector holds half a 32-wide row, a 16-wide row, or an
 * 8-wide row of two planes), then the 6 column phases of each transformed row gathered by
 * permutes, and B along them. Output: A^T down the positions, A along them, then the 4 x 4
 * outputs of the 16 tiles transposed into the planes' rows. The arithmetic is bt_point's
 * and at_point's, operation for operation (no fused multiply-adds), so the results are
 * bitwise the generic transforms' (tests/core/test_winograd_planes.c). */
#include "winograd_transforms.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline)) TARGET

/* o = B^T x on 16 lanes: bt_point of winograd_f4.c */
INLINE void bt_vec(const __m512 x[6], __m512 o[6])
{
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f),
                 five = _mm512_set1_ps(5.0f);
    const __m512 p = _mm512_sub_ps(x[4], _mm512_mul_ps(four, x[2]));
    const __m512 q = _mm512_sub_ps(x[3], _mm512_mul_ps(four, x[1]));
    const __m512 r = _mm512_sub_ps(x[4], x[2]);
    const __m512 s = _mm512_mul_ps(two, _mm512_sub_ps(x[3], x[1]));
    const __m512 o0 = _mm512_sub_ps(_mm512_mul_ps(four, x[0]), _mm512_mul_ps(five, x[2]));
    const __m512 o5 = _mm512_sub_ps(_mm512_mul_ps(four, x[1]), _mm512_mul_ps(five, x[3]));
    o[0] = _mm512_add_ps(o0, x[4]);
    o[1] = _mm512_add_ps(p, q);
    o[2] = _mm512_sub_ps(p, q);
    o[3] = _mm512_add_ps(r, s);
    o[4] = _mm512_sub_ps(r, s);
    o[5] = _mm512_add_ps(o5, x[5]);
}

/* Patch rows k < 6 of tile row ty of a side x side plane (side 16 or 32), columns 16 h ..
 * 16 h + 15: zero above and below the plane. */
INLINE void patch_rows(const float *x, int side, int ty, int h, __m512 rows[6])
{
    for (int k = 0; k < 6; k++) {
        const int y = 4 * ty - 1 + k;
        rows[k] = y >= 0 && y < side ? _mm512_loadu_ps(x + side * y + 16 * h)
                                     : _mm512_setzero_ps();
    }
}

/* B^T down one tile row's 6 patch rows (rows[k]: patch row k, as many columns as a vector
 * holds) into e[i][slot], row i of B^T d. */
INLINE void down_rows(const __m512 rows[6], __m512 e[6][4], int slot)
{
    __m512 o[6];
    bt_vec(rows, o);
    for (int i = 0; i < 6; i++)
        e[i][slot] = o[i];
}

/* Phase j of transformed rows (lanes: the 16 tiles' patch column j): two permutes of lanes
 * 0-7 from the pairs (e[0], e[1]) and (e[2], e[3]) (indices 0-15 the first of a pair, 16-31
 * the second), lanes outside `keep` zero, joined by a 128-bit shuffle. */
INLINE __m512 phase(const __m512 e[4], __m512i index, __mmask16 keep)
{
    const __m512 lo = _mm512_maskz_permutex2var_ps(keep, e[0], index, e[1]);
    const __m512 hi = _mm512_maskz_permutex2var_ps(keep, e[2], index, e[3]);
    return _mm512_shuffle_f32x4(lo, hi, 0x44);
}

/* B along each transformed row i (e[i]: the pairs as in phase), into V[6 i + j]. */
INLINE void phases_to_v(const __m512 e[6][4], const int index[6][16], const __mmask16 keep[6],
                        float *v, ptrdiff_t xi_stride)
{
    __m512i iv[6];
    for (int j = 0; j < 6; j++)
        iv[j] = _mm512_loadu_si512(index[j]);
    for (int i = 0; i < 6; i++) {
        __m512 d[6], o[6];
        for (int j = 0; j < 6; j++)
            d[j] = phase(e[i], iv[j], keep[j]);
        bt_vec(d, o);
        for (int j = 0; j < 6; j++)
            _mm512_storeu_ps(v + (6 * i + j) * xi_stride, o[j]);
    }
}

/* 16x16 and 32x32: lane l < 8 reads lane 4 l + j - 1 of its pair (PHASE_INDEX). 16x16: the
 * pairs are tile rows (0, 1) and (2, 3), 16 columns each, and lane l is tile (l / 4, l % 4),
 * column 4 (l % 4) + j - 1 of its row; 32x32: the pairs are the two halves of a tile row,
 * and lane l is tile l, column 4 l + j - 1. Zero where the column is outside the plane. */
static const int PHASE_INDEX[6][16] = {
    {0, 3, 7, 11, 15, 19, 23, 27}, {0, 4, 8, 12, 16, 20, 24, 28},
    {1, 5, 9, 13, 17, 21, 25, 29}, {2, 6, 10, 14, 18, 22, 26, 30},
    {3, 7, 11, 15, 19, 23, 27, 31}, {4, 8, 12, 16, 20, 24, 28, 0}};
static const __mmask16 PHASE16_KEEP[6] = {0xEE, 0xFF, 0xFF, 0xFF, 0xFF, 0x77};
static const __mmask16 PHASE32_KEEP[6] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};

/* 16x16 or 32x32 (side): the 16 tiles from tile row ty0, a whole 16x16 plane or two tile
 * rows of a 32x32 one; e[i][k] holds half h = k % halves of tile row ty0 + k / halves, where
 * a plane's row is `halves` vectors (1 or 2). */
TARGET static void input_rows(const float *x, int side, int ty0, float *v, ptrdiff_t xi_stride)
{
    const int halves = side / 16;
    __m512 e[6][4];
    for (int k = 0; k < 4; k++) {
        __m512 rows[6];
        patch_rows(x, side, ty0 + k / halves, k % halves, rows);
        down_rows(rows, e, k);
    }
    phases_to_v(e, PHASE_INDEX, side == 16 ? PHASE16_KEEP : PHASE32_KEEP, v, xi_stride);
}

/* 8x8, 4 planes: a vector holds the 16 tiles of 4 planes (lane 4 k + 2 ty + tx for plane k),
 * and a vector of rows the same row of 2 planes (lane 8 k + column). The pairs are tile rows
 * (0, 1) of planes 0-1 and of planes 2-3; lane l < 8 is tile (l / 2 % 2, l % 2) of plane
 * l / 4 of its pair and reads column 4 (l % 2) + j - 1 of its row, zero where that is -1 or
 * 8. */
static const int PHASE8_INDEX[6][16] = {
    {0, 3, 0, 19, 0, 11, 0, 27}, {0, 4, 16, 20, 8, 12, 24, 28},
    {1, 5, 17, 21, 9, 13, 25, 29}, {2, 6, 18, 22, 10, 14, 26, 30},
    {3, 7, 19, 23, 11, 15, 27, 31}, {4, 0, 20, 0, 12, 0, 28, 0}};
static const __mmask16 PHASE8_KEEP[6] = {0xAA, 0xFF, 0xFF, 0xFF, 0xFF, 0x55};

/* Row y of planes a and b (8 floats each) as one vector. */
INLINE __m512 row_pair(const float *a, const float *b)
{
    const __m512d lo = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(a)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm256_loadu_ps(b)), 1));
}

TARGET static void input_8x8(const float *x, ptrdiff_t image_stride, float *v,
                             ptrdiff_t xi_stride)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 e[6][4]; /* e[i][2 p + ty]: row i of B^T d for tile row ty of planes 2p, 2p + 1 */
    for (int p = 0; p < 2; p++)
        for (int ty = 0; ty < 2; ty++) {
            const float *a = x + 2 * p * image_stride, *b = a + image_stride;
            __m512 rows[6];
            for (int k = 0; k < 6; k++) {
                const int y = 4 * ty - 1 + k;
                rows[k] = y >= 0 && y < 8 ? row_pair(a + 8 * y, b + 8 * y) : zero;
            }
            down_rows(rows, e, 2 * p + ty);
        }
    phases_to_v(e, PHASE8_INDEX, PHASE8_KEEP, v, xi_stride);
}

/* o = A^T m on 16 lanes: at_point of winograd_f4.c */
INLINE void at_vec(const __m512 m[6], __m512 o[4])
{
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f),
                 eight = _mm512_set1_ps(8.0f);
    const __m512 s = _mm512_add_ps(m[1], m[2]), d = _mm512_sub_ps(m[1], m[2]);
    const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s), s2);
    o[1] = _mm512_add_ps(d, _mm512_mul_ps(two, d2));
    o[2] = _mm512_add_ps(s, _mm512_mul_ps(four, s2));
    o[3] = _mm512_add_ps(_mm512_add_ps(d, _mm512_mul_ps(eight, d2)), m[5]);
}

/* A^T M A of 16 tiles, M[xi] at m + xi * xi_stride: o[a][b] lane t is output (a, b) of
 * tile t. */
INLINE void output_tiles(const float *m, ptrdiff_t xi_stride, __m512 o[4][4])
{
    __m512 f[4][6]; /* f[a][j]: row a of A^T M, column j */
    for (int j = 0; j < 6; j++) {
        __m512 col[6], r[4];
        for (int i = 0; i < 6; i++)
            col[i] = _mm512_loadu_ps(m + (6 * i + j) * xi_stride);
        at_vec(col, r);
        for (int a = 0; a < 4; a++)
            f[a][j] = r[a];
    }
    for (int a = 0; a < 4; a++)
        at_vec(f[a], o[a]);
}

/* A 4 x 4 transpose inside each 128-bit lane: w[q] lane 4 k + b = o[b] lane 4 k + q. */
INLINE void transpose_lanes(const __m512 o[4], __m512 w[4])
{
    const __m512 t0 = _mm512_unpacklo_ps(o[0], o[1]), t1 = _mm512_unpackhi_ps(o[0], o[1]);
    const __m512 t2 = _mm512_unpacklo_ps(o[2], o[3]), t3 = _mm512_unpackhi_ps(o[2], o[3]);
    w[0] = _mm512_shuffle_ps(t0, t2, 0x44);
    w[1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    w[2] = _mm512_shuffle_ps(t1, t3, 0x44);
    w[3] = _mm512_shuffle_ps(t1, t3, 0xEE);
}

INLINE void store_row(float *y, __m512 row, int accumulate)
{
    _mm512_storeu_ps(y, accumulate ? _mm512_add_ps(_mm512_loadu_ps(y), row) : row);
}

INLINE __m256 high_half(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

INLINE void store_half(float *y, __m256 row, int accumulate)
{
    _mm256_storeu_ps(y, accumulate ? _mm256_add_ps(_mm256_loadu_ps(y), row) : row);
}

/* After transpose_lanes (w[q] lane 4 k + b = o[b] lane 4 k + q), row[k] = the 128-bit lanes
 * k of w[0..3]: lane 4 q + b of row[k] is o[b] lane 4 k + q. */
INLINE void lanes_to_rows(const __m512 w[4], __m512 row[4])
{
    const __m512 u0 = _mm512_shuffle_f32x4(w[0], w[1], 0x44),
                 u1 = _mm512_shuffle_f32x4(w[0], w[1], 0xEE),
                 u2 = _mm512_shuffle_f32x4(w[2], w[3], 0x44),
                 u3 = _mm512_shuffle_f32x4(w[2], w[3], 0xEE);
    row[0] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    row[1] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
    row[2] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    row[3] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
}

/* 16x16 or 32x32 (side), the 16 tiles from tile row ty0: o[a][b] lane t -> row 4 ty + a,
 * column 4 tx + b of tile t; row[k] of lanes_to_rows is half k % halves of that row for tile
 * row ty0 + k / halves (halves as in input_rows). */
TARGET static void output_rows(const float *m, ptrdiff_t xi_stride, float *y, int side, int ty0,
                               int accumulate)
{
    const int halves = side / 16;
    __m512 o[4][4];
    output_tiles(m, xi_stride, o);
    for (int a = 0; a < 4; a++) {
        __m512 w[4], row[4];
        transpose_lanes(o[a], w);
        lanes_to_rows(w, row);
        for (int k = 0; k < 4; k++)
            store_row(y + side * (4 * (ty0 + k / halves) + a) + 16 * (k % halves), row[k],
                      accumulate);
    }
}

/* 8x8, 4 planes: o[a][b] lane 4 k + 2 ty + tx -> row 4 ty + a, column 4 tx + b of plane k:
 * after transpose_lanes, w[2 ty + tx] lane 4 k + b, and a row of plane k is lane k of
 * w[2 ty] then lane k of w[2 ty + 1]. */
TARGET static void output_8x8(const float *m, ptrdiff_t xi_stride, float *y,
                              ptrdiff_t image_stride, int accumulate)
{
    static const int pair_lo[16] = {0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23};
    static const int pair_hi[16] = {8,  9,  10, 11, 24, 25, 26, 27,
                                    12, 13, 14, 15, 28, 29, 30, 31};
    const __m512i lo = _mm512_loadu_si512(pair_lo), hi = _mm512_loadu_si512(pair_hi);
    __m512 o[4][4];
    output_tiles(m, xi_stride, o);
    for (int a = 0; a < 4; a++) {
        __m512 w[4];
        transpose_lanes(o[a], w);
        for (int ty = 0; ty < 2; ty++) {
            const __m512 r01 = _mm512_permutex2var_ps(w[2 * ty], lo, w[2 * ty + 1]);
            const __m512 r23 = _mm512_permutex2var_ps(w[2 * ty], hi, w[2 * ty + 1]);
            float *yr = y + 8 * (4 * ty + a);
            store_half(yr, _mm512_castps512_ps256(r01), accumulate);
            store_half(yr + image_stride, high_half(r01), accumulate);
            store_half(yr + 2 * image_stride, _mm512_castps512_ps256(r23), accumulate);
            store_half(yr + 3 * image_stride, high_half(r23), accumulate);
        }
    }
}

/* Tile rows per call above (16 tiles), 0 where there is no transform for the plane. */
static int group_rows(const qt_winograd *g)
{
    if (g->isa != QT_ISA_AVX512 || g->h != g->w)
        return 0;
    return g->h == 32 ? 2 : g->h == 16 ? 4 : g->h == 8 ? 8 : 0;
}

/* Whole groups from the run's start, when it starts at one within a plane (8x8: at a
 * plane). */
static int rows_in_registers(const qt_winograd *g, int first, int rows)
{
    const int group = group_rows(g);
    if (!group || first % (group < g->th ? group : g->th))
        return 0;
    return rows / group * group;
}

int wino_f4_input_registers(const qt_winograd *g, const float *xc, size_t image_stride,
                            int first, int rows, float *v, size_t xi_stride)
{
    const int done = rows_in_registers(g, first, rows);
    for (int r = 0; r < done; r += group_rows(g)) {
        const float *x = xc + (size_t)((first + r) / g->th) * image_stride;
        float *vr = v + r * g->tw;
        if (g->h == 8)
            input_8x8(x, (ptrdiff_t)image_stride, vr, (ptrdiff_t)xi_stride);
        else
            input_rows(x, g->h, (first + r) % g->th, vr, (ptrdiff_t)xi_stride);
    }
    return done;
}

int wino_f4_output_registers(const qt_winograd *g, const float *m, size_t xi_stride, int first,
                             int rows, float *yc, size_t image_stride, int accumulate)
{
    const int done = rows_in_registers(g, first, rows);
    for (int r = 0; r < done; r += group_rows(g)) {
        float *y = yc + (size_t)((first + r) / g->th) * image_stride;
        const float *mr = m + r * g->tw;
        if (g->h == 8)
            output_8x8(mr, (ptrdiff_t)xi_stride, y, (ptrdiff_t)image_stride, accumulate);
        else
            output_rows(mr, (ptrdiff_t)xi_stride, y, g->h, (first + r) % g->th, accumulate);
    }
    return done;
}

#endif

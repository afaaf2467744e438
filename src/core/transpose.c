/* qt_transpose, see transpose.h: 8 x 8 blocks through AVX registers where the build has
 * AVX2 (a scalar transpose writes one float per store, strided: 4-5x slower on the Winograd
 * weight gradient's 16- to 64-channel layers), the ragged edges one float at a time. */
#include "transpose.h"

#if defined(__AVX2__)
#include <immintrin.h>

/* The 8 x 8 block at src (rows src_row apart) into dst (rows dst_row apart), transposed */
static void block8(const float *src, ptrdiff_t src_row, float *dst, ptrdiff_t dst_row)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * src_row);
    for (int i = 0; i < 8; i += 2) { /* pairs of rows interleaved */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) { /* 4-row groups: columns 0,1 / 2,3 of each 128-bit half */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) { /* halves: columns j and j + 4 */
        _mm256_storeu_ps(dst + j * dst_row, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
        _mm256_storeu_ps(dst + (j + 4) * dst_row, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
    }
}
#endif

static void scalar(const float *src, ptrdiff_t src_row, int i0, int i1, int j0, int j1,
                   float *dst, ptrdiff_t dst_row)
{
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++)
            dst[j * dst_row + i] = src[i * src_row + j];
}

void qt_transpose(const float *src, ptrdiff_t src_row, int rows, int cols, float *dst,
                  ptrdiff_t dst_row)
{
    int rows8 = 0, cols8 = 0;
#if defined(__AVX2__)
    rows8 = rows / 8 * 8;
    cols8 = cols / 8 * 8;
    for (int i = 0; i < rows8; i += 8)
        for (int j = 0; j < cols8; j += 8)
            block8(src + i * src_row + j, src_row, dst + j * dst_row + i, dst_row);
#endif
    scalar(src, src_row, 0, rows8, cols8, cols, dst, dst_row);
    scalar(src, src_row, rows8, rows, 0, cols, dst, dst_row);
}

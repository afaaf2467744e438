/* Plain C micro-kernels: the reference the vector kernels are tested against, and the path
 * for CPUs without AVX2. */
#include "gemm.h"

enum { MR = 4, NB = 16, MRD = 2, NRD = 2 };

static int lane_valid(const uint16_t *bits, int column)
{
    return (bits[column / 16] >> (column % 16)) & 1;
}

static void packed_kernel(int k, const float *a, const float *b, const ptrdiff_t *boff,
                          const qt_gemm_lanes *lanes, const uint16_t *bits, float *c,
                          ptrdiff_t ldc, int mr, int nc, int accumulate)
{
    float acc[MR][NB] = {{0}};
    for (int l = 0, tap = 0; l < k; l++) {
        const float *bl = b + boff[l], *al = a + (size_t)l * MR;
        float bv[NB];
        for (int j = 0; j < nc; j++)
            bv[j] = !lanes || lane_valid(bits + tap * lanes->words, j) ? bl[j] : 0.0f;
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < nc; j++)
                acc[r][j] += al[r] * bv[j];
        if (lanes && ++tap == lanes->ntaps)
            tap = 0;
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nc; j++)
            c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

static void dot_kernel(int p, int nt, const float *a, ptrdiff_t a_step, const ptrdiff_t *aoff,
                       const float *b, ptrdiff_t b_step, const ptrdiff_t *boff, float *c,
                       ptrdiff_t ldc, int mr, int nr)
{
    for (int s = 0; s < nr; s++)
        for (int r = 0; r < mr; r++) {
            float acc = 0.0f;
            for (int t = 0; t < nt; t++) {
                const float *ar = a + t * a_step + aoff[r], *bs = b + t * b_step + boff[s];
                for (int q = 0; q < p; q++)
                    acc += ar[q] * bs[q];
            }
            c[r * ldc + s] += acc;
        }
}

const qt_gemm_kernels qt_gemm_portable = {MR, NB, MRD, NRD, packed_kernel, dot_kernel};

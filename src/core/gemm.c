/* Blocking and packing around the micro-kernels (see gemm.h). */
#include "gemm.h"

#include <string.h>

static const qt_gemm_kernels *kernels(qt_isa isa)
{
#ifdef QT_GEMM_X86
    if (isa == QT_ISA_AVX512)
        return &qt_gemm_avx512;
    if (isa == QT_ISA_AVX2)
        return &qt_gemm_avx2;
#endif
    (void)isa;
    return &qt_gemm_portable;
}

int qt_gemm_mr(qt_isa isa) { return kernels(isa)->mr; }

size_t qt_gemm_pack_floats(qt_isa isa, int m, int k)
{
    int mr = kernels(isa)->mr;
    return (size_t)((m + mr - 1) / mr) * mr * k;
}

/* Floats whose panel rows are adjacent (rs = 1): a panel column is one run to copy. */
static void pack_runs(int mr, int m, int k, const float *src, ptrdiff_t cs, float *dst)
{
    for (int i0 = 0; i0 < m; i0 += mr) {
        const int rows = m - i0 < mr ? m - i0 : mr;
        /* a whole panel of the x86 kernels: one vector per column (the Winograd weight
         * gradient packs 36 of them per round: 64 channels on 8x8, 1 thread, 2.3 -> 2.0 ms) */
        if (rows == 8)
            for (int l = 0; l < k; l++, dst += 8)
                memcpy(dst, src + i0 + l * cs, 8 * sizeof(float));
        else
            for (int l = 0; l < k; l++, dst += mr) {
                const float *run = src + i0 + l * cs;
                for (int r = 0; r < rows; r++)
                    dst[r] = run[r];
                for (int r = rows; r < mr; r++)
                    dst[r] = 0.0f;
            }
    }
}

void qt_gemm_pack_a(qt_isa isa, int m, int k, const qt_values *src, ptrdiff_t rs, ptrdiff_t cs,
                    float *dst)
{
    const int mr = kernels(isa)->mr;
    if (src->f && rs == 1) {
        pack_runs(mr, m, k, src->f, cs, dst);
        return;
    }
    /* one panel row at a time, floats or codes decided once per row */
    for (int i0 = 0; i0 < m; i0 += mr, dst += (size_t)mr * k)
        for (int r = 0; r < mr; r++) {
            const ptrdiff_t row = (ptrdiff_t)(i0 + r) * rs;
            if (i0 + r >= m)
                for (int l = 0; l < k; l++)
                    dst[(size_t)l * mr + r] = 0.0f;
            else if (src->f)
                for (int l = 0; l < k; l++)
                    dst[(size_t)l * mr + r] = src->f[row + l * cs];
            else
                for (int l = 0; l < k; l++)
                    dst[(size_t)l * mr + r] = (float)src->codes[row + l * cs] * src->unit;
        }
}

/* Depth of one pass over the packed operand: a panel slice (KC x MR) stays in L1 and the
 * B block (KC x NB) in L2. A multiple of the lane masks' tap count, so that every slice
 * starts at tap 0. */
static int depth_slice(int k, const qt_gemm_lanes *lanes)
{
    enum { KC = 768 };
    int slices = (k + KC - 1) / KC, kc = (k + slices - 1) / slices, taps = lanes ? lanes->ntaps : 1;
    return (kc + taps - 1) / taps * taps;
}

int qt_gemm_panel_sweep(int m, int k)
{
    return (size_t)m * depth_slice(k, NULL) * sizeof(float) > ((size_t)256 << 10);
}

/* Depth slices outside. Then, when A is small, each item's column block (kc x nb, in L1)
 * meets every panel of A; when A is large (late VGG layers: wide and deep, few pixels),
 * each panel slice (kc x mr, in L1) sweeps all items' columns, so A is read once per slice
 * rather than once per column block of every image. */
void qt_gemm_packed(qt_isa isa, int m, int n, int k, int nt, const float *apack,
                    const qt_gemm_rows *b, float *c, ptrdiff_t ldc, ptrdiff_t c_step,
                    int accumulate)
{
    const qt_gemm_kernels *kn = kernels(isa);
    const qt_gemm_lanes *lanes = b->lanes && b->lanes->ntaps ? b->lanes : NULL;
    const int kc = depth_slice(k, lanes);
    const int panel_outer = qt_gemm_panel_sweep(m, k);
    for (int l0 = 0; l0 < k; l0 += kc) {
        const int kl = k - l0 < kc ? k - l0 : kc, acc = accumulate || l0 > 0;
        const int outer = panel_outer ? m : 1, inner = panel_outer ? 1 : m;
        for (int p0 = 0; p0 < outer; p0 += kn->mr)
            for (int t = 0; t < nt; t++)
                for (int j0 = 0; j0 < n; j0 += kn->nb) {
                    const int nc = n - j0 < kn->nb ? n - j0 : kn->nb;
                    const float *bt = b->base + t * b->step + j0;
                    const uint16_t *bits = lanes ? lanes->bits + j0 / 16 : NULL;
                    for (int i0 = p0; i0 < p0 + inner && i0 < m; i0 += kn->mr)
                        kn->packed(kl, apack + (size_t)i0 * k + (size_t)l0 * kn->mr, bt,
                                   b->off + l0, lanes, bits, c + t * c_step + i0 * ldc + j0, ldc,
                                   m - i0 < kn->mr ? m - i0 : kn->mr, nc, acc);
                }
    }
}

/* Row blocks of A sized to stay in L2 outside, B's row blocks next, A's inside: each block
 * of B rows (nrd rows of nt * p floats, meant for L1) meets every row of the A block. */
void qt_gemm_dot(qt_isa isa, int m, int n, int p, int nt, const qt_gemm_rows *a,
                 const qt_gemm_rows *b, float *c, ptrdiff_t ldc)
{
    const qt_gemm_kernels *kn = kernels(isa);
    const size_t row_bytes = (size_t)nt * p * sizeof(float);
    int mc = (int)(((size_t)256 << 10) / row_bytes) / kn->mrd * kn->mrd;
    if (mc < kn->mrd)
        mc = kn->mrd;
    for (int m0 = 0; m0 < m; m0 += mc) {
        const int m1 = m - m0 < mc ? m : m0 + mc;
        for (int j0 = 0; j0 < n; j0 += kn->nrd)
            for (int i0 = m0; i0 < m1; i0 += kn->mrd)
                kn->dot(p, nt, a->base, a->step, a->off + i0, b->base, b->step, b->off + j0,
                        c + i0 * ldc + j0, ldc, m1 - i0 < kn->mrd ? m1 - i0 : kn->mrd,
                        n - j0 < kn->nrd ? n - j0 : kn->nrd);
    }
}

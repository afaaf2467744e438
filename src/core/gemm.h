/* Matrix-product kernels behind conv2d (private to src/core).
 *
 * Operands are read through row views (qt_gemm_rows) instead of a leading dimension, so the
 * same kernels multiply an im2col patch matrix (row l at l * P) or read a convolution's
 * patches straight from the image: row (c, i, j) of the patch matrix is the image plane c
 * shifted by (i - pad) rows and (j - pad) columns, i.e. the P floats at
 * x + c*H*W + (i - pad)*W + (j - pad), except that elements whose source pixel falls outside
 * the image must read as zero. Lane masks (qt_gemm_lanes) say which: one bit per column per
 * kernel tap (i, j), and row l uses tap l % ntaps. Masked-out elements are never read from
 * memory (masked vector loads), so rows may start before or end after the buffer. A view
 * also spans several images (items t, step apart), all read with the same offsets.
 *
 *   qt_gemm_packed: C_t (m x n) = [C_t +] A (m x k) B_t (k x n) for each item t < nt. A is
 *     packed into panels of qt_gemm_mr(isa) rows; C_t is at c + t * c_step, rows ldc apart.
 *   qt_gemm_dot:    C (m x n) += sum over t < nt of A_t (m x p) B_t (n x p)^T, dot products
 *     over rows (weight gradients: the sum runs over pixels and images); every element
 *     valid (conv2d pads what a weight gradient reads, see padded_planes.h).
 *
 * Each has a portable C, an AVX2 and an AVX-512 micro-kernel; `isa` must be a resolved
 * level (not QT_ISA_AUTO) that the CPU supports. */
#ifndef QTRAIN_CORE_GEMM_H
#define QTRAIN_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/cpu.h"
#include "qtrain/tensor.h"

typedef struct {
    int ntaps;                /* row l uses mask row l % ntaps; 0: every element valid */
    int words;                /* 16-column words per mask row */
    const uint16_t *bits;     /* ntaps x words; bit b of word w is column 16 w + b */
} qt_gemm_lanes;

/* Row l of item t: the contiguous floats at base + t * step + off[l]. */
typedef struct {
    const float *base;
    const ptrdiff_t *off;
    ptrdiff_t step;
    const qt_gemm_lanes *lanes; /* NULL: every element valid */
} qt_gemm_rows;

int qt_gemm_mr(qt_isa isa);
/* Floats of a packed m x k operand. */
size_t qt_gemm_pack_floats(qt_isa isa, int m, int k);
/* Packs A (element (i, l) at src[i * rs + l * cs], floats or codes decoded here) into
 * panels of qt_gemm_mr rows, zero-padding the last panel. */
void qt_gemm_pack_a(qt_isa isa, int m, int k, const qt_values *src, ptrdiff_t rs, ptrdiff_t cs,
                    float *dst);
void qt_gemm_packed(qt_isa isa, int m, int n, int k, int nt, const float *apack,
                    const qt_gemm_rows *b, float *c, ptrdiff_t ldc, ptrdiff_t c_step,
                    int accumulate);
/* Whether qt_gemm_packed sweeps each panel of A (m x k) over all items' columns, A being
 * too large to stay in cache: then a call should carry several items (images). */
int qt_gemm_panel_sweep(int m, int k);
/* a's and b's lanes must be NULL. */
void qt_gemm_dot(qt_isa isa, int m, int n, int p, int nt, const qt_gemm_rows *a,
                 const qt_gemm_rows *b, float *c, ptrdiff_t ldc);

/* Micro-kernels, one set per instruction set (gemm_portable.c, gemm_avx2.c, gemm_avx512.c).
 * packed: an mr x nc block of C (mr <= MR rows valid, nc <= NB columns) from a K-long panel;
 *   b and boff give the block's rows (column j0 added to b), `bits` its first mask word.
 * dot: an mr x nr block of C (mr <= MRD, nr <= NRD), A rows aoff, B rows boff. */
typedef void (*qt_gemm_packed_fn)(int k, const float *a, const float *b, const ptrdiff_t *boff,
                                  const qt_gemm_lanes *lanes, const uint16_t *bits, float *c,
                                  ptrdiff_t ldc, int mr, int nc, int accumulate);
typedef void (*qt_gemm_dot_fn)(int p, int nt, const float *a, ptrdiff_t a_step,
                               const ptrdiff_t *aoff, const float *b, ptrdiff_t b_step,
                               const ptrdiff_t *boff, float *c, ptrdiff_t ldc, int mr, int nr);

typedef struct {
    int mr, nb;               /* packed kernel: panel rows, columns per call (multiple of 16) */
    int mrd, nrd;             /* dot kernel block */
    qt_gemm_packed_fn packed;
    qt_gemm_dot_fn dot;
} qt_gemm_kernels;

extern const qt_gemm_kernels qt_gemm_portable;
#if defined(__x86_64__) && defined(__GNUC__)
#define QT_GEMM_X86 1
extern const qt_gemm_kernels qt_gemm_avx2;
extern const qt_gemm_kernels qt_gemm_avx512;
#endif

#endif

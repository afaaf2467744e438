/* The transforms of one Winograd variant F(m x m, 3x3) (private to winograd*.c): everything
 * that depends on the tile size, so that winograd.c's driver (chunks of tiles, products,
 * weight packing, scratch) serves F(2x2, 3x3) and F(4x4, 3x3) alike. A tile's a x a patch
 * (a = m + 2) is indexed by position xi = a * row + column. */
#ifndef QTRAIN_CORE_WINOGRAD_TRANSFORMS_H
#define QTRAIN_CORE_WINOGRAD_TRANSFORMS_H

#include <stddef.h>

#include "winograd.h"

enum { WINO_KB = 64 };      /* kernels per block of the weight transform, at most */
enum { WINO_MAX_XI = 36 };  /* positions of the largest variant's patch */

/* Each loop of a transform is its own function with restrict arguments: that keeps the
 * compiler vectorising it (the pointers it gets are chosen at run time, which defeats its
 * alias analysis when inlined). */
#define WINO_NOINLINE static __attribute__((noinline))

typedef struct {
    /* u[xi][j] = (G k_j G^T)[xi] for kernels j < n; k[q][j] is tap q of kernel j */
    void (*kernels)(const float k[9][WINO_KB], int n, float u[WINO_MAX_XI][WINO_KB]);
    /* Floats of input_tiles' buffer for at most `rows` tile rows */
    size_t (*input_floats)(const qt_winograd *g, int rows);
    /* Tile rows [first, first + rows), counted across images (tile row R is row R % th of
     * image R / th), of one channel whose plane in image i is xc + i * image_stride ->
     * V[xi][r * tw + tx] (xi_stride apart): B^T d B of the a x a patches (zero outside the
     * plane). buf: input_floats(g, rows) floats, zeroed by the caller once before the first
     * call. */
    void (*input_tiles)(const qt_winograd *g, const float *xc, size_t image_stride, int first,
                        int rows, float *v, size_t xi_stride, float *buf);
    /* Floats of output_tiles' buffer for at most `rows` tile rows */
    size_t (*output_floats)(const qt_winograd *g, int rows);
    /* The output rows of those tile rows (cropped) of one channel, planes as above, from
     * M[xi][r * tw + tx]: A^T M A, written or added. buf: output_floats(g, rows) floats. */
    void (*output_tiles)(const qt_winograd *g, const float *mm, size_t xi_stride, int first,
                         int rows, float *yc, size_t image_stride, int accumulate, float *buf);
    /* Channels innermost (the weight gradient): one tile's B^T d B for channels [0, n), patch
     * row r at in + r * row, pixel q of a row at + q n; position xi at out + xi * xs. */
    void (*grad_input_tile)(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs);
    /* One tile's A dy A^T from its m x m outputs, laid out as above. */
    void (*grad_output_tile)(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs);
    /* k[q][j] = (G^T u_j G)[q] for kernels j < n, u[xi][j] their gradients' positions: the
     * gradient of `kernels` (a kernel's taps q row-major) */
    void (*kernel_grads)(const float u[WINO_MAX_XI][WINO_KB], int n, float k[9][WINO_KB]);
} wino_transforms;

extern const wino_transforms wino_f2, wino_f4;

#if defined(__x86_64__) && defined(__GNUC__)
#define WINO_F4_AVX512 1
/* F(4x4)'s input_tiles and output_tiles in registers (winograd_f4_avx512.c), 16 tiles at a
 * time: two tile rows of a 32x32 plane, a 16x16 plane, or 4 consecutive 8x8 planes, on
 * AVX-512 CPUs, from the run's first tile row when a group starts there. Each takes the
 * same arguments as the loops it stands for and returns how many of the run's first tile
 * rows it transformed (0: none, the loops take the whole run). */
int wino_f4_input_registers(const qt_winograd *g, const float *xc, size_t image_stride,
                            int first, int rows, float *v, size_t xi_stride);
int wino_f4_output_registers(const qt_winograd *g, const float *m, size_t xi_stride, int first,
                             int rows, float *yc, size_t image_stride, int accumulate);
#endif

/* y[x] = [y[x] +] out[x] for x < w: an output row from a transform's buffer into y */
void wino_store_row(const float *restrict out, int w, int accumulate, float *restrict y);

#endif

/* Transposing a block of floats (private to src/core): the layout changes of the Winograd
 * weight gradient (channel planes to pixel-major rows) and anything like them. */
#ifndef QTRAIN_CORE_TRANSPOSE_H
#define QTRAIN_CORE_TRANSPOSE_H

#include <stddef.h>

/* dst[j * dst_row + i] = src[i * src_row + j] for i < rows, j < cols */
void qt_transpose(const float *src, ptrdiff_t src_row, int rows, int cols, float *dst,
                  ptrdiff_t dst_row);

#endif

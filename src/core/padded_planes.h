/* Padded planes for the weight gradient of a direct convolution (private to src/core).
 *
 * A k x k "same" convolution (stride 1, pad (k-1)/2) read in place needs lane masks for the
 * taps that fall outside the image. Copied to padded planes it does not: rows `stride` =
 * W + pad floats apart, whose pad extra columns are zero and serve both as the right border
 * of a row and the left border of the next, and pad zero rows above and below. Output pixel
 * q = y * stride + x then reads tap (i, j) at q + i * stride + j of the padded plane, always
 * in bounds; dy, copied to the output layout with zeros in the pad columns, cancels the
 * products at x >= W. The rows of a dot-kernel block (neighbouring taps of one channel)
 * overlap in memory, so they share cache lines instead of being separate masked reads:
 * about a quarter less weight-gradient time on 16x16 and 32x32 images.
 *
 * A plane may stack several images of one channel, one below the other, sharing the pad rows
 * between them: the kernel then runs over all of them as one long row (dy is zero in the
 * shared pad rows too), which on small images saves the per-image start and ragged last
 * vector of every kernel row. */
#ifndef QTRAIN_CORE_PADDED_PLANES_H
#define QTRAIN_CORE_PADDED_PLANES_H

#include <stddef.h>

typedef struct {
    int h, w, pad, stride;
    int images;               /* images stacked in one plane */
    size_t plane;             /* floats per padded plane (input layout) */
    size_t out_plane;         /* floats per plane in the output layout: the kernels' row length */
} qt_padded_geom;

qt_padded_geom qt_padded_geom_make(int h, int w, int pad, int images);
/* Whether stacking the images of a tile pays over one image per plane (measured: small
 * images, about 1.4x on 8x8, where larger ones lose the few percent the shared pad rows add). */
int qt_padded_stacks(int h, int w);
/* Copies n images of `channels` h x w planes (image after image, as in a tensor) into padded
 * planes at dst: stack after stack (n / images of them), channel after channel. */
void qt_padded_fill(const qt_padded_geom *g, const float *src, int n, int channels, float *dst);
/* The same into output-layout planes, zero in the pad columns and rows: the operand whose
 * products outside the images must vanish. */
void qt_padded_fill_out(const qt_padded_geom *g, const float *src, int n, int channels,
                        float *dst);
/* The phase planes (phase_planes.h) of n images of `channels` 2h x 2w planes into padded
 * planes of g (its h x w being the phase planes' size): phase q of channel c is plane 4 c + q
 * of each stack. A tap that reads its phase plane shifted by (dy, dx) reads output pixel
 * q = y * stride + x at q + (dy + pad) * stride + dx + pad. */
void qt_padded_fill_phases(const qt_padded_geom *g, const float *src, int n, int channels,
                           float *dst);

#endif

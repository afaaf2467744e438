/* Stride-2 convolutions read in place (private to src/core).
 *
 * A k x k convolution with stride 2 and pad (k-1)/2 reads input row 2 oy + i - pad for tap
 * row i. Split each channel of an image of even H and W into its 4 phase planes (rows of one
 * parity, columns of one parity), each H/2 x W/2, the output's size: tap (i, j) then reads
 * phase plane (ph(i), ph(j)) shifted by (sh(i), sh(j)) rows and columns, a stride-1 read as
 * in a direct convolution (lane masks for what falls outside). So the product needs no patch
 * matrix (im2col's is 2.25x the input for 3x3, filled by strided scalar copies), and the
 * input gradient is one direct product per phase plane, over the taps of that phase. */
#ifndef QTRAIN_CORE_PHASE_PLANES_H
#define QTRAIN_CORE_PHASE_PLANES_H

#include <stddef.h>

/* What tap (i, j) reads: phase plane 2 ph(i) + ph(j) of its channel, shifted by (dy, dx). */
typedef struct {
    int plane, dy, dx;
} qt_phase_tap;

/* Tap (i, j) of a stride-2 kernel with pad `pad`, where ph(i) = (i - pad) mod 2 and
 * sh(i) = floor((i - pad) / 2). */
qt_phase_tap qt_phase_tap_of(int i, int j, int pad);
/* The zero border a padded copy of the phase planes needs: the largest |shift|. */
int qt_phase_pad(int pad);
/* Copies `channels` planes of h x w (h, w even) into 4 phase planes each: phase q of
 * channel c at dst + (4 c + q) * plane, rows pitch floats apart. */
void qt_phase_split(const float *src, int channels, int h, int w, float *dst, size_t plane,
                    ptrdiff_t pitch);
/* The inverse: dst (channels, h, w) = [dst +] the phase planes at src, 4 per channel,
 * (h/2) x (w/2) floats each, contiguous. */
void qt_phase_merge(const float *src, int channels, int h, int w, float *dst, int accumulate);

#endif

/* Resampling a box of an 8-bit image to a float output (private to src/data). */
#ifndef QTRAIN_RESAMPLE_H
#define QTRAIN_RESAMPLE_H

#include <stddef.h>

#include "qtrain/image.h"

/* Filter taps and the intermediate rows, grown on demand and reused across images. */
typedef struct qt_resample_scratch {
    int *x_first, *x_count, *y_first, *y_count;
    float *x_w, *y_w, *tmp;
    size_t x_cap, y_cap, tmp_cap;
} qt_resample_scratch;

void qt_resample_scratch_free(qt_resample_scratch *s);

/* Maps the source box (x0, y0, bw, bh), in pixels, onto out (src->c * oh * ow floats, CHW):
 * a separable triangle filter whose support widens by the downscale factor (so shrinking
 * averages instead of aliasing), edge pixels repeated outside the image, mirrored when
 * flip is set, then out = (v / 255 - mean[c]) * inv_std[c]. Returns QT_ERR when out of
 * memory. */
int qt_resample(qt_resample_scratch *s, const qt_image *src, float x0, float y0, float bw,
                float bh, int oh, int ow, int flip, const float *mean, const float *inv_std,
                float *out);

#endif

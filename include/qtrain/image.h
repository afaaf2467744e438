/* A borrowed view of an 8-bit image with explicit byte strides, so one routine reads both
 * the datasets' planar (CHW) caches and the PNG decoder's interleaved (HWC) rows. */
#ifndef QTRAIN_IMAGE_H
#define QTRAIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_image {
    const uint8_t *data;
    int c, h, w;
    ptrdiff_t cs, ys, xs; /* byte steps between channels, rows and columns */
} qt_image;

static inline uint8_t qt_image_at(const qt_image *im, int c, int y, int x)
{
    return im->data[c * im->cs + y * im->ys + x * im->xs];
}

#ifdef __cplusplus
}
#endif

#endif

/* What the image harnesses check of every decoded image (included by fuzz_png.c and
 * fuzz_jpeg.c). */
#ifndef QTRAIN_FUZZ_IMAGE_H
#define QTRAIN_FUZZ_IMAGE_H

#include <stdlib.h>

#include "qtrain/image.h"

/* Aborts unless the image has the expected size; reads every pixel, so the sanitizers see
 * any byte the view promises but does not hold. */
static void check_decoded(const qt_image *im, int w, int h)
{
    if (im->w != w || im->h != h)
        abort();
    volatile unsigned sum = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            for (int c = 0; c < 3; c++)
                sum += qt_image_at(im, c, y, x);
    (void)sum;
}

#endif

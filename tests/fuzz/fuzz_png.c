/* libFuzzer harness: PNG header check and decoding to 8-bit RGB. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qtrain/png_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qt_error err;
    int w, h;
    int header_ok = qt_png_check_header("fuzz", data, size, &w, &h, &err) == QT_OK;
    qt_png_reader rd = {0};
    qt_image im;
    if (qt_png_decode(&rd, "fuzz", data, size, &im, &err) == QT_OK) {
        /* a decoded image has the header's size and every pixel is readable */
        if (header_ok && (im.w != w || im.h != h))
            abort();
        volatile unsigned sum = 0;
        for (int y = 0; y < im.h; y++)
            for (int x = 0; x < im.w; x++)
                for (int c = 0; c < 3; c++)
                    sum += qt_image_at(&im, c, y, x);
        (void)sum;
    }
    qt_png_reader_free(&rd);
    return 0;
}

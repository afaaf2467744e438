/* libFuzzer harness: JPEG header walk and decoding to 8-bit RGB at every scale. The first
 * byte picks the scale (1, 1/2, 1/4, 1/8); the rest is the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_image.h"
#include "qtrain/jpeg_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int denom = 1 << (data[0] & 3);
    data++;
    size--;
    qt_error err;
    int w, h;
    int header_ok = qt_jpeg_check_header("fuzz", data, size, &w, &h, &err) == QT_OK;
    qt_jpeg_reader rd = {0};
    qt_image im;
    /* a decoded image has the header's size, scaled, and every pixel is readable */
    if (qt_jpeg_decode(&rd, "fuzz", data, size, denom, &im, &err) == QT_OK)
        check_decoded(&im, header_ok ? (w + denom - 1) / denom : im.w,
                      header_ok ? (h + denom - 1) / denom : im.h);
    qt_jpeg_reader_free(&rd);
    return 0;
}

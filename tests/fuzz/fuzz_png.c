/* libFuzzer harness: PNG header check and decoding to 8-bit RGB. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_image.h"
#include "qtrain/png_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qt_error err;
    int w, h;
    int header_ok = qt_png_check_header("fuzz", data, size, &w, &h, &err) == QT_OK;
    qt_png_reader rd = {0};
    qt_image im;
    /* a decoded image has the header's size and every pixel is readable */
    if (qt_png_decode(&rd, "fuzz", data, size, &im, &err) == QT_OK)
        check_decoded(&im, header_ok ? w : im.w, header_ok ? h : im.h);
    qt_png_reader_free(&rd);
    return 0;
}

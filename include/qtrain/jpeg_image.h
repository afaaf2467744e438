/* JPEG decoding to 8-bit RGB and encoding, with libjpeg-turbo's libjpeg API (jpeglib.h).
 *
 * Colour: YCbCr and RGB JPEGs decode to RGB through libjpeg, greyscale is replicated into
 * the three channels, CMYK and YCCK (libjpeg turns YCCK into CMYK) are converted here:
 * with an Adobe APP14 marker the samples are stored inverted, as Photoshop writes them, and
 * R = C * K / 255 (likewise G from M, B from Y); without it R = (255 - C) * (255 - K) / 255.
 * No colour-profile conversion. Baseline, extended, progressive and arithmetic-coded files
 * all decode.
 *
 * Errors: libjpeg's default error handler calls exit(); the decoder installs its own, which
 * longjmps back and reports "<name>: corrupt JPEG: <libjpeg's message>". libjpeg treats
 * damaged entropy data and a truncated file as warnings and fills the rest of the image
 * with grey; here those warnings are errors, so a truncated file is rejected rather than
 * half-grey. Warnings about metadata only (unknown JFIF revision or Adobe transform, a bad
 * ICC marker, extraneous bytes before a marker) are ignored, as other decoders do.
 *
 * Scaled decoding: libjpeg-turbo can decode at 1/2, 1/4 or 1/8 of the size by scaling the
 * inverse DCT, which skips most of the work of the full-size decode. */
#ifndef QTRAIN_JPEG_IMAGE_H
#define QTRAIN_JPEG_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qtrain/error.h"
#include "qtrain/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Larger images are rejected before any pixel memory is allocated, and progressive files
 * with more scans than this are rejected while decoding (each scan revisits every
 * coefficient, so a file of many tiny scans costs far more time than its size suggests). */
enum { QT_JPEG_MAX_SIDE = 16384, QT_JPEG_MAX_PIXELS = 1 << 26, QT_JPEG_MAX_SCANS = 256 };

/* Buffers reused from one decode to the next. Zero-initialise; release with
 * qt_jpeg_reader_free. */
typedef struct qt_jpeg_reader {
    uint8_t *pixels;
    size_t pixels_cap;
    uint8_t *cmyk;      /* one row of CMYK samples */
    size_t cmyk_cap;
} qt_jpeg_reader;

void qt_jpeg_reader_free(qt_jpeg_reader *rd);

/* Whether buf starts like a JPEG file (the SOI marker and the start of another marker). */
int qt_jpeg_signature(const uint8_t *buf, size_t len);

/* Decodes a JPEG held in memory at 1/scale_denom of its size (scale_denom 1, 2, 4 or 8;
 * a side of n pixels becomes ceil(n / scale_denom)) into rd's pixel buffer; *out views it
 * as HWC RGB and stays valid until the next decode with rd. name is used in messages. */
int qt_jpeg_decode(qt_jpeg_reader *rd, const char *name, const uint8_t *buf, size_t len,
                   int scale_denom, qt_image *out, qt_error *err);

/* Walks the markers of the first len bytes of a JPEG up to its frame header (SOFn) and
 * checks it: *w and *h receive the image size. A file whose header lies beyond len bytes
 * is reported as truncated. */
int qt_jpeg_check_header(const char *name, const uint8_t *buf, size_t len, int *w, int *h,
                         qt_error *err);

/* The same for a file read from its current position (the start of the JPEG): the
 * segments before the frame header are skipped with fseek, so large EXIF blocks cost no
 * reading. name is used in messages. */
int qt_jpeg_check_stream(FILE *f, const char *name, int *w, int *h, qt_error *err);

/* How a JPEG is written. Colour spaces: the samples given per pixel and what the file
 * stores. */
typedef enum qt_jpeg_color {
    QT_JPEG_GRAY,        /* 1 sample, stored as one greyscale component */
    QT_JPEG_YCBCR,       /* 3 samples R, G, B, stored as YCbCr (the usual photo) */
    QT_JPEG_RGB,         /* 3 samples R, G, B, stored as RGB without a colour transform */
    QT_JPEG_CMYK_ADOBE,  /* 4 samples, inverted CMYK with an Adobe marker (Photoshop) */
    QT_JPEG_CMYK_PLAIN,  /* 4 samples, plain CMYK, no Adobe marker */
    QT_JPEG_YCCK,        /* 4 samples, inverted CMYK, stored as YCCK with an Adobe marker */
} qt_jpeg_color;

typedef struct qt_jpeg_format {
    qt_jpeg_color color;
    int progressive;     /* 1: progressive scans instead of one baseline scan */
    int quality;         /* 1..100 */
    int subsample;       /* 1: 2x2 chroma subsampling (YCbCr, YCCK), 0: none */
} qt_jpeg_format;

int qt_jpeg_color_channels(qt_jpeg_color color);

/* Encodes a w x h image whose samples are h * w * channels bytes in row order. The JPEG
 * goes to *buf (free() it). */
int qt_jpeg_encode(const qt_jpeg_format *f, int w, int h, const uint8_t *samples,
                   uint8_t **buf, size_t *len, qt_error *err);

/* The RGB a decoder produces for one pixel of samples in the given colour space (the
 * conversion described above). */
void qt_jpeg_color_to_rgb(qt_jpeg_color color, const uint8_t *samples, uint8_t rgb[3]);

#ifdef __cplusplus
}
#endif

#endif

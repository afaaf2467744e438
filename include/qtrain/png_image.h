/* PNG decoding to 8-bit RGB and encoding, with libpng.
 * Every colour type and bit depth decodes to 3 channels of 8 bits: grey is replicated,
 * palettes are expanded, 1/2/4-bit grey is scaled to 0..255, 16-bit samples are scaled
 * (v * 255 / 65535, rounded), alpha and tRNS transparency are dropped (not composited),
 * interlaced images are de-interlaced. No gamma or colour-profile conversion is applied. */
#ifndef QTRAIN_PNG_IMAGE_H
#define QTRAIN_PNG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits that bound the memory and time a hostile file can cost: larger images are
 * rejected before any row is allocated (at most 201 MB of RGB), larger files before they
 * are read, and libpng buffers no ancillary chunk larger than QT_PNG_MAX_CHUNK_BYTES (it
 * reads only tRNS among them and skips the others: text, colour profiles, ...). */
enum {
    QT_PNG_MAX_SIDE = 16384,
    QT_PNG_MAX_PIXELS = 1 << 26,
    QT_PNG_MAX_FILE_BYTES = 1 << 30,
    QT_PNG_MAX_CHUNK_BYTES = 1 << 20,
};

/* Buffers reused from one decode to the next, so a loader thread decoding many images does
 * not allocate per image. Zero-initialise; release with qt_png_reader_free. */
typedef struct qt_png_reader {
    uint8_t *pixels;
    size_t pixels_cap;
    uint8_t **rows;
    size_t rows_cap;
    uint8_t *file;
    size_t file_cap;
} qt_png_reader;

void qt_png_reader_free(qt_png_reader *rd);

/* Decodes a PNG held in memory into rd's pixel buffer; *out views it as HWC RGB and stays
 * valid until the next decode with rd. name is used in messages. A palette index past the
 * palette's last entry is an error (the file is corrupt: the PNG spec leaves such pixels
 * without a colour). */
int qt_png_decode(qt_png_reader *rd, const char *name, const uint8_t *buf, size_t len,
                  qt_image *out, qt_error *err);

/* Reads and decodes the PNG file at path. */
int qt_png_read(qt_png_reader *rd, const char *path, qt_image *out, qt_error *err);

/* Checks the signature and the IHDR chunk (length, type, CRC, sizes, colour type and bit
 * depth) of the first bytes of a PNG; *w and *h receive the image size. */
int qt_png_check_header(const char *name, const uint8_t *buf, size_t len, int *w, int *h,
                        qt_error *err);

/* Reads just enough of the file at path for qt_png_check_header. */
int qt_png_check_file(const char *path, int *w, int *h, qt_error *err);

/* What to encode. Colour types and bit depths are the PNG ones:
 * 0 grey (1,2,4,8,16), 2 RGB (8,16), 3 palette (1,2,4,8), 4 grey+alpha (8,16), 6 RGBA (8,16). */
typedef struct qt_png_format {
    int color_type;
    int bit_depth;
    int interlace; /* 1: Adam7 */
    int trns;      /* colour types 0, 2, 3: write a tRNS chunk */
} qt_png_format;

int qt_png_format_channels(const qt_png_format *f);

/* Encodes a w x h image. samples holds h*w*channels values in row order (palette indices
 * for colour type 3), each below 2^bit_depth. For colour type 3, palette holds
 * palette_size RGB triples; with trns, alpha holds palette_size alpha bytes (type 3) or
 * alpha[0..channels) are the transparent colour's samples (types 0 and 2).
 * The encoded PNG goes to *buf (free() it). */
int qt_png_encode(const qt_png_format *f, int w, int h, const uint16_t *samples,
                  const uint8_t *palette, int palette_size, const uint16_t *alpha,
                  uint8_t **buf, size_t *len, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

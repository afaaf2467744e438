/* Image files of either format, PNG or JPEG, decoded to 8-bit RGB. The format is told by
 * the file's first bytes, not its name (ImageNet's training set holds a PNG named .JPEG).
 *
 * Decoding is split in two so a caller can choose a JPEG's scale after seeing its size:
 * qt_image_open reads the file and checks its header, qt_image_decode decodes it. */
#ifndef QTRAIN_IMAGE_DECODE_H
#define QTRAIN_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/image.h"
#include "qtrain/jpeg_image.h"
#include "qtrain/png_image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Larger files of either format are refused before they are read (PNG's own bound). */
enum { QT_IMAGE_MAX_FILE_BYTES = QT_PNG_MAX_FILE_BYTES };

/* Buffers reused from one image to the next, and the open file. Zero-initialise; release
 * with qt_image_reader_free. One reader per thread. */
typedef struct qt_image_reader {
    qt_png_reader png;   /* png.file also holds the bytes of the open file, whatever its format */
    qt_jpeg_reader jpeg;
    size_t len;          /* bytes of the open file */
    int is_jpeg;
    int w, h;            /* the open image's full size */
} qt_image_reader;

void qt_image_reader_free(qt_image_reader *rd);

/* Whether a file name has an image extension: .png, .jpg or .jpeg, in any case. */
int qt_image_file_name(const char *name);

/* Reads the start of the file at path (JPEG: its markers up to the frame header) and
 * checks the header of whichever format it is; *w and *h receive the image size. */
int qt_image_check_file(const char *path, int *w, int *h, qt_error *err);

/* Reads the file at path into rd and checks its header; *w and *h receive its size. */
int qt_image_open(qt_image_reader *rd, const char *path, int *w, int *h, qt_error *err);

/* Decodes the open file; a JPEG at 1/scale_denom of its size (1, 2, 4 or 8; a PNG always
 * at full size). *out views rd's pixels (HWC RGB) until rd's next use. path names the
 * file in messages. */
int qt_image_decode(qt_image_reader *rd, const char *path, int scale_denom, qt_image *out,
                    qt_error *err);

/* qt_image_open then qt_image_decode at full size. */
int qt_image_read(qt_image_reader *rd, const char *path, qt_image *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

/* The frame header of a JPEG, found by walking its markers (no libjpeg needed): SOI, then
 * segments of FF <marker> <16-bit length> <length - 2 bytes>, up to the first SOFn. The walk
 * must find the frame libjpeg decodes, so it skips the markers libjpeg skips. */
#include "qtrain/jpeg_image.h"

#include <stdio.h>
#include <string.h>

/* A byte source: a memory buffer or a file. */
typedef struct marker_reader {
    const uint8_t *buf;
    size_t len, pos;
    FILE *f;
} marker_reader;

/* Reads n bytes; 0 at the end of the data. */
static int take(marker_reader *r, uint8_t *out, size_t n)
{
    if (r->f)
        return fread(out, 1, n, r->f) == n;
    if (n > r->len - r->pos)
        return 0;
    memcpy(out, r->buf + r->pos, n);
    r->pos += n;
    return 1;
}

static int skip(marker_reader *r, size_t n)
{
    if (r->f)
        return fseek(r->f, (long)n, SEEK_CUR) == 0;
    if (n > r->len - r->pos)
        return 0;
    r->pos += n;
    return 1;
}

/* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
static int is_frame_marker(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int walk(marker_reader *r, const char *name, int *w, int *h, qt_error *err)
{
    uint8_t b[8];
    if (!take(r, b, 2) || b[0] != 0xFF || b[1] != 0xD8)
        return qt_errorf(err, "%s: not a JPEG file (no SOI marker)", name);
    for (;;) {
        if (!take(r, b, 1))
            return qt_errorf(err, "%s: truncated JPEG: no frame header", name);
        if (b[0] != 0xFF)
            return qt_errorf(err, "%s: corrupt JPEG: byte 0x%02x where a marker should be", name,
                             b[0]);
        do {
            if (!take(r, b, 1))
                return qt_errorf(err, "%s: truncated JPEG: no frame header", name);
        } while (b[0] == 0xFF); /* fill bytes */
        uint8_t m = b[0];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
            continue; /* TEM and RSTn stand alone (no length), as libjpeg reads them */
        if (m == 0xD8 || m == 0xD9 || m == 0xDA || m == 0x00)
            return qt_errorf(err, "%s: corrupt JPEG: marker 0x%02x before the frame header", name,
                             m);
        if (!take(r, b, 2))
            return qt_errorf(err, "%s: truncated JPEG: no frame header", name);
        size_t seg = (size_t)b[0] << 8 | b[1];
        if (seg < 2)
            return qt_errorf(err, "%s: corrupt JPEG: segment length %zu", name, seg);
        if (!is_frame_marker(m)) {
            if (!skip(r, seg - 2))
                return qt_errorf(err, "%s: truncated JPEG: no frame header", name);
            continue;
        }
        if (seg < 8 || !take(r, b, 6))
            return qt_errorf(err, "%s: truncated JPEG: short frame header", name);
        int height = b[1] << 8 | b[2], width = b[3] << 8 | b[4], comps = b[5];
        if (width == 0 || height == 0 || width > QT_JPEG_MAX_SIDE ||
            height > QT_JPEG_MAX_SIDE || (size_t)width * height > QT_JPEG_MAX_PIXELS)
            return qt_errorf(err, "%s: unsupported JPEG size %dx%d", name, width, height);
        if (comps != 1 && comps != 3 && comps != 4)
            return qt_errorf(err, "%s: unsupported JPEG with %d colour components", name, comps);
        *w = width;
        *h = height;
        return QT_OK;
    }
}

int qt_jpeg_check_header(const char *name, const uint8_t *buf, size_t len, int *w, int *h,
                         qt_error *err)
{
    marker_reader r = {buf, len, 0, NULL};
    return walk(&r, name, w, h, err);
}

int qt_jpeg_check_stream(FILE *f, const char *name, int *w, int *h, qt_error *err)
{
    marker_reader r = {NULL, 0, 0, f};
    return walk(&r, name, w, h, err);
}

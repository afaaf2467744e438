/* PNG or JPEG, dispatched on the file's signature. */
#include "qtrain/image_decode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "qtrain/file_io.h"

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int is_png(const uint8_t *buf, size_t len)
{
    return len >= 8 && memcmp(buf, png_signature, 8) == 0;
}

void qt_image_reader_free(qt_image_reader *rd)
{
    qt_png_reader_free(&rd->png);
    qt_jpeg_reader_free(&rd->jpeg);
    memset(rd, 0, sizeof *rd);
}

int qt_image_file_name(const char *name)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && strcasecmp(name + n - e, ext[i]) == 0)
            return 1;
    }
    return 0;
}

static int unknown_format(const char *path, qt_error *err)
{
    return qt_errorf(err, "%s: neither a PNG nor a JPEG file (unknown signature)", path);
}

int qt_image_check_file(const char *path, int *w, int *h, qt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qt_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    /* enough for a PNG's signature and IHDR chunk */
    uint8_t head[33];
    size_t n = fread(head, 1, sizeof head, f);
    int rc;
    if (is_png(head, n)) {
        rc = qt_png_check_header(path, head, n, w, h, err);
    } else if (qt_jpeg_signature(head, n)) {
        rewind(f);
        rc = qt_jpeg_check_stream(f, path, w, h, err);
    } else {
        rc = unknown_format(path, err);
    }
    fclose(f);
    return rc;
}

int qt_image_open(qt_image_reader *rd, const char *path, int *w, int *h, qt_error *err)
{
    if (qt_read_file_at_most(path, QT_IMAGE_MAX_FILE_BYTES, &rd->png.file, &rd->png.file_cap,
                             &rd->len, err) != QT_OK)
        return QT_ERR;
    const uint8_t *buf = rd->png.file;
    int rc;
    rd->is_jpeg = qt_jpeg_signature(buf, rd->len);
    if (rd->is_jpeg)
        rc = qt_jpeg_check_header(path, buf, rd->len, &rd->w, &rd->h, err);
    else if (is_png(buf, rd->len))
        rc = qt_png_check_header(path, buf, rd->len, &rd->w, &rd->h, err);
    else
        rc = unknown_format(path, err);
    if (rc != QT_OK)
        return QT_ERR;
    *w = rd->w;
    *h = rd->h;
    return QT_OK;
}

int qt_image_decode(qt_image_reader *rd, const char *path, int scale_denom, qt_image *out,
                    qt_error *err)
{
    int rc = rd->is_jpeg
                 ? qt_jpeg_decode(&rd->jpeg, path, rd->png.file, rd->len, scale_denom, out, err)
                 : qt_png_decode(&rd->png, path, rd->png.file, rd->len, out, err);
    if (rc != QT_OK)
        return QT_ERR;
    /* callers drew their crop from the header's size; a decoder that read another frame
     * would make it silently wrong */
    int d = rd->is_jpeg ? scale_denom : 1;
    int want_w = (rd->w + d - 1) / d, want_h = (rd->h + d - 1) / d;
    if (out->w != want_w || out->h != want_h)
        return qt_errorf(err, "%s: corrupt image: decoded %dx%d at scale 1/%d, header says %dx%d",
                         path, out->w, out->h, d, rd->w, rd->h);
    return QT_OK;
}

int qt_image_read(qt_image_reader *rd, const char *path, qt_image *out, qt_error *err)
{
    int w, h;
    if (qt_image_open(rd, path, &w, &h, err) != QT_OK)
        return QT_ERR;
    return qt_image_decode(rd, path, 1, out, err);
}

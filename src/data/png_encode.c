/* PNG encoding with libpng into a memory buffer (the tests' and tools' writer). The
 * setjmp lives in encode_rows; the state it changes is reached through pointers. */
#include "qtrain/png_image.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct png_sink {
    uint8_t *buf;
    size_t len, cap;
    uint8_t *rows;  /* packed sample bytes for all rows */
    png_bytep *row_ptrs;
    char msg[200];
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_sink *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    struct png_sink *s = png_get_io_ptr(png);
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 4096;
        while (n > cap - s->len)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            png_error(png, "out of memory");
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void on_flush(png_structp png)
{
    (void)png;
}

int qt_png_format_channels(const qt_png_format *f)
{
    switch (f->color_type) {
    case 2: return 3;
    case 4: return 2;
    case 6: return 4;
    default: return 1;
    }
}

/* Sample bytes as libpng takes them: one byte per sample up to 8 bits (png_set_packing
 * packs sub-byte depths), two big-endian bytes at 16 bits. */
static void fill_rows(const qt_png_format *f, int w, int h, const uint16_t *samples,
                      struct png_sink *s)
{
    size_t per_row = (size_t)w * qt_png_format_channels(f) * (f->bit_depth == 16 ? 2 : 1);
    size_t count = (size_t)w * h * qt_png_format_channels(f);
    for (size_t i = 0; i < count; i++) {
        if (f->bit_depth == 16) {
            s->rows[2 * i] = (uint8_t)(samples[i] >> 8);
            s->rows[2 * i + 1] = (uint8_t)samples[i];
        } else {
            s->rows[i] = (uint8_t)samples[i];
        }
    }
    for (int y = 0; y < h; y++)
        s->row_ptrs[y] = s->rows + (size_t)y * per_row;
}

static int encode_rows(png_structp png, png_infop info, const qt_png_format *f, int w, int h,
                       const uint8_t *palette, int palette_size, const uint16_t *alpha)
{
    if (setjmp(png_jmpbuf(png)))
        return QT_ERR;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, f->bit_depth, f->color_type,
                 f->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (f->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < palette_size; i++)
            pal[i] = (png_color){palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
        png_set_PLTE(png, info, pal, palette_size);
        if (f->trns) {
            png_byte a[256];
            for (int i = 0; i < palette_size; i++)
                a[i] = (png_byte)alpha[i];
            png_set_tRNS(png, info, a, palette_size, NULL);
        }
    } else if (f->trns) {
        png_color_16 t = {0, alpha[0], alpha[f->color_type == 2 ? 1 : 0],
                          alpha[f->color_type == 2 ? 2 : 0], alpha[0]};
        png_set_tRNS(png, info, NULL, 0, &t);
    }
    png_write_info(png, info);
    if (f->bit_depth < 8)
        png_set_packing(png);
    png_set_interlace_handling(png);
    png_write_image(png, ((struct png_sink *)png_get_io_ptr(png))->row_ptrs);
    png_write_end(png, NULL);
    return QT_OK;
}

int qt_png_encode(const qt_png_format *f, int w, int h, const uint16_t *samples,
                  const uint8_t *palette, int palette_size, const uint16_t *alpha,
                  uint8_t **buf, size_t *len, qt_error *err)
{
    if (w <= 0 || h <= 0 || palette_size < 0 || palette_size > 256)
        return qt_errorf(err, "PNG encode: bad size %dx%d or palette size %d", w, h, palette_size);
    struct png_sink s = {0};
    size_t row_bytes = (size_t)w * qt_png_format_channels(f) * (f->bit_depth == 16 ? 2 : 1);
    s.rows = malloc(row_bytes * h);
    s.row_ptrs = malloc(sizeof *s.row_ptrs * h);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = QT_ERR;
    if (s.rows && s.row_ptrs && info) {
        fill_rows(f, w, h, samples, &s);
        png_set_write_fn(png, &s, on_write, on_flush);
        rc = encode_rows(png, info, f, w, h, palette, palette_size, alpha);
    } else {
        snprintf(s.msg, sizeof s.msg, "out of memory");
    }
    png_destroy_write_struct(&png, &info);
    free(s.rows);
    free(s.row_ptrs);
    if (rc != QT_OK) {
        free(s.buf);
        return qt_errorf(err, "PNG encode: %s", s.msg);
    }
    *buf = s.buf;
    *len = s.len;
    return QT_OK;
}

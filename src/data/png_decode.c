/* PNG decoding with libpng. libpng reports errors by longjmp: the setjmp lives in
 * decode_rows, whose only state that changes after setjmp is reached through rd (memory
 * that outlives the jump), so nothing needs to be volatile. */
#include "qtrain/png_image.h"

#include "qtrain/file_io.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>


struct png_source {
    const uint8_t *buf;
    size_t len, pos;
    char msg[200];
    char warning[200];        /* libpng's first warning, told with an error it led to */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_source *src = png_get_error_ptr(png);
    snprintf(src->msg, sizeof src->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    struct png_source *src = png_get_error_ptr(png);
    if (!src->warning[0])
        snprintf(src->warning, sizeof src->warning, "%s", msg);
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    struct png_source *src = png_get_io_ptr(png);
    if (n > src->len - src->pos)
        png_error(png, "unexpected end of file");
    memcpy(out, src->buf + src->pos, n);
    src->pos += n;
}

static void *grow(void *p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return p;
    void *q = realloc(p, need);
    if (q)
        *cap = need;
    return q;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int size_ok(uint32_t width, uint32_t height)
{
    return width > 0 && height > 0 && width <= QT_PNG_MAX_SIDE && height <= QT_PNG_MAX_SIDE &&
           (uint64_t)width * height <= QT_PNG_MAX_PIXELS;
}

static int size_error(const char *name, uint32_t width, uint32_t height, qt_error *err)
{
    return qt_errorf(err, "%s: unsupported PNG size %ux%u (at most %d pixels a side and %d "
                     "pixels in all)", name, width, height, QT_PNG_MAX_SIDE, QT_PNG_MAX_PIXELS);
}

/* Reading stays within bounded memory whatever the file declares: every ancillary chunk
 * but tRNS is skipped unread (text, profiles, ...: nothing the decoder uses), chunk buffers
 * are capped, and the image size is checked before any row is allocated. */
static void limit_memory(png_structp png)
{
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_chunk_malloc_max(png, QT_PNG_MAX_CHUNK_BYTES);
    png_set_chunk_cache_max(png, 64);
    png_set_user_limits(png, QT_PNG_MAX_SIDE, QT_PNG_MAX_SIDE);
}

/* Turns each row of palette indices (one byte each, at the start of its 3-byte-per-pixel
 * row) into RGB in place, last pixel first. An index past the palette is an error: such a
 * pixel has no colour (libpng's own expansion would make it black and only warn). */
static void expand_palette(png_structp png, png_infop info, uint8_t **rows, png_uint_32 width,
                           png_uint_32 height)
{
    png_colorp palette;
    int entries = 0;
    if (!png_get_PLTE(png, info, &palette, &entries))
        png_error(png, "no PLTE chunk");
    for (png_uint_32 y = 0; y < height; y++)
        for (png_uint_32 x = width; x-- > 0;) {
            int i = rows[y][x];
            if (i >= entries) {
                char msg[120];
                snprintf(msg, sizeof msg, "palette index %d outside the %d palette entries", i,
                         entries);
                png_error(png, msg);
            }
            rows[y][3 * x] = palette[i].red;
            rows[y][3 * x + 1] = palette[i].green;
            rows[y][3 * x + 2] = palette[i].blue;
        }
}

/* Sets up the conversions to 8-bit RGB (palette images: to one byte per index, expanded
 * afterwards), then reads every row. */
static int decode_rows(png_structp png, png_infop info, qt_png_reader *rd, int *w, int *h)
{
    if (setjmp(png_jmpbuf(png)))
        return QT_ERR;
    limit_memory(png);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* tests/fuzz/run.sh: mutated inputs rarely keep valid CRCs; accept them so the fuzzer
     * reaches the conversions and our buffers instead of stopping at the checksum */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    int palette = ct == PNG_COLOR_TYPE_PALETTE;
    if (!size_ok(width, height))
        png_error(png, "image too large");
    if (palette && bd < 8)
        png_set_packing(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bd == 16)
        png_set_scale_16(png);
    if (ct & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    if (!(ct & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * (palette ? 1 : 3))
        png_error(png, "conversion to 8-bit RGB failed");
    uint8_t *px = grow(rd->pixels, &rd->pixels_cap, (size_t)width * height * 3);
    if (!px)
        png_error(png, "out of memory");
    rd->pixels = px;
    uint8_t **rows = grow(rd->rows, &rd->rows_cap, height * sizeof *rows);
    if (!rows)
        png_error(png, "out of memory");
    rd->rows = rows;
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = px + (size_t)y * width * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (palette)
        expand_palette(png, info, rows, width, height);
    *w = (int)width;
    *h = (int)height;
    return QT_OK;
}

int qt_png_decode(qt_png_reader *rd, const char *name, const uint8_t *buf, size_t len,
                  qt_image *out, qt_error *err)
{
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return qt_errorf(err, "%s: not a PNG file (bad signature)", name);
    /* the declared size, before libpng sees it, for a message that says what is wrong */
    if (len >= 24 && memcmp(buf + 12, "IHDR", 4) == 0 && !size_ok(be32(buf + 16), be32(buf + 20)))
        return size_error(name, be32(buf + 16), be32(buf + 20), err);
    struct png_source src = {buf, len, 0, "", ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return qt_errorf(err, "%s: out of memory creating the PNG reader", name);
    }
    png_set_read_fn(png, &src, on_read);
    int w = 0, h = 0;
    int rc = decode_rows(png, info, rd, &w, &h);
    png_destroy_read_struct(&png, &info, NULL);
    if (rc != QT_OK && src.warning[0])
        return qt_errorf(err, "%s: corrupt PNG: %s (after: %s)", name, src.msg, src.warning);
    if (rc != QT_OK)
        return qt_errorf(err, "%s: corrupt PNG: %s", name, src.msg);
    *out = (qt_image){rd->pixels, 3, h, w, 1, (ptrdiff_t)w * 3, 3};
    return QT_OK;
}

int qt_png_read(qt_png_reader *rd, const char *path, qt_image *out, qt_error *err)
{
    size_t n;
    if (qt_read_file_at_most(path, QT_PNG_MAX_FILE_BYTES, &rd->file, &rd->file_cap, &n, err) !=
        QT_OK)
        return QT_ERR;
    return qt_png_decode(rd, path, rd->file, n, out, err);
}

void qt_png_reader_free(qt_png_reader *rd)
{
    free(rd->pixels);
    free(rd->rows);
    free(rd->file);
    memset(rd, 0, sizeof *rd);
}

static int valid_depth(int ct, int bd)
{
    switch (ct) {
    case 0: return bd == 1 || bd == 2 || bd == 4 || bd == 8 || bd == 16;
    case 3: return bd == 1 || bd == 2 || bd == 4 || bd == 8;
    case 2: case 4: case 6: return bd == 8 || bd == 16;
    default: return 0;
    }
}

enum { PNG_HEADER_BYTES = 8 + 8 + 13 + 4 }; /* signature, IHDR length+type, data, CRC */

int qt_png_check_header(const char *name, const uint8_t *buf, size_t len, int *w, int *h,
                        qt_error *err)
{
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return qt_errorf(err, "%s: not a PNG file (bad signature)", name);
    if (len < PNG_HEADER_BYTES)
        return qt_errorf(err, "%s: truncated PNG: %zu bytes, no complete IHDR chunk", name, len);
    const uint8_t *c = buf + 8;
    if (be32(c) != 13 || memcmp(c + 4, "IHDR", 4) != 0)
        return qt_errorf(err, "%s: corrupt PNG: first chunk is not a 13-byte IHDR", name);
    if (crc32(crc32(0, NULL, 0), c + 4, 17) != be32(c + 21))
        return qt_errorf(err, "%s: corrupt PNG: IHDR CRC mismatch", name);
    uint32_t width = be32(c + 8), height = be32(c + 12);
    int bd = c[16], ct = c[17];
    if (!size_ok(width, height))
        return size_error(name, width, height, err);
    if (!valid_depth(ct, bd))
        return qt_errorf(err, "%s: corrupt PNG: colour type %d with bit depth %d", name, ct, bd);
    *w = (int)width;
    *h = (int)height;
    return QT_OK;
}

int qt_png_check_file(const char *path, int *w, int *h, qt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qt_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[PNG_HEADER_BYTES];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return qt_png_check_header(path, head, n, w, h, err);
}

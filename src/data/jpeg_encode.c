/* JPEG encoding with libjpeg into a memory buffer (the tests' and tools' writer). Errors
 * longjmp to the setjmp in encode_rows; the state it changes is reached through pointers. */
#include "qtrain/jpeg_image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct encode_guard {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} encode_guard;

static void on_error(j_common_ptr cinfo)
{
    encode_guard *g = (encode_guard *)cinfo->err;
    g->mgr.format_message(cinfo, g->msg);
    longjmp(g->jump, 1);
}

int qt_jpeg_color_channels(qt_jpeg_color color)
{
    switch (color) {
    case QT_JPEG_GRAY: return 1;
    case QT_JPEG_YCBCR:
    case QT_JPEG_RGB: return 3;
    default: return 4;
    }
}

/* What libjpeg is given (in) and what the file stores (stored). */
static void color_spaces(qt_jpeg_color color, J_COLOR_SPACE *in, J_COLOR_SPACE *stored)
{
    static const J_COLOR_SPACE table[][2] = {
        [QT_JPEG_GRAY] = {JCS_GRAYSCALE, JCS_GRAYSCALE},
        [QT_JPEG_YCBCR] = {JCS_RGB, JCS_YCbCr},
        [QT_JPEG_RGB] = {JCS_RGB, JCS_RGB},
        [QT_JPEG_CMYK_ADOBE] = {JCS_CMYK, JCS_CMYK},
        [QT_JPEG_CMYK_PLAIN] = {JCS_CMYK, JCS_CMYK},
        [QT_JPEG_YCCK] = {JCS_CMYK, JCS_YCCK},
    };
    *in = table[color][0];
    *stored = table[color][1];
}

static int encode_rows(struct jpeg_compress_struct *c, encode_guard *g, const qt_jpeg_format *f,
                       int w, int h, const uint8_t *samples, unsigned char **buf,
                       unsigned long *len)
{
    if (setjmp(g->jump))
        return QT_ERR;
    J_COLOR_SPACE in, stored;
    color_spaces(f->color, &in, &stored);
    jpeg_mem_dest(c, buf, len);
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = qt_jpeg_color_channels(f->color);
    c->in_color_space = in;
    jpeg_set_defaults(c);
    jpeg_set_colorspace(c, stored);
    /* jpeg_set_colorspace asks for an Adobe marker on CMYK; the plain variant has none */
    if (f->color == QT_JPEG_CMYK_PLAIN)
        c->write_Adobe_marker = FALSE;
    /* the defaults subsample YCbCr and YCCK chroma 2x2 */
    if (!f->subsample)
        for (int i = 0; i < c->num_components; i++)
            c->comp_info[i].h_samp_factor = c->comp_info[i].v_samp_factor = 1;
    jpeg_set_quality(c, f->quality, TRUE);
    if (f->progressive)
        jpeg_simple_progression(c);
    jpeg_start_compress(c, TRUE);
    size_t stride = (size_t)w * c->input_components;
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = (JSAMPROW)(samples + c->next_scanline * stride);
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return QT_OK;
}

int qt_jpeg_encode(const qt_jpeg_format *f, int w, int h, const uint8_t *samples,
                   uint8_t **buf, size_t *len, qt_error *err)
{
    *buf = NULL;
    *len = 0;
    if ((unsigned)f->color > QT_JPEG_YCCK || f->quality < 1 || f->quality > 100 || w <= 0 ||
        h <= 0 || w > 65500 || h > 65500)
        return qt_errorf(err, "JPEG encoder: bad format or size %dx%d", w, h);
    struct jpeg_compress_struct c;
    encode_guard g;
    memset(&g, 0, sizeof g);
    c.err = jpeg_std_error(&g.mgr);
    g.mgr.error_exit = on_error;
    unsigned char *out = NULL;
    unsigned long n = 0;
    if (setjmp(g.jump)) {
        jpeg_destroy_compress(&c);
        return qt_errorf(err, "JPEG encoder: %s", g.msg);
    }
    jpeg_create_compress(&c);
    int rc = encode_rows(&c, &g, f, w, h, samples, &out, &n);
    jpeg_destroy_compress(&c);
    /* after an error the output buffer may already have been replaced and freed by libjpeg,
     * so it is not freed here (errors arise only from arguments checked above) */
    if (rc != QT_OK)
        return qt_errorf(err, "JPEG encoder: %s", g.msg);
    *buf = out;
    *len = n;
    return QT_OK;
}

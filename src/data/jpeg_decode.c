/* JPEG decoding with libjpeg-turbo's libjpeg API. Errors longjmp to the setjmp in
 * decode_rows; the state it changes after setjmp is reached through rd and the guard
 * (memory that outlives the jump), so nothing needs to be volatile. */
#include "qtrain/jpeg_image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* libjpeg's error manager, extended with the jump back and the message. */
typedef struct jpeg_guard {
    struct jpeg_error_mgr mgr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int corrupt;  /* msg is libjpeg's complaint about the data (else one of our limits) */
} jpeg_guard;

static void on_error(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    g->mgr.format_message(cinfo, g->msg);
    g->corrupt = 1;
    longjmp(g->jump, 1);
}

/* Warnings that describe metadata only; every other warning means damaged image data. */
static int harmless_warning(int code)
{
    return code == JWRN_ADOBE_XFORM || code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC ||
           code == JWRN_EXTRANEOUS_DATA;
}

static void on_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && !harmless_warning(cinfo->err->msg_code))
        on_error(cinfo);
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > QT_JPEG_MAX_SCANS) {
        jpeg_guard *g = (jpeg_guard *)cinfo->err;
        snprintf(g->msg, sizeof g->msg, "unsupported JPEG: more than %d progressive scans",
                 QT_JPEG_MAX_SCANS);
        longjmp(g->jump, 1);
    }
}

void qt_jpeg_reader_free(qt_jpeg_reader *rd)
{
    free(rd->pixels);
    free(rd->cmyk);
    memset(rd, 0, sizeof *rd);
}

int qt_jpeg_signature(const uint8_t *buf, size_t len)
{
    return len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF;
}

static int grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    uint8_t *q = realloc(*p, need);
    if (!q)
        return 0;
    *p = q;
    *cap = need;
    return 1;
}

static void cmyk_row_to_rgb(qt_jpeg_color color, const uint8_t *cmyk, uint8_t *rgb, int w)
{
    for (int x = 0; x < w; x++)
        qt_jpeg_color_to_rgb(color, cmyk + 4 * x, rgb + 3 * x);
}

/* Header, output set-up and every row; QT_ERR after a longjmp. */
static int decode_rows(struct jpeg_decompress_struct *d, jpeg_guard *g, qt_jpeg_reader *rd,
                       const uint8_t *buf, size_t len, int scale_denom, int *w, int *h)
{
    if (setjmp(g->jump))
        return QT_ERR;
    jpeg_mem_src(d, buf, (unsigned long)len);
    jpeg_read_header(d, TRUE);
    if (d->image_width > QT_JPEG_MAX_SIDE || d->image_height > QT_JPEG_MAX_SIDE ||
        (size_t)d->image_width * d->image_height > QT_JPEG_MAX_PIXELS) {
        snprintf(g->msg, sizeof g->msg, "unsupported JPEG size %ux%u", d->image_width,
                 d->image_height);
        return QT_ERR;
    }
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    qt_jpeg_color color = d->saw_Adobe_marker ? QT_JPEG_CMYK_ADOBE : QT_JPEG_CMYK_PLAIN;
    d->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    d->scale_num = 1;
    d->scale_denom = (unsigned)scale_denom;
    jpeg_start_decompress(d);
    size_t ow = d->output_width, oh = d->output_height;
    if (!grow(&rd->pixels, &rd->pixels_cap, ow * oh * 3) ||
        (cmyk && !grow(&rd->cmyk, &rd->cmyk_cap, ow * 4))) {
        snprintf(g->msg, sizeof g->msg, "out of memory for %zux%zu pixels", ow, oh);
        return QT_ERR;
    }
    while (d->output_scanline < oh) {
        uint8_t *row = rd->pixels + (size_t)d->output_scanline * ow * 3;
        JSAMPROW target = cmyk ? rd->cmyk : row;
        jpeg_read_scanlines(d, &target, 1);
        if (cmyk)
            cmyk_row_to_rgb(color, rd->cmyk, row, (int)ow);
    }
    jpeg_finish_decompress(d);
    *w = (int)ow;
    *h = (int)oh;
    return QT_OK;
}

int qt_jpeg_decode(qt_jpeg_reader *rd, const char *name, const uint8_t *buf, size_t len,
                   int scale_denom, qt_image *out, qt_error *err)
{
    if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8)
        return qt_errorf(err, "%s: JPEG scale 1/%d is not 1, 1/2, 1/4 or 1/8", name, scale_denom);
    if (!qt_jpeg_signature(buf, len))
        return qt_errorf(err, "%s: not a JPEG file (no SOI marker)", name);
    struct jpeg_decompress_struct d;
    jpeg_guard g;
    memset(&g, 0, sizeof g);
    d.err = jpeg_std_error(&g.mgr);
    g.mgr.error_exit = on_error;
    g.mgr.emit_message = on_message;
    g.progress.progress_monitor = on_progress;
    if (setjmp(g.jump)) {
        /* jpeg_create_decompress itself failed (out of memory) */
        jpeg_destroy_decompress(&d);
        return qt_errorf(err, "%s: cannot create the JPEG decoder: %s", name, g.msg);
    }
    jpeg_create_decompress(&d);
    d.progress = &g.progress;
    /* libjpeg-turbo keeps a progressive file's coefficients in memory; bound that */
    d.mem->max_memory_to_use = 1024L * 1024 * 1024;
    int w = 0, h = 0;
    int rc = decode_rows(&d, &g, rd, buf, len, scale_denom, &w, &h);
    jpeg_destroy_decompress(&d);
    if (rc != QT_OK)
        return qt_errorf(err, "%s: %s%s", name, g.corrupt ? "corrupt JPEG: " : "", g.msg);
    *out = (qt_image){rd->pixels, 3, h, w, 1, (ptrdiff_t)w * 3, 3};
    return QT_OK;
}

void qt_jpeg_color_to_rgb(qt_jpeg_color color, const uint8_t *s, uint8_t rgb[3])
{
    switch (color) {
    case QT_JPEG_GRAY:
        rgb[0] = rgb[1] = rgb[2] = s[0];
        break;
    case QT_JPEG_YCBCR:
    case QT_JPEG_RGB:
        memcpy(rgb, s, 3);
        break;
    case QT_JPEG_CMYK_ADOBE:
    case QT_JPEG_YCCK:
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)((s[c] * s[3] + 127) / 255);
        break;
    case QT_JPEG_CMYK_PLAIN:
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)(((255 - s[c]) * (255 - s[3]) + 127) / 255);
        break;
    }
}

/* Charts on a raster canvas, and from there to PNG. */
#include <stdlib.h>

#include "qtrain/chart.h"
#include "qtrain/file_io.h"
#include "qtrain/png_image.h"

#include "chart_style.h"

static void canvas_fill_rect(void *ctx, int x0, int y0, int x1, int y1, qt_rgb colour)
{
    qt_canvas_fill_rect(ctx, x0, y0, x1, y1, colour);
}

static void canvas_polyline(void *ctx, const double *x, const double *y, size_t n, double width,
                            qt_rgb colour)
{
    if (n == 1)
        qt_canvas_line(ctx, x[0], y[0], x[0], y[0], width, colour);
    for (size_t k = 1; k < n; k++)
        qt_canvas_line(ctx, x[k - 1], y[k - 1], x[k], y[k], width, colour);
}

static void canvas_text(void *ctx, int x, int y, const char *s, int scale, int vertical,
                        qt_rgb colour)
{
    qt_canvas_text(ctx, x, y, s, scale, vertical, colour);
}

static void canvas_clip(void *ctx, int x0, int y0, int x1, int y1)
{
    qt_canvas_clip(ctx, x0, y0, x1, y1);
}

static void canvas_unclip(void *ctx)
{
    qt_canvas_unclip(ctx);
}

int qt_chart_render(const qt_chart *c, qt_canvas *canvas, qt_error *err)
{
    if (qt_canvas_init(canvas, c->width, c->height, STYLE_WHITE, err) != QT_OK)
        return QT_ERR;
    qt_chart_painter p = {canvas, canvas_fill_rect, canvas_polyline, canvas_text, canvas_clip,
                          canvas_unclip};
    if (qt_chart_paint(c, &p, err) != QT_OK) {
        qt_canvas_free(canvas);
        return QT_ERR;
    }
    return QT_OK;
}

/* 8-bit RGB canvas to PNG bytes (*png, free() it). */
static int encode_canvas(const qt_canvas *canvas, uint8_t **png, size_t *len, qt_error *err)
{
    size_t n = (size_t)canvas->width * (size_t)canvas->height * 3;
    uint16_t *samples = malloc(n * sizeof *samples);
    if (!samples)
        return qt_errorf(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        samples[i] = canvas->pixels[i];
    const qt_png_format rgb8 = {.color_type = 2, .bit_depth = 8};
    int status = qt_png_encode(&rgb8, canvas->width, canvas->height, samples, NULL, 0, NULL, png,
                               len, err);
    free(samples);
    return status;
}

int qt_chart_write_png(const qt_chart *c, const char *path, qt_error *err)
{
    qt_canvas canvas;
    if (qt_chart_render(c, &canvas, err) != QT_OK)
        return qt_error_prefix(err, "%s", path);
    uint8_t *png = NULL;
    size_t len = 0;
    int status = encode_canvas(&canvas, &png, &len, err);
    qt_canvas_free(&canvas);
    if (status != QT_OK)
        return qt_error_prefix(err, "%s", path);
    status = qt_write_file_atomic(path, png, len, err);
    free(png);
    return status;
}

#include "qtrain/canvas.h"

#include <math.h>
#include <stdlib.h>

#include "qtrain/bitmap_font.h"

int qt_canvas_init(qt_canvas *c, int width, int height, qt_rgb background, qt_error *err)
{
    c->pixels = NULL;
    if (width <= 0 || height <= 0 || width > 20000 || height > 20000)
        return qt_errorf(err, "canvas size %dx%d out of range (1..20000)", width, height);
    c->pixels = malloc((size_t)width * (size_t)height * 3);
    if (!c->pixels)
        return qt_errorf(err, "out of memory for a %dx%d canvas", width, height);
    c->width = width;
    c->height = height;
    qt_canvas_unclip(c);
    qt_canvas_fill_rect(c, 0, 0, width, height, background);
    return QT_OK;
}

void qt_canvas_free(qt_canvas *c)
{
    free(c->pixels);
    c->pixels = NULL;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void qt_canvas_clip(qt_canvas *c, int x0, int y0, int x1, int y1)
{
    c->clip_x0 = clampi(x0, 0, c->width);
    c->clip_y0 = clampi(y0, 0, c->height);
    c->clip_x1 = clampi(x1, c->clip_x0, c->width);
    c->clip_y1 = clampi(y1, c->clip_y0, c->height);
}

void qt_canvas_unclip(qt_canvas *c)
{
    qt_canvas_clip(c, 0, 0, c->width, c->height);
}

static int inside_clip(const qt_canvas *c, int x, int y)
{
    return x >= c->clip_x0 && x < c->clip_x1 && y >= c->clip_y0 && y < c->clip_y1;
}

qt_rgb qt_canvas_get(const qt_canvas *c, int x, int y)
{
    const uint8_t *p = c->pixels + ((size_t)y * (size_t)c->width + (size_t)x) * 3;
    return (qt_rgb){p[0], p[1], p[2]};
}

static uint8_t mix(uint8_t under, uint8_t over, double alpha)
{
    return (uint8_t)lround(under + (over - under) * alpha);
}

void qt_canvas_blend(qt_canvas *c, int x, int y, qt_rgb colour, double alpha)
{
    if (!inside_clip(c, x, y) || !(alpha > 0))
        return;
    if (alpha > 1)
        alpha = 1;
    uint8_t *p = c->pixels + ((size_t)y * (size_t)c->width + (size_t)x) * 3;
    p[0] = mix(p[0], colour.r, alpha);
    p[1] = mix(p[1], colour.g, alpha);
    p[2] = mix(p[2], colour.b, alpha);
}

void qt_canvas_fill_rect(qt_canvas *c, int x0, int y0, int x1, int y1, qt_rgb colour)
{
    x0 = clampi(x0, c->clip_x0, c->clip_x1);
    x1 = clampi(x1, c->clip_x0, c->clip_x1);
    y0 = clampi(y0, c->clip_y0, c->clip_y1);
    y1 = clampi(y1, c->clip_y0, c->clip_y1);
    for (int y = y0; y < y1; y++) {
        uint8_t *p = c->pixels + ((size_t)y * (size_t)c->width + (size_t)x0) * 3;
        for (int x = x0; x < x1; x++, p += 3) {
            p[0] = colour.r;
            p[1] = colour.g;
            p[2] = colour.b;
        }
    }
}

/* Distance from point p to the segment a-b. */
static double segment_distance(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay;
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = ax + t * dx - px, ey = ay + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

/* Coverage falls linearly from 1 to 0 over the pixel that straddles the edge, which is
 * what makes the line anti-aliased. */
void qt_canvas_line(qt_canvas *c, double x0, double y0, double x1, double y1,
                    double width, qt_rgb colour)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double half = width / 2;
    double reach = half + 0.5;
    double bx0 = fmax(fmin(x0, x1) - reach, c->clip_x0);
    double by0 = fmax(fmin(y0, y1) - reach, c->clip_y0);
    double bx1 = fmin(fmax(x0, x1) + reach, c->clip_x1);
    double by1 = fmin(fmax(y0, y1) + reach, c->clip_y1);
    for (int y = (int)floor(by0); y < (int)ceil(by1); y++)
        for (int x = (int)floor(bx0); x < (int)ceil(bx1); x++) {
            double d = segment_distance(x + 0.5, y + 0.5, x0, y0, x1, y1);
            qt_canvas_blend(c, x, y, colour, reach - d);
        }
}

void qt_canvas_text(qt_canvas *c, int x, int y, const char *s, int scale, int vertical,
                    qt_rgb colour)
{
    for (int i = 0; s[i]; i++) {
        int origin = i * QT_FONT_ADVANCE * scale;
        for (int gy = 0; gy < QT_FONT_GLYPH_H; gy++)
            for (int gx = 0; gx < QT_FONT_GLYPH_W; gx++) {
                if (!qt_font_pixel(s[i], gx, gy))
                    continue;
                /* Rotated: glyph x runs up the page, glyph y runs right. */
                int px = vertical ? x + gy * scale : x + origin + gx * scale;
                int py = vertical ? y - origin - (gx + 1) * scale : y + gy * scale;
                qt_canvas_fill_rect(c, px, py, px + scale, py + scale, colour);
            }
    }
}

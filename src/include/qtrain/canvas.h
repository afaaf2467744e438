/* An RGB raster to draw charts on: filled rectangles, anti-aliased lines of any width,
 * and text in the embedded bitmap font. Drawing is limited to a clip rectangle. */
#ifndef QTRAIN_CANVAS_H
#define QTRAIN_CANVAS_H

#include <stdint.h>

#include "qtrain/error.h"

typedef struct qt_rgb {
    uint8_t r, g, b;
} qt_rgb;

typedef struct qt_canvas {
    int width, height;
    uint8_t *pixels;              /* width * height * 3 bytes, rows top to bottom */
    int clip_x0, clip_y0;         /* drawing is limited to [clip_x0, clip_x1) x [clip_y0, clip_y1) */
    int clip_x1, clip_y1;
} qt_canvas;

int qt_canvas_init(qt_canvas *c, int width, int height, qt_rgb background, qt_error *err);
void qt_canvas_free(qt_canvas *c);

/* Limits drawing to [x0, x1) x [y0, y1), intersected with the canvas. */
void qt_canvas_clip(qt_canvas *c, int x0, int y0, int x1, int y1);
void qt_canvas_unclip(qt_canvas *c);

qt_rgb qt_canvas_get(const qt_canvas *c, int x, int y);

/* Mixes colour into pixel (x, y) with coverage alpha in [0, 1]. */
void qt_canvas_blend(qt_canvas *c, int x, int y, qt_rgb colour, double alpha);

/* Fills pixels [x0, x1) x [y0, y1). */
void qt_canvas_fill_rect(qt_canvas *c, int x0, int y0, int x1, int y1, qt_rgb colour);

/* Anti-aliased segment between points in continuous pixel coordinates (pixel (i, j)
 * covers [i, i+1) x [j, j+1)), `width` pixels wide with round ends. Pixels whose centre
 * lies within width/2 - 1/2 of the segment get exactly `colour`. */
void qt_canvas_line(qt_canvas *c, double x0, double y0, double x1, double y1,
                    double width, qt_rgb colour);

/* Text with its top-left corner at (x, y), each font pixel drawn as scale x scale.
 * When vertical is set the text runs bottom to top (rotated 90 degrees counter-clockwise)
 * and (x, y) is the bottom-left corner of the rotated box. */
void qt_canvas_text(qt_canvas *c, int x, int y, const char *s, int scale, int vertical,
                    qt_rgb colour);

#endif

/* Line charts: one line per series, shared x axis, one or two panels stacked vertically
 * (each with its own y column, label, linear or log scale and smoothing), nice ticks,
 * a title and a legend. qt_chart_layout computes everything (points, axes, pixel
 * geometry); painting then goes to a raster (PNG) or to SVG from the same layout. */
#ifndef QTRAIN_CHART_H
#define QTRAIN_CHART_H

#include <stddef.h>

#include "qtrain/canvas.h"
#include "qtrain/error.h"
#include "qtrain/plot_axis.h"

enum { QT_CHART_MAX_PANELS = 2 };

/* Input: the points of one series in one panel. Points with a non-finite x or y (and
 * y <= 0 on a log axis) are skipped; the line joins the remaining ones in order. */
typedef struct qt_chart_line {
    const double *x, *y;
    size_t n;
} qt_chart_line;

typedef struct qt_chart_panel_spec {
    const char *ylabel;           /* may be NULL */
    int logy;
    int smooth;                   /* trailing moving-average window; <= 1 for none */
    const qt_chart_line *lines;   /* nseries entries; n = 0 leaves the series out here */
} qt_chart_panel_spec;

typedef struct qt_chart_spec {
    int width, height;            /* pixels */
    const char *title, *xlabel;   /* may be NULL */
    int nseries;
    const char *const *names;     /* legend text of each series */
    int npanels;                  /* 1, or 2 for a second panel below the first */
    qt_chart_panel_spec panels[QT_CHART_MAX_PANELS];
    int nmarks;                   /* vertical marker lines across every panel at these x (e.g. */
    const double *marks;          /* learning-rate decays); marks outside the x range are not drawn */
} qt_chart_spec;

/* A series' points in one panel after cleaning; y is smoothed, raw_y the unsmoothed
 * values drawn faintly behind it (NULL without smoothing). */
typedef struct qt_chart_points {
    size_t n;
    double *x, *y, *raw_y;
} qt_chart_points;

typedef struct qt_chart_panel {
    /* Frame pixels: columns left and right, rows top and bottom (inclusive). Data maps
     * from the centre of the left/bottom frame pixel to the centre of the right/top one. */
    int left, top, right, bottom;
    qt_axis yaxis;
    char *ylabel;
    qt_chart_points *series;      /* nseries entries */
} qt_chart_panel;

typedef struct qt_chart {
    int width, height;
    int text_scale;               /* font pixel size of labels; the title is twice that */
    char *title, *xlabel;
    int nseries;
    char **names;
    qt_rgb *colours;
    qt_axis xaxis;
    int npanels;
    qt_chart_panel panels[QT_CHART_MAX_PANELS];
    int legend_x, legend_y, legend_w, legend_h;   /* box inside panel 0 */
    int nmarks;
    double *marks;                /* x of the vertical marker lines */
} qt_chart;

/* Line colour of series i (a ten-colour palette, repeating). */
qt_rgb qt_chart_colour(int i);

/* Cleans and smooths the points, fits the axes and places every element. Fails (with
 * a message naming the panel's y label) when a panel has no point to draw. */
int qt_chart_layout(qt_chart *c, const qt_chart_spec *spec, qt_error *err);
void qt_chart_free(qt_chart *c);

/* Data (x, y) of panel p to continuous pixel coordinates (pixel (i, j) covers
 * [i, i+1) x [j, j+1); y grows downwards). */
void qt_chart_map(const qt_chart *c, int panel, double x, double y, double *px, double *py);

/* Drawing primitives, so one painting routine serves every output format. Coordinates
 * are pixels; rectangles are [x0, x1) x [y0, y1); text is placed as in qt_canvas_text. */
typedef struct qt_chart_painter {
    void *ctx;
    void (*fill_rect)(void *ctx, int x0, int y0, int x1, int y1, qt_rgb colour);
    void (*polyline)(void *ctx, const double *x, const double *y, size_t n, double width,
                     qt_rgb colour);
    void (*text)(void *ctx, int x, int y, const char *s, int scale, int vertical,
                 qt_rgb colour);
    void (*clip)(void *ctx, int x0, int y0, int x1, int y1);   /* until unclip */
    void (*unclip)(void *ctx);
} qt_chart_painter;

/* Paints the laid-out chart; fails only when out of memory. */
int qt_chart_paint(const qt_chart *c, const qt_chart_painter *p, qt_error *err);

/* Renders onto a new canvas of the chart's size (free it with qt_canvas_free). */
int qt_chart_render(const qt_chart *c, qt_canvas *canvas, qt_error *err);

/* Write the chart as PNG or as SVG, each through a temporary file and a rename. */
int qt_chart_write_png(const qt_chart *c, const char *path, qt_error *err);
int qt_chart_write_svg(const qt_chart *c, const char *path, qt_error *err);

#endif

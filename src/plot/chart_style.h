/* Spacing and colours of charts, shared by the layout and the painting code. Spacing is
 * in pixels at text scale 1; all of it scales with the text. */
#ifndef QTRAIN_PLOT_CHART_STYLE_H
#define QTRAIN_PLOT_CHART_STYLE_H

#include "qtrain/canvas.h"

enum {
    PAD = 12,          /* image edge to the nearest element */
    TICK_LEN = 5,
    TICK_GAP = 4,      /* tick mark to its label */
    LABEL_GAP = 8,     /* tick labels to the axis label; title to the plot */
    PANEL_GAP = 16,    /* between stacked panels */
    LEGEND_PAD = 6,
    LEGEND_INSET = 8,  /* legend box to the frame */
    LEGEND_ROW_GAP = 4,
    SWATCH = 24,       /* length of the line sample in the legend */
    X_TICK_SPACING = 90,   /* preferred distance between ticks */
    Y_TICK_SPACING = 45,
    LABEL_CLEARANCE = 12,  /* least room between neighbouring tick labels */
};

static const qt_rgb STYLE_WHITE = {255, 255, 255};
static const qt_rgb STYLE_INK = {34, 34, 34};
static const qt_rgb STYLE_FRAME = {90, 90, 90};
static const qt_rgb STYLE_GRID = {226, 226, 226};
static const qt_rgb STYLE_MINOR_GRID = {243, 243, 243};
static const qt_rgb STYLE_LEGEND_BORDER = {200, 200, 200};
static const qt_rgb STYLE_MARK = {120, 120, 120};   /* vertical marker lines, dashed */

enum { MARK_DASH = 6, MARK_GAP = 4 };

/* Data lines are this wide at text scale 1: 2.5 px makes every pixel that contains a
 * point of the line exactly the line's colour (its centre is at most 0.71 px away).
 * Smoothed-away raw data is drawn thinner, in the line colour mixed this much with white. */
static const double STYLE_LINE_WIDTH = 2.5;
static const double STYLE_RAW_LINE_WIDTH = 1.0;
static const double STYLE_RAW_FADE = 0.65;

#endif

#include "qtrain/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/bitmap_font.h"
#include "qtrain/plot_series.h"

#include "chart_style.h"

static const qt_rgb palette[10] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
    {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

qt_rgb qt_chart_colour(int i)
{
    return palette[(i % 10 + 10) % 10];
}

/* Height of one line of text at scale s, descenders included. */
static int text_h(int s)
{
    return QT_FONT_GLYPH_H * s;
}

static int strdup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src || !*src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

void qt_chart_free(qt_chart *c)
{
    for (int p = 0; p < c->npanels; p++) {
        qt_chart_panel *panel = &c->panels[p];
        for (int i = 0; panel->series && i < c->nseries; i++) {
            free(panel->series[i].x);
            free(panel->series[i].y);
            free(panel->series[i].raw_y);
        }
        free(panel->series);
        free(panel->ylabel);
    }
    for (int i = 0; c->names && i < c->nseries; i++)
        free(c->names[i]);
    free(c->names);
    free(c->colours);
    free(c->title);
    free(c->xlabel);
    free(c->marks);
    memset(c, 0, sizeof *c);
}

static int prepare_points(qt_chart_points *pts, const qt_chart_line *line, int logy, int smooth)
{
    memset(pts, 0, sizeof *pts);
    if (line->n == 0)
        return 0;
    pts->x = malloc(line->n * sizeof *pts->x);
    pts->y = malloc(line->n * sizeof *pts->y);
    if (!pts->x || !pts->y)
        return -1;
    pts->n = qt_series_keep_valid(line->x, line->y, line->n, logy, pts->x, pts->y);
    if (smooth <= 1 || pts->n == 0)
        return 0;
    pts->raw_y = pts->y;
    pts->y = malloc(pts->n * sizeof *pts->y);
    if (!pts->y)
        return -1;
    qt_series_moving_average(pts->raw_y, pts->n, smooth, pts->y);
    return 0;
}

static int copy_spec(qt_chart *c, const qt_chart_spec *spec, qt_error *err)
{
    c->width = spec->width;
    c->height = spec->height;
    c->nseries = spec->nseries;
    c->npanels = spec->npanels;
    c->names = calloc((size_t)spec->nseries, sizeof *c->names);
    c->colours = calloc((size_t)spec->nseries, sizeof *c->colours);
    if (!c->names || !c->colours || strdup_opt(&c->title, spec->title) ||
        strdup_opt(&c->xlabel, spec->xlabel))
        return qt_errorf(err, "chart: out of memory");
    if (spec->nmarks > 0) {
        if (!(c->marks = malloc((size_t)spec->nmarks * sizeof *c->marks)))
            return qt_errorf(err, "chart: out of memory");
        memcpy(c->marks, spec->marks, (size_t)spec->nmarks * sizeof *c->marks);
        c->nmarks = spec->nmarks;
    }
    for (int i = 0; i < spec->nseries; i++) {
        c->colours[i] = qt_chart_colour(i);
        if (!(c->names[i] = strdup(spec->names[i] ? spec->names[i] : "")))
            return qt_errorf(err, "chart: out of memory");
    }
    for (int p = 0; p < spec->npanels; p++) {
        const qt_chart_panel_spec *ps = &spec->panels[p];
        qt_chart_panel *panel = &c->panels[p];
        panel->series = calloc((size_t)spec->nseries, sizeof *panel->series);
        if (!panel->series || strdup_opt(&panel->ylabel, ps->ylabel))
            return qt_errorf(err, "chart: out of memory");
        for (int i = 0; i < spec->nseries; i++)
            if (prepare_points(&panel->series[i], &ps->lines[i], ps->logy, ps->smooth) != 0)
                return qt_errorf(err, "chart: out of memory");
    }
    return QT_OK;
}

typedef struct range {
    double lo, hi;
    size_t n;
} range;

static void extend(range *r, const double *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        r->lo = r->n || i ? fmin(r->lo, v[i]) : v[i];
        r->hi = r->n || i ? fmax(r->hi, v[i]) : v[i];
    }
    if (v)
        r->n += n;
}

static int data_ranges(const qt_chart *c, const qt_chart_spec *spec, range *x, range *y,
                       qt_error *err)
{
    *x = (range){0, 0, 0};
    for (int p = 0; p < c->npanels; p++) {
        y[p] = (range){0, 0, 0};
        for (int i = 0; i < c->nseries; i++) {
            const qt_chart_points *pts = &c->panels[p].series[i];
            extend(x, pts->x, pts->n);
            extend(&y[p], pts->y, pts->n);
            extend(&y[p], pts->raw_y, pts->n);
        }
        const char *name = c->panels[p].ylabel ? c->panels[p].ylabel : "y";
        if (y[p].n == 0)
            return qt_errorf(err, "nothing to plot for '%s': no point has a finite x and y%s",
                             name, spec->panels[p].logy ? " > 0 (log scale)" : "");
        if (!isfinite(y[p].hi - y[p].lo))
            return qt_errorf(err, "'%s' values span too wide a range to plot", name);
    }
    if (!isfinite(x->hi - x->lo))
        return qt_errorf(err, "x values span too wide a range to plot");
    return QT_OK;
}

static int widest_label(const qt_axis *a, int s)
{
    int w = 0;
    char buf[64];
    for (int i = 0; i < a->nticks; i++) {
        qt_axis_label(a, a->ticks[i], buf, sizeof buf);
        int tw = qt_font_text_width(buf, s);
        w = tw > w ? tw : w;
    }
    return w;
}

/* Vertical placement: title on top, panels stacked (the first taller), x labels below. */
static void layout_rows(qt_chart *c)
{
    int s = c->text_scale;
    int top = PAD * s + (c->title ? text_h(2 * s) + LABEL_GAP * s : 0);
    int bottom = c->height - PAD * s - (c->xlabel ? text_h(s) + LABEL_GAP * s : 0) -
                 text_h(s) - (TICK_LEN + TICK_GAP) * s - 1;
    if (c->npanels == 1) {
        c->panels[0].top = top;
        c->panels[0].bottom = bottom;
        return;
    }
    int avail = bottom - top - PANEL_GAP * s;
    c->panels[0].top = top;
    c->panels[0].bottom = top + avail * 3 / 5;
    c->panels[1].top = c->panels[0].bottom + PANEL_GAP * s;
    c->panels[1].bottom = bottom;
}

/* Fits an axis to a range, starting from one tick per `spacing` pixels of its `length`
 * and thinning until the labels fit: side by side on the x axis (each needs its width),
 * stacked on a y axis (each needs the text height), plus LABEL_CLEARANCE between. */
static void fit_axis(qt_axis *a, const range *r, int log, int length, int spacing, int s,
                     int side_by_side)
{
    int max_ticks = length / spacing + 1;
    for (;;) {
        qt_axis_fit(a, r->lo, r->hi, log, max_ticks);
        int need = (side_by_side ? widest_label(a, s) : text_h(s)) + LABEL_CLEARANCE * s;
        if (a->nticks <= 3 || length / (a->nticks - 1) >= need)
            return;
        max_ticks = a->nticks - 1;
    }
}

static int fit_axes(qt_chart *c, const qt_chart_spec *spec, const range *x, const range *y,
                    qt_error *err)
{
    int s = c->text_scale;
    int left = 0;
    for (int p = 0; p < c->npanels; p++) {
        qt_chart_panel *panel = &c->panels[p];
        int h = panel->bottom - panel->top;
        fit_axis(&panel->yaxis, &y[p], spec->panels[p].logy, h, Y_TICK_SPACING * s, s, 0);
        int w = widest_label(&panel->yaxis, s);
        left = w > left ? w : left;
    }
    int any_ylabel = 0;
    for (int p = 0; p < c->npanels; p++)
        any_ylabel |= c->panels[p].ylabel != NULL;
    left += PAD * s + (any_ylabel ? text_h(s) + LABEL_GAP * s : 0) + (TICK_GAP + TICK_LEN) * s;
    /* The last x label is centred on the right frame; leave room for its half. */
    int right = c->width - 2 * PAD * s;
    for (int pass = 0; pass < 2; pass++) {
        fit_axis(&c->xaxis, x, 0, right - left, X_TICK_SPACING * s, s, 1);
        char buf[64];
        qt_axis_label(&c->xaxis, c->xaxis.ticks[c->xaxis.nticks - 1], buf, sizeof buf);
        int need = c->width - PAD * s / 2 - qt_font_text_width(buf, s) / 2 - 1;
        right = need < right ? need : right;
    }
    for (int p = 0; p < c->npanels; p++) {
        c->panels[p].left = left;
        c->panels[p].right = right;
        if (c->panels[p].bottom - c->panels[p].top < 20 || right - left < 40)
            return qt_errorf(err, "image %dx%d is too small for the chart's labels", c->width,
                             c->height);
    }
    return QT_OK;
}

void qt_chart_map(const qt_chart *c, int panel, double x, double y, double *px, double *py)
{
    const qt_chart_panel *p = &c->panels[panel];
    *px = p->left + 0.5 + qt_axis_frac(&c->xaxis, x) * (p->right - p->left);
    *py = p->bottom + 0.5 - qt_axis_frac(&p->yaxis, y) * (p->bottom - p->top);
}

/* How many samples along a mapped line (taken at most 2 px apart) fall inside a box. */
static size_t line_under(const qt_chart *c, const double *x, const double *y, size_t n, int x0,
                         int y0, int x1, int y1)
{
    size_t hits = 0;
    double ax = 0, ay = 0;
    for (size_t k = 0; k < n; k++) {
        double bx, by;
        qt_chart_map(c, 0, x[k], y[k], &bx, &by);
        int steps = k ? (int)fmin(ceil(hypot(bx - ax, by - ay) / 2), 4096) : 0;
        for (int j = 0; j <= steps; j++) {
            double t = steps ? (double)j / steps : 1;
            double sx = ax + t * (bx - ax), sy = ay + t * (by - ay);
            hits += sx >= x0 && sx < x1 && sy >= y0 && sy < y1;
        }
        ax = bx;
        ay = by;
    }
    return hits;
}

/* How much of the first panel's drawn data, raw lines included, falls inside a box. */
static size_t data_under(const qt_chart *c, int x0, int y0, int x1, int y1)
{
    size_t hits = 0;
    for (int i = 0; i < c->nseries; i++) {
        const qt_chart_points *pts = &c->panels[0].series[i];
        hits += line_under(c, pts->x, pts->y, pts->n, x0, y0, x1, y1);
        if (pts->raw_y)
            hits += line_under(c, pts->x, pts->raw_y, pts->n, x0, y0, x1, y1);
    }
    return hits;
}

/* Legend in the corner of the first panel that hides the least data (ties: top right,
 * top left, bottom right, bottom left). */
static void place_legend(qt_chart *c)
{
    int s = c->text_scale, w = 0;
    for (int i = 0; i < c->nseries; i++) {
        int tw = qt_font_text_width(c->names[i], s);
        w = tw > w ? tw : w;
    }
    c->legend_w = 2 * LEGEND_PAD * s + SWATCH * s + LEGEND_PAD * s + w;
    c->legend_h = 2 * LEGEND_PAD * s + c->nseries * (text_h(s) + LEGEND_ROW_GAP * s) -
                  LEGEND_ROW_GAP * s;
    const qt_chart_panel *p = &c->panels[0];
    int xs[2] = {p->right - LEGEND_INSET * s - c->legend_w, p->left + LEGEND_INSET * s + 1};
    int ys[2] = {p->top + LEGEND_INSET * s + 1, p->bottom - LEGEND_INSET * s - c->legend_h};
    size_t best = (size_t)-1;
    for (int corner = 0; corner < 4; corner++) {
        int x = xs[corner % 2], y = ys[corner / 2];
        size_t hits = data_under(c, x, y, x + c->legend_w, y + c->legend_h);
        if (hits < best) {
            best = hits;
            c->legend_x = x;
            c->legend_y = y;
        }
    }
}

static int text_scale_for(int width, int height)
{
    int s = (width < height * 3 / 2 ? width : height * 3 / 2) / 800;
    return s < 1 ? 1 : s;
}

int qt_chart_layout(qt_chart *c, const qt_chart_spec *spec, qt_error *err)
{
    memset(c, 0, sizeof *c);
    if (spec->width < 160 || spec->height < 120 || spec->width > 10000 || spec->height > 10000)
        return qt_errorf(err, "chart size %dx%d out of range (160x120 to 10000x10000)",
                         spec->width, spec->height);
    if (spec->npanels < 1 || spec->npanels > QT_CHART_MAX_PANELS || spec->nseries < 1)
        return qt_errorf(err, "chart needs 1 or 2 panels and at least one series");
    range x, y[QT_CHART_MAX_PANELS];
    c->text_scale = text_scale_for(spec->width, spec->height);
    if (copy_spec(c, spec, err) != QT_OK || data_ranges(c, spec, &x, y, err) != QT_OK) {
        qt_chart_free(c);
        return QT_ERR;
    }
    layout_rows(c);
    if (fit_axes(c, spec, &x, y, err) != QT_OK) {
        qt_chart_free(c);
        return QT_ERR;
    }
    place_legend(c);
    return QT_OK;
}

/* Painting a laid-out chart through the painter primitives, shared by PNG and SVG. */
#include <math.h>
#include <stdlib.h>

#include "qtrain/bitmap_font.h"
#include "qtrain/chart.h"

#include "chart_style.h"

static qt_rgb fade(qt_rgb c, double amount)
{
    return (qt_rgb){(uint8_t)lround(c.r + (255 - c.r) * amount),
                    (uint8_t)lround(c.g + (255 - c.g) * amount),
                    (uint8_t)lround(c.b + (255 - c.b) * amount)};
}

/* Pixel row or column a grid line or tick sits on: the one holding the mapped position. */
static int pixel_of(double v)
{
    return (int)floor(v);
}

static void grid_and_ticks(const qt_chart *c, int panel, const qt_chart_painter *p)
{
    const qt_chart_panel *pn = &c->panels[panel];
    int s = c->text_scale;
    double px, py;
    for (int i = 0; i < pn->yaxis.nminor; i++) {
        qt_chart_map(c, panel, c->xaxis.lo, pn->yaxis.minor[i], &px, &py);
        p->fill_rect(p->ctx, pn->left, pixel_of(py), pn->right, pixel_of(py) + 1,
                     STYLE_MINOR_GRID);
    }
    for (int i = 0; i < pn->yaxis.nticks; i++) {
        qt_chart_map(c, panel, c->xaxis.lo, pn->yaxis.ticks[i], &px, &py);
        int row = pixel_of(py);
        p->fill_rect(p->ctx, pn->left, row, pn->right, row + 1, STYLE_GRID);
        p->fill_rect(p->ctx, pn->left - TICK_LEN * s, row, pn->left, row + 1, STYLE_FRAME);
        char buf[64];
        qt_axis_label(&pn->yaxis, pn->yaxis.ticks[i], buf, sizeof buf);
        int x = pn->left - (TICK_LEN + TICK_GAP) * s - qt_font_text_width(buf, s);
        p->text(p->ctx, x, row - QT_FONT_ASCENT * s / 2, buf, s, 0, STYLE_INK);
    }
    int last_panel = panel == c->npanels - 1;
    for (int i = 0; i < c->xaxis.nticks; i++) {
        qt_chart_map(c, panel, c->xaxis.ticks[i], pn->yaxis.lo, &px, &py);
        int col = pixel_of(px);
        p->fill_rect(p->ctx, col, pn->top, col + 1, pn->bottom, STYLE_GRID);
        p->fill_rect(p->ctx, col, pn->bottom + 1, col + 1, pn->bottom + 1 + TICK_LEN * s,
                     STYLE_FRAME);
        if (!last_panel)
            continue;
        char buf[64];
        qt_axis_label(&c->xaxis, c->xaxis.ticks[i], buf, sizeof buf);
        p->text(p->ctx, col - qt_font_text_width(buf, s) / 2,
                pn->bottom + 1 + (TICK_LEN + TICK_GAP) * s, buf, s, 0, STYLE_INK);
    }
}

/* Dashed vertical lines at the chart's marks, under the data lines. */
static void marks(const qt_chart *c, int panel, const qt_chart_painter *p)
{
    const qt_chart_panel *pn = &c->panels[panel];
    int s = c->text_scale;
    for (int i = 0; i < c->nmarks; i++) {
        double lo = fmin(c->xaxis.lo, c->xaxis.hi), hi = fmax(c->xaxis.lo, c->xaxis.hi);
        if (!(c->marks[i] >= lo && c->marks[i] <= hi))
            continue;
        double px, py;
        qt_chart_map(c, panel, c->marks[i], pn->yaxis.lo, &px, &py);
        int col = pixel_of(px);
        for (int y = pn->top; y <= pn->bottom; y += (MARK_DASH + MARK_GAP) * s) {
            int end = y + MARK_DASH * s;
            p->fill_rect(p->ctx, col, y, col + s, end > pn->bottom + 1 ? pn->bottom + 1 : end,
                         STYLE_MARK);
        }
    }
}

static void axis_labels(const qt_chart *c, int panel, const qt_chart_painter *p)
{
    const qt_chart_panel *pn = &c->panels[panel];
    int s = c->text_scale;
    if (pn->ylabel) {
        int w = qt_font_text_width(pn->ylabel, s);
        p->text(p->ctx, PAD * s, (pn->top + pn->bottom) / 2 + w / 2, pn->ylabel, s, 1,
                STYLE_INK);
    }
    if (panel == c->npanels - 1 && c->xlabel) {
        int w = qt_font_text_width(c->xlabel, s);
        p->text(p->ctx, (pn->left + pn->right) / 2 - w / 2,
                pn->bottom + 1 + (TICK_LEN + TICK_GAP) * s + QT_FONT_GLYPH_H * s + LABEL_GAP * s,
                c->xlabel, s, 0, STYLE_INK);
    }
}

/* Maps a series' points (with y taken from ys) into px, py and draws them. */
static void draw_series(const qt_chart *c, int panel, const qt_chart_points *pts,
                        const double *ys, double width, qt_rgb colour, double *px, double *py,
                        const qt_chart_painter *p)
{
    for (size_t k = 0; k < pts->n; k++)
        qt_chart_map(c, panel, pts->x[k], ys[k], &px[k], &py[k]);
    /* A lone point (one evaluation, say) is drawn as a dot big enough to see. */
    p->polyline(p->ctx, px, py, pts->n, pts->n == 1 ? 2.5 * width : width, colour);
}

static int data_lines(const qt_chart *c, int panel, const qt_chart_painter *p, qt_error *err)
{
    const qt_chart_panel *pn = &c->panels[panel];
    size_t most = 0;
    for (int i = 0; i < c->nseries; i++)
        most = pn->series[i].n > most ? pn->series[i].n : most;
    double *px = malloc((most ? most : 1) * sizeof *px);
    double *py = malloc((most ? most : 1) * sizeof *py);
    if (!px || !py) {
        free(px);
        free(py);
        return qt_errorf(err, "chart: out of memory");
    }
    double s = c->text_scale;
    p->clip(p->ctx, pn->left, pn->top, pn->right + 1, pn->bottom + 1);
    /* Raw data of every series first, so no faint line covers a smoothed one. */
    for (int i = 0; i < c->nseries; i++)
        if (pn->series[i].raw_y)
            draw_series(c, panel, &pn->series[i], pn->series[i].raw_y, STYLE_RAW_LINE_WIDTH * s,
                        fade(c->colours[i], STYLE_RAW_FADE), px, py, p);
    for (int i = 0; i < c->nseries; i++)
        draw_series(c, panel, &pn->series[i], pn->series[i].y, STYLE_LINE_WIDTH * s,
                    c->colours[i], px, py, p);
    p->unclip(p->ctx);
    free(px);
    free(py);
    return QT_OK;
}

/* One-pixel outline just inside [x0, x1) x [y0, y1). */
static void outline(const qt_chart_painter *p, int x0, int y0, int x1, int y1, qt_rgb colour)
{
    p->fill_rect(p->ctx, x0, y0, x1, y0 + 1, colour);
    p->fill_rect(p->ctx, x0, y1 - 1, x1, y1, colour);
    p->fill_rect(p->ctx, x0, y0, x0 + 1, y1, colour);
    p->fill_rect(p->ctx, x1 - 1, y0, x1, y1, colour);
}

static void legend(const qt_chart *c, const qt_chart_painter *p)
{
    int s = c->text_scale, x = c->legend_x, y = c->legend_y;
    p->fill_rect(p->ctx, x, y, x + c->legend_w, y + c->legend_h, STYLE_WHITE);
    outline(p, x, y, x + c->legend_w, y + c->legend_h, STYLE_LEGEND_BORDER);
    for (int i = 0; i < c->nseries; i++) {
        int row = y + LEGEND_PAD * s + i * (QT_FONT_GLYPH_H + LEGEND_ROW_GAP) * s;
        double mid = row + QT_FONT_ASCENT * s / 2.0;
        double lx[2] = {x + LEGEND_PAD * s, x + (LEGEND_PAD + SWATCH) * s};
        double ly[2] = {mid, mid};
        p->polyline(p->ctx, lx, ly, 2, STYLE_LINE_WIDTH * s, c->colours[i]);
        p->text(p->ctx, x + (2 * LEGEND_PAD + SWATCH) * s, row, c->names[i], s, 0, STYLE_INK);
    }
}

int qt_chart_paint(const qt_chart *c, const qt_chart_painter *p, qt_error *err)
{
    int s = c->text_scale;
    p->fill_rect(p->ctx, 0, 0, c->width, c->height, STYLE_WHITE);
    if (c->title) {
        const qt_chart_panel *pn = &c->panels[0];
        int w = qt_font_text_width(c->title, 2 * s);
        int x = (pn->left + pn->right) / 2 - w / 2;
        /* A title wider than the plot keeps its beginning visible. */
        p->text(p->ctx, x < PAD * s ? PAD * s : x, PAD * s, c->title, 2 * s, 0, STYLE_INK);
    }
    for (int panel = 0; panel < c->npanels; panel++) {
        grid_and_ticks(c, panel, p);
        const qt_chart_panel *pn = &c->panels[panel];
        outline(p, pn->left, pn->top, pn->right + 1, pn->bottom + 1, STYLE_FRAME);
        axis_labels(c, panel, p);
        marks(c, panel, p);
        if (data_lines(c, panel, p, err) != QT_OK)
            return QT_ERR;
    }
    legend(c, p);
    return QT_OK;
}

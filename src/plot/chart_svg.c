/* Charts as SVG: the same layout and painting as the PNG, written as vector elements.
 * Text uses a monospace font sized so its advance matches the bitmap font's. */
#include <stdio.h>
#include <stdlib.h>

#include "qtrain/bitmap_font.h"
#include "qtrain/chart.h"
#include "qtrain/file_io.h"

typedef struct svg_out {
    FILE *f;
    int nclips;
} svg_out;

static void colour_attr(FILE *f, const char *name, qt_rgb c)
{
    fprintf(f, " %s=\"#%02x%02x%02x\"", name, c.r, c.g, c.b);
}

static void svg_fill_rect(void *ctx, int x0, int y0, int x1, int y1, qt_rgb colour)
{
    svg_out *o = ctx;
    if (x1 <= x0 || y1 <= y0)
        return;
    fprintf(o->f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"", x0, y0, x1 - x0, y1 - y0);
    colour_attr(o->f, "fill", colour);
    fputs("/>\n", o->f);
}

static void svg_polyline(void *ctx, const double *x, const double *y, size_t n, double width,
                         qt_rgb colour)
{
    svg_out *o = ctx;
    if (n == 0)
        return;
    fprintf(o->f, "<polyline fill=\"none\" stroke-width=\"%g\" stroke-linejoin=\"round\" "
                  "stroke-linecap=\"round\"", width);
    colour_attr(o->f, "stroke", colour);
    fputs(" points=\"", o->f);
    for (size_t k = 0; k < n; k++)
        fprintf(o->f, "%s%.2f,%.2f", k ? " " : "", x[k], y[k]);
    /* A single point still shows as a round dot. */
    if (n == 1)
        fprintf(o->f, " %.2f,%.2f", x[0], y[0]);
    fputs("\"/>\n", o->f);
}

static void write_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* Like the bitmap font, which draws anything outside printable ASCII as '?'
             * (this also keeps control bytes and broken UTF-8 out of the XML). */
            fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', f);
        }
    }
}

static void svg_text(void *ctx, int x, int y, const char *s, int scale, int vertical,
                     qt_rgb colour)
{
    svg_out *o = ctx;
    int ascent = QT_FONT_ASCENT * scale;
    double size = QT_FONT_ADVANCE * scale / 0.6;
    if (vertical)
        fprintf(o->f, "<text transform=\"translate(%d,%d) rotate(-90)\"", x + ascent, y);
    else
        fprintf(o->f, "<text x=\"%d\" y=\"%d\"", x, y + ascent);
    fprintf(o->f, " font-size=\"%g\"", size);
    colour_attr(o->f, "fill", colour);
    fputc('>', o->f);
    write_escaped(o->f, s);
    fputs("</text>\n", o->f);
}

static void svg_clip(void *ctx, int x0, int y0, int x1, int y1)
{
    svg_out *o = ctx;
    o->nclips++;
    fprintf(o->f, "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                  "</clipPath>\n<g clip-path=\"url(#clip%d)\">\n",
            o->nclips, x0, y0, x1 - x0, y1 - y0, o->nclips);
}

static void svg_unclip(void *ctx)
{
    svg_out *o = ctx;
    fputs("</g>\n", o->f);
}

/* The whole document, into an in-memory stream (fails only when out of memory). */
static int write_document(const qt_chart *c, FILE *f, qt_error *err)
{
    svg_out o = {f, 0};
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, "
               "monospace\">\n",
            c->width, c->height, c->width, c->height);
    qt_chart_painter p = {&o, svg_fill_rect, svg_polyline, svg_text, svg_clip, svg_unclip};
    if (qt_chart_paint(c, &p, err) != QT_OK)
        return QT_ERR;
    fputs("</svg>\n", f);
    return ferror(f) ? qt_errorf(err, "out of memory") : QT_OK;
}

int qt_chart_write_svg(const qt_chart *c, const char *path, qt_error *err)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    if (!f)
        return qt_errorf(err, "%s: out of memory", path);
    int status = write_document(c, f, err);
    if (fclose(f) != 0 && status == QT_OK)
        status = qt_errorf(err, "out of memory");
    if (status != QT_OK)
        qt_error_prefix(err, "%s", path);
    else
        status = qt_write_file_atomic(path, doc, len, err);
    free(doc);
    return status;
}

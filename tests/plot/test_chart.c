/* Charts: the written PNG decodes to the right size and has each line's colour where
 * the data maps and not where there is none; log mapping; second panel; smoothing;
 * SVG output is well-formed XML. */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/chart.h"
#include "plot_test_util.h"

static int in_legend(const qt_chart *c, int x, int y)
{
    return x >= c->legend_x - 2 && x < c->legend_x + c->legend_w + 2 && y >= c->legend_y - 2 &&
           y < c->legend_y + c->legend_h + 2;
}

static int has_colour(const uint8_t *rgb, int w, int x, int y, qt_rgb c)
{
    return same_rgb(pixel_at(rgb, w, x, y), c.r, c.g, c.b);
}

/* Writes the chart as PNG in a scratch directory and decodes it back. */
static uint8_t *png_roundtrip(const qt_chart *c, int *w, int *h)
{
    char dir[256], path[512];
    scratch_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "chart.png");
    qt_error err;
    assert_int_equal(qt_chart_write_png(c, path, &err), QT_OK);
    uint8_t *rgb = decode_png(path, w, h);
    assert_non_null(rgb);
    remove_tree(dir);
    return rgb;
}

/* Series A: the diagonal y = x over x in [0, 10]. Series B: y = 9 for x in [0, 5] only. */
static const double ax[] = {0, 2, 4, 6, 8, 10}, ay[] = {0, 2, 4, 6, 8, 10};
static const double bx[] = {0, 1, 2, 3, 4, 5}, by[] = {9, 9, 9, 9, 9, 9};

static void two_lines(qt_chart *c, int npanels, int logy, int smooth)
{
    static const qt_chart_line lines[2] = {{ax, ay, 6}, {bx, by, 6}};
    static const char *names[2] = {"diagonal", "short"};
    qt_chart_spec spec = {.width = 400, .height = 300, .title = "two lines", .xlabel = "x",
                          .nseries = 2, .names = names, .npanels = npanels};
    spec.panels[0] = (qt_chart_panel_spec){"y", logy, smooth, lines};
    spec.panels[1] = (qt_chart_panel_spec){"y again", 0, 1, lines};
    qt_error err;
    assert_int_equal(qt_chart_layout(c, &spec, &err), QT_OK);
}

/* The line's colour at the pixel each data point maps to, and at the pixel halfway
 * between consecutive mapped points (the segment is straight in pixel space). */
static void assert_line_drawn(const qt_chart *c, int panel, int series, const double *x,
                              const double *y, int n, const uint8_t *rgb, int w)
{
    double px[2], py[2];
    for (int i = 0; i < n; i++) {
        qt_chart_map(c, panel, x[i], y[i], &px[1], &py[1]);
        if (!in_legend(c, (int)px[1], (int)py[1]))
            assert_true(has_colour(rgb, w, (int)floor(px[1]), (int)floor(py[1]),
                                   c->colours[series]));
        double mx = (px[0] + px[1]) / 2, my = (py[0] + py[1]) / 2;
        if (i > 0 && !in_legend(c, (int)mx, (int)my))
            assert_true(has_colour(rgb, w, (int)floor(mx), (int)floor(my), c->colours[series]));
        px[0] = px[1];
        py[0] = py[1];
    }
}

static void test_png_has_lines_where_data_is(void **state)
{
    qt_chart c;
    two_lines(&c, 1, 0, 1);
    int w, h;
    uint8_t *rgb = png_roundtrip(&c, &w, &h);
    assert_int_equal(w, 400);
    assert_int_equal(h, 300);
    assert_line_drawn(&c, 0, 0, ax, ay, 6, rgb, w);
    assert_line_drawn(&c, 0, 1, bx, by, 6, rgb, w);
    /* No pixel of B's colour right of x = 5 (plus the line's half width). */
    double x5, y5;
    qt_chart_map(&c, 0, 5, 9, &x5, &y5);
    int found = 0;
    for (int y = 0; y < h; y++)
        for (int x = (int)x5 + 3; x < w; x++)
            found += !in_legend(&c, x, y) && has_colour(rgb, w, x, y, c.colours[1]);
    assert_int_equal(found, 0);
    /* Nor of A's colour far above the diagonal, at (2, 7). */
    double px, py;
    qt_chart_map(&c, 0, 2, 7, &px, &py);
    assert_false(has_colour(rgb, w, (int)px, (int)py, c.colours[0]));
    free(rgb);
    qt_chart_free(&c);
}

/* Marks at x = 3 and 7 draw dashed grey columns through both panels where x maps, in dashes
 * and gaps; a mark outside the x range draws nothing. */
static void test_vertical_marks(void **state)
{
    static const double ux[] = {0, 10}, uy[] = {0, 0};
    static const qt_chart_line flat[1] = {{ux, uy, 2}};
    static const char *names[1] = {"flat"};
    const double marks[] = {3, 7, 1e6};
    qt_chart_spec spec = {.width = 400, .height = 300, .nseries = 1, .names = names,
                          .npanels = 2, .nmarks = 3, .marks = marks};
    spec.panels[0] = (qt_chart_panel_spec){"y", 0, 1, flat};
    spec.panels[1] = (qt_chart_panel_spec){"y2", 0, 1, flat};
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_OK);
    int w, h;
    uint8_t *rgb = png_roundtrip(&c, &w, &h);
    const qt_rgb mark = {120, 120, 120};
    for (int panel = 0; panel < 2; panel++) {
        const qt_chart_panel *p = &c.panels[panel];
        for (int m = 0; m < 2; m++) {
            double px, py;
            qt_chart_map(&c, panel, marks[m], p->yaxis.hi, &px, &py);
            int col = (int)floor(px), on = 0, off = 0;
            for (int y = p->top; y <= p->bottom; y++) {
                if (in_legend(&c, col, y))
                    continue;
                if (has_colour(rgb, w, col, y, mark))
                    on++;
                else
                    off++;
            }
            assert_true(on > (p->bottom - p->top) / 3);   /* dashes: 6 of every 10 pixels */
            assert_true(off > 0);                           /* and gaps */
        }
    }
    int anywhere = 0;  /* the mark colour appears only in the two marks' columns */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double px3, px7, py;
            qt_chart_map(&c, 0, 3, 0, &px3, &py);
            qt_chart_map(&c, 0, 7, 0, &px7, &py);
            if (has_colour(rgb, w, x, y, mark) && x != (int)floor(px3) && x != (int)floor(px7))
                anywhere++;
        }
    assert_int_equal(anywhere, 0);
    free(rgb);
    qt_chart_free(&c);
}

/* The data range fits inside the frame and the mapping puts the axis limits on it. */
static void test_mapping_matches_frame(void **state)
{
    qt_chart c;
    two_lines(&c, 1, 0, 1);
    const qt_chart_panel *p = &c.panels[0];
    assert_true(c.xaxis.lo <= 0 && c.xaxis.hi >= 10);
    assert_true(p->yaxis.lo <= 0 && p->yaxis.hi >= 10);
    double px, py;
    qt_chart_map(&c, 0, c.xaxis.lo, p->yaxis.lo, &px, &py);
    assert_close(px, p->left + 0.5, 1e-9);
    assert_close(py, p->bottom + 0.5, 1e-9);
    qt_chart_map(&c, 0, c.xaxis.hi, p->yaxis.hi, &px, &py);
    assert_close(px, p->right + 0.5, 1e-9);
    assert_close(py, p->top + 0.5, 1e-9);
    assert_true(p->left > 0 && p->right < c.width && p->top > 0 && p->bottom < c.height);
    qt_chart_free(&c);
}

static void test_log_scale(void **state)
{
    const double x[] = {0, 1, 2, 3, 4}, y[] = {1, 10, 100, 1000, -1};
    const qt_chart_line line = {x, y, 5};
    const char *names[] = {"decades"};
    qt_chart_spec spec = {.width = 300, .height = 300, .nseries = 1, .names = names,
                          .npanels = 1};
    spec.panels[0] = (qt_chart_panel_spec){"y", 1, 1, &line};
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_OK);
    /* The non-positive value cannot be on a log axis and is skipped. */
    assert_int_equal(c.panels[0].series[0].n, 4);
    double px, py[4];
    for (int i = 0; i < 4; i++)
        qt_chart_map(&c, 0, x[i], y[i], &px, &py[i]);
    /* Each factor of ten is the same distance up the image. */
    assert_true(py[1] < py[0]);
    assert_close(py[1] - py[0], py[2] - py[1], 1e-9);
    assert_close(py[2] - py[1], py[3] - py[2], 1e-9);
    int w, h;
    uint8_t *rgb = png_roundtrip(&c, &w, &h);
    assert_line_drawn(&c, 0, 0, x, y, 4, rgb, w);
    free(rgb);
    qt_chart_free(&c);
}

static void test_second_panel(void **state)
{
    qt_chart c;
    two_lines(&c, 2, 0, 1);
    assert_int_equal(c.npanels, 2);
    const qt_chart_panel *top = &c.panels[0], *bottom = &c.panels[1];
    assert_true(top->bottom < bottom->top);
    assert_int_equal(top->left, bottom->left);
    assert_int_equal(top->right, bottom->right);
    double px, py;
    qt_chart_map(&c, 1, 4, 4, &px, &py);
    assert_true(py > bottom->top && py < bottom->bottom + 1);
    int w, h;
    uint8_t *rgb = png_roundtrip(&c, &w, &h);
    assert_line_drawn(&c, 1, 0, ax, ay, 6, rgb, w);
    assert_line_drawn(&c, 1, 1, bx, by, 6, rgb, w);
    free(rgb);
    qt_chart_free(&c);
}

static void test_smoothing(void **state)
{
    const double x[] = {0, 1, 2, 3, 4, 5}, y[] = {1, 2, 3, 4, 7, 5};
    const qt_chart_line line = {x, y, 6};
    const char *names[] = {"noisy"};
    qt_chart_spec spec = {.width = 300, .height = 240, .nseries = 1, .names = names,
                          .npanels = 1};
    spec.panels[0] = (qt_chart_panel_spec){"y", 0, 3, &line};
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_OK);
    const qt_chart_points *pts = &c.panels[0].series[0];
    const double smooth[] = {1, 1.5, 2, 3, 14.0 / 3, 16.0 / 3};
    for (int i = 0; i < 6; i++) {
        assert_close(pts->y[i], smooth[i], 1e-12);
        assert_true(pts->raw_y[i] == y[i]);
    }
    int w, h;
    uint8_t *rgb = png_roundtrip(&c, &w, &h);
    assert_line_drawn(&c, 0, 0, x, smooth, 6, rgb, w);
    /* The raw peak (4, 7) is drawn faintly: tinted blue, but not in the line colour. */
    double px, py;
    qt_chart_map(&c, 0, 4, 7, &px, &py);
    assert_false(in_legend(&c, (int)px, (int)py));
    rgb8 faint = pixel_at(rgb, w, (int)px, (int)py);
    assert_false(has_colour(rgb, w, (int)px, (int)py, c.colours[0]));
    assert_true(faint.b > faint.r);
    free(rgb);
    qt_chart_free(&c);
}

static void test_layout_errors(void **state)
{
    const double x[] = {0, 1}, y[] = {NAN, INFINITY};
    const qt_chart_line line = {x, y, 2};
    const char *names[] = {"empty"};
    qt_chart_spec spec = {.width = 300, .height = 240, .nseries = 1, .names = names,
                          .npanels = 1};
    spec.panels[0] = (qt_chart_panel_spec){"loss", 0, 1, &line};
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_ERR);
    assert_string_equal(err.msg, "nothing to plot for 'loss': no point has a finite x and y");
    spec.width = 50;
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_ERR);
    assert_string_equal(err.msg, "chart size 50x240 out of range (160x120 to 10000x10000)");
}

static void test_png_write_failure_reports_path(void **state)
{
    qt_chart c;
    two_lines(&c, 1, 0, 1);
    qt_error err;
    assert_int_equal(qt_chart_write_png(&c, "/nonexistent-dir/chart.png", &err), QT_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/chart.png"));
    qt_chart_free(&c);
}

/* Well-formedness for what an SVG writer emits: one root element, properly nested and
 * closed tags, double-quoted attributes, no raw '<' or stray '&' in text or values.
 * Returns NULL, or what is wrong. */
static const char *xml_problem(const char *s)
{
    const char *names[64];
    size_t lens[64];
    int depth = 0, roots = 0;
    if (strncmp(s, "<?xml", 5) == 0) {
        s = strstr(s, "?>");
        if (!s)
            return "unterminated declaration";
        s += 2;
    }
    while (*s) {
        if (*s == '&') {
            const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            size_t k = 0;
            while (k < 5 && strncmp(s, ents[k], strlen(ents[k])) != 0)
                k++;
            if (k == 5)
                return "bad entity";
            s += strlen(ents[k]);
        } else if (*s == '<' && s[1] == '/') {
            size_t len = strcspn(s + 2, ">");
            if (depth == 0 || len != lens[depth - 1] || strncmp(s + 2, names[depth - 1], len))
                return "mismatched closing tag";
            if (s[2 + len] != '>')
                return "unterminated closing tag";
            depth--;
            s += len + 3;
        } else if (*s == '<') {
            const char *name = ++s;
            while (isalnum((unsigned char)*s) || *s == '-' || *s == ':' || *s == '_')
                s++;
            if (s == name)
                return "tag without a name";
            if (depth == 0 && roots++)
                return "more than one root element";
            for (;;) {
                while (isspace((unsigned char)*s))
                    s++;
                if (*s == '>' || (s[0] == '/' && s[1] == '>'))
                    break;
                const char *attr = s;
                while (isalnum((unsigned char)*s) || *s == '-' || *s == ':' || *s == '_')
                    s++;
                if (s == attr || s[0] != '=' || s[1] != '"')
                    return "malformed attribute";
                for (s += 2; *s != '"'; s++)
                    if (*s == '\0' || *s == '<' || (*s == '&' && !strchr(s, ';')))
                        return "bad attribute value";
                s++;
            }
            if (*s == '>') {
                if (depth == 64)
                    return "too deep";
                names[depth] = name;
                lens[depth++] = (size_t)(strcspn(name, " \t\n>/"));
                s++;
            } else {
                s += 2;
            }
        } else {
            if (depth == 0 && !isspace((unsigned char)*s))
                return "text outside the root element";
            s++;
        }
    }
    if (depth)
        return "unclosed element";
    return roots == 1 ? NULL : "no root element";
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s++)
        n++;
    return n;
}

static void test_xml_checker_catches_errors(void **state)
{
    assert_null(xml_problem("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n"));
    assert_non_null(xml_problem("<a><b></a></b>"));
    assert_non_null(xml_problem("<a>x < y</a>"));
    assert_non_null(xml_problem("<a>x & y</a>"));
    assert_non_null(xml_problem("<a x=1></a>"));
    assert_non_null(xml_problem("<a></a><b></b>"));
    assert_non_null(xml_problem("<a>"));
}

static void test_svg_is_well_formed(void **state)
{
    static const qt_chart_line lines[2] = {{ax, ay, 6}, {bx, by, 6}};
    static const char *names[2] = {"a<b", "c&d"};
    qt_chart_spec spec = {.width = 400, .height = 300, .title = "say \"x<y & z\"",
                          .xlabel = "step", .nseries = 2, .names = names, .npanels = 2};
    spec.panels[0] = (qt_chart_panel_spec){"loss", 0, 1, lines};
    spec.panels[1] = (qt_chart_panel_spec){"err", 1, 1, lines};
    qt_chart c;
    qt_error err;
    /* The log panel drops the point y = 0 of the diagonal and keeps the rest. */
    assert_int_equal(qt_chart_layout(&c, &spec, &err), QT_OK);
    char dir[256], path[512];
    scratch_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "chart.svg");
    assert_int_equal(qt_chart_write_svg(&c, path, &err), QT_OK);
    char *svg = read_text(path);
    assert_non_null(svg);
    const char *problem = xml_problem(svg);
    if (problem)
        fail_msg("SVG not well-formed: %s", problem);
    assert_non_null(strstr(svg, ">say &quot;x&lt;y &amp; z&quot;</text>"));
    assert_non_null(strstr(svg, ">a&lt;b</text>"));
    assert_non_null(strstr(svg, "width=\"400\" height=\"300\""));
    /* Two panels of two lines, and two legend samples. */
    assert_int_equal(count(svg, "<polyline"), 6);
    free(svg);
    remove_tree(dir);
    qt_chart_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_has_lines_where_data_is),
        cmocka_unit_test(test_mapping_matches_frame),
        cmocka_unit_test(test_vertical_marks),
        cmocka_unit_test(test_log_scale),
        cmocka_unit_test(test_second_panel),
        cmocka_unit_test(test_smoothing),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_png_write_failure_reports_path),
        cmocka_unit_test(test_xml_checker_catches_errors),
        cmocka_unit_test(test_svg_is_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

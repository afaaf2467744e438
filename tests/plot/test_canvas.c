/* Canvas and bitmap font: exact line colour near the centre line, anti-aliased edges,
 * clipping, and text placed (and rotated) where the glyph table says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/bitmap_font.h"
#include "qtrain/canvas.h"
#include "plot_test_util.h"

static const qt_rgb white = {255, 255, 255}, red = {200, 0, 0};

static int is(qt_rgb a, qt_rgb b)
{
    return a.r == b.r && a.g == b.g && a.b == b.b;
}

/* A horizontal line 3 px wide at y = 10.25. Coverage is 1.5 + 0.5 - d for a pixel
 * centre at distance d: rows 9 and 10 (d = 0.75, 0.25) are solid, row 11 (d = 1.25) gets
 * 3/4 of the colour, row 8 (d = 1.75) 1/4, rows 7 and 12 nothing; beyond the round ends
 * the canvas stays white. */
static void test_line_coverage(void **state)
{
    qt_canvas c;
    qt_error err;
    assert_int_equal(qt_canvas_init(&c, 40, 20, white, &err), QT_OK);
    qt_canvas_line(&c, 5.5, 10.25, 30.5, 10.25, 3.0, red);
    for (int x = 5; x <= 30; x++) {
        assert_true(is(qt_canvas_get(&c, x, 9), red));
        assert_true(is(qt_canvas_get(&c, x, 10), red));
        qt_rgb three_quarters = qt_canvas_get(&c, x, 11), quarter = qt_canvas_get(&c, x, 8);
        assert_int_equal(three_quarters.r, 214);   /* 255 - 55 * 0.75, rounded */
        assert_int_equal(three_quarters.g, 64);    /* 255 * 0.25, rounded */
        assert_int_equal(quarter.r, 241);
        assert_int_equal(quarter.g, 191);
        assert_true(is(qt_canvas_get(&c, x, 7), white));
        assert_true(is(qt_canvas_get(&c, x, 12), white));
    }
    assert_true(is(qt_canvas_get(&c, 3, 10), white));
    assert_true(is(qt_canvas_get(&c, 33, 10), white));
    qt_canvas_free(&c);
}

static void test_clip(void **state)
{
    qt_canvas c;
    qt_error err;
    assert_int_equal(qt_canvas_init(&c, 20, 20, white, &err), QT_OK);
    qt_canvas_clip(&c, 5, 5, 10, 10);
    qt_canvas_line(&c, 0, 0, 20, 20, 4, red);
    qt_canvas_fill_rect(&c, -5, -5, 30, 30, red);
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 20; x++) {
            int inside = x >= 5 && x < 10 && y >= 5 && y < 10;
            assert_int_equal(is(qt_canvas_get(&c, x, y), red), inside);
        }
    qt_canvas_free(&c);
}

static void test_bad_size(void **state)
{
    qt_canvas c;
    qt_error err;
    assert_int_equal(qt_canvas_init(&c, 0, 10, white, &err), QT_ERR);
    assert_string_equal(err.msg, "canvas size 0x10 out of range (1..20000)");
}

static void test_font(void **state)
{
    assert_int_equal(qt_font_text_width("", 1), 0);
    assert_int_equal(qt_font_text_width("a", 1), 5);
    assert_int_equal(qt_font_text_width("abc", 2), 34);
    /* 'l' has its stem in the middle column from the top row to row 6. */
    assert_true(qt_font_pixel('l', 2, 0) && qt_font_pixel('l', 2, 6));
    assert_false(qt_font_pixel('l', 0, 3));
    /* Descenders reach the last rows; outside printable ASCII looks like '?'. */
    assert_true(qt_font_pixel('g', 1, 8));
    for (int y = 0; y < QT_FONT_GLYPH_H; y++)
        for (int x = 0; x < QT_FONT_GLYPH_W; x++)
            assert_int_equal(qt_font_pixel('\x01', x, y), qt_font_pixel('?', x, y));
    assert_false(qt_font_pixel('A', 5, 0));
}

/* Every glyph pixel of "Ag" lands at (x0 + i*6 + gx, y0 + gy) horizontally, and at
 * (x0 + gy, y0 - i*6 - gx - 1) when rotated; nothing else is drawn. */
static void test_text_placement(void **state)
{
    for (int vertical = 0; vertical < 2; vertical++) {
        qt_canvas c;
        qt_error err;
        assert_int_equal(qt_canvas_init(&c, 40, 40, white, &err), QT_OK);
        const int x0 = 10, y0 = vertical ? 30 : 10;
        qt_canvas_text(&c, x0, y0, "Ag", 1, vertical, red);
        int inked = 0;
        for (int i = 0; i < 2; i++)
            for (int gy = 0; gy < QT_FONT_GLYPH_H; gy++)
                for (int gx = 0; gx < QT_FONT_GLYPH_W; gx++) {
                    int x = vertical ? x0 + gy : x0 + i * QT_FONT_ADVANCE + gx;
                    int y = vertical ? y0 - i * QT_FONT_ADVANCE - gx - 1 : y0 + gy;
                    int on = qt_font_pixel("Ag"[i], gx, gy);
                    assert_int_equal(is(qt_canvas_get(&c, x, y), red), on);
                    inked += on;
                }
        int total = 0;
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 40; x++)
                total += is(qt_canvas_get(&c, x, y), red);
        assert_int_equal(total, inked);
        qt_canvas_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_coverage),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_bad_size),
        cmocka_unit_test(test_font),
        cmocka_unit_test(test_text_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

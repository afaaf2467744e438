/* A small embedded bitmap font (printable ASCII, 5x9 cells: 7 rows above the baseline
 * and 2 for descenders), so charts need no font files or font libraries. */
#ifndef QTRAIN_BITMAP_FONT_H
#define QTRAIN_BITMAP_FONT_H

enum {
    QT_FONT_GLYPH_W = 5,  /* ink columns of a glyph */
    QT_FONT_GLYPH_H = 9,  /* rows of a glyph, descenders included */
    QT_FONT_ADVANCE = 6,  /* horizontal step from one character to the next */
    QT_FONT_ASCENT = 7,   /* rows above the baseline (capital height) */
};

/* True when pixel (x, y) of character c is inked (y = 0 is the top row). Characters
 * outside printable ASCII are drawn as '?'. */
int qt_font_pixel(char c, int x, int y);

/* Width in pixels of s drawn at integer scale (no trailing spacing column). */
int qt_font_text_width(const char *s, int scale);

#endif

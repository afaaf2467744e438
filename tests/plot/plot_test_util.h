/* Helpers shared by the plot tests: a scratch directory, small files, and an
 * independent PNG decode (libpng directly, not the library's own reader). */
#ifndef QTRAIN_TESTS_PLOT_UTIL_H
#define QTRAIN_TESTS_PLOT_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* |a - b| <= tol for doubles (cmocka 1.1.5 only compares floats); include cmocka.h first. */
#define assert_close(a, b, tol)                                                           \
    do {                                                                                  \
        double a_ = (a), b_ = (b);                                                        \
        if (!(fabs(a_ - b_) <= (tol)))                                                    \
            fail_msg("%.17g != %.17g (tolerance %g)", a_, b_, (double)(tol));             \
    } while (0)

/* Creates a fresh directory under $TMPDIR (or /tmp) and writes its path into dir. */
void scratch_dir(char *dir, size_t size);
/* Deletes the directory and everything in it. */
void remove_tree(const char *dir);

/* dir + "/" + name into buf. */
const char *join(char *buf, size_t size, const char *dir, const char *name);
void write_text(const char *path, const char *text);
/* Whole file as a NUL-terminated string (free it), or NULL. */
char *read_text(const char *path);

/* Decodes a PNG file to 8-bit RGB (free the result); NULL when it is not a valid PNG. */
uint8_t *decode_png(const char *path, int *width, int *height);

typedef struct rgb8 {
    uint8_t r, g, b;
} rgb8;

static inline rgb8 pixel_at(const uint8_t *rgb, int width, int x, int y)
{
    const uint8_t *p = rgb + ((size_t)y * (size_t)width + (size_t)x) * 3;
    return (rgb8){p[0], p[1], p[2]};
}

static inline int same_rgb(rgb8 a, uint8_t r, uint8_t g, uint8_t b)
{
    return a.r == r && a.g == g && a.b == b;
}

#endif

#include "padded_planes.h"

#include <string.h>

#include "phase_planes.h"

/* Image u of a stack starts (h + pad) rows after image u - 1. Input planes: pad zero rows,
 * then per image h rows and pad zero rows, then pad more rows and 2 pad floats that the
 * outputs in the last pad columns read. Output planes end after the last image's rows. */
qt_padded_geom qt_padded_geom_make(int h, int w, int pad, int images)
{
    const int stride = w + pad;
    const size_t rows = (size_t)images * (h + pad);
    return (qt_padded_geom){h, w, pad, stride, images, (rows + pad) * stride + 2 * pad,
                            (rows - pad) * stride};
}

int qt_padded_stacks(int h, int w) { return h * w < 256; }

/* Where pixel (0, 0) of image u of a stack sits in an input-layout plane. */
static size_t input_origin(const qt_padded_geom *g, int u)
{
    return (size_t)(g->pad + u * (g->h + g->pad)) * g->stride + g->pad;
}

/* Plane (stack, c) of dst from the images of that stack; lead: where pixel (0, 0) of the
 * stack's first image sits. */
static void fill(const qt_padded_geom *g, const float *src, int n, int channels, size_t lead,
                 size_t plane, float *dst)
{
    const size_t hw = (size_t)g->h * g->w, image_rows = (size_t)(g->h + g->pad) * g->stride;
    for (int t0 = 0; t0 < n; t0 += g->images)
        for (int c = 0; c < channels; c++, dst += plane) {
            memset(dst, 0, plane * sizeof(float));
            for (int u = 0; u < g->images && t0 + u < n; u++) {
                const float *s = src + ((size_t)(t0 + u) * channels + c) * hw;
                float *d = dst + lead + u * image_rows;
                for (int r = 0; r < g->h; r++)
                    memcpy(d + (size_t)r * g->stride, s + (size_t)r * g->w, g->w * sizeof(float));
            }
        }
}

void qt_padded_fill(const qt_padded_geom *g, const float *src, int n, int channels, float *dst)
{
    fill(g, src, n, channels, input_origin(g, 0), g->plane, dst);
}

void qt_padded_fill_phases(const qt_padded_geom *g, const float *src, int n, int channels,
                           float *dst)
{
    const size_t image = 4 * (size_t)channels * g->h * g->w, stack = 4 * (size_t)channels * g->plane;
    for (int t0 = 0; t0 < n; t0 += g->images, dst += stack) {
        memset(dst, 0, stack * sizeof(float));
        for (int u = 0; u < g->images && t0 + u < n; u++)
            qt_phase_split(src + (size_t)(t0 + u) * image, channels, 2 * g->h, 2 * g->w,
                           dst + input_origin(g, u), g->plane, g->stride);
    }
}

void qt_padded_fill_out(const qt_padded_geom *g, const float *src, int n, int channels,
                        float *dst)
{
    fill(g, src, n, channels, 0, g->out_plane, dst);
}

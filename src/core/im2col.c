#include "qtrain/im2col.h"

#include <string.h>

int qt_conv_out_size(int in, int k, int stride, int pad)
{
    int span = in + 2 * pad - k;
    return span < 0 ? 0 : span / stride + 1;
}

qt_patch_geom qt_patch_geom_make(int channels, int height, int width, int kh, int kw,
                                 int stride, int pad)
{
    qt_patch_geom g = {channels, height, width, kh, kw, stride, pad,
                       qt_conv_out_size(height, kh, stride, pad),
                       qt_conv_out_size(width, kw, stride, pad)};
    return g;
}

/* The valid output columns [*lo, *hi) for kernel offset j: those with 0 <= ox*s - p + j < W. */
static void valid_range(int j, int stride, int pad, int width, int out_w, int *lo, int *hi)
{
    int first = pad - j;
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = width - 1 + pad - j; /* ox*s <= last */
    *hi = last < 0 ? 0 : last / stride + 1;
    if (*hi > out_w)
        *hi = out_w;
    if (*lo > *hi)
        *lo = *hi;
}

void qt_im2col(const qt_patch_geom *g, const float *x, float *col, ptrdiff_t ld)
{
    const int ow = g->out_w, oh = g->out_h;
    for (int ch = 0; ch < g->channels; ch++) {
        const float *xc = x + (size_t)ch * g->height * g->width;
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                float *row = col + ((ptrdiff_t)(ch * g->kh + i) * g->kw + j) * ld;
                int lo, hi;
                valid_range(j, g->stride, g->pad, g->width, ow, &lo, &hi);
                for (int oy = 0; oy < oh; oy++) {
                    float *r = row + (size_t)oy * ow;
                    int y = oy * g->stride - g->pad + i;
                    if (y < 0 || y >= g->height) {
                        memset(r, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (size_t)y * g->width;
                    const int off = j - g->pad; /* x column of ox is ox*s + off */
                    for (int ox = 0; ox < lo; ox++)
                        r[ox] = 0.0f;
                    if (g->stride == 1)
                        memcpy(r + lo, xr + lo + off, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ox = lo; ox < hi; ox++)
                            r[ox] = xr[ox * g->stride + off];
                    for (int ox = hi; ox < ow; ox++)
                        r[ox] = 0.0f;
                }
            }
    }
}

void qt_col2im_add(const qt_patch_geom *g, const float *dcol, ptrdiff_t ld, float *dx)
{
    const int ow = g->out_w, oh = g->out_h;
    for (int ch = 0; ch < g->channels; ch++) {
        float *dxc = dx + (size_t)ch * g->height * g->width;
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const float *row = dcol + ((ptrdiff_t)(ch * g->kh + i) * g->kw + j) * ld;
                int lo, hi;
                valid_range(j, g->stride, g->pad, g->width, ow, &lo, &hi);
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * g->stride - g->pad + i;
                    if (y < 0 || y >= g->height)
                        continue;
                    const float *r = row + (size_t)oy * ow;
                    float *dr = dxc + (size_t)y * g->width;
                    const int off = j - g->pad;
                    for (int ox = lo; ox < hi; ox++)
                        dr[ox * g->stride + off] += r[ox];
                }
            }
    }
}

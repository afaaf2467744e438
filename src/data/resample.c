#include "resample.h"

#include <math.h>
#include <stdlib.h>

#include "qtrain/error.h"

void qt_resample_scratch_free(qt_resample_scratch *s)
{
    free(s->x_first);
    free(s->x_count);
    free(s->y_first);
    free(s->y_count);
    free(s->x_w);
    free(s->y_w);
    free(s->tmp);
}

static int reserve_axis(int **first, int **count, float **w, size_t *cap, int n, int taps)
{
    size_t need = (size_t)n * taps;
    if (need <= *cap)
        return QT_OK;
    int *f = realloc(*first, need * sizeof *f);
    if (f)
        *first = f;
    int *c = realloc(*count, need * sizeof *c);
    if (c)
        *count = c;
    float *ww = realloc(*w, need * sizeof *ww);
    if (ww)
        *w = ww;
    if (!f || !c || !ww)
        return QT_ERR;
    *cap = need;
    return QT_OK;
}

/* Taps for out_size outputs covering [start, start + len) of an axis of in_size pixels:
 * output i uses pixels first[i] .. first[i] + count[i] - 1 with weights w[i * taps ..]. */
static void axis_weights(float start, float len, int in_size, int out_size, int taps,
                         int *first, int *count, float *w)
{
    float scale = len / (float)out_size;
    float support = scale > 1.0f ? scale : 1.0f;
    for (int i = 0; i < out_size; i++) {
        float center = start + ((float)i + 0.5f) * scale;
        int lo = (int)floorf(center - support + 0.5f), hi = (int)floorf(center + support + 0.5f);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in_size ? in_size : hi;
        float *wi = w + (size_t)i * taps, sum = 0.0f;
        for (int x = lo; x < hi; x++) {
            float t = 1.0f - fabsf(((float)x + 0.5f - center) / support);
            wi[x - lo] = t > 0.0f ? t : 0.0f;
            sum += wi[x - lo];
        }
        if (sum <= 0.0f) {
            /* the box lies beyond the image here: repeat the nearest edge pixel */
            lo = (int)floorf(center);
            lo = lo < 0 ? 0 : lo >= in_size ? in_size - 1 : lo;
            hi = lo + 1;
            wi[0] = sum = 1.0f;
        }
        for (int k = 0; k < hi - lo; k++)
            wi[k] /= sum;
        first[i] = lo;
        count[i] = hi - lo;
    }
}

static int taps_for(float len, int out_size)
{
    float scale = len / (float)out_size;
    return 2 * (int)ceilf(scale > 1.0f ? scale : 1.0f) + 1;
}

int qt_resample(qt_resample_scratch *s, const qt_image *src, float x0, float y0, float bw,
                float bh, int oh, int ow, int flip, const float *mean, const float *inv_std,
                float *out)
{
    int tx = taps_for(bw, ow), ty = taps_for(bh, oh), C = src->c;
    if (reserve_axis(&s->x_first, &s->x_count, &s->x_w, &s->x_cap, ow, tx) ||
        reserve_axis(&s->y_first, &s->y_count, &s->y_w, &s->y_cap, oh, ty))
        return QT_ERR;
    axis_weights(x0, bw, src->w, ow, tx, s->x_first, s->x_count, s->x_w);
    axis_weights(y0, bh, src->h, oh, ty, s->y_first, s->y_count, s->y_w);
    int r0 = s->y_first[0], r1 = r0;
    for (int y = 0; y < oh; y++) {
        r0 = s->y_first[y] < r0 ? s->y_first[y] : r0;
        r1 = s->y_first[y] + s->y_count[y] > r1 ? s->y_first[y] + s->y_count[y] : r1;
    }
    size_t rows = (size_t)(r1 - r0), need = (size_t)C * rows * ow;
    if (need > s->tmp_cap) {
        float *t = realloc(s->tmp, need * sizeof *t);
        if (!t)
            return QT_ERR;
        s->tmp = t;
        s->tmp_cap = need;
    }
    /* horizontal pass over the source rows the vertical taps touch: tmp[c][row][x] */
    for (int c = 0; c < C; c++)
        for (int r = r0; r < r1; r++) {
            const uint8_t *row = src->data + c * src->cs + (ptrdiff_t)r * src->ys;
            float *t = s->tmp + ((size_t)c * rows + (size_t)(r - r0)) * ow;
            for (int x = 0; x < ow; x++) {
                const float *w = s->x_w + (size_t)x * tx;
                const uint8_t *p = row + (ptrdiff_t)s->x_first[x] * src->xs;
                float v = 0.0f;
                for (int k = 0; k < s->x_count[x]; k++)
                    v += w[k] * (float)p[k * src->xs];
                t[flip ? ow - 1 - x : x] = v;
            }
        }
    /* vertical pass, then normalisation */
    for (int c = 0; c < C; c++)
        for (int y = 0; y < oh; y++) {
            float *o = out + ((size_t)c * oh + y) * ow;
            const float *w = s->y_w + (size_t)y * ty;
            const float *t = s->tmp + ((size_t)c * rows + (size_t)(s->y_first[y] - r0)) * ow;
            for (int x = 0; x < ow; x++)
                o[x] = 0.0f;
            for (int k = 0; k < s->y_count[y]; k++)
                for (int x = 0; x < ow; x++)
                    o[x] += w[k] * t[(size_t)k * ow + x];
            for (int x = 0; x < ow; x++)
                o[x] = (o[x] / 255.0f - mean[c]) * inv_std[c];
        }
    return QT_OK;
}

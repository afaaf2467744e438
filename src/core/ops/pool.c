/* Max, average and global average pooling over NCHW planes; the context's workers take
 * ranges of planes. */
#include <float.h>
#include <string.h>

#include "qtrain/im2col.h"
#include "qtrain/ops.h"
#include "qtrain/threads.h"

typedef struct {
    int k, stride, pad;
    uint8_t *argmax;          /* max pool: the maximum's place in its window (row * k + col),
                               * per output: a quarter of a flat int32 offset's memory */
} pool_saved;

/* One pooling call: planes of h x w in, oh x ow out. */
typedef struct {
    const float *x, *dy;
    float *y, *dx;
    uint8_t *argmax;
    int h, w, oh, ow, k, s, p;
    int accumulate;
    /* max pool backward: the input offset of window place q (row q / k, column q % k), so
     * that routing a gradient divides nothing (a division per output was half its time) */
    int window_offset[QT_MAXPOOL_MAX_K * QT_MAXPOOL_MAX_K];
} pool_job;

static long plane_chunk(const pool_job *j)
{
    return 8192 / ((long)j->h * j->w) + 1;
}

/* x (N, C, H, W) -> y (N, C, OH, OW): max over each window; argmax = first maximum */
static void maxpool_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const int h = j->h, w = j->w, k = j->k, s = j->s, p = j->p;
    for (long pl = lo; pl < hi; pl++) {
        const float *xp = j->x + pl * h * w;
        for (int oy = 0; oy < j->oh; oy++)
            for (int ox = 0; ox < j->ow; ox++) {
                float best = -FLT_MAX;
                int arg = -1;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    if (yy < 0 || yy >= h)
                        continue;
                    for (int jj = 0; jj < k; jj++) {
                        int xx = ox * s - p + jj;
                        if (xx >= 0 && xx < w && (arg < 0 || xp[yy * w + xx] > best)) {
                            best = xp[yy * w + xx];
                            arg = i * k + jj;
                        }
                    }
                }
                size_t o = ((size_t)pl * j->oh + oy) * j->ow + ox;
                j->y[o] = best;
                if (j->argmax)
                    j->argmax[o] = arg;
            }
    }
}

/* The 2x2, stride 2, unpadded window of every VGG-style net: the same first maximum as
 * maxpool_range without branches. Rows are short (4 to 16 outputs), too short for the
 * compiler's vector loop, so the place of the maximum is computed arithmetically: a branch per
 * comparison mispredicts on half the windows (the scalar loop with branches was 15 % of the
 * quick start net's training step). */
static void maxpool2x2_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const int w = j->w, ow = j->ow;
    for (long pl = lo; pl < hi; pl++)
        for (int oy = 0; oy < j->oh; oy++) {
            const float *r0 = j->x + pl * j->h * w + 2 * oy * w, *r1 = r0 + w;
            const size_t o = ((size_t)pl * j->oh + oy) * ow;
            float *y = j->y + o;
            uint8_t *am = j->argmax ? j->argmax + o : NULL;
            for (int ox = 0; ox < ow; ox++) {
                const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                const int gb = b > a;
                const float m1 = gb ? b : a;
                const int gc = c > m1;
                const float m2 = gc ? c : m1;
                const int gd = d > m2;
                y[ox] = gd ? d : m2;
                if (am) {
                    int at = gb;
                    at += gc * (2 - at);
                    at += gd * (3 - at);
                    am[ox] = (uint8_t)at;
                }
            }
        }
}

/* dy (N, C, OH, OW) -> dx: each output's gradient to its argmax, outputs in order */
static void maxpool_grad_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const int w = j->w, s = j->s, p = j->p;
    const size_t in = (size_t)j->h * w;
    for (long pl = lo; pl < hi; pl++) {
        float *dxp = j->dx + pl * in;
        if (!j->accumulate)
            memset(dxp, 0, in * sizeof(float));
        size_t o = (size_t)pl * j->oh * j->ow;
        for (int oy = 0; oy < j->oh; oy++)
            for (int ox = 0; ox < j->ow; ox++, o++)
                dxp[(oy * s - p) * w + ox * s - p + j->window_offset[j->argmax[o]]] += j->dy[o];
    }
}

/* x (N, C, H, W) -> y (N, C, OH, OW): sum over each window / k^2 (padding counts as zeros) */
static void avgpool_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const int h = j->h, w = j->w, k = j->k, s = j->s, p = j->p;
    const float inv = 1.0f / (float)(k * k);
    for (long pl = lo; pl < hi; pl++) {
        const float *xp = j->x + pl * h * w;
        for (int oy = 0; oy < j->oh; oy++)
            for (int ox = 0; ox < j->ow; ox++) {
                float acc = 0.0f;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    for (int jj = 0; jj < k && yy >= 0 && yy < h; jj++) {
                        int xx = ox * s - p + jj;
                        if (xx >= 0 && xx < w)
                            acc += xp[yy * w + xx];
                    }
                }
                j->y[((size_t)pl * j->oh + oy) * j->ow + ox] = acc * inv;
            }
    }
}

/* dy (N, C, OH, OW) -> dx: each output's gradient / k^2 to every in-image window element */
static void avgpool_grad_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const int h = j->h, w = j->w, k = j->k, s = j->s, p = j->p;
    const float inv = 1.0f / (float)(k * k);
    for (long pl = lo; pl < hi; pl++) {
        float *dxp = j->dx + pl * h * w;
        const float *dyp = j->dy + pl * j->oh * j->ow;
        if (!j->accumulate)
            memset(dxp, 0, (size_t)h * w * sizeof(float));
        for (int oy = 0; oy < j->oh; oy++)
            for (int ox = 0; ox < j->ow; ox++) {
                float g = dyp[oy * j->ow + ox] * inv;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    for (int jj = 0; jj < k && yy >= 0 && yy < h; jj++) {
                        int xx = ox * s - p + jj;
                        if (xx >= 0 && xx < w)
                            dxp[yy * w + xx] += g;
                    }
                }
            }
    }
}

static pool_job pool_job_of(const qt_tensor *x, const qt_tensor *y, int k, int s, int p)
{
    pool_job j = {x->data, y->grad, y->data, NULL, NULL, x->shape[2], x->shape[3],
                  y->shape[2], y->shape[3], k, s, p, 0, {0}};
    for (int q = 0; k <= QT_MAXPOOL_MAX_K && q < k * k; q++)
        j.window_offset[q] = q / k * j.w + q % k;
    return j;
}

static void pool_backward(qt_ctx *c, const qt_node *nd, qt_range_fn fn)
{
    qt_tensor *x = nd->in[0];
    const pool_saved *sv = nd->saved;
    pool_job j = pool_job_of(x, nd->out, sv->k, sv->stride, sv->pad);
    float beta;
    if (!(j.dx = qt_grad_target(c, x, &beta)))
        return;
    j.accumulate = beta != 0.0f;
    j.argmax = sv->argmax;
    qt_pool_for(c->pool, (long)x->shape[0] * x->shape[1], plane_chunk(&j), fn, &j);
}

static void maxpool_backward(qt_ctx *c, const qt_node *nd)
{
    pool_backward(c, nd, maxpool_grad_range);
}

static void avgpool_backward(qt_ctx *c, const qt_node *nd)
{
    pool_backward(c, nd, avgpool_grad_range);
}

static qt_tensor *pool2d(qt_ctx *c, qt_tensor *x, int k, int s, int p, int is_max)
{
    if (!x || c->failed)
        return NULL;
    const char *name = is_max ? "maxpool2d" : "avgpool2d";
    if (x->ndim != 4)
        return qt_ctx_fail(c, "%s: input must be (N, C, H, W)", name);
    int oh = qt_conv_out_size(x->shape[2], k, s, p), ow = qt_conv_out_size(x->shape[3], k, s, p);
    if (k < 1 || s < 1 || p < 0 || 2 * p > k || oh < 1 || ow < 1 ||
        (is_max && k > QT_MAXPOOL_MAX_K))
        return qt_ctx_fail(c, "%s: window %d stride %d pad %d does not fit %dx%d", name, k, s,
                           p, x->shape[2], x->shape[3]);
    qt_tensor *y = qt_tensor_new4(c, x->shape[0], x->shape[1], oh, ow);
    if (!y)
        return NULL;
    qt_node *nd = qt_tape_record(c, is_max ? maxpool_backward : avgpool_backward, y, x, NULL, NULL);
    pool_saved *sv = qt_node_save(c, nd, sizeof *sv);
    if (nd && !sv)
        return NULL;
    if (sv) {
        sv->k = k;
        sv->stride = s;
        sv->pad = p;
        sv->argmax = NULL;
        if (is_max && !(sv->argmax = qt_ctx_alloc(c, y->numel * sizeof *sv->argmax)))
            return NULL;
    }
    pool_job j = pool_job_of(x, y, k, s, p);
    j.argmax = sv ? sv->argmax : NULL;
    qt_range_fn fn = !is_max ? avgpool_range : k == 2 && s == 2 && p == 0 ? maxpool2x2_range
                                                                         : maxpool_range;
    qt_pool_for(c->pool, (long)x->shape[0] * x->shape[1], plane_chunk(&j), fn, &j);
    return y;
}

qt_tensor *qt_maxpool2d(qt_ctx *c, qt_tensor *x, int k, int stride, int pad)
{
    return pool2d(c, x, k, stride, pad, 1);
}

qt_tensor *qt_avgpool2d(qt_ctx *c, qt_tensor *x, int k, int stride, int pad)
{
    return pool2d(c, x, k, stride, pad, 0);
}

/* x (N, C, H, W) -> y (N, C) = mean over H*W */
static void global_avgpool_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const size_t hw = (size_t)j->h * j->w;
    for (long pl = lo; pl < hi; pl++) {
        float acc = 0.0f;
        for (size_t k = 0; k < hw; k++)
            acc += j->x[pl * hw + k];
        j->y[pl] = acc / (float)hw;
    }
}

/* dy (N, C) -> dx (N, C, H, W) = dy / (H*W) everywhere in the plane */
static void global_avgpool_grad_range(void *arg, long lo, long hi, int worker)
{
    const pool_job *j = arg;
    const size_t hw = (size_t)j->h * j->w;
    for (long pl = lo; pl < hi; pl++) {
        float g = j->dy[pl] / (float)hw, *dxp = j->dx + pl * hw;
        for (size_t k = 0; k < hw; k++)
            dxp[k] = (j->accumulate ? dxp[k] : 0.0f) + g;
    }
}

static void global_avgpool_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0];
    pool_job j = pool_job_of(x, nd->out, 1, 1, 0);
    float beta;
    if (!(j.dx = qt_grad_target(c, x, &beta)))
        return;
    j.accumulate = beta != 0.0f;
    qt_pool_for(c->pool, (long)x->shape[0] * x->shape[1], plane_chunk(&j),
                global_avgpool_grad_range, &j);
}

qt_tensor *qt_global_avgpool(qt_ctx *c, qt_tensor *x)
{
    if (!x || c->failed)
        return NULL;
    if (x->ndim != 4)
        return qt_ctx_fail(c, "global_avgpool: input must be (N, C, H, W)");
    qt_tensor *y = qt_tensor_new2(c, x->shape[0], x->shape[1]);
    if (!y)
        return NULL;
    pool_job j = pool_job_of(x, y, 1, 1, 0);
    qt_pool_for(c->pool, (long)x->shape[0] * x->shape[1], plane_chunk(&j), global_avgpool_range,
                &j);
    qt_tape_record(c, global_avgpool_backward, y, x, NULL, NULL);
    return y;
}

/* Max, average and global average pooling over NCHW planes. */
#include <float.h>
#include <string.h>

#include "qtrain/im2col.h"
#include "qtrain/ops.h"

typedef struct {
    int k, stride, pad;
    int32_t *argmax;          /* max pool: flat input offset within the plane, per output */
} pool_saved;

/* x (N, C, H, W) -> y (N, C, OH, OW): max over each window; argmax = first maximum */
static void maxpool_forward(const qt_tensor *x, float *y, int32_t *argmax, int k, int s, int p,
                            int oh, int ow)
{
    const int h = x->shape[2], w = x->shape[3];
    const size_t planes = (size_t)x->shape[0] * x->shape[1];
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x->data + pl * h * w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float best = -FLT_MAX;
                int arg = -1;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    if (yy < 0 || yy >= h)
                        continue;
                    for (int j = 0; j < k; j++) {
                        int xx = ox * s - p + j;
                        if (xx >= 0 && xx < w && (arg < 0 || xp[yy * w + xx] > best)) {
                            best = xp[yy * w + xx];
                            arg = yy * w + xx;
                        }
                    }
                }
                size_t o = (pl * oh + oy) * ow + ox;
                y[o] = best;
                if (argmax)
                    argmax[o] = arg;
            }
    }
}

/* dy (N, C, OH, OW) -> dx: each output's gradient to its argmax */
static void maxpool_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0];
    float beta;
    float *dx = qt_grad_target(c, x, &beta);
    if (!dx)
        return;
    if (beta == 0.0f)
        memset(dx, 0, x->numel * sizeof(float));
    const pool_saved *sv = nd->saved;
    const size_t plane_in = (size_t)x->shape[2] * x->shape[3];
    const size_t plane_out = (size_t)nd->out->shape[2] * nd->out->shape[3];
    const float *dy = nd->out->grad;
    for (size_t o = 0; o < nd->out->numel; o++)
        dx[(o / plane_out) * plane_in + sv->argmax[o]] += dy[o];
}

/* x (N, C, H, W) -> y (N, C, OH, OW): sum over each window / k^2 (padding counts as zeros) */
static void avgpool_forward(const qt_tensor *x, float *y, int k, int s, int p, int oh, int ow)
{
    const int h = x->shape[2], w = x->shape[3];
    const size_t planes = (size_t)x->shape[0] * x->shape[1];
    const float inv = 1.0f / (float)(k * k);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x->data + pl * h * w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    for (int j = 0; j < k && yy >= 0 && yy < h; j++) {
                        int xx = ox * s - p + j;
                        if (xx >= 0 && xx < w)
                            acc += xp[yy * w + xx];
                    }
                }
                y[(pl * oh + oy) * ow + ox] = acc * inv;
            }
    }
}

/* dy (N, C, OH, OW) -> dx: each output's gradient / k^2 to every in-image window element */
static void avgpool_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0];
    float beta;
    float *dx = qt_grad_target(c, x, &beta);
    if (!dx)
        return;
    if (beta == 0.0f)
        memset(dx, 0, x->numel * sizeof(float));
    const pool_saved *sv = nd->saved;
    const int h = x->shape[2], w = x->shape[3], oh = nd->out->shape[2], ow = nd->out->shape[3];
    const int k = sv->k, s = sv->stride, p = sv->pad;
    const size_t planes = (size_t)x->shape[0] * x->shape[1];
    const float inv = 1.0f / (float)(k * k);
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * h * w;
        const float *dyp = nd->out->grad + pl * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float g = dyp[oy * ow + ox] * inv;
                for (int i = 0; i < k; i++) {
                    int yy = oy * s - p + i;
                    for (int j = 0; j < k && yy >= 0 && yy < h; j++) {
                        int xx = ox * s - p + j;
                        if (xx >= 0 && xx < w)
                            dxp[yy * w + xx] += g;
                    }
                }
            }
    }
}

static qt_tensor *pool2d(qt_ctx *c, qt_tensor *x, int k, int s, int p, int is_max)
{
    if (!x || c->failed)
        return NULL;
    const char *name = is_max ? "maxpool2d" : "avgpool2d";
    if (x->ndim != 4)
        return qt_ctx_fail(c, "%s: input must be (N, C, H, W)", name);
    int oh = qt_conv_out_size(x->shape[2], k, s, p), ow = qt_conv_out_size(x->shape[3], k, s, p);
    if (k < 1 || s < 1 || p < 0 || 2 * p > k || oh < 1 || ow < 1)
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
        if (is_max && !(sv->argmax = qt_ctx_alloc(c, y->numel * sizeof(int32_t))))
            return NULL;
    }
    if (is_max)
        maxpool_forward(x, y->data, sv ? sv->argmax : NULL, k, s, p, oh, ow);
    else
        avgpool_forward(x, y->data, k, s, p, oh, ow);
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
static void global_avgpool_forward(const qt_tensor *x, float *y)
{
    const size_t planes = (size_t)x->shape[0] * x->shape[1], hw = (size_t)x->shape[2] * x->shape[3];
    for (size_t pl = 0; pl < planes; pl++) {
        float acc = 0.0f;
        for (size_t k = 0; k < hw; k++)
            acc += x->data[pl * hw + k];
        y[pl] = acc / (float)hw;
    }
}

/* dy (N, C) -> dx (N, C, H, W) = dy / (H*W) everywhere in the plane */
static void global_avgpool_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0];
    float beta;
    float *dx = qt_grad_target(c, x, &beta);
    if (!dx)
        return;
    const size_t planes = (size_t)x->shape[0] * x->shape[1], hw = (size_t)x->shape[2] * x->shape[3];
    for (size_t pl = 0; pl < planes; pl++) {
        float g = nd->out->grad[pl] / (float)hw;
        for (size_t k = 0; k < hw; k++)
            dx[pl * hw + k] = (beta != 0.0f ? dx[pl * hw + k] : 0.0f) + g;
    }
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
    global_avgpool_forward(x, y->data);
    qt_tape_record(c, global_avgpool_backward, y, x, NULL, NULL);
    return y;
}

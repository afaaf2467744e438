/* The parameter-free ResNet shortcut ("option A", He et al. 2016 for CIFAR): subsample by the
 * stride and zero-pad the channels equally on both sides. Workers take ranges of images. */
#include <string.h>

#include "qtrain/ops.h"
#include "qtrain/threads.h"

typedef struct {
    const qt_tensor *x, *y;
    float *dx;
    int s, accumulate;
} shortcut_job;

/* One plane: y (oh, ow) = x (h, w) at every s-th row and column, or the reverse, dx += dy
 * there. Inlined with s a constant where it is 2 (every ResNet shortcut), so the strided
 * accesses vectorise. */
static inline void subsample_plane(const float *x, int w, int s, float *y, int oh, int ow)
{
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            y[oy * ow + ox] = x[(oy * s) * w + ox * s];
}

static inline void scatter_add_plane(const float *dy, int oh, int ow, int s, float *dx, int w)
{
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            dx[(oy * s) * w + ox * s] += dy[oy * ow + ox];
}

/* x (N, C, H, W) -> y (N, C_out, OH, OW):
 * y[:, lo + ch, oy, ox] = x[:, ch, oy*s, ox*s], zeros elsewhere (only the padding channels
 * are cleared: the others are written whole) */
static void forward_range(void *arg, long i0, long i1, int worker)
{
    const shortcut_job *j = arg;
    const int ci = j->x->shape[1], h = j->x->shape[2], w = j->x->shape[3], s = j->s;
    const int co = j->y->shape[1], oh = j->y->shape[2], ow = j->y->shape[3], lo = (co - ci) / 2;
    const size_t plane = (size_t)oh * ow;
    for (long i = i0; i < i1; i++) {
        float *yi = j->y->data + (size_t)i * co * plane;
        memset(yi, 0, lo * plane * sizeof(float));
        memset(yi + (lo + ci) * plane, 0, (co - lo - ci) * plane * sizeof(float));
        for (int ch = 0; ch < ci; ch++) {
            const float *xp = j->x->data + ((size_t)i * ci + ch) * h * w;
            float *yp = yi + (lo + ch) * plane;
            if (s == 2)
                subsample_plane(xp, w, 2, yp, oh, ow);
            else
                subsample_plane(xp, w, s, yp, oh, ow);
        }
    }
}

/* dy (N, C_out, OH, OW) -> dx (N, C, H, W): the subsampled positions get dy, others 0 */
static void backward_range(void *arg, long i0, long i1, int worker)
{
    const shortcut_job *j = arg;
    const int ci = j->x->shape[1], h = j->x->shape[2], w = j->x->shape[3], s = j->s;
    const int co = j->y->shape[1], oh = j->y->shape[2], ow = j->y->shape[3], lo = (co - ci) / 2;
    const size_t img = (size_t)ci * h * w;
    if (!j->accumulate)
        memset(j->dx + i0 * img, 0, (size_t)(i1 - i0) * img * sizeof(float));
    for (long i = i0; i < i1; i++)
        for (int ch = 0; ch < ci; ch++) {
            float *dxp = j->dx + ((size_t)i * ci + ch) * h * w;
            const float *dyp = j->y->grad + ((size_t)i * co + lo + ch) * oh * ow;
            if (s == 2)
                scatter_add_plane(dyp, oh, ow, 2, dxp, w);
            else
                scatter_add_plane(dyp, oh, ow, s, dxp, w);
        }
}

static void shortcut_pad_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    shortcut_job j = {nd->in[0], nd->out, NULL, *(const int *)nd->saved, 0};
    if (!(j.dx = qt_grad_target(c, nd->in[0], &beta)))
        return;
    j.accumulate = beta != 0.0f;
    qt_pool_for(c->pool, nd->in[0]->shape[0], 1, backward_range, &j);
}

qt_tensor *qt_shortcut_pad(qt_ctx *c, qt_tensor *x, int out_channels, int stride)
{
    if (!x || c->failed)
        return NULL;
    if (x->ndim != 4 || out_channels < x->shape[1] || stride < 1)
        return qt_ctx_fail(c, "shortcut_pad: cannot map %d channels to %d with stride %d",
                           x->ndim == 4 ? x->shape[1] : -1, out_channels, stride);
    int oh = (x->shape[2] + stride - 1) / stride, ow = (x->shape[3] + stride - 1) / stride;
    qt_tensor *y = qt_tensor_new4(c, x->shape[0], out_channels, oh, ow);
    if (!y)
        return NULL;
    shortcut_job j = {x, y, NULL, stride, 0};
    qt_pool_for(c->pool, x->shape[0], 1, forward_range, &j);
    qt_node *nd = qt_tape_record(c, shortcut_pad_backward, y, x, NULL, NULL);
    int *saved = qt_node_save(c, nd, sizeof(int));
    if (nd && !saved)
        return NULL;
    if (saved)
        *saved = stride;
    return y;
}

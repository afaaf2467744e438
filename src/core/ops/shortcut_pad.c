/* The parameter-free ResNet shortcut ("option A", He et al. 2016 for CIFAR): subsample by the
 * stride and zero-pad the channels equally on both sides. */
#include <string.h>

#include "qtrain/ops.h"

/* x (N, C, H, W) -> y (N, C_out, OH, OW): y[:, lo + ch, oy, ox] = x[:, ch, oy*s, ox*s], zeros elsewhere */
static void shortcut_pad_forward(const qt_tensor *x, qt_tensor *y, int s)
{
    const int n = x->shape[0], ci = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int co = y->shape[1], oh = y->shape[2], ow = y->shape[3], lo = (co - ci) / 2;
    memset(y->data, 0, y->numel * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < ci; ch++) {
            const float *xp = x->data + ((size_t)i * ci + ch) * h * w;
            float *yp = y->data + ((size_t)i * co + lo + ch) * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    yp[oy * ow + ox] = xp[(oy * s) * w + ox * s];
        }
}

/* dy (N, C_out, OH, OW) -> dx (N, C, H, W): the subsampled positions get dy, others 0 */
static void shortcut_pad_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0], *y = nd->out;
    float beta;
    float *dx = qt_grad_target(c, x, &beta);
    if (!dx)
        return;
    if (beta == 0.0f)
        memset(dx, 0, x->numel * sizeof(float));
    const int n = x->shape[0], ci = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int co = y->shape[1], oh = y->shape[2], ow = y->shape[3], lo = (co - ci) / 2;
    const int s = *(const int *)nd->saved;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < ci; ch++) {
            float *dxp = dx + ((size_t)i * ci + ch) * h * w;
            const float *dyp = y->grad + ((size_t)i * co + lo + ch) * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    dxp[(oy * s) * w + ox * s] += dyp[oy * ow + ox];
        }
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
    shortcut_pad_forward(x, y, stride);
    qt_node *nd = qt_tape_record(c, shortcut_pad_backward, y, x, NULL, NULL);
    int *saved = qt_node_save(c, nd, sizeof(int));
    if (saved)
        *saved = stride;
    return y;
}

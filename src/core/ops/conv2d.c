/* 2-D convolution (with groups) as im2col + sgemm, one image and one group at a time: the
 * patch matrix of one image stays in cache, unlike the whole batch's. A 1x1 stride-1
 * unpadded convolution needs no patch matrix at all. */
#include <cblas.h>
#include <string.h>

#include "qtrain/im2col.h"
#include "qtrain/ops.h"

typedef struct {
    qt_conv_spec spec;
    int n, cin, cout, kh, kw;
    qt_patch_geom g;          /* one group of one image */
    int direct;               /* 1x1, stride 1, no pad: the input is its own patch matrix */
} conv_shape;

static size_t col_floats(const conv_shape *s) { return (size_t)s->g.channels * s->kh * s->kw * s->g.out_h * s->g.out_w; }

/* Patch matrix of group gi of one image (C_in/groups * KH * KW, OH * OW). */
static const float *group_patches(const conv_shape *s, const float *x_img, int gi, float *col)
{
    const float *xg = x_img + (size_t)gi * s->g.channels * s->g.height * s->g.width;
    if (s->direct)
        return xg;
    qt_im2col(&s->g, xg, col);
    return col;
}

/* x (N, C_in, H, W), w (C_out, C_in/G, KH, KW), b (C_out) -> y (N, C_out, OH, OW)
 * per image and group: y_g (C_out/G, OH*OW) = w_g (C_out/G, K) col_g (K, OH*OW), K = C_in/G*KH*KW */
static void conv2d_forward(const conv_shape *s, const float *x, const float *w, const float *b,
                           float *y, float *col)
{
    const int G = s->spec.groups, mo = s->cout / G, hw = s->g.out_h * s->g.out_w;
    const int k = s->g.channels * s->kh * s->kw;
    for (int i = 0; i < s->n; i++) {
        const float *xi = x + (size_t)i * s->cin * s->g.height * s->g.width;
        float *yi = y + (size_t)i * s->cout * hw;
        for (int gi = 0; gi < G; gi++) {
            const float *cm = group_patches(s, xi, gi, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mo, hw, k, 1.0f,
                        w + (size_t)gi * mo * k, k, cm, hw, 0.0f, yi + (size_t)gi * mo * hw, hw);
        }
        if (b)
            for (int o = 0; o < s->cout; o++)
                for (int p = 0; p < hw; p++)
                    yi[(size_t)o * hw + p] += b[o];
    }
}

/* dy (N, C_out, OH, OW) -> per image and group:
 *   dw_g (C_out/G, K) += dy_g (C_out/G, OH*OW) col_g^T;  dcol = w_g^T dy_g;  dx += col2im(dcol)
 *   db (C_out) += sum over N, OH, OW of dy */
static void conv2d_backward_kernel(const conv_shape *s, const float *x, const float *w,
                                   const float *dy, float *dx, float *dw, float dw_beta,
                                   float *db, float *col, float *dcol)
{
    const int G = s->spec.groups, mo = s->cout / G, hw = s->g.out_h * s->g.out_w;
    const int k = s->g.channels * s->kh * s->kw;
    const size_t img_in = (size_t)s->cin * s->g.height * s->g.width, grp_in = img_in / G;
    for (int i = 0; i < s->n; i++) {
        const float *dyi = dy + (size_t)i * s->cout * hw;
        for (int gi = 0; gi < G; gi++) {
            const float *dyg = dyi + (size_t)gi * mo * hw;
            const float *wg = w + (size_t)gi * mo * k;
            if (dw) {
                const float *cm = group_patches(s, x + i * img_in, gi, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mo, k, hw, 1.0f, dyg, hw,
                            cm, hw, i == 0 ? dw_beta : 1.0f, dw + (size_t)gi * mo * k, k);
            }
            if (dx) {
                float *dxg = dx + i * img_in + gi * grp_in;
                if (s->direct) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, hw, mo, 1.0f, wg, k,
                                dyg, hw, 1.0f, dxg, hw);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, hw, mo, 1.0f, wg, k,
                                dyg, hw, 0.0f, dcol, hw);
                    qt_col2im_add(&s->g, dcol, dxg);
                }
            }
        }
        if (db)
            for (int o = 0; o < s->cout; o++) {
                float acc = 0.0f;
                for (int p = 0; p < hw; p++)
                    acc += dyi[(size_t)o * hw + p];
                db[o] += acc;
            }
    }
}

static void conv2d_backward(qt_ctx *c, const qt_node *nd)
{
    const conv_shape *s = nd->saved;
    qt_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    float bx, bw, bb;
    float *dx = qt_grad_target(c, x, &bx);
    float *dw = qt_grad_target(c, w, &bw);
    float *db = qt_grad_target(c, b, &bb);
    if (dx && bx == 0.0f)
        memset(dx, 0, x->numel * sizeof(float));
    if (db && bb == 0.0f)
        memset(db, 0, b->numel * sizeof(float));
    float *col = NULL, *dcol = NULL;
    if (!s->direct && ((dw && !(col = qt_ctx_alloc(c, col_floats(s) * sizeof(float)))) ||
                       (dx && !(dcol = qt_ctx_alloc(c, col_floats(s) * sizeof(float))))))
        return;
    conv2d_backward_kernel(s, x->data, w->data, nd->out->grad, dx, dw, bw, db, col, dcol);
}

static int conv_shape_make(qt_ctx *c, const qt_tensor *x, const qt_tensor *w,
                           const qt_tensor *b, qt_conv_spec spec, conv_shape *s)
{
    char sx[64], sw[64];
    if (x->ndim != 4 || w->ndim != 4) {
        qt_ctx_fail(c, "conv2d: input %s and weight %s must both be 4-D",
                    qt_tensor_shape_str(x, sx, 64), qt_tensor_shape_str(w, sw, 64));
        return QT_ERR;
    }
    if (spec.groups < 1)
        spec.groups = 1;
    if (spec.stride < 1 || spec.pad < 0 || x->shape[1] % spec.groups || w->shape[0] % spec.groups ||
        w->shape[1] * spec.groups != x->shape[1]) {
        qt_ctx_fail(c, "conv2d: input %s does not fit weight %s (stride %d, pad %d, groups %d)",
                    qt_tensor_shape_str(x, sx, 64), qt_tensor_shape_str(w, sw, 64), spec.stride,
                    spec.pad, spec.groups);
        return QT_ERR;
    }
    if (b && (int)b->numel != w->shape[0]) {
        qt_ctx_fail(c, "conv2d: bias of %zu, expected %d", b->numel, w->shape[0]);
        return QT_ERR;
    }
    s->spec = spec;
    s->n = x->shape[0];
    s->cin = x->shape[1];
    s->cout = w->shape[0];
    s->kh = w->shape[2];
    s->kw = w->shape[3];
    s->g = qt_patch_geom_make(s->cin / spec.groups, x->shape[2], x->shape[3], s->kh, s->kw,
                              spec.stride, spec.pad);
    if (s->g.out_h < 1 || s->g.out_w < 1) {
        qt_ctx_fail(c, "conv2d: %dx%d kernel does not fit a %dx%d input with pad %d", s->kh,
                    s->kw, x->shape[2], x->shape[3], spec.pad);
        return QT_ERR;
    }
    s->direct = s->kh == 1 && s->kw == 1 && spec.stride == 1 && spec.pad == 0;
    return QT_OK;
}

qt_tensor *qt_conv2d(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b, qt_conv_spec spec)
{
    if (!x || !w || c->failed)
        return NULL;
    conv_shape s;
    if (conv_shape_make(c, x, w, b, spec, &s) != QT_OK)
        return NULL;
    qt_tensor *y = qt_tensor_new4(c, s.n, s.cout, s.g.out_h, s.g.out_w);
    float *col = s.direct ? NULL : qt_ctx_alloc(c, col_floats(&s) * sizeof(float));
    if (!y || (!s.direct && !col))
        return NULL;
    conv2d_forward(&s, x->data, w->data, b ? b->data : NULL, y->data, col);
    qt_node *nd = qt_tape_record(c, conv2d_backward, y, x, w, b);
    conv_shape *saved = qt_node_save(c, nd, sizeof s);
    if (saved)
        *saved = s;
    return y;
}

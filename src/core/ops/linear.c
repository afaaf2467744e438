/* Fully connected layer on cblas_sgemm. */
#include <cblas.h>
#include <string.h>

#include "qtrain/ops.h"

/* x (N, IN), w (OUT, IN), b (OUT) -> y (N, OUT):  y = x w^T + b */
static void linear_forward(const float *x, const float *w, const float *b, float *y,
                           int n, int in, int out)
{
    if (b)
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * out, b, (size_t)out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in,
                1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* dy (N, OUT) -> dx = dy w (N, IN), dw = dy^T x (OUT, IN), db = sum_n dy (OUT) */
static void linear_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const float *dy = nd->out->grad;
    int n = x->shape[0], in = x->shape[1], out = w->shape[0];
    float beta;
    float *dx = qt_grad_target(c, x, &beta);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out,
                    1.0f, dy, out, w->data, in, beta, dx, in);
    float *dw = qt_grad_target(c, w, &beta);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n,
                    1.0f, dy, out, x->data, in, beta, dw, in);
    float *db = qt_grad_target(c, b, &beta);
    if (db) {
        if (beta == 0.0f)
            memset(db, 0, (size_t)out * sizeof(float));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++)
                db[j] += dy[(size_t)i * out + j];
    }
}

qt_tensor *qt_linear(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b)
{
    if (!x || !w || c->failed)
        return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return qt_ctx_fail(c, "linear: input of %d features, weight expects %d",
                           x->ndim == 2 ? x->shape[1] : -1, w->shape[w->ndim > 1]);
    if (b && (int)b->numel != w->shape[0])
        return qt_ctx_fail(c, "linear: bias of %zu, expected %d", b->numel, w->shape[0]);
    qt_tensor *y = qt_tensor_new2(c, x->shape[0], w->shape[0]);
    if (!y)
        return NULL;
    linear_forward(x->data, w->data, b ? b->data : NULL, y->data, x->shape[0], x->shape[1],
                   w->shape[0]);
    qt_tape_record(c, linear_backward, y, x, w, b);
    return y;
}

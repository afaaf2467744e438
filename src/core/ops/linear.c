/* Fully connected layer on cblas_sgemm, each product split into row blocks over the
 * context's workers (OpenBLAS itself runs single-threaded inside them). */
#include <cblas.h>
#include <string.h>

#include "qtrain/ops.h"
#include "qtrain/threads.h"

typedef struct {
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw;
    int n, in, out;
    float beta;
} linear_job;

/* Rows of a block: enough work per task to outweigh the dispatch. */
static long min_rows(int cols, int depth)
{
    long r = (1L << 20) / ((long)cols * depth + 1);
    return r < 1 ? 1 : r;
}

/* rows [lo, hi) of y (N, OUT) = x w^T + b */
static void forward_rows(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    float *y = j->y + lo * j->out;
    if (j->b)
        for (long i = lo; i < hi; i++)
            memcpy(j->y + i * j->out, j->b, (size_t)j->out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), j->out, j->in, 1.0f,
                j->x + lo * j->in, j->in, j->w, j->in, j->b ? 1.0f : 0.0f, y, j->out);
}

/* rows [lo, hi) of dx (N, IN) = dy w */
static void input_grad_rows(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), j->in, j->out, 1.0f,
                j->dy + lo * j->out, j->out, j->w, j->in, j->beta, j->dx + lo * j->in, j->in);
}

/* rows [lo, hi) of dw (OUT, IN) = dy^T x */
static void weight_grad_rows(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), j->in, j->n, 1.0f,
                j->dy + lo, j->out, j->x, j->in, j->beta, j->dw + lo * j->in, j->in);
}

/* dy (N, OUT) -> dx = dy w (N, IN), dw = dy^T x (OUT, IN), db = sum_n dy (OUT) */
static void linear_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    linear_job j = {x->data, w->data, NULL, nd->out->grad, NULL, NULL, NULL,
                    x->shape[0], x->shape[1], w->shape[0], 0.0f};
    if ((j.dx = qt_grad_target(c, x, &j.beta)))
        qt_pool_for(c->pool, j.n, min_rows(j.in, j.out), input_grad_rows, &j);
    if ((j.dw = qt_grad_target(c, w, &j.beta)))
        qt_pool_for(c->pool, j.out, min_rows(j.in, j.n), weight_grad_rows, &j);
    float beta;
    float *db = qt_grad_target(c, b, &beta);
    if (db) {
        if (beta == 0.0f)
            memset(db, 0, (size_t)j.out * sizeof(float));
        for (int i = 0; i < j.n; i++)
            for (int k = 0; k < j.out; k++)
                db[k] += j.dy[(size_t)i * j.out + k];
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
    linear_job j = {x->data, w->data, b ? b->data : NULL, NULL, y->data, NULL, NULL,
                    x->shape[0], x->shape[1], w->shape[0], 0.0f};
    qt_pool_for(c->pool, j.n, min_rows(j.out, j.in), forward_rows, &j);
    qt_tape_record(c, linear_backward, y, x, w, b);
    return y;
}

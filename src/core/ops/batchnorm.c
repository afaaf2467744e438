/* Batch normalisation per channel, over N (and H, W). Training normalises with the batch's
 * biased variance and folds the unbiased one into the running statistics (as PyTorch does);
 * evaluation normalises with the running statistics. */
#include <math.h>
#include <string.h>

#include "qtrain/ops.h"

typedef struct {
    float *mean;              /* C: the mean used (batch or running) */
    float *invstd;            /* C: 1/sqrt(var + eps) used */
    int batch_stats;          /* mean/var depend on x (training) */
} bn_saved;

/* Views any x as (N, C, S): S = H*W for 4-D inputs, 1 for (N, C). */
typedef struct {
    int n, c;
    size_t s;
} bn_dims;

static bn_dims bn_dims_of(const qt_tensor *x)
{
    bn_dims d = {x->shape[0], x->shape[1], x->numel / ((size_t)x->shape[0] * x->shape[1])};
    return d;
}

static void batch_moments(bn_dims d, const float *x, float *mean, float *var)
{
    const double m = (double)d.n * d.s;
    for (int ch = 0; ch < d.c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (int i = 0; i < d.n; i++) {
            const float *p = x + ((size_t)i * d.c + ch) * d.s;
            for (size_t k = 0; k < d.s; k++)
                sum += p[k];
        }
        double mu = sum / m;
        for (int i = 0; i < d.n; i++) {
            const float *p = x + ((size_t)i * d.c + ch) * d.s;
            for (size_t k = 0; k < d.s; k++)
                sq += ((double)p[k] - mu) * ((double)p[k] - mu);
        }
        mean[ch] = (float)mu;
        var[ch] = (float)(sq / m);
    }
}

/* x (N, C, S), gamma/beta (C) -> y = gamma (x - mean) invstd + beta */
static void batchnorm_forward(bn_dims d, const float *x, const float *gamma, const float *beta,
                              const float *mean, const float *invstd, float *y)
{
    for (int i = 0; i < d.n; i++)
        for (int ch = 0; ch < d.c; ch++) {
            size_t o = ((size_t)i * d.c + ch) * d.s;
            float a = gamma[ch] * invstd[ch], b = beta[ch] - a * mean[ch];
            for (size_t k = 0; k < d.s; k++)
                y[o + k] = a * x[o + k] + b;
        }
}

/* dy (N, C, S) -> dgamma = sum dy xhat, dbeta = sum dy,
 *   dx = gamma invstd (dy - [batch stats] (sum dy + xhat sum dy xhat) / M),  M = N*S */
static void batchnorm_backward(qt_ctx *c, const qt_node *nd)
{
    const bn_saved *sv = nd->saved;
    qt_tensor *x = nd->in[0], *gamma = nd->in[1], *beta = nd->in[2];
    bn_dims d = bn_dims_of(x);
    const float *dy = nd->out->grad, *xd = x->data;
    float bx, bg, bb;
    float *dx = qt_grad_target(c, x, &bx);
    float *dg = qt_grad_target(c, gamma, &bg);
    float *db = qt_grad_target(c, beta, &bb);
    const double m = (double)d.n * d.s;
    for (int ch = 0; ch < d.c; ch++) {
        double sdy = 0.0, sdyx = 0.0;
        const float mu = sv->mean[ch], is = sv->invstd[ch];
        for (int i = 0; i < d.n; i++) {
            size_t o = ((size_t)i * d.c + ch) * d.s;
            for (size_t k = 0; k < d.s; k++) {
                sdy += dy[o + k];
                sdyx += (double)dy[o + k] * (xd[o + k] - mu) * is;
            }
        }
        if (dg)
            dg[ch] = (bg != 0.0f ? dg[ch] : 0.0f) + (float)sdyx;
        if (db)
            db[ch] = (bb != 0.0f ? db[ch] : 0.0f) + (float)sdy;
        if (!dx)
            continue;
        const float a = gamma->data[ch] * is;
        const float c1 = sv->batch_stats ? (float)(sdy / m) : 0.0f;
        const float c2 = sv->batch_stats ? (float)(sdyx / m) : 0.0f;
        for (int i = 0; i < d.n; i++) {
            size_t o = ((size_t)i * d.c + ch) * d.s;
            for (size_t k = 0; k < d.s; k++) {
                float xhat = (xd[o + k] - mu) * is;
                dx[o + k] = (bx != 0.0f ? dx[o + k] : 0.0f) + a * (dy[o + k] - c1 - xhat * c2);
            }
        }
    }
}

static void update_running(const qt_bn_stats *st, bn_dims d, const float *mean, const float *var)
{
    const double m = (double)d.n * d.s;
    const float unbias = m > 1 ? (float)(m / (m - 1)) : 1.0f;
    for (int ch = 0; ch < d.c; ch++) {
        st->running_mean[ch] = (1 - st->momentum) * st->running_mean[ch] + st->momentum * mean[ch];
        st->running_var[ch] =
            (1 - st->momentum) * st->running_var[ch] + st->momentum * var[ch] * unbias;
    }
}

qt_tensor *qt_batchnorm(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                        const qt_bn_stats *st)
{
    if (!x || !gamma || !beta || c->failed)
        return NULL;
    if (x->ndim < 2 || (int)gamma->numel != x->shape[1] || (int)beta->numel != x->shape[1])
        return qt_ctx_fail(c, "batchnorm: input with %d channels, parameters for %zu",
                           x->ndim < 2 ? 1 : x->shape[1], gamma->numel);
    bn_dims d = bn_dims_of(x);
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    float *mean = qt_ctx_alloc(c, (size_t)d.c * sizeof(float));
    float *invstd = qt_ctx_alloc(c, (size_t)d.c * sizeof(float));
    if (!y || !mean || !invstd)
        return NULL;
    if (c->training) {
        batch_moments(d, x->data, mean, invstd);
        update_running(st, d, mean, invstd);
        for (int ch = 0; ch < d.c; ch++)
            invstd[ch] = 1.0f / sqrtf(invstd[ch] + st->eps);
    } else {
        memcpy(mean, st->running_mean, (size_t)d.c * sizeof(float));
        for (int ch = 0; ch < d.c; ch++)
            invstd[ch] = 1.0f / sqrtf(st->running_var[ch] + st->eps);
    }
    batchnorm_forward(d, x->data, gamma->data, beta->data, mean, invstd, y->data);
    qt_node *nd = qt_tape_record(c, batchnorm_backward, y, x, gamma, beta);
    bn_saved *sv = qt_node_save(c, nd, sizeof *sv);
    if (sv) {
        sv->mean = mean;
        sv->invstd = invstd;
        sv->batch_stats = c->training;
    }
    return y;
}

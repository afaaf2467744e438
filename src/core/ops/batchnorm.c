/* Batch normalisation per channel, over N (and H, W), alone or fused with what follows it in
 * a ResNet: y = relu(batchnorm(x) [+ residual]). Training normalises with the batch's
 * biased variance and folds the unbiased one into the running statistics (as PyTorch does);
 * evaluation normalises with the running statistics.
 *
 * The passes over memory, spread over the context's workers: forward, the per-plane moments
 * of x (left in the context by the conv2d that produced x, else one pass) combined per
 * channel, then the elementwise map; backward, per-channel sums (workers take channels), then
 * the elementwise map (workers take planes). Fusing the ReLU and the residual add saves two
 * tensors per block in memory and three passes over them. Backward with a residual stores
 * the masked gradient over dy (which nothing reads afterwards) so its second pass needs
 * neither the ReLU mask nor y, and the residual takes that buffer over as its gradient;
 * without one, both passes recompute the mask from x as the forward decided it (the same
 * float operations, bn_affine), so neither reads y nor writes dy. */
#include <math.h>
#include <string.h>

#include "../ctx_step.h"
#include "../plane_moments.h"
#include "qtrain/comm.h"
#include "qtrain/ops.h"
#include "qtrain/threads.h"

typedef struct {
    float *mean;              /* C: the mean used (batch or running) */
    float *invstd;            /* C: 1/sqrt(var + eps) used */
    int batch_stats;          /* mean/var depend on x (training) */
    double count;             /* values per channel the batch statistics span (all processes') */
    int relu;
    qt_tensor *residual;      /* added before the ReLU, or NULL */
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

enum { LANES = 16 };

/* max(v, 0) as a compare the compiler vectorises (fmaxf's NaN rules keep it a libm call). */
static inline float relu1(float v) { return v > 0.0f ? v : 0.0f; }

/* The normalised value before the residual and ReLU, a x + b with a = gamma invstd and
 * b = beta - a mean: one function, so that backward's ReLU mask repeats the forward's
 * rounding exactly (ISO C mode: no contraction into an FMA in one place only). */
static inline float bn_affine(float a, float x, float b) { return a * x + b; }

static void affine_of(const float *gamma, const float *beta, const float *mean,
                      const float *invstd, int ch, float *a, float *b)
{
    *a = gamma[ch] * invstd[ch];
    *b = beta[ch] - *a * mean[ch];
}

/* 8 floats as one value (one AVX register at the build's baseline), so that the per-plane
 * sums below stay in registers: arrays of accumulators were kept on the stack, a
 * store-to-load chain per step. */
typedef float lanes8 __attribute__((vector_size(8 * sizeof(float))));
typedef int lanes8i __attribute__((vector_size(8 * sizeof(int))));

static inline lanes8 load8(const float *p)
{
    lanes8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline lanes8 bn_affine8(float a, lanes8 x, float b) { return a * x + b; }

/* g from dy: zero where the forward's ReLU input, recomputed from x, was not positive. */
static inline float masked_by_x(float dy, float x, float ga, float gb)
{
    return bn_affine(ga, x, gb) > 0.0f ? dy : 0.0f;
}

/* How backward finds g, the gradient at the ReLU's input. */
enum { MASK_NONE, MASK_FROM_Y, MASK_FROM_X };

/* Sums of g and g * (x - mean) over one plane, 16 lanes (lane l takes the elements l mod 16)
 * then the tail into lane 0. MASK_FROM_Y: g = dy where y > 0 (else 0), stored back over dy
 * first, in its own loop; MASK_FROM_X: g = dy where bn_affine(ga, x, gb) > 0, not stored. */
static void plane_grad_sums(float *restrict dy, const float *restrict y, const float *restrict x,
                            size_t s, float mean, int mask, float ga, float gb, double *sg,
                            double *sgx)
{
    for (size_t k = 0; mask == MASK_FROM_Y && k < s; k++)
        dy[k] = y[k] > 0.0f ? dy[k] : 0.0f;
    lanes8 a[2] = {{0}}, b[2] = {{0}};
    size_t k = 0;
    for (; k + LANES <= s; k += LANES)
        for (int h = 0; h < 2; h++) {
            const lanes8 xv = load8(x + k + 8 * h);
            lanes8 g = load8(dy + k + 8 * h);
            if (mask == MASK_FROM_X)
                g = (lanes8)((lanes8i)g & (bn_affine8(ga, xv, gb) > 0.0f));
            a[h] += g;
            b[h] += g * (xv - mean);
        }
    for (; k < s; k++) {
        const float g = mask == MASK_FROM_X && !(bn_affine(ga, x[k], gb) > 0.0f) ? 0.0f : dy[k];
        a[0][0] += g;
        b[0][0] += g * (x[k] - mean);
    }
    for (int l = 0; l < LANES; l++) {
        *sg += a[l / 8][l % 8];
        *sgx += b[l / 8][l % 8];
    }
}

/* ---- forward ---- */

typedef struct {
    bn_dims d;
    const float *x, *r, *gamma, *beta;
    float *mean, *var, *y;
    const float *invstd;
    float *plane_mean, *plane_m2;    /* N x C */
    double *ch_mean, *ch_m2;         /* C: the batch's mean and sum of squared deviations */
    int relu;
} fwd_job;

static void plane_moments_range(void *arg, long lo, long hi, int worker)
{
    const fwd_job *j = arg;
    for (long pl = lo; pl < hi; pl++)
        qt_plane_moments(j->x + pl * j->d.s, j->d.s, &j->plane_mean[pl], &j->plane_m2[pl]);
}

/* mean and M2 per channel from the N plane moments (Chan et al.):
 * M2 = sum of the planes' M2 + S * sum (plane mean - mean)^2, in double. A (N, C) input has
 * planes of one value: x itself holds the means and every M2 is 0 (plane_m2 NULL). */
static void combine_moments(const fwd_job *j)
{
    const bn_dims d = j->d;
    for (int ch = 0; ch < d.c; ch++) {
        double sum = 0.0, m2 = 0.0, dev = 0.0;
        for (int i = 0; i < d.n; i++) {
            sum += j->plane_mean[(size_t)i * d.c + ch];
            m2 += j->plane_m2 ? j->plane_m2[(size_t)i * d.c + ch] : 0.0;
        }
        const double mean = sum / d.n;
        for (int i = 0; i < d.n; i++) {
            double e = j->plane_mean[(size_t)i * d.c + ch] - mean;
            dev += e * e;
        }
        j->ch_mean[ch] = mean;
        j->ch_m2[ch] = m2 + (double)d.s * dev;
    }
}

/* sync_bn: the moments of every process's batch from each one's count, mean and M2 (Chan et
 * al. again): the mean from the summed sums, then each M2 taken about that mean and summed.
 * buf has room for C + 1 doubles. Returns the summed count, or -1 on a failed reduction. */
static double reduce_moments(qt_ctx *c, const fwd_job *j, double *buf)
{
    const int nc = j->d.c;
    const double count = (double)j->d.n * j->d.s;
    for (int ch = 0; ch < nc; ch++)
        buf[ch] = j->ch_mean[ch] * count;
    buf[nc] = count;
    if (c->sync_bn->sum_f64(c->sync_bn, buf, (size_t)nc + 1, &c->err) != QT_OK)
        return -1.0;
    const double total = buf[nc];
    for (int ch = 0; ch < nc; ch++) {
        const double mean = buf[ch] / total, e = j->ch_mean[ch] - mean;
        j->ch_m2[ch] += count * e * e;
        j->ch_mean[ch] = mean;
    }
    if (c->sync_bn->sum_f64(c->sync_bn, j->ch_m2, (size_t)nc, &c->err) != QT_OK)
        return -1.0;
    return total;
}

/* planes [lo, hi) of x (N*C, S) -> y = [relu](gamma (x - mean) invstd + beta [+ r]) */
static void normalise_range(void *arg, long lo, long hi, int worker)
{
    const fwd_job *j = arg;
    const size_t s = j->d.s;
    for (long pl = lo; pl < hi; pl++) {
        const int ch = (int)(pl % j->d.c);
        float a, b;
        affine_of(j->gamma, j->beta, j->mean, j->invstd, ch, &a, &b);
        const float *x = j->x + pl * s, *r = j->r ? j->r + pl * s : NULL;
        float *y = j->y + pl * s;
        if (r && j->relu)
            for (size_t k = 0; k < s; k++)
                y[k] = relu1(bn_affine(a, x[k], b) + r[k]);
        else if (r)
            for (size_t k = 0; k < s; k++)
                y[k] = bn_affine(a, x[k], b) + r[k];
        else if (j->relu)
            for (size_t k = 0; k < s; k++)
                y[k] = relu1(bn_affine(a, x[k], b));
        else
            for (size_t k = 0; k < s; k++)
                y[k] = bn_affine(a, x[k], b);
    }
}

/* rows [lo, hi) of a (N, C) x -> y: the same map, the channel varying along the row */
static void normalise_rows(void *arg, long lo, long hi, int worker)
{
    const fwd_job *j = arg;
    const int nc = j->d.c;
    for (long i = lo; i < hi; i++) {
        const float *x = j->x + i * nc, *r = j->r ? j->r + i * nc : NULL;
        float *y = j->y + i * nc;
        for (int ch = 0; ch < nc; ch++) {
            float a, b;
            affine_of(j->gamma, j->beta, j->mean, j->invstd, ch, &a, &b);
            float v = bn_affine(a, x[ch], b) + (r ? r[ch] : 0.0f);
            y[ch] = j->relu ? relu1(v) : v;
        }
    }
}

/* Planes per task such that a task touches at least ~16K floats. */
static long plane_chunk(bn_dims d) { return (long)(16384 / d.s) + 1; }

/* ---- backward ---- */

typedef struct {
    bn_dims d;
    float *dy;                /* becomes g after the sums with MASK_FROM_Y */
    const float *y, *x, *gamma, *beta, *mean, *invstd;
    double *sg, *sgx;         /* C */
    double *psum;             /* 2 x N x C: per-plane sums (planes of more than one value) */
    double m;                 /* values per channel the batch statistics span */
    const float *coef;        /* grad_coefficients */
    float *dx, *dres;
    float dx_beta, dres_beta;
    int mask, batch_stats;    /* mask: how g comes from dy (MASK_*) */
} bwd_job;

/* Per-plane sums (contiguous runs, so workers take planes): g stored over dy, and
 * psum[pl] = sum g, psum[N*C + pl] = sum g (x - mean). */
static void plane_sums_range(void *arg, long lo, long hi, int worker)
{
    const bwd_job *j = arg;
    const size_t s = j->d.s, planes = (size_t)j->d.n * j->d.c;
    for (long pl = lo; pl < hi; pl++) {
        const int ch = (int)(pl % j->d.c);
        double sg = 0.0, sgx = 0.0;
        float ga, gb;
        affine_of(j->gamma, j->beta, j->mean, j->invstd, ch, &ga, &gb);
        plane_grad_sums(j->dy + pl * s, j->y + pl * s, j->x + pl * s, s, j->mean[ch], j->mask,
                        ga, gb, &sg, &sgx);
        j->psum[pl] = sg;
        j->psum[planes + pl] = sgx;
    }
}

/* The per-channel sums from the per-plane ones, in double. */
static void combine_sums(const bwd_job *j)
{
    const size_t planes = (size_t)j->d.n * j->d.c;
    for (int ch = 0; ch < j->d.c; ch++) {
        double sg = 0.0, sgx = 0.0;
        for (int i = 0; i < j->d.n; i++) {
            sg += j->psum[(size_t)i * j->d.c + ch];
            sgx += j->psum[planes + (size_t)i * j->d.c + ch];
        }
        j->sg[ch] = sg;
        j->sgx[ch] = sgx * j->invstd[ch];
    }
}

/* The sums for a (N, C) x over channels [lo, hi) (the channel varies along a row, so
 * workers take channels and each channel's sum runs over the rows in order). */
static void grad_sums_cols(void *arg, long lo, long hi, int worker)
{
    const bwd_job *j = arg;
    const int nc = j->d.c, relu = j->mask != MASK_NONE;
    double *restrict sg = j->sg, *restrict sgx = j->sgx;
    const float *restrict mean = j->mean;
    for (long ch = lo; ch < hi; ch++)
        sg[ch] = sgx[ch] = 0.0;
    for (int i = 0; i < j->d.n; i++) {
        float *restrict dy = j->dy + (size_t)i * nc;
        const float *restrict y = j->y + (size_t)i * nc, *restrict x = j->x + (size_t)i * nc;
        for (long ch = lo; relu && ch < hi; ch++) /* its own loop: a select, vectorised */
            dy[ch] = y[ch] > 0.0f ? dy[ch] : 0.0f;
        for (long ch = lo; ch < hi; ch++) {
            sg[ch] += dy[ch];
            sgx[ch] += (double)dy[ch] * (x[ch] - mean[ch]);
        }
    }
    for (long ch = lo; ch < hi; ch++)
        sgx[ch] *= j->invstd[ch];
}

/* Per channel: a = gamma invstd, c1 = [batch stats] sum g / M, c2 = [batch stats]
 * sum g xhat invstd / M and the mean, into coef (4 x C), once for both input-gradient maps
 * (dx = a (g - c1 - (x - mean) c2)). */
static void grad_coefficients(const bwd_job *j, float *coef)
{
    const int nc = j->d.c;
    for (int ch = 0; ch < nc; ch++) {
        const float is = j->invstd[ch];
        coef[ch] = j->gamma[ch] * is;
        coef[nc + ch] = j->batch_stats ? (float)(j->sg[ch] / j->m) : 0.0f;
        coef[2 * nc + ch] = j->batch_stats ? (float)(j->sgx[ch] / j->m) * is : 0.0f;
        coef[3 * nc + ch] = j->mean[ch];
    }
}

/* rows [lo, hi) of a (N, C) input: dx and dres as below, the channel varying along the row */
static void input_grad_rows(void *arg, long lo, long hi, int worker)
{
    const bwd_job *j = arg;
    const int nc = j->d.c;
    const float *restrict a = j->coef, *restrict c1 = a + nc, *restrict c2 = a + 2 * nc,
                          *restrict mu = a + 3 * nc;
    for (long i = lo; i < hi; i++) {
        const float *restrict g = j->dy + (size_t)i * nc, *restrict x = j->x + (size_t)i * nc;
        float *restrict dx = j->dx ? j->dx + (size_t)i * nc : NULL;
        if (dx && j->dx_beta != 0.0f)
            for (int ch = 0; ch < nc; ch++)
                dx[ch] += a[ch] * (g[ch] - c1[ch] - (x[ch] - mu[ch]) * c2[ch]);
        else if (dx)
            for (int ch = 0; ch < nc; ch++)
                dx[ch] = a[ch] * (g[ch] - c1[ch] - (x[ch] - mu[ch]) * c2[ch]);
        if (j->dres && j->dres_beta != 0.0f)
            for (int ch = 0; ch < nc; ch++)
                j->dres[(size_t)i * nc + ch] += g[ch];
        else if (j->dres)
            memcpy(j->dres + (size_t)i * nc, g, nc * sizeof(float));
    }
}

/* planes [lo, hi): dx = gamma invstd (g - [batch stats] (sum g + xhat sum g xhat) / M),
 * dres = g */
static void input_grad_range(void *arg, long lo, long hi, int worker)
{
    const bwd_job *j = arg;
    const size_t s = j->d.s;
    const int nc = j->d.c;
    for (long pl = lo; pl < hi; pl++) {
        const int ch = (int)(pl % nc);
        const float a = j->coef[ch], c1 = j->coef[nc + ch], c2 = j->coef[2 * nc + ch],
                    mu = j->coef[3 * nc + ch];
        const float *g = j->dy + pl * s, *x = j->x + pl * s;
        float ga, gb;
        affine_of(j->gamma, j->beta, j->mean, j->invstd, ch, &ga, &gb);
        if (j->dx && j->mask == MASK_FROM_X) {
            float *dx = j->dx + pl * s;
            if (j->dx_beta != 0.0f)
                for (size_t k = 0; k < s; k++)
                    dx[k] += a * (masked_by_x(g[k], x[k], ga, gb) - c1 - (x[k] - mu) * c2);
            else
                for (size_t k = 0; k < s; k++)
                    dx[k] = a * (masked_by_x(g[k], x[k], ga, gb) - c1 - (x[k] - mu) * c2);
        } else if (j->dx) {
            float *dx = j->dx + pl * s;
            if (j->dx_beta != 0.0f)
                for (size_t k = 0; k < s; k++)
                    dx[k] += a * (g[k] - c1 - (x[k] - mu) * c2);
            else
                for (size_t k = 0; k < s; k++)
                    dx[k] = a * (g[k] - c1 - (x[k] - mu) * c2);
        }
        if (j->dres) {
            float *dr = j->dres + pl * s;
            if (j->dres_beta != 0.0f)
                for (size_t k = 0; k < s; k++)
                    dr[k] += g[k];
            else
                memcpy(dr, g, s * sizeof(float));
        }
    }
}

/* dy (N, C, S) -> dgamma = sum g xhat, dbeta = sum g, dx as above, dresidual = g, where
 * g = dy masked by y > 0 when a ReLU was fused. */
static void batchnorm_backward(qt_ctx *c, const qt_node *nd)
{
    const bn_saved *sv = nd->saved;
    qt_tensor *x = nd->in[0], *gamma = nd->in[1], *beta = nd->in[2];
    bn_dims d = bn_dims_of(x);
    const size_t planes = (size_t)d.n * d.c;
    double *sums = qt_ctx_scratch(c, 2 * (d.c + (d.s > 1 ? planes : 0)) * sizeof(double));
    if (!sums)
        return;
    const int mask = !sv->relu ? MASK_NONE
                     : sv->residual || d.s == 1 ? MASK_FROM_Y : MASK_FROM_X;
    bwd_job j = {d, nd->out->grad, nd->out->data, x->data, gamma->data, beta->data, sv->mean,
                 sv->invstd, sums, sums + d.c, sums + 2 * d.c, sv->count, NULL, NULL, NULL,
                 0.0f, 0.0f, mask, sv->batch_stats};
    if (d.s == 1) {
        qt_pool_for(c->pool, d.c, 1 + 16384 / d.n, grad_sums_cols, &j);
    } else {
        qt_pool_for(c->pool, (long)planes, plane_chunk(d), plane_sums_range, &j);
        combine_sums(&j);
    }
    float bg, bb;
    float *dg = qt_grad_target(c, gamma, &bg);
    float *db = qt_grad_target(c, beta, &bb);
    for (int ch = 0; ch < d.c; ch++) {
        if (dg)
            dg[ch] = (bg != 0.0f ? dg[ch] : 0.0f) + (float)j.sgx[ch];
        if (db)
            db[ch] = (bb != 0.0f ? db[ch] : 0.0f) + (float)j.sg[ch];
    }
    /* sync_bn: dx needs the sums over the whole batch; gamma's and beta's gradients keep this
     * process's share, as every parameter's gradient is summed over the processes later. */
    if (sv->batch_stats && c->sync_bn &&
        c->sync_bn->sum_f64(c->sync_bn, sums, 2 * (size_t)d.c, &c->err) != QT_OK) {
        c->failed = 1;
        qt_ctx_release(c, sums);
        return;
    }
    j.dx = qt_grad_target(c, x, &j.dx_beta);
    /* The residual's gradient is g itself: it takes over the buffer g was stored in when it
     * can. A residual that is x itself takes its share in a second pass (one buffer). */
    qt_tensor *res = sv->residual;
    if (res && res != x && !qt_grad_hand_over(c, nd->out, res))
        j.dres = qt_grad_target(c, res, &j.dres_beta);
    float *coef = qt_ctx_scratch(c, 4 * (size_t)d.c * sizeof(float));
    if (!coef) {
        qt_ctx_release(c, sums);
        return;
    }
    grad_coefficients(&j, coef);
    j.coef = coef;
    for (int pass = 0; pass < 2; pass++) {
        if (j.dx || j.dres) {
            if (d.s == 1)
                qt_pool_for(c->pool, d.n, 1 + 16384 / d.c, input_grad_rows, &j);
            else
                qt_pool_for(c->pool, (long)d.n * d.c, plane_chunk(d), input_grad_range, &j);
        }
        if (pass || res != x || !(j.dres = qt_grad_target(c, res, &j.dres_beta)))
            break;
        j.dx = NULL;
    }
    qt_ctx_release(c, coef);
    qt_ctx_release(c, sums);
}

static void update_running(const qt_bn_stats *st, bn_dims d, double m, const float *mean,
                           const float *var)
{
    const float unbias = m > 1 ? (float)(m / (m - 1)) : 1.0f;
    for (int ch = 0; ch < d.c; ch++) {
        st->running_mean[ch] = (1 - st->momentum) * st->running_mean[ch] + st->momentum * mean[ch];
        st->running_var[ch] =
            (1 - st->momentum) * st->running_var[ch] + st->momentum * var[ch] * unbias;
    }
}

static qt_tensor *batchnorm_op(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                               const qt_bn_stats *st, qt_tensor *residual, int relu)
{
    if (!x || !gamma || !beta || c->failed)
        return NULL;
    const char *name = relu ? "batchnorm_relu" : "batchnorm";
    if (x->ndim < 2 || (int)gamma->numel != x->shape[1] || (int)beta->numel != x->shape[1])
        return qt_ctx_fail(c, "%s: input with %d channels, parameters for %zu", name,
                           x->ndim < 2 ? 1 : x->shape[1], gamma->numel);
    if (residual && !qt_tensor_same_shape(x, residual)) {
        char sx[64], sr[64];
        return qt_ctx_fail(c, "%s: residual %s does not match input %s", name,
                           qt_tensor_shape_str(residual, sr, 64), qt_tensor_shape_str(x, sx, 64));
    }
    bn_dims d = bn_dims_of(x);
    qt_tensor *y = qt_tensor_new(c, x->ndim, x->shape);
    float *mean = qt_ctx_alloc(c, (size_t)d.c * sizeof(float));
    float *invstd = qt_ctx_alloc(c, (size_t)d.c * sizeof(float));
    if (!y || !mean || !invstd)
        return NULL;
    fwd_job j = {d, x->data, residual ? residual->data : NULL, gamma->data, beta->data,
                 mean, invstd, y->data, invstd, NULL, NULL, NULL, NULL, relu};
    double count = (double)d.n * d.s;
    if (c->training) {
        /* Plane moments: from the conv2d that produced x, or one pass over x. */
        float *pm = NULL;
        if (d.s == 1) {
            j.plane_mean = x->data;
        } else if (c->step && c->step->plane_moments.of == x) {
            j.plane_mean = (float *)c->step->plane_moments.mean;
            j.plane_m2 = (float *)c->step->plane_moments.m2;
        } else if ((pm = qt_ctx_scratch(c, 2 * (size_t)d.n * d.c * sizeof(float)))) {
            j.plane_mean = pm;
            j.plane_m2 = pm + (size_t)d.n * d.c;
            qt_pool_for(c->pool, (long)d.n * d.c, plane_chunk(d), plane_moments_range, &j);
        } else {
            return NULL;
        }
        double *moments = qt_ctx_scratch(c, (3 * (size_t)d.c + 1) * sizeof(double));
        if (!moments)
            return NULL;
        j.ch_mean = moments;
        j.ch_m2 = moments + d.c;
        combine_moments(&j);
        qt_ctx_release(c, pm);
        if (c->sync_bn && (count = reduce_moments(c, &j, moments + 2 * d.c)) < 0.0) {
            c->failed = 1;
            return NULL;
        }
        for (int ch = 0; ch < d.c; ch++) {
            mean[ch] = (float)j.ch_mean[ch];
            invstd[ch] = (float)(j.ch_m2[ch] / count); /* the biased variance, for now */
        }
        qt_ctx_release(c, moments);
        update_running(st, d, count, mean, invstd);
        for (int ch = 0; ch < d.c; ch++)
            invstd[ch] = 1.0f / sqrtf(invstd[ch] + st->eps);
    } else {
        memcpy(mean, st->running_mean, (size_t)d.c * sizeof(float));
        for (int ch = 0; ch < d.c; ch++)
            invstd[ch] = 1.0f / sqrtf(st->running_var[ch] + st->eps);
    }
    if (d.s == 1)
        qt_pool_for(c->pool, d.n, 1 + 16384 / d.c, normalise_rows, &j);
    else
        qt_pool_for(c->pool, (long)d.n * d.c, plane_chunk(d), normalise_range, &j);
    qt_node *nd = qt_tape_record4(c, batchnorm_backward, y, x, gamma, beta, residual);
    bn_saved *sv = qt_node_save(c, nd, sizeof *sv);
    if (nd && !sv)
        return NULL;
    if (sv)
        *sv = (bn_saved){mean, invstd, c->training, count, relu, residual};
    return y;
}

qt_tensor *qt_batchnorm(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                        const qt_bn_stats *st)
{
    return batchnorm_op(c, x, gamma, beta, st, NULL, 0);
}

qt_tensor *qt_batchnorm_relu(qt_ctx *c, qt_tensor *x, qt_tensor *gamma, qt_tensor *beta,
                             const qt_bn_stats *st, qt_tensor *residual)
{
    return batchnorm_op(c, x, gamma, beta, st, residual, 1);
}

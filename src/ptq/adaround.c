/* AdaRound: learnt rounding direction per weight (see adaround.h). */
#include "qtrain/adaround.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ZETA 1.1
#define GAMMA (-0.1)
#define WARM_START 0.2
#define BETA_START 20.0
#define BETA_END 2.0

qt_adaround_opts qt_adaround_defaults(void)
{
    qt_adaround_opts o = {1000, 256, 0.01, 0.01, 1};
    return o;
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static double rect(double v)
{
    double h = sigmoid(v) * (ZETA - GAMMA) + GAMMA;
    return h < 0.0 ? 0.0 : (h > 1.0 ? 1.0 : h);
}

typedef struct {
    int rows, n, b;
    int32_t *floor_idx;       /* rows x n: the level below each weight */
    double *v, *m1, *m2;      /* rounding variables and Adam's moments */
    float *wt, *xb, *tb, *e, *g;   /* W~, batch inputs (n x b), targets, errors, dL/dW~ */
} ada_work;

static void work_free(ada_work *a)
{
    free(a->floor_idx);
    free(a->v);
    free(a->m1);
    free(a->m2);
    free(a->wt);
    free(a->xb);
    free(a->tb);
    free(a->e);
    free(a->g);
}

static int work_alloc(ada_work *a, int rows, int n, int b)
{
    size_t w = (size_t)rows * n;
    *a = (ada_work){rows, n, b, malloc(w * sizeof(int32_t)), malloc(w * sizeof(double)),
                    calloc(w, sizeof(double)), calloc(w, sizeof(double)), malloc(w * sizeof(float)),
                    malloc((size_t)n * b * sizeof(float)), malloc((size_t)rows * b * sizeof(float)),
                    malloc((size_t)rows * b * sizeof(float)), malloc(w * sizeof(float))};
    if (a->floor_idx && a->v && a->m1 && a->m2 && a->wt && a->xb && a->tb && a->e && a->g)
        return QT_OK;
    work_free(a);
    return QT_ERR;
}

/* V where h(V) equals the fractional position r in [0, 1] (kept off the flat ends). */
static double v_for(double r)
{
    r = r < 0.01 ? 0.01 : (r > 0.99 ? 0.99 : r);
    double s = (r - GAMMA) / (ZETA - GAMMA);
    return log(s / (1.0 - s));
}

static void init_rounding(ada_work *a, const float *w, const qt_alphabet *al)
{
    for (size_t k = 0; k < (size_t)a->rows * a->n; k++) {
        double pos = ((double)w[k] - al->lo) / al->step;
        int f = (int)floor(pos);
        f = f < 0 ? 0 : (f > al->levels - 2 ? al->levels - 2 : f);
        a->floor_idx[k] = f;
        a->v[k] = v_for(pos - f);
    }
}

/* One Adam step on the batch in a->xb / a->tb, regulariser weight lambda at exponent beta. */
static void step(ada_work *a, const qt_alphabet *al, const qt_adaround_opts *o, double lambda,
                 double beta, int t)
{
    const int rows = a->rows, n = a->n, b = a->b;
    const size_t nw = (size_t)rows * n;
    for (size_t k = 0; k < nw; k++)
        a->wt[k] = al->lo + al->step * (float)(a->floor_idx[k] + rect(a->v[k]));
    /* e = W~ Xq_b - T_b; dL/dW~ = 2 / (rows b) e Xq_b^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, b, n, 1.0f, a->wt, n, a->xb, b,
                0.0f, a->e, b);
    for (size_t k = 0; k < (size_t)rows * b; k++)
        a->e[k] -= a->tb[k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, b, 2.0f / ((float)rows * b),
                a->e, b, a->xb, b, 0.0f, a->g, n);
    const double b1 = 0.9, b2 = 0.999, c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    for (size_t k = 0; k < nw; k++) {
        double s = sigmoid(a->v[k]), h = s * (ZETA - GAMMA) + GAMMA;
        if (h <= 0.0 || h >= 1.0)
            continue;         /* clipped: no gradient reaches V */
        double dh = s * (1.0 - s) * (ZETA - GAMMA), u = 2.0 * h - 1.0;
        double dreg = lambda > 0.0 ? -2.0 * beta * pow(fabs(u), beta - 1.0) * (u < 0 ? -1.0 : 1.0) : 0.0;
        double g = ((double)a->g[k] * al->step + lambda * dreg) * dh;
        a->m1[k] = b1 * a->m1[k] + (1.0 - b1) * g;
        a->m2[k] = b2 * a->m2[k] + (1.0 - b2) * g * g;
        a->v[k] -= o->lr * (a->m1[k] / c1) / (sqrt(a->m2[k] / c2) + 1e-8);
    }
}

/* Draws b sample columns: inputs from xq into a->xb, targets from y (rows x m) into a->tb. */
static void draw_batch(ada_work *a, const qt_gpfq_data *d, const float *y, qt_rng *r, int *cols)
{
    for (int j = 0; j < a->b; j++)
        cols[j] = a->b == d->m ? j : (int)qt_rng_below(r, (uint32_t)d->m);
    for (int t = 0; t < a->n; t++)
        for (int j = 0; j < a->b; j++)
            a->xb[(size_t)t * a->b + j] = d->xqt[(size_t)t * d->m + cols[j]];
    for (int i = 0; i < a->rows; i++)
        for (int j = 0; j < a->b; j++)
            a->tb[(size_t)i * a->b + j] = y[(size_t)i * d->m + cols[j]];
}

int qt_adaround_layer(const qt_gpfq_data *d, const float *w, int rows, const qt_alphabet *a,
                      const qt_adaround_opts *o, int32_t *q, qt_error *err)
{
    if (o->iters < 1 || o->batch < 1 || !(o->lr > 0.0) || !(o->reg >= 0.0))
        return qt_errorf(err, "AdaRound needs iterations, a batch, a positive learning rate "
                         "and a non-negative lambda");
    if (a->levels < 2)
        return qt_errorf(err, "AdaRound needs an alphabet of at least 2 levels");
    const int n = d->n_features, b = o->batch < d->m ? o->batch : d->m;
    ada_work wk;
    float *y = malloc((size_t)rows * d->m * sizeof *y);
    int *cols = malloc((size_t)b * sizeof *cols);
    if (!y || !cols || work_alloc(&wk, rows, n, b) != QT_OK) {
        free(y);
        free(cols);
        return qt_errorf(err, "out of memory for AdaRound of a %d x %d layer", rows, n);
    }
    /* targets: the float layer on the float inputs */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d->m, n, 1.0f, w, n, d->xt, d->m,
                0.0f, y, d->m);
    init_rounding(&wk, w, a);
    qt_rng r;
    qt_rng_seed(&r, o->seed);
    const int warm = (int)(WARM_START * o->iters);
    for (int t = 0; t < o->iters; t++) {
        double frac = warm < o->iters ? (double)(t - warm) / (double)(o->iters - warm) : 1.0;
        double beta = BETA_END + (BETA_START - BETA_END) * (1.0 - frac);
        draw_batch(&wk, d, y, &r, cols);
        step(&wk, a, o, t < warm ? 0.0 : o->reg, beta, t + 1);
    }
    for (size_t k = 0; k < (size_t)rows * n; k++)
        q[k] = wk.floor_idx[k] + (rect(wk.v[k]) >= 0.5);
    work_free(&wk);
    free(y);
    free(cols);
    return QT_OK;
}

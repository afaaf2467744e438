#include "qtrain/gpfq.h"

#include <stdlib.h>
#include <string.h>


/* ||Xq_t||^2 for every feature t. */
static double *feature_norms(const qt_gpfq_data *d)
{
    double *n2 = malloc((size_t)d->n_features * sizeof *n2);
    if (!n2)
        return NULL;
    for (int t = 0; t < d->n_features; t++) {
        const float *x = d->xqt + (size_t)t * d->m;
        double s = 0.0;
        for (int i = 0; i < d->m; i++)
            s += (double)x[i] * x[i];
        n2[t] = s;
    }
    return n2;
}

/* One step of one neuron: u += w_t X_t; q = Q_A(<Xq_t, u> / ||Xq_t||^2); u -= q Xq_t.
 * The same arithmetic serves the layer sweep and the neuron walk, so both give equal results. */
static int32_t gpfq_step(const qt_gpfq_data *d, const double *n2, int t, float wt, float *u,
                         const qt_alphabet *a, const qt_gpfq_opts *o, qt_rng *r)
{
    const float *x = d->xt + (size_t)t * d->m, *xq = d->xqt + (size_t)t * d->m;
    /* four partial sums in a fixed order: vectorises, and stays deterministic */
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int i = 0;
    for (; i + 4 <= d->m; i += 4)
        for (int k = 0; k < 4; k++) {
            u[i + k] += wt * x[i + k];
            acc[k] += (double)u[i + k] * xq[i + k];
        }
    for (; i < d->m; i++) {
        u[i] += wt * x[i];
        acc[0] += (double)u[i] * xq[i];
    }
    double dot = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    if (n2[t] <= 0.0)
        return qt_alphabet_nearest(a, 0.0f);
    float target = (float)(dot / n2[t]);
    int32_t q = o->stochastic ? qt_alphabet_stochastic(a, target, r) : qt_alphabet_nearest(a, target);
    float v = qt_alphabet_value(a, q);
    for (i = 0; i < d->m; i++)
        u[i] -= v * xq[i];
    return q;
}

static void neuron_rng(qt_rng *r, const qt_gpfq_opts *o, int row)
{
    qt_rng_derive(r, o->seed, 0x6f9c, (uint64_t)row);
}

int qt_gpfq_neuron(const qt_gpfq_data *d, const float *w, const qt_alphabet *a,
                   const qt_gpfq_opts *o, int row, int32_t *q, float *u)
{
    double *n2 = feature_norms(d);
    if (!n2)
        return QT_ERR;
    qt_rng r;
    neuron_rng(&r, o, row);
    memset(u, 0, (size_t)d->m * sizeof *u);
    for (int t = 0; t < d->n_features; t++)
        q[t] = gpfq_step(d, n2, t, w[t], u, a, o, &r);
    free(n2);
    return QT_OK;
}

/* One sweep over t, advancing every row: the rows' walks are independent. */
static void sweep(const qt_gpfq_data *d, const double *n2, const float *w, int rows,
                  const qt_alphabet *a, const qt_gpfq_opts *o, int32_t *q, float *u, qt_rng *rngs)
{
    const int n = d->n_features;
    for (int t = 0; t < n; t++)
        for (int r = 0; r < rows; r++)
            q[(size_t)r * n + t] = gpfq_step(d, n2, t, w[(size_t)r * n + t], u + (size_t)r * d->m,
                                             a, o, &rngs[r]);
}

int qt_gpfq_layer(const qt_gpfq_data *d, const float *w, int rows, const qt_alphabet *a,
                  const qt_gpfq_opts *o, int32_t *q, float *u_out, qt_error *err)
{
    if (d->n_features < 1 || d->m < 1 || rows < 1)
        return qt_errorf(err, "gpfq: empty layer (%d rows, %d features, %d samples)", rows,
                         d->n_features, d->m);
    double *n2 = feature_norms(d);
    float *u = u_out ? u_out : malloc((size_t)rows * d->m * sizeof *u);
    qt_rng *rngs = malloc((size_t)rows * sizeof *rngs);
    int rc = QT_OK;
    if (!n2 || !u || !rngs) {
        rc = qt_errorf(err, "gpfq: out of memory for a %d x %d error matrix", rows, d->m);
    } else {
        memset(u, 0, (size_t)rows * d->m * sizeof *u);
        for (int r = 0; r < rows; r++)
            neuron_rng(&rngs[r], o, r);
        sweep(d, n2, w, rows, a, o, q, u, rngs);
    }
    free(n2);
    free(rngs);
    if (u != u_out)
        free(u);
    return rc;
}

void qt_msq(const float *w, size_t n, const qt_alphabet *a, int32_t *q)
{
    for (size_t i = 0; i < n; i++)
        q[i] = qt_alphabet_nearest(a, w[i]);
}

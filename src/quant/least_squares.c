/* Quantized least squares through the real update path (see least_squares.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/least_squares.h"
#include "qtrain/net.h"
#include "qtrain/quant_rule.h"
#include "qtrain/rng.h"

int qt_lsq_make(qt_lsq_problem *p, int m, int d, double w_scale, double noise, uint64_t seed,
                qt_error *err)
{
    memset(p, 0, sizeof *p);
    if (m < 1 || d < 1)
        return qt_errorf(err, "least squares: needs m >= 1 rows and d >= 1 columns, got %d x %d",
                         m, d);
    p->m = m;
    p->d = d;
    p->a = malloc((size_t)m * (size_t)d * sizeof *p->a);
    p->b = malloc((size_t)m * sizeof *p->b);
    double *ws = malloc((size_t)d * sizeof *ws);
    if (!p->a || !p->b || !ws) {
        free(ws);
        qt_lsq_free(p);
        return qt_errorf(err, "least squares: out of memory for a %d x %d problem", m, d);
    }
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (int j = 0; j < d; j++)
        ws[j] = w_scale * qt_rng_normal(&r);
    for (int i = 0; i < m; i++) {
        double *row = p->a + (size_t)i * (size_t)d;
        p->b[i] = noise * qt_rng_normal(&r);
        for (int j = 0; j < d; j++) {
            row[j] = qt_rng_normal(&r);
            p->b[i] += row[j] * ws[j];
        }
    }
    free(ws);
    return QT_OK;
}

void qt_lsq_free(qt_lsq_problem *p)
{
    free(p->a);
    free(p->b);
    p->a = p->b = NULL;
}

static double residual(const qt_lsq_problem *p, int i, const double *w)
{
    const double *row = p->a + (size_t)i * (size_t)p->d;
    double r = -p->b[i];
    for (int j = 0; j < p->d; j++)
        r += row[j] * w[j];
    return r;
}

double qt_lsq_loss(const qt_lsq_problem *p, const double *w)
{
    double s = 0.0;
    for (int i = 0; i < p->m; i++) {
        double r = residual(p, i, w);
        s += r * r;
    }
    return 0.5 * s / p->m;
}

static double loss_at_float(const qt_lsq_problem *p, const float *w, double *scratch)
{
    for (int j = 0; j < p->d; j++)
        scratch[j] = w[j];
    return qt_lsq_loss(p, scratch);
}

/* Solves (A^T A) w = A^T b in place by Cholesky: g holds A^T A (d x d), w holds A^T b. A pivot
 * that cancels to rounding noise of its diagonal entry means dependent columns. */
static int cholesky_solve(double *g, double *w, int d)
{
    for (int j = 0; j < d; j++) {
        double diag = g[j * d + j];
        for (int k = 0; k < j; k++)
            g[j * d + j] -= g[j * d + k] * g[j * d + k];
        if (!(g[j * d + j] > 1e-12 * diag))
            return QT_ERR;
        g[j * d + j] = sqrt(g[j * d + j]);
        for (int i = j + 1; i < d; i++) {
            for (int k = 0; k < j; k++)
                g[i * d + j] -= g[i * d + k] * g[j * d + k];
            g[i * d + j] /= g[j * d + j];
        }
    }
    for (int i = 0; i < d; i++) {  /* L y = A^T b */
        for (int k = 0; k < i; k++)
            w[i] -= g[i * d + k] * w[k];
        w[i] /= g[i * d + i];
    }
    for (int i = d - 1; i >= 0; i--) {  /* L^T w = y */
        for (int k = i + 1; k < d; k++)
            w[i] -= g[k * d + i] * w[k];
        w[i] /= g[i * d + i];
    }
    return QT_OK;
}

int qt_lsq_solve(const qt_lsq_problem *p, double *w, qt_error *err)
{
    int d = p->d;
    double *g = calloc((size_t)d * (size_t)d, sizeof *g);
    if (!g)
        return qt_errorf(err, "least squares: out of memory for the %d x %d normal equations", d, d);
    memset(w, 0, (size_t)d * sizeof *w);
    for (int i = 0; i < p->m; i++) {
        const double *row = p->a + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++) {
            w[j] += row[j] * p->b[i];
            for (int k = 0; k <= j; k++)
                g[j * d + k] += row[j] * row[k];
        }
    }
    int rc = cholesky_solve(g, w, d);
    free(g);
    if (rc != QT_OK)
        return qt_errorf(err, "least squares: A^T A is singular (%d rows, %d columns)", p->m, d);
    return QT_OK;
}

int qt_lsq_best_grid_loss(const qt_lsq_problem *p, double delta, double *loss, qt_error *err)
{
    if (!(delta > 0.0))
        return qt_errorf(err, "least squares: grid step must be > 0, got %g", delta);
    double *w = malloc((size_t)p->d * sizeof *w);
    if (!w)
        return qt_errorf(err, "least squares: out of memory");
    if (qt_lsq_solve(p, w, err) != QT_OK) {
        free(w);
        return QT_ERR;
    }
    for (int j = 0; j < p->d; j++)
        w[j] = delta * floor(w[j] / delta + 0.5);
    double best = qt_lsq_loss(p, w);
    for (int improved = 1; improved;) {
        improved = 0;
        for (int j = 0; j < p->d; j++)
            for (int s = -1; s <= 1; s += 2) {
                w[j] += s * delta;
                double l = qt_lsq_loss(p, w);
                if (l < best - 1e-15) {
                    best = l;
                    improved = 1;
                } else {
                    w[j] -= s * delta;
                }
            }
    }
    free(w);
    *loss = best;
    return QT_OK;
}

static int check_run(const qt_lsq_problem *p, const qt_lsq_run *run, qt_error *err)
{
    if (run->steps < 2 || run->batch < 1)
        return qt_errorf(err, "least squares: needs steps >= 2 and batch >= 1, got %d and %d",
                         run->steps, run->batch);
    if (!(run->lr0 > 0.0f) || !(run->lr_halflife > 0.0f))
        return qt_errorf(err, "least squares: lr0 and lr_halflife must be > 0, got %g and %g",
                         (double)run->lr0, (double)run->lr_halflife);
    if ((unsigned)run->mode >= QT_QUANT_RULES)
        return qt_errorf(err, "least squares: unknown training rule %d", (int)run->mode);
    if (qt_quant_rule_of(run->mode)->quantizes && !(run->delta > 0.0f))
        return qt_errorf(err, "least squares: grid step must be > 0, got %g", (double)run->delta);
    if (p->m < 1 || p->d < 1)
        return qt_errorf(err, "least squares: empty problem");
    return QT_OK;
}

/* flatten -> linear(d -> 1, no bias), weights at 0, quantizer attached per run. */
static qt_net *make_net(const qt_lsq_problem *p, const qt_lsq_run *run, qt_error *err)
{
    qt_net *net = qt_net_new("least_squares", 1, 1, p->d, err);
    if (!net)
        return NULL;
    int x = qt_net_flatten(net, QT_NET_INPUT, err);
    if (x < 0 || qt_net_linear(net, "w", x, 1, 0, err) < 0) {
        qt_net_free(net);
        return NULL;
    }
    qt_net_init_params(net, run->seed);
    qt_param *w = net->params[0];
    memset(w->t.data, 0, w->t.numel * sizeof(float));
    qt_quant_config cfg = {run->mode, QT_GRID_UNBOUNDED, 8, QT_SCALE_CONST, run->delta, 0, 0, 1, 1};
    if (qt_quant_attach(net, &cfg, run->seed, err) != QT_OK) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

/* The minibatch gradient at the weights the forward pass uses (the prepared tensor w), into
 * grad. */
static void minibatch_gradient(const qt_lsq_problem *p, const qt_tensor *w, int batch, qt_rng *r,
                               double *g, double *wd, float *grad)
{
    int d = p->d;
    const qt_values v = qt_tensor_values(w);
    for (int j = 0; j < d; j++) {
        wd[j] = qt_values_at(&v, j);
        g[j] = 0.0;
    }
    for (int k = 0; k < batch; k++) {
        int i = (int)qt_rng_below(r, (uint32_t)p->m);
        double res = residual(p, i, wd);
        const double *row = p->a + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++)
            g[j] += res * row[j] / batch;
    }
    for (int j = 0; j < d; j++)
        grad[j] = (float)g[j];
}

static int train_net(const qt_lsq_problem *p, const qt_lsq_run *run, qt_net *net, double *scratch,
                     qt_lsq_result *res, qt_error *err)
{
    int d = p->d;
    double *g = scratch, *wd = scratch + d, *wsum = scratch + 2 * d;
    float *values = (float *)(scratch + 3 * d);
    qt_param *w = net->params[0];
    qt_optimizer opt = qt_optimizer_sgd(0.0f, 0, 0.0f);
    qt_ctx c;
    qt_ctx_init(&c);
    qt_rng r;
    qt_rng_seed(&r, run->seed);
    double sum = 0.0, qsum = 0.0;
    int half = run->steps / 2;
    for (int t = 0; t < run->steps; t++) {
        qt_ctx_reset(&c);
        if (qt_quant_prepare(net, QT_VIEW_TRAIN, run->seed, (uint64_t)t, NULL) != QT_OK ||
            !(w->t.grad = qt_ctx_alloc(&c, (size_t)d * sizeof(float)))) {
            qt_ctx_free(&c);
            return qt_errorf(err, "least squares: out of memory at step %d", t);
        }
        minibatch_gradient(p, &w->t, run->batch, &r, g, wd, w->t.grad);
        w->t.grad_written = 1;
        qt_optimizer_begin_step(&opt);
        qt_quant_update(net, &opt, run->lr0 / (1.0f + (float)t / run->lr_halflife), run->seed,
                        (uint64_t)t, NULL);
        qt_quant_export_values(w, values);
        const float *buffer = qt_quant_float_buffer(w), *kept = buffer ? buffer : values;
        double lq = loss_at_float(p, values, wd);
        double l = kept == values ? lq : loss_at_float(p, kept, wd);
        if (t >= half) {
            sum += l;
            qsum += lq;
            for (int j = 0; j < d; j++)
                wsum[j] += kept[j];
        }
        res->final_loss = l;
    }
    qt_ctx_free(&c);
    res->loss = sum / (run->steps - half);
    res->quantized_loss = qsum / (run->steps - half);
    for (int j = 0; j < d; j++)
        wsum[j] /= run->steps - half;
    res->averaged_loss = qt_lsq_loss(p, wsum);
    return QT_OK;
}

int qt_lsq_train(const qt_lsq_problem *p, const qt_lsq_run *run, qt_lsq_result *res,
                 qt_error *err)
{
    if (check_run(p, run, err) != QT_OK)
        return QT_ERR;
    /* scratch: gradient, weights and the iterate sum in double, exported values in float */
    double *scratch = calloc((size_t)p->d * 4 + 1, sizeof(double));
    if (!scratch)
        return qt_errorf(err, "least squares: out of memory");
    qt_net *net = make_net(p, run, err);
    int rc = net ? train_net(p, run, net, scratch, res, err) : QT_ERR;
    qt_net_free(net);
    free(scratch);
    return rc;
}

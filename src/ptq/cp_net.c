/* Quantization-aware CP factorization over a network (see cp_net.h). */
#include "qtrain/cp_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/clock.h"
#include "qtrain/mse_grid.h"

/* The weight's CP view: (C_out, C_in, k*k), or the matrix (out, in). */
static qt_cp_tensor layer_tensor(const qt_layer *l, const float *w)
{
    const qt_tensor *t = &l->weight->t;
    int kk = t->ndim == 4 ? t->shape[2] * t->shape[3] : 1;
    qt_cp_tensor ct = {w, {t->shape[0], t->shape[1], kk}, kk > 1 ? 3 : 2};
    return ct;
}

int qt_cp_layer_rank(const qt_layer *l, double rate)
{
    qt_cp_tensor t = layer_tensor(l, NULL);
    return qt_cp_rank(&t, rate);
}

void qt_cp_default_mask(const qt_net *net, int *mask)
{
    int first = 1;
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        int conv = l->kind == QT_LAYER_CONV && !l->cp_part;
        mask[i] = conv && !first && l->weight->t.shape[2] * l->weight->t.shape[3] > 1;
        if (conv)
            first = 0;
    }
}

static double rel_diff(const float *w, const float *q, size_t n)
{
    double e = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        e += ((double)w[i] - q[i]) * ((double)w[i] - q[i]);
        s += (double)w[i] * w[i];
    }
    return s > 0.0 ? sqrt(e / s) : sqrt(e);
}

/* Appends a coded entry for p, whose values must lie on grid a. */
static int add_coded(qt_coded_net *cn, const qt_param *p, const qt_alphabet *a, qt_error *err)
{
    qt_coded_layer *nl = realloc(cn->layers, (size_t)(cn->n + 1) * sizeof *nl);
    if (!nl)
        return qt_errorf(err, "out of memory");
    cn->layers = nl;
    qt_coded_layer *cl = &cn->layers[cn->n];
    if (!(cl->index = malloc(p->t.numel)))
        return qt_errorf(err, "out of memory");
    cl->param = p;
    cl->alphabet = *a;
    cn->n++;
    for (size_t i = 0; i < p->t.numel; i++) {
        int k = qt_alphabet_nearest(a, p->t.data[i]);
        if (qt_alphabet_value(a, k) != p->t.data[i])
            return qt_errorf(err, "%s: weight %zu (%g) is not on its %d-level grid", p->name, i,
                             (double)p->t.data[i], a->levels);
        cl->index[i] = (uint8_t)k;
    }
    return QT_OK;
}

static void to_float(const double *d, size_t n, float *f)
{
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
}

/* Float CP-ALS from random factors. */
static int float_cp(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_net_opts *o,
                    uint64_t seed, qt_cp_layer_report *r, qt_error *err)
{
    qt_cp_trace tr = {0};
    qt_cp_als_opts ao = {o->als_sweeps, o->als_tol};
    qt_cp_factors_random(f, seed);
    if (qt_cp_als(t, f, &ao, &tr, err) != QT_OK)
        return QT_ERR;
    r->float_error = qt_cp_rel_error(t, f);
    r->sweeps = tr.n;
    return QT_OK;
}

/* The factors of weight tensor t by the chosen method, on their grids. */
static int solve(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_net_opts *o, uint64_t seed,
                 qt_cp_layer_report *r, qt_error *err)
{
    r->float_error = -1.0;
    if (o->method == QT_CP_FLOAT_THEN_QUANT) {
        if (float_cp(t, f, o, seed, r, err) != QT_OK)
            return QT_ERR;
        return qt_cp_quantize_factors(f, o->bits, r->grids, err);
    }
    if (o->init != QT_CP_INIT_RANDOM) {
        if (float_cp(t, f, o, seed, r, err) != QT_OK)
            return QT_ERR;
        qt_cp_factors_balance(f);
        qt_cp_epc_opts eo = {o->epc_sweeps > 0 ? o->epc_sweeps : 50, 1e-4};
        if (o->init == QT_CP_INIT_EPC && qt_cp_epc(t, f, &eo, NULL, err) != QT_OK)
            return QT_ERR;
    } else {
        qt_cp_factors_random(f, seed);
    }
    qt_cp_trace tr = {0};
    qt_cp_admm_opts ao = qt_cp_admm_defaults(o->bits, o->max_sweeps, o->max_inner);
    if (o->diverge_window > 0)
        ao.diverge_window = o->diverge_window;
    if (qt_cp_admm(t, f, &ao, r->grids, &tr, err) != QT_OK)
        return QT_ERR;
    r->sweeps = tr.n;
    r->inner_iters = tr.inner_iters;
    return QT_OK;
}

/* Factorises layer i of net into its parts, with their weights on the grids. */
static int factorize_layer(qt_net *net, int i, const qt_cp_net_opts *o, qt_coded_net *coded,
                           qt_cp_layer_report *r, qt_error *err)
{
    double t0 = qt_now_seconds();
    const qt_layer *l = &net->layers[i];
    const size_t n = l->weight->t.numel;
    char name[sizeof l->name];
    memcpy(name, l->name, sizeof name);
    float *w = malloc(n * sizeof *w), *rec = malloc(n * sizeof *rec);
    qt_cp_tensor t = layer_tensor(l, w);
    qt_cp_factors f = {0};
    float *fa[3] = {NULL, NULL, NULL};
    int rc = w && rec ? QT_OK : qt_errorf(err, "out of memory");
    if (rc == QT_OK) {
        memcpy(w, l->weight->t.data, n * sizeof *w);
        memcpy(r->name, name, sizeof r->name);
        r->c_out = t.dims[0];
        r->c_in = t.dims[1];
        r->kk = t.dims[2];
        r->rank = qt_cp_rank(&t, o->rate);
        r->params_before = n;
        rc = qt_cp_factors_alloc(&f, &t, r->rank, err);
    }
    for (int m = 0; rc == QT_OK && m < 3; m++)
        if (!(fa[m] = malloc((size_t)t.dims[m] * r->rank * sizeof *fa[m])))
            rc = qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        rc = solve(&t, &f, o, o->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)), r, err);
    qt_cp_layout lo;
    if (rc == QT_OK) {
        for (int m = 0; m < 3; m++)
            to_float(f.f[m], (size_t)t.dims[m] * r->rank, fa[m]);
        rc = qt_net_cp_factorize(net, i, r->rank, err);
    }
    if (rc == QT_OK && qt_net_cp_find(net, name, &lo, err) == QT_OK) {
        static const int factor_of_part[3] = {1, 2, 0};  /* cp1 holds B, cp2 C, cp3 A */
        qt_net_cp_set_factors(net, &lo, fa[0], fa[1], fa[2]);
        r->params_after = 0;
        for (int p = 0; rc == QT_OK && p < lo.nparts; p++) {
            const qt_param *w_p = net->layers[lo.first + p].weight;
            int m = factor_of_part[net->layers[lo.first + p].cp_part - 1];
            r->params_after += w_p->t.numel;
            rc = add_coded(coded, w_p, &r->grids[m], err);
        }
    } else if (rc == QT_OK) {
        rc = QT_ERR;
    }
    if (rc == QT_OK && (rc = qt_net_dense_weight(net, name, rec, n, err)) == QT_OK)
        r->rel_error = rel_diff(w, rec, n);
    r->seconds = qt_now_seconds() - t0;
    for (int m = 0; m < 3; m++)
        free(fa[m]);
    qt_cp_factors_free(&f);
    free(w);
    free(rec);
    return rc == QT_OK ? QT_OK : qt_error_prefix(err, "%s", name);
}

/* Rounds a layer left unfactorised to its own MSE grid of `bits`. */
static int round_layer(qt_layer *l, int bits, qt_coded_net *coded, qt_cp_layer_report *r,
                       qt_error *err)
{
    double t0 = qt_now_seconds();
    qt_param *p = l->weight;
    const size_t n = p->t.numel;
    double *d = malloc(n * sizeof *d);
    float *w = malloc(n * sizeof *w);
    int rc = d && w ? QT_OK : qt_errorf(err, "out of memory");
    if (rc == QT_OK) {
        memcpy(w, p->t.data, n * sizeof *w);
        for (size_t i = 0; i < n; i++)
            d[i] = w[i];
        rc = qt_mse_grid_project(d, n, bits, &r->grids[0], d, NULL, err);
    }
    if (rc == QT_OK) {
        to_float(d, n, p->t.data);
        rc = add_coded(coded, p, &r->grids[0], err);
        memcpy(r->name, l->name, sizeof r->name);
        r->c_out = p->t.shape[0];
        r->c_in = p->t.shape[1];
        r->kk = (int)(n / ((size_t)r->c_out * r->c_in));
        r->rel_error = rel_diff(w, p->t.data, n);
        r->float_error = -1.0;
        r->params_before = r->params_after = n;
    }
    r->seconds = qt_now_seconds() - t0;
    free(d);
    free(w);
    return rc;
}

int qt_cp_net_factorize(qt_net *net, const qt_cp_net_opts *o, qt_coded_net *coded,
                        qt_cp_layer_report *reports, qt_cp_progress_fn progress, void *user,
                        qt_error *err)
{
    const int nl = net->nlayers;
    if (!(o->rate > 0.0))
        return qt_errorf(err, "reduction rate must be positive (got %g)", o->rate);
    memset(reports, 0, (size_t)nl * sizeof *reports);
    int total = 0, done = 0;
    for (int i = 0; i < nl; i++) {
        int k = net->layers[i].kind;
        total += o->mask[i] || (o->rest_bits > 0 && (k == QT_LAYER_CONV || k == QT_LAYER_LINEAR));
    }
    /* last first: factorising layer i moves only the layers after it */
    for (int i = nl - 1; i >= 0; i--) {
        if (!o->mask[i])
            continue;
        if (factorize_layer(net, i, o, coded, &reports[i], err) != QT_OK)
            return QT_ERR;
        if (progress)
            progress(&reports[i], ++done, total, user);
    }
    if (o->rest_bits <= 0)
        return QT_OK;
    /* orig: the layer's index in the net as given (a factorised layer's parts count once) */
    for (int j = 0, orig = 0; j < net->nlayers; j++) {
        qt_layer *l = &net->layers[j];
        if (!l->cp_part && (l->kind == QT_LAYER_CONV || l->kind == QT_LAYER_LINEAR)) {
            if (round_layer(l, o->rest_bits, coded, &reports[orig], err) != QT_OK)
                return qt_error_prefix(err, "%s", l->name);
            if (progress)
                progress(&reports[orig], ++done, total, user);
        }
        orig += !l->cp_part || l->cp_part == 3;
    }
    return QT_OK;
}

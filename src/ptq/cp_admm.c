/* AO-ADMM CP decomposition with factors on a quantization grid (see cp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cp_internal.h"
#include "qtrain/mse_grid.h"

/* The reference's divergence guard: stop once the error rose by more than this over the
 * last diverge_window sweeps. */
#define DIVERGE_RISE 1e-3

qt_cp_admm_opts qt_cp_admm_defaults(int bits, int max_sweeps, int max_inner)
{
    qt_cp_admm_opts o = {bits, max_sweeps, max_inner, 1e-8, 1e-5, 5};
    return o;
}

typedef struct {
    double *u[3];             /* scaled duals, one per factor, kept across sweeps */
    double *g, *f, *ht, *prev;
    double *best[3];
    double *hist;
} admm_mem;

static void mem_free(admm_mem *a)
{
    for (int m = 0; m < 3; m++) {
        free(a->u[m]);
        free(a->best[m]);
    }
    free(a->g);
    free(a->f);
    free(a->ht);
    free(a->prev);
    free(a->hist);
}

static int mem_alloc(admm_mem *a, const qt_cp_factors *f, int sweeps)
{
    memset(a, 0, sizeof *a);
    size_t R = (size_t)f->rank, big = 0;
    int ok = 1;
    for (int m = 0; m < 3; m++) {
        size_t n = (size_t)f->dims[m] * R;
        big = n > big ? n : big;
        ok &= (a->u[m] = calloc(n, sizeof(double))) != NULL;
        ok &= (a->best[m] = malloc(n * sizeof(double))) != NULL;
    }
    ok &= (a->g = malloc(R * R * sizeof(double))) != NULL;
    ok &= (a->f = malloc(big * sizeof(double))) != NULL;
    ok &= (a->ht = malloc(big * sizeof(double))) != NULL;
    ok &= (a->prev = malloc(big * sizeof(double))) != NULL;
    ok &= (a->hist = malloc((size_t)sweeps * sizeof(double))) != NULL;
    if (!ok)
        mem_free(a);
    return ok ? QT_OK : QT_ERR;
}

static double ratio(double num, double den) { return den > 0.0 ? num / den : (num > 0.0 ? INFINITY : 0.0); }

/* One factor update: the inner ADMM loop of source/admm.py::admm_iteration. */
static int update_factor(cp_work *w, qt_cp_factors *f, int m, admm_mem *a,
                         const qt_cp_admm_opts *o, qt_alphabet *grid, long *iters, qt_error *err)
{
    const int R = f->rank;
    const size_t n = (size_t)f->dims[m] * R;
    double *h = f->f[m], *u = a->u[m], *g = a->g;
    cp_gram_others(w, f, m, g);
    double rho = 0.0;
    for (int r = 0; r < R; r++)
        rho += g[(size_t)r * R + r];
    rho /= R;
    if (!(rho > 0.0) || !isfinite(rho))
        return qt_errorf(err, "ADMM: the factors other than mode %d vanished", m);
    for (int r = 0; r < R; r++)
        g[(size_t)r * R + r] += rho;
    if (cp_cholesky(g, R) != QT_OK)
        return qt_errorf(err, "ADMM: mode-%d system is not positive definite", m);
    cp_mttkrp(w, f, m, a->f);
    for (int it = 0; it < o->max_inner; it++) {
        for (size_t i = 0; i < n; i++)
            a->ht[i] = a->f[i] + rho * (h[i] + u[i]);
        cp_solve_right(g, R, a->ht, f->dims[m]);
        memcpy(a->prev, h, n * sizeof *h);
        for (size_t i = 0; i < n; i++)
            h[i] = a->ht[i] - u[i];
        if (qt_mse_grid_project(h, n, o->bits, grid, h, NULL, err) != QT_OK)
            return qt_error_prefix(err, "ADMM mode %d", m);
        double rn = 0.0, hn = 0.0, sn = 0.0, un = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = h[i] - a->ht[i], dp = h[i] - a->prev[i];
            u[i] += d;
            rn += d * d;
            hn += h[i] * h[i];
            sn += dp * dp;
            un += u[i] * u[i];
        }
        (*iters)++;
        if (ratio(rn, hn) < o->eps && ratio(sn, un) < o->eps)
            break;
    }
    return QT_OK;
}

static void copy_factors(double *const *dst, double *const *src, const qt_cp_factors *f)
{
    for (int m = 0; m < f->nmodes; m++)
        memcpy(dst[m], src[m], (size_t)f->dims[m] * f->rank * sizeof(double));
}

int qt_cp_admm(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_admm_opts *o,
               qt_alphabet grids[3], qt_cp_trace *trace, qt_error *err)
{
    if (o->max_sweeps < 1 || o->max_inner < 1)
        return qt_errorf(err, "ADMM needs at least one sweep and one inner iteration");
    cp_work w;
    admm_mem a;
    if (cp_work_init(&w, t, f->rank, err) != QT_OK)
        return QT_ERR;
    if (mem_alloc(&a, f, o->max_sweeps) != QT_OK) {
        cp_work_free(&w);
        return qt_errorf(err, "out of memory for ADMM of rank %d", f->rank);
    }
    qt_alphabet cur[3] = {{0}}, best_grids[3] = {{0}};
    double best = INFINITY;
    long iters = 0;
    int rc = QT_OK;
    for (int s = 0; s < o->max_sweeps; s++) {
        for (int m = 0; rc == QT_OK && m < f->nmodes; m++)
            rc = update_factor(&w, f, m, &a, o, &cur[m], &iters, err);
        if (rc != QT_OK)
            break;
        double e = a.hist[s] = cp_rel_error(&w, f);
        cp_trace_push(trace, e);
        if (e < best) {
            best = e;
            copy_factors(a.best, f->f, f);
            memcpy(best_grids, cur, sizeof cur);
        }
        if ((s >= 1 && fabs(a.hist[s - 1] - e) < o->tol) ||
            (o->diverge_window > 0 && s >= o->diverge_window &&
             e - a.hist[s - o->diverge_window + 1] > DIVERGE_RISE))
            break;
    }
    if (rc == QT_OK) {
        copy_factors(f->f, a.best, f);
        memcpy(grids, best_grids, sizeof best_grids);
    }
    if (trace)
        trace->inner_iters += iters;
    mem_free(&a);
    cp_work_free(&w);
    return rc;
}

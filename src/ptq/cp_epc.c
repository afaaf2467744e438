/* Error preserving correction of a CP decomposition (Phan et al., ECCV 2020; musco's cp_anc,
 * the initialisation of ADMM-EPC in Cherniuk et al. 2024): keep the fit's error, shrink the
 * rank-one terms. See cp.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cp_internal.h"

enum { BISECTION_STEPS = 40 };

/* Scales every column of the factors other than m to unit norm, the scale moving into m, so
 * that ||f_m||_F^2 is the intensity sum_r prod_n ||f_n[:, r]||^2. */
static void normalise_others(qt_cp_factors *f, int m)
{
    const int R = f->rank;
    for (int n = 0; n < f->nmodes; n++) {
        if (n == m)
            continue;
        for (int r = 0; r < R; r++) {
            double s = 0.0;
            for (int i = 0; i < f->dims[n]; i++)
                s += f->f[n][(size_t)i * R + r] * f->f[n][(size_t)i * R + r];
            s = sqrt(s);
            if (!(s > 0.0))
                continue;
            for (int i = 0; i < f->dims[n]; i++)
                f->f[n][(size_t)i * R + r] /= s;
            for (int i = 0; i < f->dims[m]; i++)
                f->f[m][(size_t)i * R + r] *= s;
        }
    }
}

static double intensity(const qt_cp_factors *f)
{
    double total = 0.0;
    for (int r = 0; r < f->rank; r++) {
        double p = 1.0;
        for (int n = 0; n < f->nmodes; n++) {
            double s = 0.0;
            for (int i = 0; i < f->dims[n]; i++)
                s += f->f[n][(size_t)i * f->rank + r] * f->f[n][(size_t)i * f->rank + r];
            p *= s;
        }
        total += p;
    }
    return total;
}

typedef struct {
    const double *g, *rhs;    /* Gram matrix of the other factors, MTTKRP (rows x R) */
    double *l, *a;            /* Cholesky scratch, candidate factor */
    int rows, R;
    double x_norm2;
} epc_mode;

/* a = F (G + nu I)^-1; returns ||X - a K^T||^2 = ||X||^2 - 2 <a, F> + <a G, a>. */
static double ridge_solution(epc_mode *e, double nu)
{
    const int R = e->R;
    const size_t n = (size_t)e->rows * R;
    memcpy(e->l, e->g, (size_t)R * R * sizeof *e->l);
    for (int r = 0; r < R; r++)
        e->l[(size_t)r * R + r] += nu;
    if (cp_cholesky(e->l, R) != QT_OK)
        return INFINITY;
    memcpy(e->a, e->rhs, n * sizeof *e->a);
    cp_solve_right(e->l, R, e->a, e->rows);
    double cross = 0.0, quad = 0.0;
    for (int i = 0; i < e->rows; i++) {
        const double *ai = e->a + (size_t)i * R;
        for (int r = 0; r < R; r++) {
            double ag = 0.0;
            for (int s = 0; s < R; s++)
                ag += ai[s] * e->g[(size_t)s * R + r];
            quad += ag * ai[r];
            cross += ai[r] * e->rhs[(size_t)i * R + r];
        }
    }
    return e->x_norm2 - 2.0 * cross + quad;
}

/* Mode m's factor of least norm whose fit error stays within delta2: the largest ridge nu
 * (bisected on a log scale) whose solution is feasible. The Lagrange condition of
 * min ||a||^2 s.t. ||X - a K^T||^2 <= delta2 gives exactly these ridge solutions. */
static void update_mode(cp_work *w, qt_cp_factors *f, int m, double delta2, epc_mode *e)
{
    normalise_others(f, m);
    cp_gram_others(w, f, m, (double *)e->g);
    cp_mttkrp(w, f, m, (double *)e->rhs);
    e->rows = f->dims[m];
    double tr = 0.0;
    for (int r = 0; r < e->R; r++)
        tr += e->g[(size_t)r * e->R + r];
    double lo = log(1e-12 * tr / e->R + 1e-300), hi = log(1e4 * tr / e->R + 1e-300);
    if (!(ridge_solution(e, exp(lo)) <= delta2)) {
        /* not even the least-squares step keeps the error (rounding): keep the factor */
        return;
    }
    for (int k = 0; k < BISECTION_STEPS; k++) {
        double mid = 0.5 * (lo + hi);
        if (ridge_solution(e, exp(mid)) <= delta2)
            lo = mid;
        else
            hi = mid;
    }
    ridge_solution(e, exp(lo));
    memcpy(f->f[m], e->a, (size_t)f->dims[m] * e->R * sizeof *e->a);
}

int qt_cp_epc(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_epc_opts *o,
              qt_cp_trace *trace, qt_error *err)
{
    cp_work w;
    if (cp_work_init(&w, t, f->rank, err) != QT_OK)
        return QT_ERR;
    const int R = f->rank;
    int rows = 0;
    for (int m = 0; m < 3; m++)
        rows = f->dims[m] > rows ? f->dims[m] : rows;
    epc_mode e = {malloc((size_t)R * R * sizeof(double)), malloc((size_t)rows * R * sizeof(double)),
                  malloc((size_t)R * R * sizeof(double)), malloc((size_t)rows * R * sizeof(double)),
                  0, R, w.x_norm2};
    int rc = e.g && e.rhs && e.l && e.a ? QT_OK : qt_errorf(err, "out of memory for EPC of rank %d", R);
    /* the error to keep: the starting fit's, a hair above so rounding does not bind */
    double e0 = cp_rel_error(&w, f);
    double delta2 = e0 * e0 * w.x_norm2 * (1.0 + 1e-9);
    double prev = intensity(f);
    for (int s = 0; rc == QT_OK && s < o->max_sweeps; s++) {
        for (int m = 0; m < f->nmodes; m++)
            update_mode(&w, f, m, delta2, &e);
        double cur = intensity(f);
        cp_trace_push(trace, sqrt(cur));
        if (fabs(prev - cur) <= o->tol * prev)
            break;
        prev = cur;
    }
    if (rc == QT_OK)
        qt_cp_factors_balance(f);
    free((void *)e.g);
    free((void *)e.rhs);
    free(e.l);
    free(e.a);
    cp_work_free(&w);
    return rc;
}

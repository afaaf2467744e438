/* Float CP decomposition by alternating least squares: each factor in turn solves
 * H G = F with G the Hadamard product of the other factors' Gram matrices and F the MTTKRP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cp_internal.h"

/* A relative ridge keeps G positive definite when a rank exceeds a mode's size (C has
 * k*k rows, often fewer than R); far below anything that changes the fit. */
#define ALS_RIDGE 1e-10

static int max_dim(const qt_cp_factors *f)
{
    int d = f->dims[0];
    for (int m = 1; m < 3; m++)
        d = f->dims[m] > d ? f->dims[m] : d;
    return d;
}

static int update_mode(cp_work *w, qt_cp_factors *f, int m, double *g, double *rhs, qt_error *err)
{
    const int R = f->rank;
    cp_gram_others(w, f, m, g);
    double tr = 0.0;
    for (int r = 0; r < R; r++)
        tr += g[(size_t)r * R + r];
    if (!(tr > 0.0) || !isfinite(tr))
        return qt_errorf(err, "CP-ALS: the factors other than mode %d vanished", m);
    for (int r = 0; r < R; r++)
        g[(size_t)r * R + r] += ALS_RIDGE * tr / R;
    cp_mttkrp(w, f, m, rhs);
    if (cp_cholesky(g, R) != QT_OK)
        return qt_errorf(err, "CP-ALS: mode-%d normal equations are not positive definite", m);
    cp_solve_right(g, R, rhs, f->dims[m]);
    memcpy(f->f[m], rhs, (size_t)f->dims[m] * R * sizeof *rhs);
    return QT_OK;
}

int qt_cp_als(const qt_cp_tensor *t, qt_cp_factors *f, const qt_cp_als_opts *o,
              qt_cp_trace *trace, qt_error *err)
{
    cp_work w;
    if (cp_work_init(&w, t, f->rank, err) != QT_OK)
        return QT_ERR;
    const int R = f->rank;
    double *g = malloc((size_t)R * R * sizeof *g), *rhs = malloc((size_t)max_dim(f) * R * sizeof *rhs);
    int rc = g && rhs ? QT_OK : qt_errorf(err, "out of memory for CP-ALS of rank %d", R);
    double prev = cp_rel_error(&w, f);
    for (int s = 0; rc == QT_OK && s < o->max_sweeps; s++) {
        for (int m = 0; rc == QT_OK && m < f->nmodes; m++)
            rc = update_mode(&w, f, m, g, rhs, err);
        if (rc != QT_OK)
            break;
        qt_cp_factors_balance(f);
        double e = cp_rel_error(&w, f);
        cp_trace_push(trace, e);
        if (fabs(prev - e) < o->tol)
            break;
        prev = e;
    }
    free(g);
    free(rhs);
    cp_work_free(&w);
    return rc;
}

/* The CP model: rank from a reduction rate, factor storage, and the kernels both solvers use
 * (Gram matrices, MTTKRP, reconstruction error). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cp_internal.h"
#include "qtrain/rng.h"

static size_t numel(const qt_cp_tensor *t) { return (size_t)t->dims[0] * t->dims[1] * t->dims[2]; }

int qt_cp_rank(const qt_cp_tensor *t, double rate)
{
    if (!(rate > 0.0))
        return 0;
    double sum = (double)t->dims[0] + t->dims[1] + (t->nmodes == 3 ? t->dims[2] : 0);
    double r = floor((double)numel(t) / (sum * rate) + 1e-9);
    return r < 1.0 ? 1 : (int)r;
}

int qt_cp_factors_alloc(qt_cp_factors *f, const qt_cp_tensor *t, int rank, qt_error *err)
{
    memset(f, 0, sizeof *f);
    if (rank < 1 || (t->nmodes != 2 && t->nmodes != 3) || (t->nmodes == 2 && t->dims[2] != 1))
        return qt_errorf(err, "CP of rank %d over %d modes: invalid", rank, t->nmodes);
    f->nmodes = t->nmodes;
    f->rank = rank;
    for (int m = 0; m < 3; m++) {
        f->dims[m] = t->dims[m];
        if (!(f->f[m] = calloc((size_t)t->dims[m] * rank, sizeof(double)))) {
            qt_cp_factors_free(f);
            return qt_errorf(err, "out of memory for rank-%d factors", rank);
        }
    }
    if (t->nmodes == 2)
        for (int r = 0; r < rank; r++)
            f->f[2][r] = 1.0;
    return QT_OK;
}

void qt_cp_factors_free(qt_cp_factors *f)
{
    for (int m = 0; m < 3; m++)
        free(f->f[m]);
    memset(f, 0, sizeof *f);
}

void qt_cp_factors_random(qt_cp_factors *f, uint64_t seed)
{
    for (int m = 0; m < f->nmodes; m++) {
        qt_rng r;
        qt_rng_derive(&r, seed, 0xc9, (uint64_t)m);
        for (size_t i = 0; i < (size_t)f->dims[m] * f->rank; i++)
            f->f[m][i] = qt_rng_normal(&r);
    }
}

static double column_norm(const qt_cp_factors *f, int m, int r)
{
    double s = 0.0;
    for (int i = 0; i < f->dims[m]; i++)
        s += f->f[m][(size_t)i * f->rank + r] * f->f[m][(size_t)i * f->rank + r];
    return sqrt(s);
}

void qt_cp_factors_balance(qt_cp_factors *f)
{
    for (int r = 0; r < f->rank; r++) {
        double n[3], logsum = 0.0;
        int zero = 0;
        for (int m = 0; m < f->nmodes; m++) {
            n[m] = column_norm(f, m, r);
            zero |= !(n[m] > 0.0);
            logsum += log(n[m] > 0.0 ? n[m] : 1.0);
        }
        if (zero)
            continue;
        double g = exp(logsum / f->nmodes);
        for (int m = 0; m < f->nmodes; m++)
            for (int i = 0; i < f->dims[m]; i++)
                f->f[m][(size_t)i * f->rank + r] *= g / n[m];
    }
}

/* ---- kernels ---- */

int cp_work_init(cp_work *w, const qt_cp_tensor *t, int rank, qt_error *err)
{
    memset(w, 0, sizeof *w);
    const size_t ni = (size_t)t->dims[0], nj = (size_t)t->dims[1], nk = (size_t)t->dims[2];
    const size_t kr = (nj * nk > ni * nj ? nj * nk : ni * nj) * rank;
    const size_t tmp = ni * nj * (rank > (int)nk ? (size_t)rank : nk);
    w->t = t;
    w->rank = rank;
    w->x = malloc(numel(t) * sizeof *w->x);
    w->kr = malloc(kr * sizeof *w->kr);
    w->tmp = malloc(tmp * sizeof *w->tmp);
    w->g = malloc((size_t)rank * rank * sizeof *w->g);
    if (!w->x || !w->kr || !w->tmp || !w->g) {
        cp_work_free(w);
        return qt_errorf(err, "out of memory for a rank-%d CP of a %zux%zux%zu tensor", rank, ni, nj, nk);
    }
    w->x_norm2 = 0.0;
    for (size_t i = 0; i < numel(t); i++) {
        w->x[i] = t->x[i];
        w->x_norm2 += w->x[i] * w->x[i];
    }
    return QT_OK;
}

void cp_work_free(cp_work *w)
{
    free(w->x);
    free(w->kr);
    free(w->tmp);
    free(w->g);
    memset(w, 0, sizeof *w);
}

void cp_gram_others(cp_work *w, const qt_cp_factors *f, int mode, double *g)
{
    const int R = f->rank;
    for (size_t i = 0; i < (size_t)R * R; i++)
        g[i] = 1.0;
    for (int m = 0; m < f->nmodes; m++) {
        if (m == mode)
            continue;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, R, f->dims[m], 1.0, f->f[m], R,
                    f->f[m], R, 0.0, w->g, R);
        for (size_t i = 0; i < (size_t)R * R; i++)
            g[i] *= w->g[i];
    }
}

/* kr[(p*nq + q)*R + r] = P[p, r] Q[q, r] */
static void khatri_rao(const double *p, int np, const double *q, int nq, int R, double *kr)
{
    for (int a = 0; a < np; a++)
        for (int b = 0; b < nq; b++) {
            double *row = kr + ((size_t)a * nq + b) * R;
            const double *pa = p + (size_t)a * R, *qb = q + (size_t)b * R;
            for (int r = 0; r < R; r++)
                row[r] = pa[r] * qb[r];
        }
}

void cp_mttkrp(cp_work *w, const qt_cp_factors *f, int mode, double *out)
{
    const int ni = f->dims[0], nj = f->dims[1], nk = f->dims[2], R = f->rank;
    if (mode == 0) {          /* X (I x JK) KR(B, C) */
        khatri_rao(f->f[1], nj, f->f[2], nk, R, w->kr);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, R, nj * nk, 1.0, w->x, nj * nk,
                    w->kr, R, 0.0, out, R);
    } else if (mode == 2) {   /* X^T (K x IJ) KR(A, B) */
        khatri_rao(f->f[0], ni, f->f[1], nj, R, w->kr);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, R, ni * nj, 1.0, w->x, nk, w->kr, R,
                    0.0, out, R);
    } else {                  /* T = X (IJ x K) C, then out[j, r] = sum_i T[(i, j), r] A[i, r] */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni * nj, R, nk, 1.0, w->x, nk, f->f[2],
                    R, 0.0, w->tmp, R);
        memset(out, 0, (size_t)nj * R * sizeof *out);
        for (int i = 0; i < ni; i++)
            for (int j = 0; j < nj; j++) {
                const double *t = w->tmp + ((size_t)i * nj + j) * R, *a = f->f[0] + (size_t)i * R;
                double *o = out + (size_t)j * R;
                for (int r = 0; r < R; r++)
                    o[r] += t[r] * a[r];
            }
    }
}

double cp_rel_error(cp_work *w, const qt_cp_factors *f)
{
    const int ni = f->dims[0], nj = f->dims[1], nk = f->dims[2], R = f->rank;
    khatri_rao(f->f[1], nj, f->f[2], nk, R, w->kr);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, nj * nk, R, 1.0, f->f[0], R, w->kr, R,
                0.0, w->tmp, nj * nk);
    double e = 0.0;
    for (size_t i = 0; i < (size_t)ni * nj * nk; i++)
        e += (w->x[i] - w->tmp[i]) * (w->x[i] - w->tmp[i]);
    return w->x_norm2 > 0.0 ? sqrt(e / w->x_norm2) : sqrt(e);
}

double qt_cp_rel_error(const qt_cp_tensor *t, const qt_cp_factors *f)
{
    cp_work w;
    qt_error err;
    if (cp_work_init(&w, t, f->rank, &err) != QT_OK)
        return NAN;
    double e = cp_rel_error(&w, f);
    cp_work_free(&w);
    return e;
}

void cp_trace_push(qt_cp_trace *tr, double e)
{
    if (!tr)
        return;
    if (tr->errors && tr->n < tr->cap)
        tr->errors[tr->n] = e;
    tr->n++;
}

/* ---- R x R positive definite systems ---- */

int cp_cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double *aj = a + (size_t)j * n;
        double s = aj[j];
        for (int k = 0; k < j; k++)
            s -= aj[k] * aj[k];
        if (!(s > 0.0))
            return QT_ERR;
        aj[j] = sqrt(s);
        for (int i = j + 1; i < n; i++) {
            double *ai = a + (size_t)i * n, v = ai[j];
            for (int k = 0; k < j; k++)
                v -= ai[k] * aj[k];
            ai[j] = v / aj[j];
        }
    }
    return QT_OK;
}

void cp_solve_right(const double *l, int n, double *b, int rows)
{
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, n, 1.0, l,
                n, b, n);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, rows, n, 1.0,
                l, n, b, n);
}

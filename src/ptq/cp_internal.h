/* Shared kernels of the CP solvers (cp_als.c, cp_admm.c): the tensor in double, Gram
 * matrices, MTTKRP, reconstruction error, and the R x R symmetric positive definite solves. */
#ifndef QTRAIN_CP_INTERNAL_H
#define QTRAIN_CP_INTERNAL_H

#include "qtrain/cp.h"

typedef struct cp_work {
    const qt_cp_tensor *t;
    int rank;
    double *x;                /* X in double, I x J x K */
    double x_norm2;
    double *kr;               /* Khatri-Rao scratch, max(J*K, I*J) x R */
    double *tmp;              /* max(I*J*R, I*J*K): mode-1 MTTKRP, reconstruction */
    double *g;                /* R x R scratch */
} cp_work;

int cp_work_init(cp_work *w, const qt_cp_tensor *t, int rank, qt_error *err);
void cp_work_free(cp_work *w);

/* g (R x R) = Hadamard product of F_n^T F_n over the modes n != mode. */
void cp_gram_others(cp_work *w, const qt_cp_factors *f, int mode, double *g);
/* out (dims[mode] x R) = X_(mode) (Khatri-Rao product of the other factors). */
void cp_mttkrp(cp_work *w, const qt_cp_factors *f, int mode, double *out);
/* ||X - [[A, B, C]]|| / ||X||. */
double cp_rel_error(cp_work *w, const qt_cp_factors *f);

/* Appends a sweep's error to the trace (when there is one). */
void cp_trace_push(qt_cp_trace *tr, double e);

/* Lower Cholesky factor of a (n x n, row-major) in place; QT_ERR when not positive definite. */
int cp_cholesky(double *a, int n);
/* b (rows x n) := b (L L^T)^-1 for the Cholesky factor l. */
void cp_solve_right(const double *l, int n, double *b, int rows);

#endif

/* Activation-weighted k-means (see pq_em.h). Everything runs in double: the split
 * perturbation eps = 1e-8 would vanish in float next to weights of order 0.1. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/pq_em.h"

enum { SCORE_BUDGET = 1 << 20 };  /* doubles of the E-step's score block */

qt_pq_em_opts qt_pq_em_defaults(void)
{
    qt_pq_em_opts o = {100, 4096, 4096, 1, 1e-8, NULL, 1};
    return o;
}

typedef struct em {
    size_t n;                 /* subvectors */
    int d, k;
    double *w;                /* n x d */
    double *c;                /* k x d */
    double *g;                /* d x d: the metric of this iteration */
    double *h;                /* k x d: c G */
    double *cgc;              /* k: c^T G c */
    double *score;            /* rows x k block */
    double *proj;             /* d x d: G^+ G */
    double *sum;              /* k x d */
    int32_t *assign;
    size_t *count;
    qt_rng rng;
} em;

static double quad(const double *g, const double *v, int d)
{
    double q = 0.0;
    for (int t = 0; t < d; t++) {
        double r = 0.0;
        for (int u = 0; u < d; u++)
            r += g[t * d + u] * v[u];
        q += v[t] * r;
    }
    return q;
}

static void identity(double *g, int d)
{
    memset(g, 0, (size_t)d * d * sizeof *g);
    for (int t = 0; t < d; t++)
        g[t * d + t] = 1.0;
}

/* E-step: every subvector to its nearest centroid under G; recounts the clusters. */
static void assign_all(em *e)
{
    const int d = e->d, k = e->k;
    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, k, d, 1.0, e->g, d, e->c, d, 0.0, e->h, d);
    for (int c = 0; c < k; c++) {
        double q = 0.0;
        for (int t = 0; t < d; t++)
            q += e->h[(size_t)c * d + t] * e->c[(size_t)c * d + t];
        e->cgc[c] = q;
    }
    memset(e->count, 0, (size_t)k * sizeof *e->count);
    size_t rows = SCORE_BUDGET / (size_t)k;
    rows = rows ? rows : 1;
    for (size_t j0 = 0; j0 < e->n; j0 += rows) {
        size_t r = e->n - j0 < rows ? e->n - j0 : rows;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, k, d, 1.0, e->w + j0 * d, d,
                    e->h, d, 0.0, e->score, k);
        for (size_t j = 0; j < r; j++) {
            const double *sc = e->score + j * k;
            int best = 0;
            double bv = e->cgc[0] - 2.0 * sc[0];
            for (int c = 1; c < k; c++) {
                double v = e->cgc[c] - 2.0 * sc[c];
                if (v < bv)
                    bv = v, best = c;
            }
            e->assign[j0 + j] = best;
            e->count[best]++;
        }
    }
}

static int first_empty(const em *e)
{
    for (int c = 0; c < e->k; c++)
        if (!e->count[c])
            return c;
    return -1;
}

static int most_populated(const em *e)
{
    int m = 0;
    for (int c = 1; c < e->k; c++)
        if (e->count[c] > e->count[m])
            m = c;
    return m;
}

/* The member of cluster m farthest from its centroid becomes cluster `empty`. */
static void take_farthest(em *e, int m, int empty)
{
    const int d = e->d;
    double diff[QT_PQ_MAX_BLOCK], far = -1.0;
    size_t pick = 0;
    for (size_t j = 0; j < e->n; j++) {
        if (e->assign[j] != m)
            continue;
        for (int t = 0; t < d; t++)
            diff[t] = e->w[j * d + t] - e->c[(size_t)m * d + t];
        double q = quad(e->g, diff, d);
        if (q > far)
            far = q, pick = j;
    }
    memcpy(e->c + (size_t)empty * d, e->w + pick * d, (size_t)d * sizeof *e->c);
    e->assign[pick] = empty;
    e->count[m]--;
    e->count[empty]++;
}

/* Splits cluster m into m and the empty cluster c: c_c = c_m + e, c_m = c_m - e, and each
 * member of m goes to the nearer of the two. Subvectors of other clusters stay: they were no
 * nearer to c_m than to their own centroid, so not to c_m +- e either, up to |e|. */
static void split(em *e, int m, int c, double eps)
{
    const int d = e->d;
    double *cm = e->c + (size_t)m * d, *cc = e->c + (size_t)c * d, dm[QT_PQ_MAX_BLOCK], dc[QT_PQ_MAX_BLOCK];
    for (int t = 0; t < d; t++) {
        double p = eps * (double)qt_rng_normal(&e->rng);
        cc[t] = cm[t] + p;
        cm[t] -= p;
    }
    for (size_t j = 0; j < e->n; j++) {
        if (e->assign[j] != m)
            continue;
        for (int t = 0; t < d; t++) {
            dm[t] = e->w[j * d + t] - cm[t];
            dc[t] = e->w[j * d + t] - cc[t];
        }
        if (quad(e->g, dc, d) < quad(e->g, dm, d)) {
            e->assign[j] = c;
            e->count[m]--;
            e->count[c]++;
        }
    }
}

/* Fills every empty cluster by splitting the most populated one (see pq_em.h). A split that
 * leaves its cluster empty (identical members fall on one side) is not retried: the member
 * farthest from the centroid is taken instead, which always succeeds (with n >= k and a
 * cluster empty, the most populated one has two members). Returns the clusters filled. */
static int resolve_empty(em *e, double eps)
{
    int resolved = 0, c;
    while ((c = first_empty(e)) >= 0) {
        int m = most_populated(e);
        split(e, m, c, eps);
        if (!e->count[c])
            take_farthest(e, m, c);
        resolved++;
    }
    return resolved;
}

/* Cyclic Jacobi: a (n x n, symmetric) ends with its eigenvalues on the diagonal, v (columns)
 * holds the eigenvectors. */
static void jacobi_eigen(double *a, int n, double *v)
{
    identity(v, n);
    for (int sweep = 0; sweep < 64; sweep++) {
        double off = 0.0, diag = 0.0;
        for (int p = 0; p < n; p++)
            for (int q = 0; q < n; q++) {
                double sq = a[p * n + q] * a[p * n + q];
                if (p == q)
                    diag += sq;
                else
                    off += sq;
            }
        if (off <= 1e-30 * diag || off == 0.0)
            return;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0.0)
                    continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double cs = 1.0 / sqrt(t * t + 1.0), sn = t * cs;
                for (int r = 0; r < n; r++) {
                    double arp = a[r * n + p], arq = a[r * n + q];
                    a[r * n + p] = cs * arp - sn * arq;
                    a[r * n + q] = sn * arp + cs * arq;
                }
                for (int r = 0; r < n; r++) {
                    double apr = a[p * n + r], aqr = a[q * n + r];
                    a[p * n + r] = cs * apr - sn * aqr;
                    a[q * n + r] = sn * apr + cs * aqr;
                }
                for (int r = 0; r < n; r++) {
                    double vrp = v[r * n + p], vrq = v[r * n + q];
                    v[r * n + p] = cs * vrp - sn * vrq;
                    v[r * n + q] = sn * vrp + cs * vrq;
                }
            }
    }
}

/* proj = G^+ G, the projection onto the eigenvectors of G with eigenvalues above a relative
 * tolerance. Returns 1 when G has full rank (proj is then left unused: the M-step takes the
 * plain mean, exactly). */
static int projector(const double *g, int d, double *proj)
{
    double a[QT_PQ_MAX_BLOCK * QT_PQ_MAX_BLOCK], v[QT_PQ_MAX_BLOCK * QT_PQ_MAX_BLOCK];
    memcpy(a, g, (size_t)d * d * sizeof *a);
    jacobi_eigen(a, d, v);
    double top = 0.0;
    for (int t = 0; t < d; t++)
        top = a[t * d + t] > top ? a[t * d + t] : top;
    double tol = top * 1e-10 * d;
    int full = top > 0.0;
    memset(proj, 0, (size_t)d * d * sizeof *proj);
    for (int t = 0; t < d; t++) {
        if (!(a[t * d + t] > tol)) {
            full = 0;
            continue;
        }
        for (int r = 0; r < d; r++)
            for (int s = 0; s < d; s++)
                proj[r * d + s] += v[r * d + t] * v[s * d + t];
    }
    return full;
}

/* M-step: every centroid becomes the projected mean of its cluster. */
static int m_step(em *e)
{
    const int d = e->d;
    memset(e->sum, 0, (size_t)e->k * d * sizeof *e->sum);
    for (size_t j = 0; j < e->n; j++)
        for (int t = 0; t < d; t++)
            e->sum[(size_t)e->assign[j] * d + t] += e->w[j * d + t];
    int full = projector(e->g, d, e->proj);
    for (int c = 0; c < e->k; c++) {
        double mean[QT_PQ_MAX_BLOCK];
        for (int t = 0; t < d; t++)
            mean[t] = e->sum[(size_t)c * d + t] / (double)e->count[c];
        for (int t = 0; t < d; t++) {
            double v = mean[t];
            if (!full) {
                v = 0.0;
                for (int u = 0; u < d; u++)
                    v += e->proj[t * d + u] * mean[u];
            }
            e->c[(size_t)c * d + t] = v;
        }
    }
    return full;
}

/* The metric of a sample of `sample` patches drawn with replacement (every patch when 0). */
static int sample_gram(em *e, const qt_layer_inputs *x, const qt_pq_shape *s, int sample,
                       int weighted, double *g)
{
    if (!weighted) {
        identity(g, e->d);
        return QT_OK;
    }
    int *cols = NULL;
    if (sample > 0) {
        if (!(cols = malloc((size_t)sample * sizeof *cols)))
            return QT_ERR;
        for (int i = 0; i < sample; i++)
            cols[i] = (int)qt_rng_below(&e->rng, (uint32_t)x->m);
    }
    qt_pq_gram(x->xt, x->m, s->d, s->n_blocks, cols, sample, g);
    free(cols);
    return QT_OK;
}

static void em_free(em *e)
{
    free(e->w);
    free(e->c);
    free(e->g);
    free(e->h);
    free(e->cgc);
    free(e->score);
    free(e->proj);
    free(e->sum);
    free(e->count);
}

static int em_init(em *e, const float *w, const qt_pq_shape *s, const qt_pq_em_opts *o,
                   int32_t *assign)
{
    e->n = qt_pq_subvectors(s);
    e->d = s->d;
    e->k = s->k;
    e->assign = assign;
    size_t rows = SCORE_BUDGET / (size_t)s->k, kd = (size_t)s->k * s->d, dd = (size_t)s->d * s->d;
    rows = rows ? rows : 1;
    rows = rows < e->n ? rows : e->n;
    e->w = malloc(e->n * s->d * sizeof *e->w);
    e->c = malloc(kd * sizeof *e->c);
    e->h = malloc(kd * sizeof *e->h);
    e->sum = malloc(kd * sizeof *e->sum);
    e->g = malloc(dd * sizeof *e->g);
    e->proj = malloc(dd * sizeof *e->proj);
    e->cgc = malloc((size_t)s->k * sizeof *e->cgc);
    e->count = malloc((size_t)s->k * sizeof *e->count);
    e->score = malloc(rows * s->k * sizeof *e->score);
    if (!e->w || !e->c || !e->h || !e->sum || !e->g || !e->proj || !e->cgc || !e->count || !e->score)
        return QT_ERR;
    for (size_t i = 0; i < e->n * s->d; i++)
        e->w[i] = w[i];
    qt_rng_seed(&e->rng, o->seed);
    for (int c = 0; c < e->k; c++) {
        const float *src = o->init ? o->init + (size_t)c * s->d
                                   : w + (size_t)qt_rng_below(&e->rng, (uint32_t)e->n) * s->d;
        for (int t = 0; t < s->d; t++)
            e->c[(size_t)c * s->d + t] = src[t];
    }
    return QT_OK;
}

static int check_args(const qt_pq_shape *s, const qt_layer_inputs *x, const qt_pq_em_opts *o,
                      qt_error *err)
{
    if (s->d < 1 || s->d > QT_PQ_MAX_BLOCK || s->k < 1 || s->n_blocks < 1 || s->rows < 1 ||
        s->fan_in != s->n_blocks * s->d)
        return qt_errorf(err, "pq: %d outputs of %d inputs in %d blocks of %d, %d centroids: "
                         "not a valid layout", s->rows, s->fan_in, s->n_blocks, s->d, s->k);
    if (qt_pq_subvectors(s) < (size_t)s->k || qt_pq_subvectors(s) > UINT32_MAX)
        return qt_errorf(err, "pq: %zu subvectors for %d centroids", qt_pq_subvectors(s), s->k);
    if (o->weighted && (!x || x->n_features != s->fan_in || x->m < 1))
        return qt_errorf(err, "pq: the activations have %d features and %d samples, the layer "
                         "takes %d inputs", x ? x->n_features : 0, x ? x->m : 0, s->fan_in);
    if (o->iters < 1)
        return qt_errorf(err, "pq: %d EM iterations", o->iters);
    return QT_OK;
}

int qt_pq_em(const float *w, const qt_pq_shape *s, const qt_layer_inputs *x,
             const qt_pq_em_opts *o, float *centroids, int32_t *assign, qt_pq_em_stats *st,
             qt_error *err)
{
    if (check_args(s, x, o, err) != QT_OK)
        return QT_ERR;
    em e;
    memset(&e, 0, sizeof e);
    double *geval = malloc((size_t)s->d * s->d * sizeof *geval);
    int rc = geval && em_init(&e, w, s, o, assign) == QT_OK &&
             sample_gram(&e, x, s, o->eval_sample, o->weighted, geval) == QT_OK
                 ? QT_OK : qt_errorf(err, "out of memory for the EM of %zu subvectors",
                                     qt_pq_subvectors(s));
    st->splits = st->rank_deficient = 0;
    for (int it = 0; rc == QT_OK && it < o->iters; it++) {
        if (it == 0 || o->sample > 0) {
            if (sample_gram(&e, x, s, o->sample, o->weighted, e.g) != QT_OK) {
                rc = qt_errorf(err, "out of memory");
                break;
            }
        }
        assign_all(&e);
        st->splits += resolve_empty(&e, o->eps);
        st->rank_deficient += !m_step(&e);
        for (size_t i = 0; i < (size_t)s->k * s->d; i++)
            centroids[i] = (float)e.c[i];
        double obj = qt_pq_objective(w, s, centroids, assign, o->weighted ? geval : NULL);
        if (st->objective)
            st->objective[it] = obj;
        st->first = it == 0 ? obj : st->first;
        st->last = obj;
    }
    em_free(&e);
    free(geval);
    return rc;
}

double qt_pq_objective(const float *w, const qt_pq_shape *s, const float *centroids,
                       const int32_t *assign, const double *g)
{
    double total = 0.0, diff[QT_PQ_MAX_BLOCK];
    size_t n = qt_pq_subvectors(s);
    for (size_t j = 0; j < n; j++) {
        for (int t = 0; t < s->d; t++)
            diff[t] = (double)w[j * s->d + t] - centroids[(size_t)assign[j] * s->d + t];
        if (!g) {
            for (int t = 0; t < s->d; t++)
                total += diff[t] * diff[t];
        } else {
            total += quad(g, diff, s->d);
        }
    }
    return total;
}

/* The MSE-fitted symmetric grid (see mse_grid.h). */
#include "qtrain/mse_grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* s rounded to 16 significant bits (levels are at most 2^8 steps from 0, so every level
 * needs at most 24 bits: exact in float). */
static float round_step(double s)
{
    int e;
    double m = frexp(s, &e);
    return (float)ldexp(nearbyint(ldexp(m, 16)), e - 16);
}

static qt_alphabet grid_for_clip(double t, int bits)
{
    const int half = 1 << (bits - 1);
    float s = round_step(2.0 * t / (double)(2 * half - 1));
    return (qt_alphabet){-(float)half * s, s, 2 * half};
}

/* Level index of x on grid a (0 .. levels-1): round(x / step), clamped. */
static int level_of(const qt_alphabet *a, double inv_step, double x)
{
    const int half = a->levels / 2;
    double k = nearbyint(x * inv_step);
    k = k < -half ? -half : (k > half - 1 ? half - 1 : k);
    return (int)k + half;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* First index of sorted v[0..n) with v[i] >= x. */
static size_t lower_bound(const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ||x - Q(x)||^2 on grid a from the sorted values and their prefix sums s1 (of x) and s2
 * (of x^2): level k collects the values in [(k - 1/2) s, (k + 1/2) s), the end levels
 * everything beyond, and contributes sum x^2 - 2 k s sum x + (k s)^2 count. */
static double squared_error(const double *sorted, const double *s1, const double *s2, size_t n,
                            const qt_alphabet *a)
{
    const int half = a->levels / 2;
    const double s = a->step;
    double e = 0.0;
    size_t lo = 0;
    for (int k = -half; k < half; k++) {
        size_t hi = k == half - 1 ? n : lower_bound(sorted, n, ((double)k + 0.5) * s);
        if (hi > lo) {
            double v = (double)k * s;
            e += (s2[hi] - s2[lo]) - 2.0 * v * (s1[hi] - s1[lo]) + v * v * (double)(hi - lo);
        }
        lo = hi;
    }
    return e;
}

int qt_mse_grid_fit(const double *x, size_t n, int bits, qt_alphabet *a, qt_error *err)
{
    if (bits < 2 || bits > 8)
        return qt_errorf(err, "grid of %d bits: supported are 2 to 8", bits);
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return qt_errorf(err, "cannot fit a grid to a non-finite value");
        mx = fmax(mx, fabs(x[i]));
    }
    if (!(mx > 0.0) || !(round_step(mx) > 0.0f)) {
        *a = grid_for_clip((double)((1 << bits) - 1) / 2.0, bits);  /* step 1 */
        return QT_OK;
    }
    double *sorted = malloc(n * sizeof *sorted), *s1 = malloc((n + 1) * sizeof *s1),
           *s2 = malloc((n + 1) * sizeof *s2);
    if (!sorted || !s1 || !s2) {
        free(sorted);
        free(s1);
        free(s2);
        return qt_errorf(err, "out of memory fitting a grid to %zu values", n);
    }
    memcpy(sorted, x, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    s1[0] = s2[0] = 0.0;
    for (size_t i = 0; i < n; i++) {
        s1[i + 1] = s1[i] + sorted[i];
        s2[i + 1] = s2[i] + sorted[i] * sorted[i];
    }
    double best = INFINITY;
    for (int c = 0; c < QT_MSE_GRID_CANDIDATES; c++) {
        double t = mx * (0.2 + (double)c / (QT_MSE_GRID_CANDIDATES - 1));
        qt_alphabet g = grid_for_clip(t, bits);
        double e = squared_error(sorted, s1, s2, n, &g);
        if (e < best) {
            best = e;
            *a = g;
        }
    }
    free(sorted);
    free(s1);
    free(s2);
    return QT_OK;
}

int qt_mse_grid_project(const double *x, size_t n, int bits, qt_alphabet *a, double *q,
                        uint8_t *idx, qt_error *err)
{
    if (qt_mse_grid_fit(x, n, bits, a, err) != QT_OK)
        return QT_ERR;
    const double inv = 1.0 / a->step;
    for (size_t i = 0; i < n; i++) {
        int k = level_of(a, inv, x[i]);
        q[i] = qt_alphabet_value(a, k);
        if (idx)
            idx[i] = (uint8_t)k;
    }
    return QT_OK;
}

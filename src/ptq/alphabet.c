#include "qtrain/alphabet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int qt_alphabet_levels(qt_alphabet_kind kind, double bits)
{
    if (kind == QT_ALPHABET_ZERO)
        return 2 * (int)lround(pow(2.0, bits - 1.0)) + 1;
    return (int)lround(pow(2.0, bits));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int median_abs(const float *w, size_t n, float *out)
{
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return QT_ERR;
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabsf(w[i]);
    qsort(tmp, n, sizeof *tmp, cmp_float);
    *out = n % 2 ? tmp[n / 2] : 0.5f * (tmp[n / 2 - 1] + tmp[n / 2]);
    free(tmp);
    return QT_OK;
}

static float mean_row_max_abs(const float *w, size_t rows, size_t row_len)
{
    double s = 0.0;
    for (size_t r = 0; r < rows; r++) {
        float m = 0.0f;
        for (size_t k = 0; k < row_len; k++)
            m = fmaxf(m, fabsf(w[r * row_len + k]));
        s += m;
    }
    return (float)(s / (double)rows);
}

int qt_alphabet_for_layer(qt_alphabet *a, qt_alphabet_kind kind, double bits, double c_alpha,
                          const float *w, size_t rows, size_t row_len, qt_error *err)
{
    int levels = qt_alphabet_levels(kind, bits);
    if (!(bits > 0.0) || bits > 16.0 || levels < 2)
        return qt_errorf(err, "bits must give at least 2 levels (got %g)", bits);
    if (!(c_alpha > 0.0))
        return qt_errorf(err, "C_alpha must be positive (got %g)", c_alpha);
    if (rows == 0 || row_len == 0)
        return qt_errorf(err, "empty weight matrix");
    if (kind == QT_ALPHABET_ZERO) {
        int k = (levels - 1) / 2;
        float delta = (float)(c_alpha / k) * mean_row_max_abs(w, rows, row_len);
        *a = (qt_alphabet){-(float)k * delta, delta, levels};
    } else {
        float med;
        if (median_abs(w, rows * row_len, &med) != QT_OK)
            return qt_errorf(err, "out of memory");
        float radius = (float)c_alpha * med;
        *a = (qt_alphabet){-radius, 2.0f * radius / (float)(levels - 1), levels};
    }
    if (!(a->step > 0.0f))
        return qt_errorf(err, "all weights are zero: the alphabet has no scale");
    return QT_OK;
}

static float position(const qt_alphabet *a, float x)
{
    float p = (x - a->lo) / a->step, top = (float)(a->levels - 1);
    return p < 0.0f ? 0.0f : (p > top ? top : p);
}

int qt_alphabet_nearest(const qt_alphabet *a, float x) { return (int)floorf(position(a, x) + 0.5f); }

int qt_alphabet_stochastic(const qt_alphabet *a, float x, qt_rng *r)
{
    float p = position(a, x), lo = floorf(p);
    return (int)lo + (qt_rng_uniform(r) < p - lo);
}

double qt_alphabet_bits(const qt_alphabet *a) { return log2((double)a->levels); }

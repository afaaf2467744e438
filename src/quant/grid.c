#include "qtrain/grid.h"

#include <math.h>

int qt_grid_make(qt_grid *g, qt_grid_kind kind, int bits, float scale, qt_error *err)
{
    if (!(scale > 0.0f) || !isfinite(scale))
        return qt_errorf(err, "grid scale must be a positive number, got %g", (double)scale);
    g->kind = kind;
    g->bits = bits;
    switch (kind) {
    case QT_GRID_BINARY:
        *g = (qt_grid){kind, 1, scale, -1, 2, 2};
        return QT_OK;
    case QT_GRID_TERNARY:
        *g = (qt_grid){kind, 2, scale, -1, 1, 3};
        return QT_OK;
    case QT_GRID_UNIFORM: {
        int lo, hi;
        qt_grid_bits_range(kind, &lo, &hi);
        if (bits < lo || bits > hi)
            return qt_errorf(err, "uniform grid needs %d..%d bits, got %d", lo, hi, bits);
        int top = (1 << (bits - 1)) - 1;
        *g = (qt_grid){kind, bits, scale / (float)top, -top, 1, 2 * top + 1};
        return QT_OK;
    }
    case QT_GRID_UNBOUNDED:
        *g = (qt_grid){kind, 8, scale, -127, 1, 255};
        return QT_OK;
    case QT_GRID_KINDS:
        break;
    }
    return qt_errorf(err, "unknown grid kind %d", (int)kind);
}

/* Over a copy of the grid, which the int8 stores cannot alias, so that the loop vectorises
 * (BC rounds its float buffer every step). */
void qt_round_det_vec(const qt_grid *grid, const float *restrict w, int8_t *restrict codes,
                      size_t n)
{
    const qt_grid copy = *grid, *g = &copy;
    for (size_t i = 0; i < n; i++)
        codes[i] = qt_round_det(g, w[i]);
}

void qt_round_stoch_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n, qt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        codes[i] = qt_round_stoch(g, w[i], r);
}

void qt_grid_decode(const qt_grid *g, const int8_t *codes, float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)codes[i] * g->unit;
}

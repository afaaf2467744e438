#include "qtrain/grid.h"

#include <math.h>

#include "qtrain/name_table.h"

typedef struct grid_row {
    const char *name;
    int min_bits, max_bits;   /* qt_grid_bits_range */
} grid_row;

static const grid_row rows[] = {
    [QT_GRID_BINARY] = {"binary", 1, 1},
    [QT_GRID_TERNARY] = {"ternary", 1, 8},
    [QT_GRID_UNIFORM] = {"uniform", 2, 8},
    [QT_GRID_UNBOUNDED] = {"unbounded", 1, 8},
};

enum { N_KINDS = sizeof rows / sizeof rows[0] };
_Static_assert((int)N_KINDS == (int)QT_GRID_KINDS, "every qt_grid_kind needs a row");

const char *qt_grid_kind_name(qt_grid_kind kind)
{
    return (unsigned)kind < N_KINDS ? rows[kind].name : "?";
}

qt_grid_kind qt_grid_kind_find(const char *name)
{
    return (qt_grid_kind)qt_name_find(rows, sizeof rows[0], N_KINDS, name);
}

size_t qt_grid_kind_names(char *out, size_t size)
{
    return qt_name_join(rows, sizeof rows[0], N_KINDS, out, size);
}

void qt_grid_bits_range(qt_grid_kind kind, int *lo, int *hi)
{
    *lo = rows[kind].min_bits;
    *hi = rows[kind].max_bits;
}

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
        if (bits < rows[kind].min_bits || bits > rows[kind].max_bits)
            return qt_errorf(err, "uniform grid needs %d..%d bits, got %d", rows[kind].min_bits,
                             rows[kind].max_bits, bits);
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

void qt_round_det_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n)
{
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

#include "qtrain/grid_kind.h"

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

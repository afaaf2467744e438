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

QT_NAME_TABLE_LOOKUPS(qt_grid_kind, QT_GRID_KINDS, rows, qt_grid_kind_name, qt_grid_kind_find,
                      qt_grid_kind_names)

void qt_grid_bits_range(qt_grid_kind kind, int *lo, int *hi)
{
    *lo = rows[kind].min_bits;
    *hi = rows[kind].max_bits;
}

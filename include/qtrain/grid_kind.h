/* The kinds of quantization grid, one table (src/nn/grid_kind.c): each row names a kind and
 * the bit counts it takes. A net file names a layer's grid kind (nn) and the config the run's
 * (quant.grid); the grids themselves, their levels and rounding, are quant's (grid.h). */
#ifndef QTRAIN_GRID_KIND_H
#define QTRAIN_GRID_KIND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* QT_GRID_KINDS counts the kinds. */
typedef enum {
    QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM, QT_GRID_UNBOUNDED, QT_GRID_KINDS
} qt_grid_kind;

/* The kind's name ("binary", ...; "?" for a value that names no kind), the kind named name
 * (QT_GRID_KINDS for none), and every name joined by '|' (snprintf semantics). */
const char *qt_grid_kind_name(qt_grid_kind kind);
qt_grid_kind qt_grid_kind_find(const char *name);
size_t qt_grid_kind_names(char *out, size_t size);
/* The bit counts a config may give the kind, [*lo, *hi]: binary 1, uniform 2 to 8; ternary
 * and unbounded, which have a fixed number of levels, ignore bits and take 1 to 8. */
void qt_grid_bits_range(qt_grid_kind kind, int *lo, int *hi);

#ifdef __cplusplus
}
#endif

#endif

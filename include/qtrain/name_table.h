/* Tables of named rows (training rules, grids, schedules, losses): each row is a struct whose
 * first member is its name, `const char *name`. Looking a name up, and the names joined for
 * messages and documentation, read the table itself, so the names are written once. */
#ifndef QTRAIN_NAME_TABLE_H
#define QTRAIN_NAME_TABLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The index of the row named name among the n rows at rows, stride bytes apart; n if none
 * (a table's count value, such as QT_GRID_KINDS, then means "no such name"). */
int qt_name_find(const void *rows, size_t stride, int n, const char *name);
/* The rows' names joined by '|' in table order, "a|b|c" (snprintf semantics). */
size_t qt_name_join(const void *rows, size_t stride, int n, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif

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

/* Defines a table's three lookups over its rows[], indexed by the enum type whose last value
 * count counts the rows (checked when compiling):
 *   const char *name_fn(type v)               the row's name, "?" for a value past the rows
 *   type find_fn(const char *name)            the value named name, count for none
 *   size_t names_fn(char *out, size_t size)   every name joined by '|' (qt_name_join) */
#define QT_NAME_TABLE_LOOKUPS(type, count, rows, name_fn, find_fn, names_fn) \
    _Static_assert(sizeof(rows) / sizeof((rows)[0]) == (size_t)(count), \
                   #rows " needs a row for every " #type); \
    const char *name_fn(type v) \
    { \
        return (unsigned)v < (unsigned)(count) ? (rows)[v].name : "?"; \
    } \
    type find_fn(const char *name) \
    { \
        return (type)qt_name_find(rows, sizeof((rows)[0]), (int)(count), name); \
    } \
    size_t names_fn(char *out, size_t size) \
    { \
        return qt_name_join(rows, sizeof((rows)[0]), (int)(count), out, size); \
    }

#ifdef __cplusplus
}
#endif

#endif

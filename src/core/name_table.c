#include "qtrain/name_table.h"

#include <string.h>

static const char *row_name(const void *rows, size_t stride, int i)
{
    return *(const char *const *)((const char *)rows + (size_t)i * stride);
}

int qt_name_find(const void *rows, size_t stride, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(row_name(rows, stride, i), name) == 0)
            return i;
    return n;
}

/* Appends c when it fits with the NUL; *len counts every byte. */
static void put(char *out, size_t size, size_t *len, char c)
{
    if (*len + 1 < size)
        out[*len] = c;
    (*len)++;
}

size_t qt_name_join(const void *rows, size_t stride, int n, char *out, size_t size)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            put(out, size, &len, '|');
        for (const char *s = row_name(rows, stride, i); *s; s++)
            put(out, size, &len, *s);
    }
    if (size > 0)
        out[len < size ? len : size - 1] = '\0';
    return len;
}

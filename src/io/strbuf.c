#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qt_sb_init(qt_strbuf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void qt_sb_free(qt_strbuf *b)
{
    free(b->data);
    qt_sb_init(b);
}

/* Makes room for n more bytes plus the terminating NUL. */
static int reserve(qt_strbuf *b, size_t n)
{
    if (b->failed)
        return 0;
    if (n > (size_t)-1 / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    if (b->len + n + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void qt_sb_append(qt_strbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void qt_sb_puts(qt_strbuf *b, const char *s)
{
    qt_sb_append(b, s, strlen(s));
}

void qt_sb_putc(qt_strbuf *b, char c)
{
    qt_sb_append(b, &c, 1);
}

void qt_sb_printf(qt_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *qt_sb_take(qt_strbuf *b)
{
    if (!b->failed && !b->data)
        reserve(b, 0);
    if (b->failed) {
        qt_sb_free(b);
        return NULL;
    }
    if (b->len == 0)
        b->data[0] = '\0';
    char *s = b->data;
    qt_sb_init(b);
    return s;
}

/* A growing NUL-terminated string for building text output (INI, JSON, docs).
 * Allocation failure is sticky: later appends do nothing and qt_sb_take returns NULL,
 * so builders check once at the end instead of after every append. */
#ifndef QTRAIN_IO_STRBUF_H
#define QTRAIN_IO_STRBUF_H

#include <stddef.h>

typedef struct qt_strbuf {
    char *data;
    size_t len, cap;
    int failed;
} qt_strbuf;

void qt_sb_init(qt_strbuf *b);
void qt_sb_free(qt_strbuf *b);
void qt_sb_append(qt_strbuf *b, const char *s, size_t n);
void qt_sb_puts(qt_strbuf *b, const char *s);
void qt_sb_putc(qt_strbuf *b, char c);
void qt_sb_printf(qt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (free() it); NULL if any allocation failed. */
char *qt_sb_take(qt_strbuf *b);

#endif

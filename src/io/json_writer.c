/* Writing JSON text. Misuse is recorded once and reported by qt_json_writer_finish. */
#include "qtrain/json.h"

#include "number_text.h"
#include "qtrain/file_io.h"
#include "strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

typedef struct level {
    char kind;          /* '{' or '[' */
    int count;          /* values written at this level */
    bool have_key;      /* in an object: a key is waiting for its value */
} level;

struct qt_json_writer {
    qt_strbuf b;
    int indent;
    int depth;
    level stack[MAX_DEPTH];
    bool done;              /* the top-level value is complete */
    char misuse[128];       /* first misuse, reported by finish */
};

qt_json_writer *qt_json_writer_new(int indent)
{
    qt_json_writer *w = calloc(1, sizeof *w);
    if (w) {
        qt_sb_init(&w->b);
        w->indent = indent < 0 ? 0 : indent;
    }
    return w;
}

void qt_json_writer_free(qt_json_writer *w)
{
    if (!w)
        return;
    qt_sb_free(&w->b);
    free(w);
}

static void misuse(qt_json_writer *w, const char *what)
{
    if (!w->misuse[0])
        snprintf(w->misuse, sizeof w->misuse, "%s", what);
}

static void newline(qt_json_writer *w)
{
    if (w->indent > 0)
        qt_sb_printf(&w->b, "\n%*s", w->indent * w->depth, "");
}

/* Everything that must come before a value: a comma and line break in an array, or
 * checking a key came first in an object. */
static bool begin_value(qt_json_writer *w)
{
    if (!w)         /* qt_json_writer_new ran out of memory; finish reports it */
        return false;
    if (w->done) {
        misuse(w, "more than one top-level value");
        return false;
    }
    if (w->depth == 0)
        return true;
    level *l = &w->stack[w->depth - 1];
    if (l->kind == '{') {
        if (!l->have_key) {
            misuse(w, "a value inside an object needs a key first");
            return false;
        }
        l->have_key = false;
    } else {
        if (l->count > 0)
            qt_sb_putc(&w->b, ',');
        newline(w);
    }
    l->count++;
    return true;
}

static void end_value(qt_json_writer *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void put_escaped(qt_strbuf *b, const char *s)
{
    qt_sb_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': qt_sb_puts(b, "\\\""); break;
        case '\\': qt_sb_puts(b, "\\\\"); break;
        case '\n': qt_sb_puts(b, "\\n"); break;
        case '\r': qt_sb_puts(b, "\\r"); break;
        case '\t': qt_sb_puts(b, "\\t"); break;
        case '\b': qt_sb_puts(b, "\\b"); break;
        case '\f': qt_sb_puts(b, "\\f"); break;
        default:
            if (*p < 0x20)
                qt_sb_printf(b, "\\u%04x", *p);
            else
                qt_sb_putc(b, (char)*p);
        }
    }
    qt_sb_putc(b, '"');
}

static void begin_container(qt_json_writer *w, char kind)
{
    if (!begin_value(w))
        return;
    if (w->depth == MAX_DEPTH) {
        misuse(w, "nesting deeper than 64");
        return;
    }
    qt_sb_putc(&w->b, kind);
    w->stack[w->depth++] = (level){kind, 0, false};
}

static void end_container(qt_json_writer *w, char kind)
{
    if (!w)
        return;
    if (w->depth == 0 || w->stack[w->depth - 1].kind != kind) {
        misuse(w, kind == '{' ? "end_object without a matching begin_object"
                              : "end_array without a matching begin_array");
        return;
    }
    level *l = &w->stack[w->depth - 1];
    if (l->have_key) {
        misuse(w, "a key without a value");
        return;
    }
    w->depth--;
    if (l->count > 0)
        newline(w);
    qt_sb_putc(&w->b, kind == '{' ? '}' : ']');
    end_value(w);
}

void qt_json_begin_object(qt_json_writer *w) { begin_container(w, '{'); }
void qt_json_end_object(qt_json_writer *w) { end_container(w, '{'); }
void qt_json_begin_array(qt_json_writer *w) { begin_container(w, '['); }
void qt_json_end_array(qt_json_writer *w) { end_container(w, '['); }

void qt_json_key(qt_json_writer *w, const char *key)
{
    if (!w)
        return;
    if (w->depth == 0 || w->stack[w->depth - 1].kind != '{' || w->stack[w->depth - 1].have_key) {
        misuse(w, "a key outside an object, or two keys in a row");
        return;
    }
    level *l = &w->stack[w->depth - 1];
    if (l->count > 0)
        qt_sb_putc(&w->b, ',');
    newline(w);
    put_escaped(&w->b, key);
    qt_sb_puts(&w->b, w->indent > 0 ? ": " : ":");
    l->have_key = true;
}

/* A scalar already formatted as JSON text. */
static void put_scalar(qt_json_writer *w, const char *text)
{
    if (!begin_value(w))
        return;
    qt_sb_puts(&w->b, text);
    end_value(w);
}

void qt_json_string(qt_json_writer *w, const char *s)
{
    if (!begin_value(w))
        return;
    put_escaped(&w->b, s);
    end_value(w);
}

void qt_json_number(qt_json_writer *w, double x)
{
    char buf[QT_NUMBER_TEXT_MAX];
    qt_format_double(buf, x);
    put_scalar(w, isfinite(x) ? buf : "null");
}

void qt_json_float(qt_json_writer *w, float x)
{
    char buf[QT_NUMBER_TEXT_MAX];
    qt_format_float(buf, x);
    put_scalar(w, isfinite(x) ? buf : "null");
}

void qt_json_int(qt_json_writer *w, int64_t x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, x);
    put_scalar(w, buf);
}

void qt_json_bool(qt_json_writer *w, bool b)
{
    put_scalar(w, b ? "true" : "false");
}

void qt_json_null(qt_json_writer *w)
{
    put_scalar(w, "null");
}

char *qt_json_writer_finish(qt_json_writer *w, size_t *len, qt_error *err)
{
    char *text = NULL;
    if (!w)
        qt_errorf(err, "json: out of memory");
    else if (w->misuse[0])
        qt_errorf(err, "json writer: %s", w->misuse);
    else if (!w->done)
        qt_errorf(err, "json writer: the document is incomplete (%d unclosed)", w->depth);
    else {
        if (w->indent > 0)
            qt_sb_putc(&w->b, '\n');
        size_t n = w->b.len;
        text = qt_sb_take(&w->b);
        if (!text)
            qt_errorf(err, "json: out of memory");
        else if (len)
            *len = n;
    }
    qt_json_writer_free(w);
    return text;
}

int qt_json_writer_save(qt_json_writer *w, const char *path, qt_error *err)
{
    size_t len;
    char *text = qt_json_writer_finish(w, &len, err);
    if (!text)
        return qt_error_prefix(err, "%s", path);
    int rc = qt_write_file_atomic(path, text, len, err);
    free(text);
    return rc;
}

void qt_json_field_string(qt_json_writer *w, const char *key, const char *s)
{
    qt_json_key(w, key);
    qt_json_string(w, s);
}

void qt_json_field_number(qt_json_writer *w, const char *key, double x)
{
    qt_json_key(w, key);
    qt_json_number(w, x);
}

void qt_json_field_int(qt_json_writer *w, const char *key, int64_t x)
{
    qt_json_key(w, key);
    qt_json_int(w, x);
}

void qt_json_field_bool(qt_json_writer *w, const char *key, bool b)
{
    qt_json_key(w, key);
    qt_json_bool(w, b);
}

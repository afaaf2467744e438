/* JSON: a writer for run summaries and headers, and a small parser to read them back.
 *
 * Writer: calls nest like the document; numbers are written with the fewest digits that
 * read back to the same double (or float), NaN and infinities as null, strings escaped.
 * Misuse (a value without a key inside an object, unbalanced ends) is reported by
 * qt_json_writer_finish, so callers check once.
 *
 *   qt_json_writer *w = qt_json_writer_new(2);
 *   qt_json_begin_object(w);
 *   qt_json_key(w, "test_acc"); qt_json_number(w, 0.9132);
 *   qt_json_end_object(w);
 *   qt_json_writer_save(w, "runs/x/summary.json", &err);     also frees w
 *
 * Parser: RFC 8259 JSON into a tree. Limits: nesting depth 64, strings may not contain
 * \u0000, an object may not repeat a key. Errors give line and column. */
#ifndef QTRAIN_JSON_H
#define QTRAIN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writer ---- */

typedef struct qt_json_writer qt_json_writer;

/* indent: spaces per nesting level, 0 for everything on one line. NULL when out of memory;
 * every call accepts that NULL and qt_json_writer_finish reports it. */
qt_json_writer *qt_json_writer_new(int indent);
void qt_json_begin_object(qt_json_writer *w);
void qt_json_end_object(qt_json_writer *w);
void qt_json_begin_array(qt_json_writer *w);
void qt_json_end_array(qt_json_writer *w);
void qt_json_key(qt_json_writer *w, const char *key);
void qt_json_string(qt_json_writer *w, const char *s);
void qt_json_number(qt_json_writer *w, double x);
void qt_json_float(qt_json_writer *w, float x);
void qt_json_int(qt_json_writer *w, int64_t x);
void qt_json_bool(qt_json_writer *w, bool b);
/* A key and its value in one call (objects of flat fields, like summary files). */
void qt_json_field_string(qt_json_writer *w, const char *key, const char *s);
void qt_json_field_number(qt_json_writer *w, const char *key, double x);
void qt_json_field_int(qt_json_writer *w, const char *key, int64_t x);
void qt_json_field_bool(qt_json_writer *w, const char *key, bool b);
void qt_json_null(qt_json_writer *w);
/* The document (malloc'd, NUL-terminated) and its length; frees w. NULL with err set
 * when the calls did not form one complete value, or memory ran out. */
char *qt_json_writer_finish(qt_json_writer *w, size_t *len, qt_error *err);
/* Finishes and writes the document to path atomically (see file_io.h); frees w. */
int qt_json_writer_save(qt_json_writer *w, const char *path, qt_error *err);
void qt_json_writer_free(qt_json_writer *w);

/* ---- parser ---- */

typedef enum qt_json_type {
    QT_JSON_NULL, QT_JSON_BOOL, QT_JSON_NUMBER, QT_JSON_STRING, QT_JSON_ARRAY, QT_JSON_OBJECT
} qt_json_type;

typedef struct qt_json {
    qt_json_type type;
    bool boolean;
    double number;
    char *string;               /* UTF-8, NUL-terminated */
    size_t count;               /* array items or object members */
    struct qt_json *items;      /* array items, or object values in document order */
    char **keys;                /* object keys, parallel to items */
} qt_json;

/* Parses len bytes of text. Errors read "line 3, column 7: expected ':' after a key". */
int qt_json_parse(const char *text, size_t len, qt_json **out, qt_error *err);
/* Reads and parses a file; errors start with the path. */
int qt_json_parse_file(const char *path, qt_json **out, qt_error *err);
void qt_json_free(qt_json *v);
/* The value of key in an object; NULL when v is not an object or has no such key. */
const qt_json *qt_json_get(const qt_json *v, const char *key);

#ifdef __cplusplus
}
#endif

#endif

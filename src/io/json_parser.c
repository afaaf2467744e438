/* Parsing JSON text into a qt_json tree (recursive descent, depth-limited). */
#include "qtrain/json.h"

#include "qtrain/file_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64, MAX_NUMBER_TEXT = 128 };

typedef struct parser {
    const char *text;
    size_t len, pos;
    qt_error *err;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(parser *p, const char *fmt, ...)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qt_errorf(p->err, "line %d, column %d: %s", line, col, what);
}

static int peek(const parser *p)
{
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static void skip_space(parser *p)
{
    while (p->pos < p->len && strchr(" \t\n\r", p->text[p->pos]) && p->text[p->pos])
        p->pos++;
}

static int parse_value(parser *p, qt_json *v, int depth);

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return fail(p, "unexpected character '%c'", p->text[p->pos]);
    p->pos += n;
    return QT_OK;
}

static size_t digits(const parser *p, size_t i)
{
    size_t start = i;
    while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
        i++;
    return i - start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(parser *p, qt_json *v)
{
    size_t i = p->pos, n;
    if (i < p->len && p->text[i] == '-')
        i++;
    if ((n = digits(p, i)) == 0)
        return fail(p, "expected a digit");
    if (p->text[i] == '0' && n > 1)
        return fail(p, "numbers may not have leading zeros");
    i += n;
    if (i < p->len && p->text[i] == '.') {
        if ((n = digits(p, i + 1)) == 0)
            return fail(p, "expected a digit after '.'");
        i += 1 + n;
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-'))
            i++;
        if ((n = digits(p, i)) == 0)
            return fail(p, "expected a digit in the exponent");
        i += n;
    }
    char buf[MAX_NUMBER_TEXT];
    if (i - p->pos >= sizeof buf)
        return fail(p, "number longer than %d characters", MAX_NUMBER_TEXT - 1);
    memcpy(buf, p->text + p->pos, i - p->pos);
    buf[i - p->pos] = '\0';
    v->type = QT_JSON_NUMBER;
    v->number = strtod(buf, NULL);
    if (isinf(v->number))
        return fail(p, "number %s is too large for a double", buf);
    p->pos = i;
    return QT_OK;
}

static int hex4(parser *p, size_t at, unsigned *out)
{
    unsigned v = 0;
    if (p->len - at < 4)
        return fail(p, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = p->text[at + (size_t)i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(p, "bad hex digit '%c' in \\u escape", c);
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return QT_OK;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX at p->pos (after the backslash and 'u'), joining surrogate pairs. */
static int unicode_escape(parser *p, unsigned *cp)
{
    if (hex4(p, p->pos, cp) != QT_OK)
        return QT_ERR;
    p->pos += 4;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fail(p, "unpaired low surrogate in \\u escape");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (p->len - p->pos < 6 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
            return fail(p, "unpaired high surrogate in \\u escape");
        if (hex4(p, p->pos + 2, &lo) != QT_OK)
            return QT_ERR;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, "unpaired high surrogate in \\u escape");
        p->pos += 6;
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (*cp == 0)
        return fail(p, "\\u0000 is not supported in strings");
    return QT_OK;
}

/* The string at p->pos (which is '"') into a malloc'd UTF-8 copy. */
static int parse_string(parser *p, char **out)
{
    size_t start = p->pos + 1, end = start;
    while (end < p->len && p->text[end] != '"')
        end += p->text[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return fail(p, "string has no closing '\"'");
    p->pos = start;
    /* Escapes never produce more bytes than they take (\uXXXX: 6 bytes -> at most 3,
     * a pair: 12 -> 4), so the raw length bounds the result. */
    char *s = malloc(end - start + 1), *o = s;
    if (!s)
        return fail(p, "out of memory");
    while (p->text[p->pos] != '"') {
        unsigned char c = (unsigned char)p->text[p->pos++];
        if (c < 0x20) {
            free(s);
            p->pos--;
            return fail(p, "control character in string (escape it)");
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = p->text[p->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        unsigned cp;
        if (hit) {
            *o++ = to[hit - from];
        } else if (e == 'u' && unicode_escape(p, &cp) == QT_OK) {
            o += put_utf8(o, cp);
        } else {
            free(s);
            if (e == 'u')
                return QT_ERR;
            p->pos--;
            return fail(p, "unknown escape '\\%c'", e);
        }
    }
    p->pos++;
    *o = '\0';
    *out = s;
    return QT_OK;
}

static int grow_items(qt_json *v, size_t *cap, bool with_keys)
{
    if (v->count < *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 8;
    qt_json *items = realloc(v->items, c * sizeof *items);
    if (!items)
        return 0;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, c * sizeof *keys);
        if (!keys)
            return 0;
        v->keys = keys;
    }
    *cap = c;
    return 1;
}

static int parse_array(parser *p, qt_json *v, int depth)
{
    size_t cap = 0;
    v->type = QT_JSON_ARRAY;
    p->pos++;
    skip_space(p);
    if (peek(p) == ']') {
        p->pos++;
        return QT_OK;
    }
    for (;;) {
        if (!grow_items(v, &cap, false))
            return fail(p, "out of memory");
        memset(&v->items[v->count], 0, sizeof v->items[0]);
        v->count++;
        if (parse_value(p, &v->items[v->count - 1], depth + 1) != QT_OK)
            return QT_ERR;
        skip_space(p);
        int c = peek(p);
        p->pos++;
        if (c == ']')
            return QT_OK;
        if (c != ',') {
            p->pos--;
            return fail(p, "expected ',' or ']' in an array");
        }
    }
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_unique_keys(parser *p, const qt_json *v)
{
    if (v->count < 2)
        return QT_OK;
    char **sorted = malloc(v->count * sizeof *sorted);
    if (!sorted)
        return fail(p, "out of memory");
    memcpy(sorted, v->keys, v->count * sizeof *sorted);
    qsort(sorted, v->count, sizeof *sorted, compare_keys);
    int rc = QT_OK;
    for (size_t i = 1; i < v->count && rc == QT_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = fail(p, "duplicate key \"%.80s\" in an object", sorted[i]);
    free(sorted);
    return rc;
}

static int parse_object(parser *p, qt_json *v, int depth)
{
    size_t cap = 0, open = p->pos;
    v->type = QT_JSON_OBJECT;
    p->pos++;
    skip_space(p);
    if (peek(p) == '}') {
        p->pos++;
        return QT_OK;
    }
    for (;;) {
        skip_space(p);
        if (peek(p) != '"')
            return fail(p, "expected a string key in an object");
        if (!grow_items(v, &cap, true))
            return fail(p, "out of memory");
        memset(&v->items[v->count], 0, sizeof v->items[0]);
        v->keys[v->count] = NULL;
        v->count++;
        if (parse_string(p, &v->keys[v->count - 1]) != QT_OK)
            return QT_ERR;
        skip_space(p);
        if (peek(p) != ':')
            return fail(p, "expected ':' after a key");
        p->pos++;
        if (parse_value(p, &v->items[v->count - 1], depth + 1) != QT_OK)
            return QT_ERR;
        skip_space(p);
        int c = peek(p);
        size_t end = ++p->pos;
        if (c == '}') {
            p->pos = open;  /* a duplicate is reported at the object's '{' */
            if (check_unique_keys(p, v) != QT_OK)
                return QT_ERR;
            p->pos = end;
            return QT_OK;
        }
        if (c != ',') {
            p->pos--;
            return fail(p, "expected ',' or '}' in an object");
        }
    }
}

/* depth: containers already open around v. */
static int parse_value(parser *p, qt_json *v, int depth)
{
    skip_space(p);
    int c = peek(p);
    if ((c == '{' || c == '[') && depth == MAX_DEPTH)
        return fail(p, "nesting deeper than %d", MAX_DEPTH);
    switch (c) {
    case -1:
        return fail(p, "unexpected end of text");
    case '{':
        return parse_object(p, v, depth);
    case '[':
        return parse_array(p, v, depth);
    case '"':
        v->type = QT_JSON_STRING;
        return parse_string(p, &v->string);
    case 't':
    case 'f':
        v->type = QT_JSON_BOOL;
        v->boolean = c == 't';
        return literal(p, c == 't' ? "true" : "false");
    case 'n':
        v->type = QT_JSON_NULL;
        return literal(p, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p, v);
        if (c < 0x20 || c >= 0x7f)
            return fail(p, "unexpected byte 0x%02x", (unsigned)c);
        return fail(p, "unexpected character '%c'", c);
    }
}

static void free_children(qt_json *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (v->items)
            free_children(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

void qt_json_free(qt_json *v)
{
    if (!v)
        return;
    free_children(v);
    free(v);
}

int qt_json_parse(const char *text, size_t len, qt_json **out, qt_error *err)
{
    parser p = {text, len, 0, err};
    qt_json *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return qt_errorf(err, "json: out of memory");
    int rc = parse_value(&p, v, 0);
    if (rc == QT_OK) {
        skip_space(&p);
        if (p.pos < p.len)
            rc = fail(&p, "unexpected text after the value");
    }
    if (rc != QT_OK) {
        qt_json_free(v);
        return QT_ERR;
    }
    *out = v;
    return QT_OK;
}

int qt_json_parse_file(const char *path, qt_json **out, qt_error *err)
{
    uint8_t *data;
    size_t len;
    *out = NULL;
    if (qt_read_file(path, &data, &len, err) != QT_OK)
        return QT_ERR;
    int rc = qt_json_parse((const char *)data, len, out, err);
    free(data);
    return rc == QT_OK ? QT_OK : qt_error_prefix(err, "%s", path);
}

const qt_json *qt_json_get(const qt_json *v, const char *key)
{
    if (!v || v->type != QT_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

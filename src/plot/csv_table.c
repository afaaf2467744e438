#include "qtrain/csv_table.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/file_io.h"

/* The fields of one line, pointing into the line text (which is modified in place). */
typedef struct fields {
    char **v;
    int n, cap;
} fields;

static int push_field(fields *f, char *s)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 16;
        char **v = realloc(f->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = s;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Copies the quoted field starting at the quote r onto w (unescaping ""), and returns
 * the position after the closing quote, or NULL if it never closes. */
static char *unquote(char *r, char *w)
{
    for (r++; *r; r++) {
        if (*r == '"' && r[1] != '"') {
            *w = '\0';
            return r + 1;
        }
        if (*r == '"')
            r++;
        *w++ = *r;
    }
    return NULL;
}

/* Reads the field at *pos, NUL-terminates it in place and moves *pos past it and its
 * comma; *more tells whether a comma (so another field) followed. */
static int take_field(char **pos, char **field, int *more, const char *path, int lineno,
                      qt_error *err)
{
    char *r = *pos;
    while (is_space(*r))
        r++;
    char *start = r, *end;
    if (*r == '"') {
        r = unquote(r, start);
        if (!r)
            return qt_errorf(err, "%s:%d: unterminated quoted field", path, lineno);
        end = start + strlen(start);
        while (is_space(*r))
            r++;
        if (*r != ',' && *r != '\0')
            return qt_errorf(err, "%s:%d: text after a closing quote", path, lineno);
    } else {
        while (*r != ',' && *r != '\0')
            r++;
        end = r;
        while (end > start && is_space(end[-1]))
            end--;
    }
    *more = *r == ',';
    *end = '\0';
    *field = start;
    *pos = *more ? r + 1 : r;
    return QT_OK;
}

static int split_line(char *line, fields *f, const char *path, int lineno, qt_error *err)
{
    f->n = 0;
    int more = 1;
    while (more) {
        char *field = NULL;
        if (take_field(&line, &field, &more, path, lineno, err) != QT_OK)
            return QT_ERR;
        if (push_field(f, field) != 0)
            return qt_errorf(err, "%s:%d: out of memory", path, lineno);
    }
    return QT_OK;
}

int qt_csv_table_column(const qt_csv_table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

void qt_csv_table_describe_columns(const qt_csv_table *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < t->ncols && used < size; c++) {
        int n = snprintf(buf + used, size - used, "%s%s", c ? ", " : "", t->names[c]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

void qt_csv_table_free(qt_csv_table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (t->names)
            free(t->names[c]);
        if (t->values)
            free(t->values[c]);
    }
    free(t->names);
    free(t->values);
    free(t->path);
    memset(t, 0, sizeof *t);
}

static int wanted(const char *name, const char *const *want, int nwant)
{
    if (!want)
        return 1;
    for (int i = 0; i < nwant; i++)
        if (strcmp(want[i], name) == 0)
            return 1;
    return 0;
}

static int set_header(qt_csv_table *t, const fields *f, const char *const *want, int nwant,
                      int lineno, qt_error *err)
{
    t->names = calloc((size_t)f->n, sizeof *t->names);
    t->values = calloc((size_t)f->n, sizeof *t->values);
    if (!t->names || !t->values)
        return qt_errorf(err, "%s: out of memory", t->path);
    for (int c = 0; c < f->n; c++) {
        if (f->v[c][0] == '\0')
            return qt_errorf(err, "%s:%d: header column %d has no name", t->path, lineno, c + 1);
        if (qt_csv_table_column(t, f->v[c]) >= 0)
            return qt_errorf(err, "%s:%d: column '%s' appears twice in the header", t->path,
                             lineno, f->v[c]);
        t->names[c] = strdup(f->v[c]);
        t->ncols = c + 1;
        if (!t->names[c])
            return qt_errorf(err, "%s: out of memory", t->path);
        /* An empty allocation marks the column as loaded; rows grow it later. */
        if (wanted(f->v[c], want, nwant) && !(t->values[c] = malloc(sizeof(double))))
            return qt_errorf(err, "%s: out of memory", t->path);
    }
    return QT_OK;
}

static int parse_number(const char *s, double *out)
{
    if (*s == '\0') {
        *out = NAN;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    *out = v; /* overflow (ERANGE) gives +-inf, which plotting skips like any inf */
    return 0;
}

static int add_row(qt_csv_table *t, const fields *f, size_t *cap, int lineno, qt_error *err)
{
    if (f->n != t->ncols)
        return qt_errorf(err, "%s:%d: %d field%s, but the header has %d", t->path, lineno, f->n,
                         f->n == 1 ? "" : "s", t->ncols);
    if (t->nrows == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        for (int c = 0; c < t->ncols; c++) {
            if (!t->values[c])
                continue;
            double *v = realloc(t->values[c], ncap * sizeof *v);
            if (!v)
                return qt_errorf(err, "%s:%d: out of memory", t->path, lineno);
            t->values[c] = v;
        }
        *cap = ncap;
    }
    for (int c = 0; c < t->ncols; c++) {
        if (t->values[c] && parse_number(f->v[c], &t->values[c][t->nrows]) != 0)
            return qt_errorf(err, "%s:%d: column '%s': '%s' is not a number", t->path, lineno,
                             t->names[c], f->v[c]);
    }
    t->nrows++;
    return QT_OK;
}

static int is_blank(const char *s)
{
    while (is_space(*s))
        s++;
    return *s == '\0';
}

/* Walks the lines of a writable NUL-terminated copy of the file; blank lines are skipped,
 * the first other line is the header. */
static int parse_lines(qt_csv_table *t, char *text, size_t len, const char *const *want,
                       int nwant, qt_error *err)
{
    fields f = {0};
    size_t cap = 0;
    int status = QT_OK, have_header = 0, lineno = 0;
    char *p = text, *stop = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < stop && status == QT_OK) {
        char *nl = memchr(p, '\n', (size_t)(stop - p));
        char *eol = nl ? nl : stop;
        lineno++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            status = qt_errorf(err, "%s:%d: NUL byte (not a text file?)", t->path, lineno);
            break;
        }
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        *eol = '\0';
        if (!is_blank(p)) {
            status = split_line(p, &f, t->path, lineno, err);
            if (status == QT_OK)
                status = have_header ? add_row(t, &f, &cap, lineno, err)
                                     : set_header(t, &f, want, nwant, lineno, err);
            have_header = 1;
        }
        p = eol + 1;
    }
    free(f.v);
    if (status == QT_OK && !have_header)
        status = qt_errorf(err, "%s: empty file (expected a header line)", t->path);
    return status;
}

/* Parses text[0..len), which must be writable with room for a NUL at text[len]. */
static int parse_in_place(qt_csv_table *t, const char *path, char *text, size_t len,
                          const char *const *want, int nwant, qt_error *err)
{
    memset(t, 0, sizeof *t);
    t->path = strdup(path);
    if (!t->path)
        return qt_errorf(err, "%s: out of memory", path);
    int status = parse_lines(t, text, len, want, nwant, err);
    if (status != QT_OK)
        qt_csv_table_free(t);
    return status;
}

int qt_csv_table_parse(qt_csv_table *t, const char *path, const char *text, size_t len,
                       const char *const *want, int nwant, qt_error *err)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        memset(t, 0, sizeof *t);
        return qt_errorf(err, "%s: out of memory", path);
    }
    memcpy(copy, text, len);
    int status = parse_in_place(t, path, copy, len, want, nwant, err);
    free(copy);
    return status;
}

int qt_csv_table_read(qt_csv_table *t, const char *path, const char *const *want, int nwant,
                      qt_error *err)
{
    uint8_t *text;
    size_t len;
    if (qt_read_file(path, &text, &len, err) != QT_OK) {
        memset(t, 0, sizeof *t);
        return QT_ERR;
    }
    int status = parse_in_place(t, path, (char *)text, len, want, nwant, err);
    free(text);
    return status;
}

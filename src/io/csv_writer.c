/* CSV logs written row by row, each row flushed; resuming cuts rows past the checkpoint. */
#include "qtrain/csv_writer.h"

#include "number_text.h"
#include "qtrain/file_io.h"
#include "strbuf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct qt_csv_writer {
    FILE *f;
    char *path;
    int ncols;
};

static void put_cell(qt_strbuf *b, const char *s)
{
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        qt_sb_puts(b, s);
        return;
    }
    qt_sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            qt_sb_putc(b, '"');
        qt_sb_putc(b, *s);
    }
    qt_sb_putc(b, '"');
}

/* A whole line of text cells, with its newline (malloc'd; NULL when out of memory). */
static char *text_line(const char *const *cells, int n)
{
    qt_strbuf b;
    qt_sb_init(&b);
    for (int i = 0; i < n; i++) {
        if (i)
            qt_sb_putc(&b, ',');
        put_cell(&b, cells[i]);
    }
    qt_sb_putc(&b, '\n');
    return qt_sb_take(&b);
}

static int put_line(qt_csv_writer *w, const char *line, qt_error *err)
{
    if (!line)
        return qt_errorf(err, "%s: out of memory", w->path);
    if (fputs(line, w->f) < 0 || fflush(w->f) != 0)
        return qt_errorf(err, "%s: write failed: %s", w->path, strerror(errno));
    return QT_OK;
}

static int open_writer(qt_csv_writer **out, const char *path, int ncols, const char *mode,
                       qt_error *err)
{
    qt_csv_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return qt_errorf(err, "%s: out of memory", path);
    }
    w->ncols = ncols;
    w->f = fopen(path, mode);
    if (!w->f) {
        qt_errorf(err, "%s: cannot open for writing: %s", path, strerror(errno));
        free(w->path);
        free(w);
        return QT_ERR;
    }
    *out = w;
    return QT_OK;
}

int qt_csv_writer_create(qt_csv_writer **out, const char *path, const char *const *columns,
                         int ncols, qt_error *err)
{
    *out = NULL;
    qt_csv_writer *w = NULL;
    if (open_writer(&w, path, ncols, "w", err) != QT_OK)
        return QT_ERR;
    char *header = text_line(columns, ncols);
    int rc = put_line(w, header, err);
    free(header);
    if (rc != QT_OK) {
        qt_csv_writer_close(w, NULL);
        return QT_ERR;
    }
    *out = w;
    return QT_OK;
}

/* Where the kept part of an existing log ends: after the header and every complete row
 * whose first field is at most keep_upto. */
static int kept_length(const char *path, const char *text, size_t len, const char *header,
                       double keep_upto, size_t *keep, qt_error *err)
{
    size_t hlen = strlen(header);
    if (len < hlen || memcmp(text, header, hlen) != 0)
        return qt_errorf(err, "%s: the header differs from this run's columns: %.*s", path,
                         (int)strcspn(header, "\n"), header);
    size_t pos = hlen;
    for (int line = 2;; line++) {
        const char *eol = memchr(text + pos, '\n', len - pos);
        if (!eol)
            break;  /* a partial row from a killed run, or the end */
        char first[64];
        size_t n = strcspn(text + pos, ",\n");
        double v;
        if (n >= sizeof first)
            n = sizeof first - 1;
        memcpy(first, text + pos, n);
        first[n] = '\0';
        if (qt_parse_double(first, &v) != 0)
            return qt_errorf(err, "%s:%d: first field \"%s\" is not a number", path, line, first);
        if (v > keep_upto)
            break;
        pos = (size_t)(eol - text) + 1;
    }
    *keep = pos;
    return QT_OK;
}

/* Where a resumed log is cut (*keep of *len bytes); *exists is 0 for a missing file. */
static int resume_point(const char *path, const char *const *columns, int ncols,
                        double keep_upto, int *exists, size_t *keep, size_t *len, qt_error *err)
{
    uint8_t *text;
    *keep = *len = 0;
    *exists = !(access(path, F_OK) != 0 && errno == ENOENT);
    if (!*exists)
        return QT_OK;
    if (qt_read_file(path, &text, len, err) != QT_OK)
        return QT_ERR;
    char *header = text_line(columns, ncols);
    int rc = header ? kept_length(path, (const char *)text, *len, header, keep_upto, keep, err)
                    : qt_errorf(err, "%s: out of memory", path);
    free(header);
    free(text);
    return rc;
}

int qt_csv_writer_check_resume(const char *path, const char *const *columns, int ncols,
                               double keep_upto, qt_error *err)
{
    int exists;
    size_t keep, len;
    return resume_point(path, columns, ncols, keep_upto, &exists, &keep, &len, err);
}

int qt_csv_writer_resume(qt_csv_writer **out, const char *path, const char *const *columns,
                         int ncols, double keep_upto, qt_error *err)
{
    int exists;
    size_t len, keep;
    *out = NULL;
    if (resume_point(path, columns, ncols, keep_upto, &exists, &keep, &len, err) != QT_OK)
        return QT_ERR;
    if (!exists)
        return qt_csv_writer_create(out, path, columns, ncols, err);
    if (keep < len && truncate(path, (off_t)keep) != 0)
        return qt_errorf(err, "%s: cannot cut rows after the checkpoint: %s", path, strerror(errno));
    return open_writer(out, path, ncols, "a", err);
}

int qt_csv_write_row(qt_csv_writer *w, const double *values, qt_error *err)
{
    qt_strbuf b;
    char num[QT_NUMBER_TEXT_MAX];
    qt_sb_init(&b);
    for (int i = 0; i < w->ncols; i++) {
        qt_format_double(num, values[i]);
        qt_sb_printf(&b, "%s%s", i ? "," : "", num);
    }
    qt_sb_putc(&b, '\n');
    char *line = qt_sb_take(&b);
    int rc = put_line(w, line, err);
    free(line);
    return rc;
}

int qt_csv_write_text_row(qt_csv_writer *w, const char *const *cells, qt_error *err)
{
    char *line = text_line(cells, w->ncols);
    int rc = put_line(w, line, err);
    free(line);
    return rc;
}

int qt_csv_writer_close(qt_csv_writer *w, qt_error *err)
{
    if (!w)
        return QT_OK;
    int rc = fclose(w->f) == 0 ? QT_OK
                               : qt_errorf(err, "%s: close failed: %s", w->path, strerror(errno));
    free(w->path);
    free(w);
    return rc;
}

#include "val_labels.h"

#include <stdlib.h>
#include <string.h>

#include "qtrain/file_io.h"

enum { MAX_WORD = 512 };

void qt_val_labels_free(qt_val_labels *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->items[i].stem);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static size_t stem_length(const char *name, size_t n)
{
    for (size_t i = n; i > 0; i--)
        if (name[i - 1] == '.')
            return i - 1;
    return n;
}

/* Copies the next word of the line (separators: space, tab, comma, CR) into out; 0 when
 * the line has no more words or the word does not fit. */
static int next_word(const char **p, const char *end, char *out)
{
    const char *s = *p;
    while (s < end && strchr(" \t,\r", *s))
        s++;
    const char *w = s;
    while (s < end && !strchr(" \t,\r", *s))
        s++;
    *p = s;
    size_t n = (size_t)(s - w);
    if (n == 0 || n >= MAX_WORD)
        return 0;
    memcpy(out, w, n);
    out[n] = '\0';
    return 1;
}

/* A class name, or a decimal index into the list; -1 when neither. */
static int resolve_label(const qt_name_list *classes, const char *word)
{
    int k = qt_name_list_find(classes, word);
    if (k >= 0)
        return k;
    if (strspn(word, "0123456789") != strlen(word) || strlen(word) > 9)
        return -1;
    long v = strtol(word, NULL, 10);
    return v < classes->count ? (int)v : -1;
}

static int add_label(qt_val_labels *l, const char *file, int label)
{
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 1024;
        qt_val_label *it = realloc(l->items, sizeof *it * (size_t)cap);
        if (!it)
            return QT_ERR;
        l->items = it;
        l->cap = cap;
    }
    size_t n = stem_length(file, strlen(file));
    char *stem = malloc(n + 1);
    if (!stem)
        return QT_ERR;
    memcpy(stem, file, n);
    stem[n] = '\0';
    l->items[l->count++] = (qt_val_label){stem, label};
    return QT_OK;
}

static int by_stem(const void *a, const void *b)
{
    return strcmp(((const qt_val_label *)a)->stem, ((const qt_val_label *)b)->stem);
}

/* Parses one line (number line) into out; blank lines and the CSV header are skipped. */
static int parse_line(const char *path, int line, const char *s, const char *end,
                      const qt_name_list *classes, qt_val_labels *out, qt_error *err)
{
    char file[MAX_WORD], label[MAX_WORD];
    const char *p = s;
    if (!next_word(&p, end, file))
        return QT_OK;
    if (line == 1 && strcmp(file, "ImageId") == 0)
        return QT_OK;
    if (!next_word(&p, end, label))
        return qt_errorf(err, "%s:%d: expected a file name and a label", path, line);
    int k = resolve_label(classes, label);
    if (k < 0)
        return qt_errorf(err, "%s:%d: label '%s' is neither a class name nor a class index "
                         "below %d", path, line, label, classes->count);
    if (add_label(out, file, k) != QT_OK)
        return qt_errorf(err, "%s: out of memory", path);
    return QT_OK;
}

int qt_val_labels_read(const char *path, const qt_name_list *classes, qt_val_labels *out,
                       qt_error *err)
{
    uint8_t *text;
    size_t len;
    if (qt_read_file(path, &text, &len, err) != QT_OK)
        return QT_ERR;
    int rc = QT_OK, line = 0;
    const char *s = (const char *)text, *stop = s + len;
    while (rc == QT_OK && s < stop) {
        const char *end = memchr(s, '\n', (size_t)(stop - s));
        end = end ? end : stop;
        rc = parse_line(path, ++line, s, end, classes, out, err);
        s = end + 1;
    }
    free(text);
    if (rc != QT_OK)
        return QT_ERR;
    if (out->count > 1)
        qsort(out->items, (size_t)out->count, sizeof *out->items, by_stem);
    for (int i = 1; i < out->count; i++)
        if (strcmp(out->items[i - 1].stem, out->items[i].stem) == 0)
            return qt_errorf(err, "%s: image '%s' is listed twice", path, out->items[i].stem);
    if (out->count == 0)
        return qt_errorf(err, "%s: no labels in the file", path);
    return QT_OK;
}

int qt_val_labels_find(const qt_val_labels *l, const char *file_name)
{
    size_t n = stem_length(file_name, strlen(file_name));
    int lo = 0, hi = l->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strncmp(l->items[mid].stem, file_name, n);
        if (c == 0 && l->items[mid].stem[n] != '\0')
            c = 1;
        if (c == 0)
            return l->items[mid].label;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

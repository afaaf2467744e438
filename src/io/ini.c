#include "qtrain/ini.h"

#include "qtrain/file_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    qt_ini *ini;
    int cap_entries, cap_sections;
    const char *section;    /* current section name, NULL before the first header */
} parser;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

static int is_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!is_name_char(*s))
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int is_comment_start(char c)
{
    return c == '#' || c == ';';
}

static int grow(void **items, int *cap, int n, size_t size)
{
    if (n < *cap)
        return 1;
    int c = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, (size_t)c * size);
    if (!p)
        return 0;
    *items = p;
    *cap = c;
    return 1;
}

static int parse_section(parser *ps, char *s, int line, qt_error *err)
{
    qt_ini *ini = ps->ini;
    char *close = strchr(s, ']');
    if (!close)
        return qt_errorf(err, "%s:%d: section header \"%s\" has no closing ']'", ini->file, line, s);
    *close = '\0';
    char *rest = trim(close + 1);
    char *name = trim(s + 1);
    if (*rest && !is_comment_start(*rest))
        return qt_errorf(err, "%s:%d: unexpected text \"%s\" after [%s]", ini->file, line, rest,
                         name);
    if (!is_name(name))
        return qt_errorf(err, "%s:%d: bad section name [%s] (use letters, digits, '_', '-', '.')",
                         ini->file, line, name);
    if (!grow((void **)&ini->sections, &ps->cap_sections, ini->n_sections, sizeof *ini->sections))
        return qt_errorf(err, "%s: out of memory", ini->file);
    ini->sections[ini->n_sections++] = (qt_ini_section){ini->file, line, name, ini->n_entries, 0};
    ps->section = name;
    return QT_OK;
}

/* Unquotes "..." in place (q points at the opening quote); checks only a comment follows. */
static int parse_quoted(const qt_ini *ini, int line, char *q, qt_error *err)
{
    char *out = q, *p = q + 1;
    for (;; p++) {
        if (*p == '\0')
            return qt_errorf(err, "%s:%d: quoted value has no closing '\"'", ini->file, line);
        if (*p == '"')
            break;
        if (*p == '\\' && p[1] != '\0') {
            p++;
            if (*p != '"' && *p != '\\')
                return qt_errorf(err, "%s:%d: unknown escape '\\%c' in quoted value (only \\\" "
                                 "and \\\\ are allowed)", ini->file, line, *p);
        }
        *out++ = *p;
    }
    char *rest = trim(p + 1);
    *out = '\0';
    if (*rest && !is_comment_start(*rest))
        return qt_errorf(err, "%s:%d: unexpected text \"%s\" after quoted value", ini->file,
                         line, rest);
    return QT_OK;
}

/* Cuts a comment off an unquoted value: '#' or ';' at its start or after a blank. */
static void cut_comment(char *v)
{
    for (char *p = v; *p; p++)
        if (is_comment_start(*p) && (p == v || is_blank(p[-1]))) {
            *p = '\0';
            break;
        }
}

static int parse_entry(parser *ps, char *s, int line, qt_error *err)
{
    qt_ini *ini = ps->ini;
    char *eq = strchr(s, '=');
    if (!eq)
        return qt_errorf(err, "%s:%d: expected \"key = value\" or \"[section]\", got \"%.60s\"",
                         ini->file, line, s);
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    if (!is_name(key))
        return qt_errorf(err, "%s:%d: bad key \"%s\" (use letters, digits, '_', '-', '.')",
                         ini->file, line, key);
    if (!ps->section)
        return qt_errorf(err, "%s:%d: key \"%s\" comes before any [section]", ini->file, line, key);
    if (*value == '"') {
        if (parse_quoted(ini, line, value, err) != QT_OK)
            return QT_ERR;
    } else {
        cut_comment(value);
        value = trim(value);
    }
    if (!grow((void **)&ini->entries, &ps->cap_entries, ini->n_entries, sizeof *ini->entries))
        return qt_errorf(err, "%s: out of memory", ini->file);
    ini->entries[ini->n_entries++] = (qt_ini_entry){ini->file, line, ps->section, key, value};
    ini->sections[ini->n_sections - 1].n_entries++;
    return QT_OK;
}

static int parse_line(parser *ps, char *s, int line, qt_error *err)
{
    s = trim(s);
    if (*s == '\0' || is_comment_start(*s))
        return QT_OK;
    if (*s == '[')
        return parse_section(ps, s, line, err);
    return parse_entry(ps, s, line, err);
}

static int line_of(const char *text, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos; i++)
        line += text[i] == '\n';
    return line;
}

int qt_ini_parse(qt_ini **out, const char *file, const char *text, size_t len, qt_error *err)
{
    *out = NULL;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return qt_errorf(err, "%s:%d: NUL byte in file (not a text file?)", file,
                         line_of(text, (size_t)(nul - text)));
    qt_ini *ini = calloc(1, sizeof *ini);
    if (!ini)
        return qt_errorf(err, "%s: out of memory", file);
    ini->file = strdup(file);
    ini->storage = malloc(len + 1);
    if (!ini->file || !ini->storage) {
        qt_ini_free(ini);
        return qt_errorf(err, "%s: out of memory", file);
    }
    memcpy(ini->storage, text, len);
    ini->storage[len] = '\0';
    char *p = ini->storage, *end = ini->storage + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    parser ps = {ini, 0, 0, NULL};
    for (int line = 1; p <= end; line++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *eol = '\0';
        if (parse_line(&ps, p, line, err) != QT_OK) {
            qt_ini_free(ini);
            return QT_ERR;
        }
        p = eol + 1;
    }
    *out = ini;
    return QT_OK;
}

int qt_ini_load(qt_ini **out, const char *path, qt_error *err)
{
    uint8_t *data;
    size_t len;
    *out = NULL;
    if (qt_read_file(path, &data, &len, err) != QT_OK)
        return QT_ERR;
    int rc = qt_ini_parse(out, path, (const char *)data, len, err);
    free(data);
    return rc;
}

void qt_ini_free(qt_ini *ini)
{
    if (!ini)
        return;
    free(ini->file);
    free(ini->entries);
    free(ini->sections);
    free(ini->storage);
    free(ini);
}

static int needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return 0;
    if (is_blank(v[0]) || is_blank(v[n - 1]) || v[0] == '"' || is_comment_start(v[0]) ||
        v[n - 1] == '\r')
        return 1;
    for (size_t i = 1; i < n; i++)
        if (is_comment_start(v[i]) && is_blank(v[i - 1]))
            return 1;
    return 0;
}

size_t qt_ini_format_value(char *out, size_t outsize, const char *value)
{
    size_t n = 0;
#define PUT(c) do { if (n + 1 < outsize) out[n] = (c); n++; } while (0)
    if (!needs_quotes(value)) {
        for (const char *p = value; *p; p++)
            PUT(*p);
    } else {
        PUT('"');
        for (const char *p = value; *p; p++) {
            if (*p == '"' || *p == '\\')
                PUT('\\');
            PUT(*p);
        }
        PUT('"');
    }
#undef PUT
    if (outsize > 0)
        out[n < outsize ? n : outsize - 1] = '\0';
    return n;
}

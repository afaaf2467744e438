/* Reading a net's description back (net_desc.h): its first line says where the net came from
 * and with which options; a net file's text follows that line. */
#include "qtrain/net_desc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/number_text.h"
#include "qtrain/models.h"
#include "qtrain/net_file.h"

enum { MAX_WIDTHS = 64 };

const char *qt_net_description(const qt_net *net) { return net->description; }

typedef struct header {
    char source[80];          /* "zoo:<name>" or "file" */
    qt_model_spec spec;
    int widths[MAX_WIDTHS];
    char path[1024];
    int has_input, has_classes;
} header;

static int read_widths(header *h, const char *v, qt_error *err)
{
    h->spec.nwidths = 0;
    for (const char *p = v; *p;) {
        long long w;
        char item[24];
        size_t n = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), p);
        if (h->spec.nwidths == MAX_WIDTHS || qt_parse_int(item, 1, 1 << 24, &w) != 0)
            return qt_errorf(err, "net description: widths: bad list \"%s\"", v);
        h->widths[h->spec.nwidths++] = (int)w;
        p += n + (p[n] == ',');
    }
    h->spec.widths = h->widths;
    return QT_OK;
}

static int read_float(const char *key, const char *v, float *out, qt_error *err)
{
    double d;
    if (qt_parse_double(v, &d) != 0)
        return qt_errorf(err, "net description: %s: expected a number, got \"%s\"", key, v);
    *out = (float)d;
    return QT_OK;
}

static int read_option(header *h, const char *key, const char *v, qt_error *err)
{
    qt_model_spec *s = &h->spec;
    char tail;
    long long n;
    if (!strcmp(key, "input")) {
        h->has_input = sscanf(v, "%dx%dx%d%c", &s->in_c, &s->in_h, &s->in_w, &tail) == 3;
        if (!h->has_input)
            return qt_errorf(err, "net description: input: expected CxHxW, got \"%s\"", v);
        return QT_OK;
    }
    if (!strcmp(key, "classes")) {
        if (qt_parse_int(v, 2, 1 << 24, &n) != 0)
            return qt_errorf(err, "net description: classes: expected an integer >= 2, got "
                             "\"%s\"", v);
        s->num_classes = (int)n;
        h->has_classes = 1;
        return QT_OK;
    }
    if (!strcmp(key, "widths"))
        return read_widths(h, v, err);
    if (!strcmp(key, "shortcut")) {
        if (strcmp(v, "A") && strcmp(v, "B"))
            return qt_errorf(err, "net description: shortcut: expected A or B, got \"%s\"", v);
        s->shortcut = v[0];
        return QT_OK;
    }
    if (!strcmp(key, "dropout"))
        return read_float(key, v, &s->dropout, err);
    if (!strcmp(key, "bn_momentum"))
        return read_float(key, v, &s->bn_momentum, err);
    if (!strcmp(key, "bn_eps"))
        return read_float(key, v, &s->bn_eps, err);
    return qt_errorf(err, "net description: unknown option \"%s\"", key);
}

/* Parses the first line (len bytes) into h. */
static int read_header(header *h, const char *line, size_t len, qt_error *err)
{
    char buf[2048];
    if (len >= sizeof buf)
        return qt_errorf(err, "net description: first line longer than %zu bytes", sizeof buf - 1);
    memcpy(buf, line, len);
    buf[len] = '\0';
    size_t n = strcspn(buf, " ");
    if (n >= sizeof h->source)
        return qt_errorf(err, "net description: source \"%.40s...\" too long", buf);
    snprintf(h->source, sizeof h->source, "%.*s", (int)n, buf);
    h->spec = qt_model_spec_default(h->source + 4, 0, 0, 0, 0);
    for (char *p = buf + n; *p == ' ';) {
        char *key = ++p;
        if (!strncmp(key, "path=", 5)) {  /* the rest of the line, blanks included */
            snprintf(h->path, sizeof h->path, "%s", key + 5);
            break;
        }
        p += strcspn(p, " ");
        char *eq = memchr(key, '=', (size_t)(p - key)), end = *p;
        *p = '\0';
        if (!eq)
            return qt_errorf(err, "net description: expected key=value, got \"%s\"", key);
        *eq = '\0';
        if (read_option(h, key, eq + 1, err) != QT_OK)
            return QT_ERR;
        *p = end;
    }
    if (!h->has_input || !h->has_classes)
        return qt_errorf(err, "net description: \"%s\" lacks input= or classes=", h->source);
    return QT_OK;
}

qt_net *qt_net_from_description(const char *text, qt_error *err)
{
    header h;
    memset(&h, 0, sizeof h);
    const char *nl = strchr(text, '\n');
    size_t first = nl ? (size_t)(nl - text) : strlen(text);
    if (read_header(&h, text, first, err) != QT_OK)
        return NULL;
    if (!strncmp(h.source, "zoo:", 4))
        return qt_model_build(&h.spec, err);
    if (strcmp(h.source, "file") != 0) {
        qt_errorf(err, "net description: unknown source \"%s\" (expected zoo:<name> or file)",
                  h.source);
        return NULL;
    }
    if (!h.path[0] || !nl) {
        qt_errorf(err, "net description: a file description needs path= and the file's text");
        return NULL;
    }
    return qt_net_file_parse(h.path, nl + 1, strlen(nl + 1), &h.spec, err);
}

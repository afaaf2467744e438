/* Config values as text: parsing a value of each key type (with its range or choices) into
 * its field, and formatting a field back to text that parses to the same value. */
#include "config_internal.h"
#include "number_text.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- allowed ranges: "[lo, hi]", "(lo, hi]", ... with inf for a missing bound ---- */

typedef struct interval {
    double lo, hi;
    bool lo_open, hi_open;
    char lo_text[24], hi_text[24];
} interval;

static bool copy_trimmed(char *dst, size_t size, const char *s, size_t n)
{
    while (n > 0 && *s == ' ')
        s++, n--;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 0 || n >= size)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool parse_bound(const char *text, double *v)
{
    char *end;
    *v = strtod(text, &end);
    return *end == '\0' && !isnan(*v);
}

static bool parse_interval(const char *s, interval *iv)
{
    *iv = (interval){-INFINITY, INFINITY, true, true, "-inf", "inf"};
    if (!s)
        return true;
    size_t n = strlen(s);
    const char *comma = strchr(s, ',');
    if (n < 5 || (s[0] != '[' && s[0] != '(') || (s[n - 1] != ']' && s[n - 1] != ')') || !comma)
        return false;
    iv->lo_open = s[0] == '(';
    iv->hi_open = s[n - 1] == ')';
    return copy_trimmed(iv->lo_text, sizeof iv->lo_text, s + 1, (size_t)(comma - s - 1)) &&
           copy_trimmed(iv->hi_text, sizeof iv->hi_text, comma + 1, (size_t)(s + n - 1 - comma - 1)) &&
           parse_bound(iv->lo_text, &iv->lo) && parse_bound(iv->hi_text, &iv->hi) &&
           iv->lo <= iv->hi;
}

static bool in_interval(const interval *iv, double x)
{
    bool lo_ok = iv->lo_open ? x > iv->lo : x >= iv->lo;
    bool hi_ok = iv->hi_open ? x < iv->hi : x <= iv->hi;
    return lo_ok && hi_ok;
}

/* ">= 1", "> 0", "<= 5", "[1, 8]" or "" (no bound). */
static void describe_interval(const interval *iv, char *out, size_t n)
{
    bool has_lo = isfinite(iv->lo), has_hi = isfinite(iv->hi);
    if (has_lo && has_hi)
        snprintf(out, n, "%c%s, %s%c", iv->lo_open ? '(' : '[', iv->lo_text, iv->hi_text,
                 iv->hi_open ? ')' : ']');
    else if (has_lo)
        snprintf(out, n, "%s %s", iv->lo_open ? ">" : ">=", iv->lo_text);
    else if (has_hi)
        snprintf(out, n, "%s %s", iv->hi_open ? "<" : "<=", iv->hi_text);
    else
        snprintf(out, n, "%s", "");
}

/* " >= 1", " in [1, 8]" or "", to follow "expected an integer". */
static void range_phrase(const interval *iv, char *out, size_t n)
{
    char d[64];
    describe_interval(iv, d, sizeof d);
    snprintf(out, n, "%s%s", !*d ? "" : d[0] == '[' || d[0] == '(' ? " in " : " ", d);
}

const char *qt_config_type_name(qt_cfg_type t)
{
    static const char *const names[] = {"int", "float", "bool", "string", "path", "choice",
                                        "int list", "float list", "choice"};
    return names[t];
}

void qt_config_limits_text(const qt_config_key *k, char *out, size_t n)
{
    interval iv;
    if (k->type == QT_KEY_ENUM || k->type == QT_KEY_STRING || k->type == QT_KEY_PATH ||
        k->type == QT_KEY_BOOL || k->type == QT_KEY_NAME)
        snprintf(out, n, "%s", k->limits ? k->limits : "");
    else if (parse_interval(k->limits, &iv))
        describe_interval(&iv, out, n);
    else
        snprintf(out, n, "(bad limits \"%s\")", k->limits);
}

/* ---- parsing one scalar ---- */

static int bad_limits(const qt_config_key *k, char *why, size_t n)
{
    snprintf(why, n, "schema error: bad limits \"%s\"", k->limits);
    return QT_ERR;
}

static int parse_int_item(const qt_config_key *k, const char *text, int *out, char *why, size_t n)
{
    interval iv;
    char range[80];
    long long v;
    if (!parse_interval(k->limits, &iv))
        return bad_limits(k, why, n);
    range_phrase(&iv, range, sizeof range);
    int rc = qt_parse_int(text, INT_MIN, INT_MAX, &v);
    if (rc == -1) {
        snprintf(why, n, "expected an integer, got \"%s\"", text);
        return QT_ERR;
    }
    if (rc == -2) {
        snprintf(why, n, "\"%s\" does not fit in an int", text);
        return QT_ERR;
    }
    if (!in_interval(&iv, (double)v)) {
        snprintf(why, n, "expected an integer%s, got \"%s\"", range, text);
        return QT_ERR;
    }
    *out = (int)v;
    return QT_OK;
}

static int parse_float_item(const qt_config_key *k, const char *text, double *out, char *why,
                            size_t n)
{
    interval iv;
    char range[80];
    double v;
    if (!parse_interval(k->limits, &iv))
        return bad_limits(k, why, n);
    range_phrase(&iv, range, sizeof range);
    if (qt_parse_double(text, &v) != 0) {
        snprintf(why, n, "expected a number, got \"%s\"", text);
        return QT_ERR;
    }
    if (!in_interval(&iv, v)) {
        snprintf(why, n, "expected a number%s, got \"%s\"", range, text);
        return QT_ERR;
    }
    *out = v;
    return QT_OK;
}

static int parse_bool(const char *text, bool *out, char *why, size_t n)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return QT_OK;
        }
    }
    snprintf(why, n, "expected true or false, got \"%s\"", text);
    return QT_ERR;
}

static int parse_enum(const qt_config_key *k, const char *text, int *out, char *why, size_t n)
{
    size_t len = strlen(text);
    int index = 0;
    for (const char *p = k->limits; *p; index++) {
        const char *bar = strchr(p, '|');
        size_t m = bar ? (size_t)(bar - p) : strlen(p);
        if (m == len && memcmp(p, text, len) == 0) {
            *out = index;
            return QT_OK;
        }
        p += m + (bar != NULL);
    }
    snprintf(why, n, "expected one of %s, got \"%s\"", k->limits, text);
    return QT_ERR;
}

/* A name key's value: which names exist is the owning layer's check (qt_config_names_fn). */
static int parse_name(const qt_config_key *k, const char *text, char *field, char *why, size_t n)
{
    size_t len = strlen(text);
    bool word = len > 0;
    for (const char *p = text; *p; p++)
        word = word && (isalnum((unsigned char)*p) || *p == '_');
    if (!word) {
        snprintf(why, n, "expected a name (letters, digits and _), got \"%s\"", text);
        return QT_ERR;
    }
    if (len >= k->size) {
        snprintf(why, n, "longer than %zu characters", k->size - 1);
        return QT_ERR;
    }
    memcpy(field, text, len + 1);
    return QT_OK;
}

static int parse_string(const qt_config_key *k, const char *text, char *field, char *why, size_t n)
{
    size_t len = strlen(text);
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(why, n, "control characters are not allowed");
            return QT_ERR;
        }
    if (len >= k->size) {
        snprintf(why, n, "longer than %zu characters", k->size - 1);
        return QT_ERR;
    }
    if (len == 0 && k->limits && strcmp(k->limits, "non-empty") == 0) {
        snprintf(why, n, "must not be empty");
        return QT_ERR;
    }
    memcpy(field, text, len + 1);
    return QT_OK;
}

/* ---- lists: comma-separated items, each checked like a scalar ---- */

/* Parses each trimmed item of a comma-separated list like a scalar of the same limits;
 * an empty (or all-blank) text is the empty list. The list is written only on success. */
static int parse_list(const qt_config_key *k, const char *text, void *list, char *why, size_t n)
{
    char buf[QT_NUMBER_TEXT_MAX * QT_CONFIG_LIST_MAX * 2];
    char item_why[256];
    int count = 0;
    qt_cfg_int_list ints = {0};
    qt_cfg_float_list floats = {0};
    if (strlen(text) >= sizeof buf) {
        snprintf(why, n, "list is too long");
        return QT_ERR;
    }
    strcpy(buf, text);
    char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *item = p, *end = item + strlen(item);
        while (*item == ' ' || *item == '\t')
            item++;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (count == QT_CONFIG_LIST_MAX) {
            snprintf(why, n, "more than %d items", QT_CONFIG_LIST_MAX);
            return QT_ERR;
        }
        int rc = k->type == QT_KEY_INT_LIST
                     ? parse_int_item(k, item, &ints.v[count], item_why, sizeof item_why)
                     : parse_float_item(k, item, &floats.v[count], item_why, sizeof item_why);
        if (rc != QT_OK) {
            snprintf(why, n, "item %d: %s", count + 1, item_why);
            return QT_ERR;
        }
        count++;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p) {
            snprintf(why, n, "item %d: nothing after the last ','", count + 1);
            return QT_ERR;
        }
    }
    ints.n = floats.n = count;
    if (k->type == QT_KEY_INT_LIST)
        *(qt_cfg_int_list *)list = ints;
    else
        *(qt_cfg_float_list *)list = floats;
    return QT_OK;
}

int qt_config_parse_value(const qt_config_key *k, const char *text, void *base, char *why,
                          size_t why_size)
{
    void *field = (char *)base + k->offset;
    switch (k->type) {
    case QT_KEY_INT:
        return parse_int_item(k, text, field, why, why_size);
    case QT_KEY_FLOAT:
        return parse_float_item(k, text, field, why, why_size);
    case QT_KEY_BOOL:
        return parse_bool(text, field, why, why_size);
    case QT_KEY_STRING:
    case QT_KEY_PATH:
        return parse_string(k, text, field, why, why_size);
    case QT_KEY_ENUM:
        return parse_enum(k, text, field, why, why_size);
    case QT_KEY_NAME:
        return parse_name(k, text, field, why, why_size);
    case QT_KEY_INT_LIST:
    case QT_KEY_FLOAT_LIST:
        return parse_list(k, text, field, why, why_size);
    }
    snprintf(why, why_size, "schema error: unknown type %d", (int)k->type);
    return QT_ERR;
}

/* ---- formatting ---- */

/* snprintf-style appending: len counts every byte, including those that did not fit. */
typedef struct out_text {
    char *p;
    size_t size, len;
} out_text;

static void put(out_text *o, const char *s, size_t n)
{
    if (o->len + 1 < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
    if (o->size > 0)
        o->p[o->len < o->size ? o->len : o->size - 1] = '\0';
}

static void put_str(out_text *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_enum(out_text *o, const qt_config_key *k, int index)
{
    const char *p = k->limits;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (index < 0 || !p) {
        char num[16];
        snprintf(num, sizeof num, "%d", index);
        put_str(o, num);
        return;
    }
    const char *bar = strchr(p, '|');
    put(o, p, bar ? (size_t)(bar - p) : strlen(p));
}

/* A list's count as stored, kept within the array in case code set it out of range. */
static int list_count(int n)
{
    return n < 0 ? 0 : n > QT_CONFIG_LIST_MAX ? QT_CONFIG_LIST_MAX : n;
}

size_t qt_config_format_value(const qt_config_key *k, const void *base, char *out, size_t out_size)
{
    const void *field = (const char *)base + k->offset;
    out_text o = {out, out_size, 0};
    char num[QT_NUMBER_TEXT_MAX];
    if (out_size > 0)
        out[0] = '\0';
    switch (k->type) {
    case QT_KEY_INT:
        snprintf(num, sizeof num, "%d", *(const int *)field);
        put_str(&o, num);
        break;
    case QT_KEY_FLOAT:
        qt_format_double(num, *(const double *)field);
        put_str(&o, num);
        break;
    case QT_KEY_BOOL:
        put_str(&o, *(const bool *)field ? "true" : "false");
        break;
    case QT_KEY_STRING:
    case QT_KEY_PATH:
    case QT_KEY_NAME:
        put(&o, field, strnlen(field, k->size));
        break;
    case QT_KEY_ENUM:
        put_enum(&o, k, *(const int *)field);
        break;
    case QT_KEY_INT_LIST: {
        const qt_cfg_int_list *l = field;
        for (int i = 0; i < list_count(l->n); i++) {
            snprintf(num, sizeof num, "%s%d", i ? "," : "", l->v[i]);
            put_str(&o, num);
        }
        break;
    }
    case QT_KEY_FLOAT_LIST: {
        const qt_cfg_float_list *l = field;
        for (int i = 0; i < list_count(l->n); i++) {
            if (i)
                put_str(&o, ",");
            qt_format_double(num, l->v[i]);
            put_str(&o, num);
        }
        break;
    }
    }
    return o.len;
}

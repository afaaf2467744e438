/* The config as a value: defaults, INI files and --set overrides on top, validation,
 * equality, and the resolved INI text. Key knowledge lives in the schema table. */
#include "config_internal.h"

#include "qtrain/file_io.h"
#include "qtrain/ini.h"
#include "strbuf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VALUE_TEXT_MAX = 4096, WHY_MAX = 512 };

static const qt_config_key *key_at(int i)
{
    int n;
    return &qt_config_schema(&n)[i];
}

void qt_config_defaults(qt_config *c)
{
    int n;
    const qt_config_key *keys = qt_config_schema(&n);
    char why[WHY_MAX];
    memset(c, 0, sizeof *c);
    /* Defaults are text in the table, parsed like any value; a test checks they all parse. */
    for (int i = 0; i < n; i++) {
        qt_config_parse_value(&keys[i], keys[i].default_text, c, why, sizeof why);
        c->where.key[i] = (qt_config_origin){QT_CONFIG_FROM_DEFAULT, 0};
    }
}

/* "file:line: ", "--set: ", or "" for a default (or a field code changed directly). */
static void origin_prefix(const qt_config *c, int i, char *out, size_t n)
{
    qt_config_origin o = c->where.key[i];
    if (o.source >= 0 && o.source < c->where.n_files)
        snprintf(out, n, "%s:%d: ", c->where.files[o.source], o.line);
    else
        snprintf(out, n, "%s", o.source == QT_CONFIG_FROM_SET ? "--set: " : "");
}

/* The schema row of "section.key", or -1. */
static int dotted_row(const char *dotted_key)
{
    char section[64];
    const char *dot = strchr(dotted_key, '.');
    int i = -1;
    if (!dot || (size_t)(dot - dotted_key) >= sizeof section)
        return -1;
    memcpy(section, dotted_key, (size_t)(dot - dotted_key));
    section[dot - dotted_key] = '\0';
    qt_config_find_key(section, dot + 1, &i);
    return i;
}

int qt_config_key_error(const qt_config *c, const char *dotted_key, qt_error *err,
                        const char *fmt, ...)
{
    char origin[QT_CONFIG_PATH_MAX + 16], what[512];
    int i = dotted_row(dotted_key);
    origin[0] = '\0';
    if (i >= 0)
        origin_prefix(c, i, origin, sizeof origin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qt_errorf(err, "%s%s: %s", origin, dotted_key, what);
}

static int assign(qt_config *c, int i, const char *text, const char *origin, qt_config_origin o,
                  qt_error *err)
{
    const qt_config_key *k = key_at(i);
    char why[WHY_MAX];
    if (qt_config_parse_value(k, text, c, why, sizeof why) != QT_OK)
        return qt_errorf(err, "%s: %s.%s: %s", origin, k->section, k->key, why);
    c->where.key[i] = o;
    return QT_OK;
}

/* ---- unknown names, with a suggestion for typos ---- */

/* Names this close count as typos: one edit in short names, two in longer ones. */
static int typo_limit(const char *name)
{
    return strlen(name) < 5 ? 1 : 2;
}

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la >= 64 || lb >= 64)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The key closest to section.key: a typo, or the same key name in another section.
 * NULL when nothing is close. */
static const qt_config_key *suggest_key(const char *section, const char *key)
{
    int n, best_d = INT_MAX;
    const qt_config_key *keys = qt_config_schema(&n), *best = NULL;
    char want[160], have[160];
    snprintf(want, sizeof want, "%s.%s", section, key);
    for (int i = 0; i < n; i++) {
        snprintf(have, sizeof have, "%s.%s", keys[i].section, keys[i].key);
        int d = strcmp(keys[i].key, key) == 0 ? 1 : edit_distance(want, have);
        if (d <= typo_limit(want) && d < best_d) {
            best_d = d;
            best = &keys[i];
        }
    }
    return best;
}

static int unknown_key(const char *origin, const char *section, const char *key, qt_error *err)
{
    const qt_config_key *s = suggest_key(section, key);
    if (s)
        return qt_errorf(err, "%s: %s.%s: unknown key (did you mean %s.%s?)", origin, section,
                         key, s->section, s->key);
    return qt_errorf(err, "%s: %s.%s: unknown key (configs/README.md lists every key)", origin,
                     section, key);
}

static bool known_section(const char *name)
{
    int n;
    const qt_config_section *s = qt_config_sections(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return true;
    return false;
}

static int unknown_section(const char *origin, const char *name, qt_error *err)
{
    int n;
    const qt_config_section *s = qt_config_sections(&n);
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (edit_distance(name, s[i].name) <= typo_limit(name))
            return qt_errorf(err, "%s: unknown section [%s] (did you mean [%s]?)", origin, name,
                             s[i].name);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", s[i].name);
    }
    return qt_errorf(err, "%s: unknown section [%s] (sections: %s)", origin, name, list);
}

/* ---- retired keys ---- */

/* Keys that no longer exist. Run directories written before keep them in config.ini with
 * their default value, which still loads (and means nothing now); any other value is an
 * error that names the key to use instead. */
static const struct {
    const char *section, *key, *harmless_value, *instead;
} retired_keys[] = {
    {"quant", "bc_lr_scale", "none",
     "quant.step_scale = glorot (it now scales the steps of bc, sr and r alike)"},
};

/* 1 when section.key is retired and value harmless (skip it), 0 when the key is not retired,
 * QT_ERR (with err set) when it is retired and its value mattered. */
static int retired_key(const char *origin, const char *section, const char *key,
                       const char *value, qt_error *err)
{
    for (size_t i = 0; i < sizeof retired_keys / sizeof retired_keys[0]; i++) {
        if (strcmp(section, retired_keys[i].section) != 0 || strcmp(key, retired_keys[i].key) != 0)
            continue;
        if (strcmp(value, retired_keys[i].harmless_value) == 0)
            return 1;
        return qt_errorf(err, "%s: %s.%s: this key was retired; use %s", origin, section, key,
                         retired_keys[i].instead);
    }
    return 0;
}

/* ---- loading ---- */

static int apply_ini(qt_config *c, const qt_ini *ini, qt_error *err)
{
    char origin[QT_CONFIG_PATH_MAX + 16];
    if (c->where.n_files == QT_CONFIG_FILES_MAX)
        return qt_errorf(err, "%s: too many config files (at most %d)", ini->file,
                         QT_CONFIG_FILES_MAX);
    int file = c->where.n_files++, next_section = 0;
    snprintf(c->where.files[file], QT_CONFIG_PATH_MAX, "%s", ini->file);
    /* Section headers and entries are checked in line order, so the first error in the
     * file is the one reported. */
    for (int j = 0; j <= ini->n_entries; j++) {
        int line = j < ini->n_entries ? ini->entries[j].line : INT_MAX;
        for (; next_section < ini->n_sections && ini->sections[next_section].line < line;
             next_section++) {
            const qt_ini_section *s = &ini->sections[next_section];
            snprintf(origin, sizeof origin, "%s:%d", s->file, s->line);
            if (!known_section(s->name))
                return unknown_section(origin, s->name, err);
        }
        if (j == ini->n_entries)
            break;
        const qt_ini_entry *e = &ini->entries[j];
        int i;
        snprintf(origin, sizeof origin, "%s:%d", e->file, e->line);
        if (!qt_config_find_key(e->section, e->key, &i)) {
            int retired = retired_key(origin, e->section, e->key, e->value, err);
            if (retired == 1)
                continue;
            return retired == QT_ERR ? QT_ERR : unknown_key(origin, e->section, e->key, err);
        }
        if (c->where.key[i].source == file)
            return qt_errorf(err, "%s: %s.%s: already set at line %d", origin, e->section,
                             e->key, c->where.key[i].line);
        if (assign(c, i, e->value, origin, (qt_config_origin){file, e->line}, err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

static int apply_and_free(qt_config *c, qt_ini *ini, qt_error *err)
{
    /* Work on a copy so a bad file leaves c as it was. */
    qt_config tmp = *c;
    int rc = apply_ini(&tmp, ini, err);
    qt_ini_free(ini);
    if (rc == QT_OK)
        *c = tmp;
    return rc;
}

int qt_config_load(qt_config *c, const char *path, qt_error *err)
{
    qt_ini *ini;
    if (qt_ini_load(&ini, path, err) != QT_OK)
        return QT_ERR;
    return apply_and_free(c, ini, err);
}

int qt_config_load_text(qt_config *c, const char *name, const char *text, qt_error *err)
{
    qt_ini *ini;
    if (qt_ini_parse(&ini, name, text, strlen(text), err) != QT_OK)
        return QT_ERR;
    return apply_and_free(c, ini, err);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int qt_config_set_arg(qt_config *c, const char *arg, qt_error *err)
{
    char buf[VALUE_TEXT_MAX];
    if (strlen(arg) >= sizeof buf)
        return qt_errorf(err, "--set: argument longer than %d characters", VALUE_TEXT_MAX - 1);
    strcpy(buf, arg);
    char *eq = strchr(buf, '=');
    char *dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
    if (!dot)
        return qt_errorf(err, "--set: expected section.key=value, got \"%s\"", arg);
    *eq = *dot = '\0';
    const char *section = trim(buf), *key = trim(dot + 1), *value = trim(eq + 1);
    int i;
    if (!qt_config_find_key(section, key, &i)) {
        int retired = retired_key("--set", section, key, value, err);
        if (retired != 0)
            return retired == 1 ? QT_OK : QT_ERR;
        if (known_section(section))
            return unknown_key("--set", section, key, err);
        const qt_config_key *s = suggest_key(section, key);
        if (s)
            return qt_errorf(err, "--set: %s.%s: unknown section [%s] (did you mean %s.%s?)",
                             section, key, section, s->section, s->key);
        return unknown_section("--set", section, err);
    }
    return assign(c, i, value, "--set", (qt_config_origin){QT_CONFIG_FROM_SET, 0}, err);
}

/* ---- reading values back ---- */

static int row_of(const char *section, const char *key)
{
    int i = -1;
    qt_config_find_key(section, key, &i);
    return i;
}

static const char *text_of(const qt_config *c, int i, char *out, size_t n)
{
    qt_config_format_value(key_at(i), c, out, n);
    return out;
}

size_t qt_config_value_text(const qt_config *c, const char *dotted_key, char *out, size_t out_size)
{
    int i = dotted_row(dotted_key);
    if (i < 0)
        return (size_t)-1;
    return qt_config_format_value(key_at(i), c, out, out_size);
}

bool qt_config_equal(const qt_config *a, const qt_config *b)
{
    int n;
    qt_config_schema(&n);
    char ta[VALUE_TEXT_MAX], tb[VALUE_TEXT_MAX];
    /* Formatting is exact (shortest round-trip numbers), so equal text means equal value. */
    for (int i = 0; i < n; i++)
        if (strcmp(text_of(a, i, ta, sizeof ta), text_of(b, i, tb, sizeof tb)) != 0)
            return false;
    return true;
}

/* ---- validation ---- */

/* A list's item count, which its text cannot show when code set it out of range. */
static bool list_count_ok(const qt_config *c, const qt_config_key *k, char *why, size_t n)
{
    if (k->type != QT_KEY_INT_LIST && k->type != QT_KEY_FLOAT_LIST)
        return true;
    int count = *(const int *)((const char *)c + k->offset);   /* both lists start with n */
    if (count >= 0 && count <= QT_CONFIG_LIST_MAX)
        return true;
    snprintf(why, n, "%d items, expected 0 to %d", count, QT_CONFIG_LIST_MAX);
    return false;
}

/* Re-parses the value's own text: the one set of rules that loading applies. */
static int check_key(const qt_config *c, int i, qt_config *scratch, qt_error *err)
{
    const qt_config_key *k = key_at(i);
    char text[VALUE_TEXT_MAX], why[WHY_MAX], origin[QT_CONFIG_PATH_MAX + 16];
    text_of(c, i, text, sizeof text);
    if (list_count_ok(c, k, why, sizeof why) &&
        qt_config_parse_value(k, text, scratch, why, sizeof why) == QT_OK)
        return QT_OK;
    origin_prefix(c, i, origin, sizeof origin);
    return qt_errorf(err, "%s%s.%s: %s", origin, k->section, k->key, why);
}

/* A rule between two keys failed: blame b (the dependent key) unless only a was set
 * explicitly, so the message points at the line the user wrote. */
static int cross_verror(const qt_config *c, int a, int b, qt_error *err, const char *fmt,
                        va_list ap)
{
    int blame = c->where.key[b].source == QT_CONFIG_FROM_DEFAULT &&
                c->where.key[a].source != QT_CONFIG_FROM_DEFAULT ? a : b;
    const qt_config_key *k = key_at(blame);
    char origin[QT_CONFIG_PATH_MAX + 16], msg[WHY_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    origin_prefix(c, blame, origin, sizeof origin);
    return qt_errorf(err, "%s%s.%s: %s", origin, k->section, k->key, msg);
}

static int cross_error(const qt_config *c, int a, int b, qt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int cross_error(const qt_config *c, int a, int b, qt_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cross_verror(c, a, b, err, fmt, ap);
    va_end(ap);
    return rc;
}

int qt_config_cross_error(const qt_config *c, const char *dotted_a, const char *dotted_b,
                          qt_error *err, const char *fmt, ...)
{
    int a = dotted_row(dotted_a), b = dotted_row(dotted_b);
    if (a < 0 || b < 0)
        return qt_errorf(err, "config: no key %s", a < 0 ? dotted_a : dotted_b);
    va_list ap;
    va_start(ap, fmt);
    int rc = cross_verror(c, a, b, err, fmt, ap);
    va_end(ap);
    return rc;
}

static bool is_folder_dataset(qt_cfg_dataset d)
{
    return d == QT_CFG_DATASET_PNG_FOLDER || d == QT_CFG_DATASET_IMAGE_FOLDER ||
           d == QT_CFG_DATASET_IMAGENET || d == QT_CFG_DATASET_TINY_IMAGENET;
}

/* Classes in each dataset (0: a folder dataset, known only once the folder is read). */
static int dataset_classes(const qt_config *c)
{
    if (is_folder_dataset(c->data.dataset))
        return 0;
    return c->data.dataset == QT_CFG_DATASET_CIFAR100
               ? (c->data.labels == QT_CFG_LABELS_COARSE ? 20 : 100)
               : 10;
}

static int check_data(const qt_config *c, qt_error *err)
{
    int dataset = row_of("data", "dataset");
    char name[64];
    text_of(c, dataset, name, sizeof name);
    if (c->data.labels == QT_CFG_LABELS_COARSE && c->data.dataset != QT_CFG_DATASET_CIFAR100)
        return cross_error(c, dataset, row_of("data", "labels"), err,
                           "data.labels = coarse needs data.dataset = cifar100, got %s", name);
    if (c->data.class_list[0] && !is_folder_dataset(c->data.dataset))
        return cross_error(c, dataset, row_of("data", "class_list"), err,
                           "data.class_list needs a folder dataset (image_folder, imagenet or "
                           "tiny_imagenet), got %s", name);
    if (c->data.class_list[0] && c->data.classes)
        return cross_error(c, row_of("data", "class_list"), row_of("data", "classes"), err,
                           "data.classes and data.class_list exclude each other: keep one");
    int total = dataset_classes(c);
    if (total > 0 && c->data.classes > total)
        return cross_error(c, dataset, row_of("data", "classes"), err,
                           "data.classes = %d is more than the %d classes of %s%s",
                           c->data.classes, total, name,
                           c->data.labels == QT_CFG_LABELS_COARSE ? " (coarse labels)" : "");
    return QT_OK;
}

static int check_train(const qt_config *c, qt_error *err)
{
    const qt_cfg_int_list *d = &c->train.lr_decay_epochs;
    char text[VALUE_TEXT_MAX];
    for (int i = 1; i < d->n; i++)
        if (d->v[i] <= d->v[i - 1]) {
            int row = row_of("train", "lr_decay_epochs");
            return cross_error(c, row, row, err, "epochs must increase, got %s",
                               text_of(c, row, text, sizeof text));
        }
    if (c->train.warmup_epochs > c->train.epochs) {
        text_of(c, row_of("train", "warmup_epochs"), text, sizeof text);
        return cross_error(c, row_of("train", "epochs"), row_of("train", "warmup_epochs"), err,
                           "train.warmup_epochs = %s is more than train.epochs = %d", text,
                           c->train.epochs);
    }
    return QT_OK;
}

int qt_config_validate(const qt_config *c, qt_error *err)
{
    int n;
    qt_config_schema(&n);
    qt_config *scratch = malloc(sizeof *scratch);
    if (!scratch)
        return qt_errorf(err, "config: out of memory");
    int rc = QT_OK;
    for (int i = 0; i < n && rc == QT_OK; i++)
        rc = check_key(c, i, scratch, err);
    free(scratch);
    if (rc != QT_OK)
        return rc;
    if (check_data(c, err) != QT_OK ||
        check_train(c, err) != QT_OK)
        return QT_ERR;
    return QT_OK;
}

/* ---- the resolved INI ---- */

char *qt_config_to_ini(const qt_config *c)
{
    int n_keys, n_sections;
    const qt_config_key *keys = qt_config_schema(&n_keys);
    const qt_config_section *sections = qt_config_sections(&n_sections);
    char text[VALUE_TEXT_MAX], quoted[2 * VALUE_TEXT_MAX + 3];
    qt_strbuf b;
    qt_sb_init(&b);
    qt_sb_puts(&b, "# qtrain config, resolved: defaults, then these files, then --set overrides\n");
    for (int f = 0; f < c->where.n_files && f < QT_CONFIG_FILES_MAX; f++) {
        qt_sb_puts(&b, "# file: ");
        /* A line break in a file name would end the comment early. */
        for (const char *p = c->where.files[f]; *p && p < c->where.files[f] + QT_CONFIG_PATH_MAX; p++)
            qt_sb_putc(&b, (unsigned char)*p < 0x20 ? '?' : *p);
        qt_sb_putc(&b, '\n');
    }
    for (int s = 0; s < n_sections; s++) {
        qt_sb_printf(&b, "\n[%s]\n", sections[s].name);
        for (int i = 0; i < n_keys; i++) {
            if (strcmp(keys[i].section, sections[s].name) != 0)
                continue;
            qt_ini_format_value(quoted, sizeof quoted, text_of(c, i, text, sizeof text));
            qt_sb_printf(&b, "%s = %s\n", keys[i].key, quoted);
        }
    }
    return qt_sb_take(&b);
}

int qt_config_save(const qt_config *c, const char *path, qt_error *err)
{
    char *text = qt_config_to_ini(c);
    if (!text)
        return qt_errorf(err, "%s: out of memory writing the config", path);
    int rc = qt_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Documentation of every config key, generated from the schema: the plain text of
 * `qtrain --help-config` and the Markdown of configs/README.md. */
#include "config_internal.h"

#include "strbuf.h"

#include <stdio.h>
#include <string.h>

enum { HELP_WIDTH = 79, HELP_INDENT = 6 };

/* Appends text word-wrapped to HELP_WIDTH columns, each line indented. */
static void put_wrapped(qt_strbuf *b, const char *text)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == 0)
            break;
        if (col > 0 && col + 1 + (int)w > HELP_WIDTH) {
            qt_sb_putc(b, '\n');
            col = 0;
        }
        if (col == 0) {
            qt_sb_printf(b, "%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else {
            qt_sb_putc(b, ' ');
            col++;
        }
        qt_sb_append(b, p, w);
        col += (int)w;
        p += w;
    }
    qt_sb_putc(b, '\n');
}

/* The allowed values in words (qt_config_limits_text), a name key's from its table. */
static void allowed_text(const qt_config_key *k, qt_config_names_fn names, char *out, size_t n)
{
    if (k->type == QT_KEY_NAME && names)
        names(k, out, n);
    else
        qt_config_limits_text(k, out, n);
}

static bool is_choice(const qt_config_key *k)
{
    return k->type == QT_KEY_ENUM || k->type == QT_KEY_NAME;
}

/* "int, >= 1" or "int list, each >= 1" or "choice: sgd|adam". */
static void type_and_limits(const qt_config_key *k, qt_config_names_fn names, char *out, size_t n)
{
    char limits[128];
    allowed_text(k, names, limits, sizeof limits);
    const char *type = qt_config_type_name(k->type);
    if (!*limits)
        snprintf(out, n, "%s", type);
    else if (is_choice(k))
        snprintf(out, n, "%s: %s", type, limits);
    else if (k->type == QT_KEY_INT_LIST || k->type == QT_KEY_FLOAT_LIST)
        snprintf(out, n, "%s, each %s", type, limits);
    else
        snprintf(out, n, "%s, %s", type, limits);
}

char *qt_config_help_text(qt_config_names_fn names)
{
    int n_keys, n_sections;
    const qt_config_key *keys = qt_config_schema(&n_keys);
    const qt_config_section *sections = qt_config_sections(&n_sections);
    char assign[160], type[192];
    qt_strbuf b;
    qt_sb_init(&b);
    qt_sb_puts(&b, "Config keys: set them in the INI file under [section], or with\n"
                   "--set section.key=value. Shown as key = default, then type and range.\n");
    for (int s = 0; s < n_sections; s++) {
        qt_sb_printf(&b, "\n[%s]  %s\n", sections[s].name, sections[s].doc);
        for (int i = 0; i < n_keys; i++) {
            if (strcmp(keys[i].section, sections[s].name) != 0)
                continue;
            snprintf(assign, sizeof assign, "%s = %s", keys[i].key, keys[i].default_text);
            type_and_limits(&keys[i], names, type, sizeof type);
            qt_sb_printf(&b, "  %-30s (%s)\n", assign, type);
            put_wrapped(&b, keys[i].doc);
        }
    }
    return qt_sb_take(&b);
}

/* Table cells: '|' would end the cell and '<' start an HTML tag. */
static void put_md_escaped(qt_strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '<')
            qt_sb_putc(b, '\\');
        qt_sb_putc(b, *s);
    }
}

static void put_md_allowed(qt_strbuf *b, const qt_config_key *k, qt_config_names_fn names)
{
    char limits[128];
    allowed_text(k, names, limits, sizeof limits);
    if (is_choice(k)) {
        for (const char *p = limits; *p;) {
            size_t w = strcspn(p, "|");
            qt_sb_printf(b, "%s`%.*s`", p == limits ? "" : ", ", (int)w, p);
            p += w + (p[w] == '|');
        }
        return;
    }
    if (*limits && (k->type == QT_KEY_INT_LIST || k->type == QT_KEY_FLOAT_LIST))
        qt_sb_puts(b, "each ");
    put_md_escaped(b, limits);
}

static const char readme_intro[] =
    "# Config reference\n"
    "\n"
    "<!-- Generated from src/io/config_schema.c by `ninja -C <builddir> config-readme`; do not\n"
    "     edit by hand. tests/io/test_config_readme fails when this file and the table differ. -->\n"
    "\n"
    "A run is described by one INI file with the sections `[model]`, `[data]`, `[train]`,\n"
    "`[quant]` and `[log]`. Every key is optional and falls back to the default below.\n"
    "\n"
    "```ini\n"
    "[train]\n"
    "optimizer = sgd\n"
    "lr = 0.1                 # a comment starts with # or ;\n"
    "lr_decay_epochs = 82,122\n"
    "```\n"
    "\n"
    "- `--set section.key=value` overrides a key from the command line, after the file:\n"
    "  `qtrain --config configs/resnet56_bc.ini --set train.lr=0.01 --set quant.mode=sr`.\n"
    "- `qtrain --help-config` prints this reference; `qtrain --print-config` prints the\n"
    "  resolved config. A run directory keeps it as `config.ini`, which loads back to the\n"
    "  same values.\n"
    "- An unknown section or key, a key set twice in a file, a value of the wrong type, out\n"
    "  of range or not among the choices is an error naming the file, line and key, before\n"
    "  anything runs: `configs/x.ini:12: train.lr: expected a number, got \"fast\"`.\n"
    "- Types: `int` and `float` are decimal numbers (`1e-3` is fine); `bool` is `true` or\n"
    "  `false` (also `yes`/`no`, `on`/`off`, `1`/`0`); `choice` is one of the listed words;\n"
    "  lists are comma-separated (`82,122`), and an empty value is an empty list; a `path`\n"
    "  is used as written, relative to the directory qtrain runs in.\n"
    "- Quote a value (`\"...\"`, with `\\\"` and `\\\\` as escapes) to keep leading or trailing\n"
    "  spaces, or a `#` or `;` that follows a space.\n"
    "\n"
    "Rules between keys, checked after the file and the overrides are applied:\n"
    "\n"
    "- `quant.grid = binary` needs `quant.bits = 1`; `quant.grid = uniform` needs\n"
    "  `quant.bits` from 2 to 8.\n"
    "- `data.labels = coarse` needs `data.dataset = cifar100`.\n"
    "- `data.classes` is at most the dataset's number of classes (10; 100 for cifar100, or\n"
    "  20 with coarse labels).\n"
    "- `train.lr_decay_epochs` increase; `train.warmup_epochs` is at most `train.epochs`.\n";

char *qt_config_readme(qt_config_names_fn names)
{
    int n_keys, n_sections;
    const qt_config_key *keys = qt_config_schema(&n_keys);
    const qt_config_section *sections = qt_config_sections(&n_sections);
    qt_strbuf b;
    qt_sb_init(&b);
    qt_sb_puts(&b, readme_intro);
    for (int s = 0; s < n_sections; s++) {
        qt_sb_printf(&b, "\n## [%s]\n\n%s\n\n", sections[s].name, sections[s].doc);
        qt_sb_puts(&b, "| key | type | default | allowed | meaning |\n"
                       "|-----|------|---------|---------|---------|\n");
        for (int i = 0; i < n_keys; i++) {
            const qt_config_key *k = &keys[i];
            if (strcmp(k->section, sections[s].name) != 0)
                continue;
            qt_sb_printf(&b, "| `%s` | %s | ", k->key, qt_config_type_name(k->type));
            if (*k->default_text)
                qt_sb_printf(&b, "`%s`", k->default_text);
            else
                qt_sb_puts(&b, "(empty)");
            qt_sb_puts(&b, " | ");
            put_md_allowed(&b, k, names);
            qt_sb_puts(&b, " | ");
            put_md_escaped(&b, k->doc);
            qt_sb_puts(&b, " |\n");
        }
    }
    return qt_sb_take(&b);
}

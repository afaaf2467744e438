/* The sections of a net file and their keys: one table that the reader, its error messages
 * and the documentation checks all use. Values are parsed by the config's value parser
 * (config.h), so a net file and a config file accept and reject the same value texts. */
#include <stdio.h>
#include <string.h>

#include "../io/number_text.h"
#include "net_file_internal.h"
#include "qtrain/grid_kind.h"
#include "qtrain/net_file.h"

typedef struct kind_info {
    const char *name;
    nf_kind kind;
} kind_info;

static const kind_info kinds[] = {
    {"net", NF_NET}, {"repeat", NF_REPEAT}, {"end", NF_END},
    {"conv", NF_CONV}, {"linear", NF_LINEAR}, {"bn", NF_BN}, {"relu", NF_RELU},
    {"hardtanh", NF_HARDTANH}, {"maxpool", NF_MAXPOOL}, {"avgpool", NF_AVGPOOL},
    {"global_avgpool", NF_GLOBAL_AVGPOOL}, {"flatten", NF_FLATTEN}, {"dropout", NF_DROPOUT},
    {"add", NF_ADD}, {"shortcut", NF_SHORTCUT},
};

#define KEY(kind, field, type, def, limits, doc) \
    {kind, #field, type, def, limits, doc, offsetof(nf_values, field), \
     sizeof(((nf_values *)0)->field)}
#define REQUIRED NULL
#define NO_DEFAULT ""
#define NAME_OPT(kind) KEY(kind, name, QT_KEY_STRING, NO_DEFAULT, "non-empty", \
    "Names the layer, so that from = <name> can refer to it.")
#define NAME_REQ(kind) KEY(kind, name, QT_KEY_STRING, REQUIRED, "non-empty", \
    "Names the layer and its parameters (<name>.weight, <name>.bias) in checkpoints and exports.")
#define QUANT_KEYS(kind) \
    KEY(kind, quantize, QT_KEY_BOOL, NO_DEFAULT, NULL, \
        "Quantize this layer's weights (true) or keep them float (false) under a quantized " \
        "rule; default: as quant.quantize_first / quantize_last say."), \
    KEY(kind, grid, QT_KEY_NAME, NO_DEFAULT, NULL, \
        "This layer's grid instead of quant.grid (implies quantize = true)."), \
    KEY(kind, bits, QT_KEY_INT, NO_DEFAULT, "[1, 8]", \
        "This layer's bits instead of quant.bits: 1 is the binary grid, 2 to 8 the uniform grid " \
        "unless grid says otherwise (implies quantize = true).")
#define POOL_KEYS(kind) \
    NAME_OPT(kind), \
    KEY(kind, k, QT_KEY_INT, REQUIRED, "[1, inf)", "Window size (k x k)."), \
    KEY(kind, stride, QT_KEY_INT, NO_DEFAULT, "[1, inf)", "Step between windows; default k."), \
    KEY(kind, pad, QT_KEY_INT, "0", "[0, inf)", "Padding on each side.")

static const qt_config_key keys[] = {
    KEY("net", name, QT_KEY_STRING, NO_DEFAULT, "non-empty",
        "The net's name in logs and summaries; default: the file's name without .net."),
    KEY("net", input, QT_KEY_STRING, NO_DEFAULT, "non-empty",
        "The input shape CxHxW the net is written for (e.g. 3x32x32), checked against the "
        "data; default: any input shape."),
    KEY("repeat", times, QT_KEY_INT, REQUIRED, "[1, 1000]",
        "How many times the sections up to the matching [end] occur."),
    KEY("repeat", name, QT_KEY_STRING, NO_DEFAULT, "non-empty",
        "Repetition i names each layer x inside it <name>.<i>.x; default: no prefix."),
    KEY("repeat", first, QT_KEY_INT, "0", "[0, 1000000]", "Number i of the first repetition."),

    NAME_REQ("conv"),
    KEY("conv", out, QT_KEY_STRING, REQUIRED, "non-empty",
        "Output channels: a number, or classes (the dataset's class count)."),
    KEY("conv", k, QT_KEY_INT, REQUIRED, "[1, inf)", "Kernel size (k x k)."),
    KEY("conv", stride, QT_KEY_INT, "1", "[1, inf)", "Step of the kernel."),
    KEY("conv", pad, QT_KEY_INT, "0", "[0, inf)", "Zero padding on each side."),
    KEY("conv", groups, QT_KEY_INT, "1", "[1, inf)",
        "Split input and output channels into this many independent convolutions."),
    KEY("conv", depthwise, QT_KEY_BOOL, "false", NULL,
        "One group per input channel (out a multiple of the input channels)."),
    KEY("conv", bias, QT_KEY_BOOL, "true", NULL, "Add a learned bias per output channel."),
    QUANT_KEYS("conv"),

    NAME_REQ("linear"),
    KEY("linear", out, QT_KEY_STRING, REQUIRED, "non-empty",
        "Output features: a number, or classes (the dataset's class count)."),
    KEY("linear", bias, QT_KEY_BOOL, "true", NULL, "Add a learned bias per output."),
    QUANT_KEYS("linear"),

    NAME_REQ("bn"),
    KEY("bn", momentum, QT_KEY_FLOAT, NO_DEFAULT, "(0, 1]",
        "Running statistics update; default model.bn_momentum."),
    KEY("bn", eps, QT_KEY_FLOAT, NO_DEFAULT, "(0, inf)",
        "Added to the variance; default model.bn_eps."),

    NAME_OPT("relu"),
    NAME_OPT("hardtanh"),
    POOL_KEYS("maxpool"),
    POOL_KEYS("avgpool"),
    NAME_OPT("global_avgpool"),
    NAME_OPT("flatten"),

    NAME_OPT("dropout"),
    KEY("dropout", p, QT_KEY_FLOAT, REQUIRED, "[0, 1)",
        "Probability of zeroing a value in training."),

    NAME_OPT("add"),
    KEY("add", from, QT_KEY_STRING, REQUIRED, "non-empty",
        "The output added to the previous layer's: -N (N layers back) or a layer's name."),

    KEY("shortcut", name, QT_KEY_STRING, NO_DEFAULT, "non-empty",
        "Type B names its layers <name>.conv and <name>.bn; default shortcut."),
    KEY("shortcut", type, QT_KEY_ENUM, REQUIRED, "A|B",
        "A: subsample by stride and pad with zero channels (no parameters); B: 1x1 conv with "
        "stride, no bias, then bn."),
    KEY("shortcut", out, QT_KEY_STRING, REQUIRED, "non-empty",
        "Output channels: a number, or classes."),
    KEY("shortcut", stride, QT_KEY_INT, "1", "[1, inf)", "Subsampling step."),
    KEY("shortcut", from, QT_KEY_STRING, REQUIRED, "non-empty",
        "Where the shortcut starts: -N (N layers back) or a layer's name."),
};

const qt_config_key *qt_net_file_keys(int *n)
{
    *n = (int)(sizeof keys / sizeof *keys);
    return keys;
}

/* The kind's keys as "name, out, k" into buf. */
static void key_list(const char *kind, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(keys[i].section, kind) && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", keys[i].key);
}

/* Index of key among the kind's rows, or -1. */
static int key_index(const char *kind, const char *key, const qt_config_key **row)
{
    int idx = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strcmp(keys[i].section, kind) != 0)
            continue;
        if (!strcmp(keys[i].key, key)) {
            if (row)
                *row = &keys[i];
            return idx;
        }
        idx++;
    }
    return -1;
}

int nf_given(const nf_section *sec, const char *key)
{
    int i = key_index(sec->kind_name, key, NULL);
    return i < 0 ? 0 : sec->key_line[i];
}

static int find_kind(const char *name, nf_section *sec)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(kinds[i].name, name)) {
            sec->kind = kinds[i].kind;
            sec->kind_name = kinds[i].name;
            return QT_OK;
        }
    return QT_ERR;
}

static int apply_defaults(nf_section *sec, const char *file, qt_error *err)
{
    char why[160];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const qt_config_key *k = &keys[i];
        if (strcmp(k->section, sec->kind_name) || !k->default_text || !*k->default_text)
            continue;
        if (qt_config_parse_value(k, k->default_text, &sec->v, why, sizeof why) != QT_OK)
            return qt_errorf(err, "%s:%d: %s: %s: bad default: %s", file, sec->line,
                             sec->kind_name, k->key, why);
    }
    return QT_OK;
}

static int read_entry(nf_section *sec, const qt_ini_entry *e, qt_error *err)
{
    const qt_config_key *row = NULL;
    int i = key_index(sec->kind_name, e->key, &row);
    if (i < 0) {
        char list[256];
        key_list(sec->kind_name, list, sizeof list);
        return *list ? qt_errorf(err, "%s:%d: %s: unknown key \"%s\" (%s takes %s)", e->file,
                                 e->line, sec->kind_name, e->key, sec->kind_name, list)
                     : qt_errorf(err, "%s:%d: %s: unknown key \"%s\" ([%s] takes no keys)",
                                 e->file, e->line, sec->kind_name, e->key, sec->kind_name);
    }
    if (sec->key_line[i])
        return qt_errorf(err, "%s:%d: %s: key \"%s\" given twice (first on line %d)", e->file,
                         e->line, sec->kind_name, e->key, sec->key_line[i]);
    char why[160];
    if (qt_config_parse_value(row, e->value, &sec->v, why, sizeof why) != QT_OK)
        return qt_errorf(err, "%s:%d: %s: %s: %s", e->file, e->line, sec->kind_name, e->key, why);
    sec->key_line[i] = e->line;
    return QT_OK;
}

static int check_required(const nf_section *sec, const char *file, qt_error *err)
{
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(keys[i].section, sec->kind_name) && !keys[i].default_text &&
            !nf_given(sec, keys[i].key))
            return qt_errorf(err, "%s:%d: %s: missing key \"%s\"", file, sec->line,
                             sec->kind_name, keys[i].key);
    return QT_OK;
}

/* ---- values that need more than the table ---- */

static int read_out(nf_section *sec, const char *file, qt_error *err)
{
    long long n;
    if (!strcmp(sec->v.out, "classes")) {
        sec->out_n = NF_CLASSES;
        return QT_OK;
    }
    if (qt_parse_int(sec->v.out, 1, 1 << 24, &n) != 0)
        return qt_errorf(err, "%s:%d: %s: out: expected a positive integer or \"classes\", got "
                         "\"%s\"", file, nf_given(sec, "out"), sec->kind_name, sec->v.out);
    sec->out_n = (int)n;
    return QT_OK;
}

static int read_from(nf_section *sec, const char *file, qt_error *err)
{
    long long n;
    if (qt_parse_int(sec->v.from, -(1LL << 30), 1LL << 30, &n) != 0)
        return QT_OK; /* a name */
    if (n >= 0)
        return qt_errorf(err, "%s:%d: %s: from: expected -N (N layers back) or a layer's name, "
                         "got \"%s\"", file, nf_given(sec, "from"), sec->kind_name, sec->v.from);
    sec->from_back = (int)-n;
    return QT_OK;
}

static int read_input(nf_section *sec, const char *file, qt_error *err)
{
    char tail;
    int c, h, w;
    if (sscanf(sec->v.input, "%dx%dx%d%c", &c, &h, &w, &tail) != 3 || c < 1 || h < 1 || w < 1)
        return qt_errorf(err, "%s:%d: net: input: expected CxHxW such as 3x32x32, got \"%s\"",
                         file, nf_given(sec, "input"), sec->v.input);
    sec->in_c = c;
    sec->in_h = h;
    sec->in_w = w;
    return QT_OK;
}

/* quantize, grid and bits into one choice; bits alone pick binary (1) or uniform (2..8). */
static int read_quant(nf_section *sec, const char *file, qt_error *err)
{
    int q = nf_given(sec, "quantize"), g = nf_given(sec, "grid"), b = nf_given(sec, "bits");
    int line = g ? g : b;
    qt_layer_quant *lq = &sec->quant;
    const char *kind = sec->kind_name;
    if (q && !sec->v.quantize && (g || b))
        return qt_errorf(err, "%s:%d: %s: quantize = false keeps the layer float; it takes no "
                         "grid or bits", file, line, kind);
    lq->quantize = (g || b || (q && sec->v.quantize)) ? 1 : q ? -1 : 0;
    if (!g && !b)
        return QT_OK;
    qt_grid_kind grid = g ? qt_grid_kind_find(sec->v.grid)
                          : sec->v.bits == 1 ? QT_GRID_BINARY : QT_GRID_UNIFORM;
    if (grid == QT_GRID_KINDS) {
        char names[128];
        qt_grid_kind_names(names, sizeof names);
        return qt_errorf(err, "%s:%d: %s: grid: expected one of %s, got \"%s\"", file, g, kind,
                         names, sec->v.grid);
    }
    lq->own_grid = 1;
    lq->grid = grid;
    lq->bits = b ? sec->v.bits : 0;
    if (lq->grid == QT_GRID_BINARY && b && lq->bits != 1)
        return qt_errorf(err, "%s:%d: %s: grid = binary has 1 bit, got bits = %d", file, line,
                         kind, lq->bits);
    if (lq->grid == QT_GRID_UNIFORM && (lq->bits < 2 || lq->bits > 8))
        return qt_errorf(err, "%s:%d: %s: grid = uniform needs bits from 2 to 8%s", file, line,
                         kind, b ? ", got 1" : "");
    if ((lq->grid == QT_GRID_TERNARY || lq->grid == QT_GRID_UNBOUNDED) && b)
        return qt_errorf(err, "%s:%d: %s: only the binary and uniform grids take bits", file,
                         line, kind);
    if (lq->grid != QT_GRID_UNIFORM)
        lq->bits = lq->grid == QT_GRID_BINARY ? 1 : lq->grid == QT_GRID_TERNARY ? 2 : 8;
    return QT_OK;
}

static int read_values(nf_section *sec, const char *file, qt_error *err)
{
    switch (sec->kind) {
    case NF_NET:
        return nf_given(sec, "input") ? read_input(sec, file, err) : QT_OK;
    case NF_CONV:
        if (nf_given(sec, "groups") && nf_given(sec, "depthwise"))
            return qt_errorf(err, "%s:%d: conv: give groups or depthwise, not both", file,
                             nf_given(sec, "depthwise"));
        /* fall through */
    case NF_LINEAR:
        return read_out(sec, file, err) != QT_OK ? QT_ERR : read_quant(sec, file, err);
    case NF_SHORTCUT:
        if (read_out(sec, file, err) != QT_OK)
            return QT_ERR;
        /* fall through */
    case NF_ADD:
        return read_from(sec, file, err);
    default:
        return QT_OK;
    }
}

int nf_read_section(const qt_ini *ini, int s, nf_section *out, qt_error *err)
{
    const qt_ini_section *is = &ini->sections[s];
    memset(out, 0, sizeof *out);
    out->line = is->line;
    if (find_kind(is->name, out) != QT_OK)
        return qt_errorf(err, "%s:%d: unknown section [%s]; layers are conv, linear, bn, relu, "
                         "hardtanh, maxpool, avgpool, global_avgpool, flatten, dropout, add and "
                         "shortcut (besides [net], [repeat] and [end])", ini->file, is->line,
                         is->name);
    if (apply_defaults(out, ini->file, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < is->n_entries; i++)
        if (read_entry(out, &ini->entries[is->first_entry + i], err) != QT_OK)
            return QT_ERR;
    if (check_required(out, ini->file, err) != QT_OK)
        return QT_ERR;
    return read_values(out, ini->file, err);
}

/* Net files: the sections read (net_file_keys.c), [repeat] ... [end] matched, then every layer
 * section built in order with its repeats unrolled. Shapes are checked here, before the layer
 * constructors, so that an error can say which shapes met and where. */
#include "qtrain/net_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/number_text.h"
#include "net_file_internal.h"
#include "qtrain/file_io.h"

enum { MAX_DEPTH = 8, MAX_LAYERS = 100000 };

/* A layer section as placed in the net, after unrolling: what from = -N and names refer to. */
typedef struct placed {
    int layer;                /* index of its output layer in the net */
    int line;
    char name[NF_NAME_MAX];   /* full name, "" when unnamed */
} placed;

typedef struct builder {
    const char *file;
    const nf_section *secs;
    int nsecs;
    int *end_of;              /* [repeat] -> index of its [end] */
    const qt_model_spec *spec;
    qt_net *net;
    placed *placed;
    int nplaced, cap;
} builder;

typedef struct shape {
    int ndim, c, h, w;
} shape;

/* ---- sections and their structure ---- */

static int read_sections(const qt_ini *ini, nf_section **out, qt_error *err)
{
    *out = calloc((size_t)(ini->n_sections ? ini->n_sections : 1), sizeof **out);
    if (!*out)
        return qt_errorf(err, "out of memory");
    for (int s = 0; s < ini->n_sections; s++) {
        if (nf_read_section(ini, s, &(*out)[s], err) != QT_OK)
            return QT_ERR;
        if ((*out)[s].kind == NF_NET && s > 0)
            return qt_errorf(err, "%s:%d: [net] must be the first section", ini->file,
                             (*out)[s].line);
    }
    return QT_OK;
}

/* Matches every [repeat] with its [end]. */
static int match_repeats(builder *b, qt_error *err)
{
    int stack[MAX_DEPTH], depth = 0;
    for (int s = 0; s < b->nsecs; s++) {
        const nf_section *sec = &b->secs[s];
        if (sec->kind == NF_REPEAT) {
            if (depth == MAX_DEPTH)
                return qt_errorf(err, "%s:%d: [repeat] nested more than %d deep", b->file,
                                 sec->line, MAX_DEPTH);
            stack[depth++] = s;
        } else if (sec->kind == NF_END) {
            if (depth == 0)
                return qt_errorf(err, "%s:%d: [end] without a [repeat] to close", b->file,
                                 sec->line);
            int r = stack[--depth];
            if (r + 1 == s)
                return qt_errorf(err, "%s:%d: [repeat] holds no layers", b->file,
                                 b->secs[r].line);
            b->end_of[r] = s;
        }
    }
    if (depth > 0)
        return qt_errorf(err, "%s:%d: [repeat] has no [end]", b->file,
                         b->secs[stack[depth - 1]].line);
    return QT_OK;
}

/* ---- places, names and shapes ---- */

static shape shape_of(const qt_net *net, int layer)
{
    if (layer == QT_NET_INPUT)
        return (shape){4, net->in_c, net->in_h, net->in_w};
    const qt_layer *l = &net->layers[layer];
    return (shape){l->out_ndim, l->out_c, l->out_h, l->out_w};
}

/* "(64,8,8)" or "(256)" */
static const char *shape_text(shape s, char *buf, size_t n)
{
    if (s.ndim == 4)
        snprintf(buf, n, "(%d,%d,%d)", s.c, s.h, s.w);
    else
        snprintf(buf, n, "(%d)", s.c);
    return buf;
}

static int same_shape(shape a, shape b)
{
    return a.ndim == b.ndim && a.c == b.c && (a.ndim != 4 || (a.h == b.h && a.w == b.w));
}

/* How a message names the layer: "conv layer1.0.conv1", "add in layer1.2" or "relu". */
static void label(const nf_section *sec, const char *full, const char *prefix, char *buf, size_t n)
{
    size_t plen = strlen(prefix);
    if (*full)
        snprintf(buf, n, "%s %s", sec->kind_name, full);
    else if (plen)
        snprintf(buf, n, "%s in %.*s", sec->kind_name, (int)plen - 1, prefix);
    else
        snprintf(buf, n, "%s", sec->kind_name);
}

static int find_placed(const builder *b, const char *name)
{
    for (int i = b->nplaced - 1; i >= 0; i--)
        if (!strcmp(b->placed[i].name, name))
            return i;
    return -1;
}

/* The layer `from` refers to: N places back, or by name (this repetition's first). */
static int resolve_from(const builder *b, const nf_section *sec, const char *prefix,
                        const char *what, int *layer, qt_error *err)
{
    if (sec->from_back) {
        int at = b->nplaced - sec->from_back;
        if (at < -1)
            return qt_errorf(err, "%s:%d: %s: from = -%d goes back past the net's input (%d "
                             "layer%s before this one)", b->file, nf_given(sec, "from"), what,
                             sec->from_back, b->nplaced, b->nplaced == 1 ? " comes" : "s come");
        *layer = at < 0 ? QT_NET_INPUT : b->placed[at].layer;
        return QT_OK;
    }
    char local[2 * NF_NAME_MAX];
    snprintf(local, sizeof local, "%s%s", prefix, sec->v.from);
    int at = *prefix ? find_placed(b, local) : -1;
    if (at < 0)
        at = find_placed(b, sec->v.from);
    if (at < 0)
        return qt_errorf(err, "%s:%d: %s: from = %s: no layer before this one has that name",
                         b->file, nf_given(sec, "from"), what, sec->v.from);
    *layer = b->placed[at].layer;
    return QT_OK;
}

/* A name not yet taken by a placed section or a layer (type-B shortcuts add two layers). */
static int check_name_free(const builder *b, const char *name, int line, qt_error *err)
{
    int at = find_placed(b, name);
    if (at >= 0 && b->placed[at].line == line)
        return qt_errorf(err, "%s:%d: the name %s occurs in every repetition; give the [repeat] "
                         "a name to tell them apart", b->file, line, name);
    if (at >= 0)
        return qt_errorf(err, "%s:%d: the name %s is already taken on line %d", b->file, line,
                         name, b->placed[at].line);
    if (qt_net_find_layer(b->net, name) >= 0)
        return qt_errorf(err, "%s:%d: the name %s is already taken by a layer of a shortcut",
                         b->file, line, name);
    return QT_OK;
}

static int place(builder *b, int layer, int line, const char *name, qt_error *err)
{
    if (b->nplaced == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        placed *p = realloc(b->placed, (size_t)cap * sizeof *p);
        if (!p)
            return qt_errorf(err, "out of memory");
        b->placed = p;
        b->cap = cap;
    }
    placed *p = &b->placed[b->nplaced++];
    p->layer = layer;
    p->line = line;
    snprintf(p->name, sizeof p->name, "%s", name);
    return QT_OK;
}

/* ---- one layer ---- */

/* What building one section needs: its section, names and the layer it reads. */
typedef struct site {
    const nf_section *sec;
    char full[NF_NAME_MAX];   /* prefix + name, "" when unnamed */
    char what[2 * NF_NAME_MAX + 16];
    int in;                   /* the layer it reads (the previous one) */
    shape s;                  /* its output shape */
} site;

static int fail(const builder *b, const site *t, qt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const builder *b, const site *t, qt_error *err, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return qt_errorf(err, "%s:%d: %s: %s", b->file, t->sec->line, t->what, why);
}

static int needs_image(const builder *b, const site *t, qt_error *err)
{
    char sx[48];
    if (t->s.ndim == 4)
        return QT_OK;
    return fail(b, t, err, "needs an image input (C,H,W), got the flat %s",
                shape_text(t->s, sx, sizeof sx));
}

/* Output side of a k x k window with stride and pad, or an error when it does not fit. */
static int window_fits(const builder *b, const site *t, int k, int stride, int pad, qt_error *err)
{
    char sx[48];
    if (needs_image(b, t, err) != QT_OK)
        return QT_ERR;
    if (t->s.h + 2 * pad < k || t->s.w + 2 * pad < k)
        return fail(b, t, err, "a %dx%d window with pad %d does not fit the input %s", k, k, pad,
                    shape_text(t->s, sx, sizeof sx));
    return QT_OK;
}

static int out_count(const builder *b, const nf_section *sec)
{
    return sec->out_n == NF_CLASSES ? b->spec->num_classes : sec->out_n;
}

static int build_conv(builder *b, const site *t, qt_error *err)
{
    const nf_section *sec = t->sec;
    int out = out_count(b, sec), groups = sec->v.depthwise ? t->s.c : sec->v.groups;
    if (window_fits(b, t, sec->v.k, sec->v.stride, sec->v.pad, err) != QT_OK)
        return QT_ERR;
    if (sec->v.depthwise && out % t->s.c)
        return fail(b, t, err, "depthwise needs out to be a multiple of the input's %d channels, "
                    "got %d", t->s.c, out);
    if (t->s.c % groups || out % groups)
        return fail(b, t, err, "groups = %d must divide the input's %d channels and out = %d",
                    groups, t->s.c, out);
    int l = qt_net_conv_groups(b->net, t->full, t->in, out, sec->v.k, sec->v.stride, sec->v.pad,
                               groups, sec->v.bias, err);
    if (l >= 0)
        b->net->layers[l].quant = sec->quant;
    return l;
}

static int build_linear(builder *b, const site *t, qt_error *err)
{
    char sx[48];
    if (t->s.ndim != 2)
        return fail(b, t, err, "needs a flat input (F), got %s; put [flatten] or "
                    "[global_avgpool] before it", shape_text(t->s, sx, sizeof sx));
    int l = qt_net_linear(b->net, t->full, t->in, out_count(b, t->sec), t->sec->v.bias, err);
    if (l >= 0)
        b->net->layers[l].quant = t->sec->quant;
    return l;
}

static int build_bn(builder *b, const site *t, qt_error *err)
{
    const nf_section *sec = t->sec;
    float momentum = nf_given(sec, "momentum") ? (float)sec->v.momentum : b->spec->bn_momentum;
    float eps = nf_given(sec, "eps") ? (float)sec->v.eps : b->spec->bn_eps;
    return qt_net_batchnorm(b->net, t->full, t->in, momentum, eps, err);
}

static int build_pool(builder *b, const site *t, qt_error *err)
{
    const nf_section *sec = t->sec;
    int stride = nf_given(sec, "stride") ? sec->v.stride : sec->v.k;
    if (window_fits(b, t, sec->v.k, stride, sec->v.pad, err) != QT_OK)
        return QT_ERR;
    if (2 * sec->v.pad > sec->v.k)
        return fail(b, t, err, "pad = %d is more than half the window k = %d", sec->v.pad,
                    sec->v.k);
    return (sec->kind == NF_MAXPOOL ? qt_net_maxpool : qt_net_avgpool)(b->net, t->in, sec->v.k,
                                                                       stride, sec->v.pad, err);
}

static int build_add(builder *b, const site *t, const char *prefix, qt_error *err)
{
    int other;
    char sa[48], sb[48];
    if (resolve_from(b, t->sec, prefix, t->what, &other, err) != QT_OK)
        return QT_ERR;
    shape so = shape_of(b->net, other);
    if (!same_shape(t->s, so))
        return fail(b, t, err, "shapes %s and %s differ", shape_text(t->s, sa, sizeof sa),
                    shape_text(so, sb, sizeof sb));
    return qt_net_add(b->net, t->in, other, err);
}

static int build_shortcut(builder *b, site *t, const char *prefix, qt_error *err)
{
    const nf_section *sec = t->sec;
    int from;
    char sx[48];
    if (resolve_from(b, sec, prefix, t->what, &from, err) != QT_OK)
        return QT_ERR;
    t->s = shape_of(b->net, from);
    if (needs_image(b, t, err) != QT_OK)
        return QT_ERR;
    int out = out_count(b, sec);
    if (sec->v.type == 0) {
        if (out < t->s.c)
            return fail(b, t, err, "type A only adds zero channels: out = %d is fewer than the "
                        "%d of its input %s", out, t->s.c, shape_text(t->s, sx, sizeof sx));
        return qt_net_shortcut_pad(b->net, from, out, sec->v.stride, err);
    }
    char conv[2 * NF_NAME_MAX], bn[2 * NF_NAME_MAX];
    snprintf(conv, sizeof conv, "%s.conv", t->full);
    snprintf(bn, sizeof bn, "%s.bn", t->full);
    if (strlen(conv) >= NF_NAME_MAX)
        return fail(b, t, err, "the name %s is longer than %d characters", conv, NF_NAME_MAX - 1);
    if (check_name_free(b, conv, sec->line, err) != QT_OK ||
        check_name_free(b, bn, sec->line, err) != QT_OK)
        return QT_ERR;
    int l = qt_net_conv(b->net, conv, from, out, 1, sec->v.stride, 0, 0, err);
    return l < 0 ? QT_ERR
                 : qt_net_batchnorm(b->net, bn, l, b->spec->bn_momentum, b->spec->bn_eps, err);
}

static int build_kind(builder *b, site *t, const char *prefix, qt_error *err)
{
    char sx[48];
    switch (t->sec->kind) {
    case NF_CONV: return build_conv(b, t, err);
    case NF_LINEAR: return build_linear(b, t, err);
    case NF_BN: return build_bn(b, t, err);
    case NF_RELU: return qt_net_relu(b->net, t->in, err);
    case NF_HARDTANH: return qt_net_hardtanh(b->net, t->in, err);
    case NF_MAXPOOL:
    case NF_AVGPOOL: return build_pool(b, t, err);
    case NF_GLOBAL_AVGPOOL:
    case NF_FLATTEN:
        if (t->s.ndim != 4)
            return fail(b, t, err, "the input %s is already flat", shape_text(t->s, sx, sizeof sx));
        if (t->sec->kind == NF_FLATTEN)
            return qt_net_flatten(b->net, t->in, err);
        return qt_net_global_avgpool(b->net, t->in, err);
    case NF_DROPOUT: return qt_net_dropout(b->net, t->in, (float)t->sec->v.p, err);
    case NF_ADD: return build_add(b, t, prefix, err);
    case NF_SHORTCUT: return build_shortcut(b, t, prefix, err);
    default:
        return qt_errorf(err, "%s:%d: [%s] is not a layer", b->file, t->sec->line,
                         t->sec->kind_name);
    }
}

static int build_layer(builder *b, const nf_section *sec, const char *prefix, qt_error *err)
{
    site t = {sec, "", "", QT_NET_INPUT, {0}};
    const char *name = nf_given(sec, "name") ? sec->v.name
                       : sec->kind == NF_SHORTCUT && sec->v.type == 1 ? "shortcut" : "";
    if (*name && (size_t)snprintf(t.full, sizeof t.full, "%s%s", prefix, name) >= sizeof t.full)
        return qt_errorf(err, "%s:%d: %s: the name %s%s is longer than %d characters", b->file,
                         sec->line, sec->kind_name, prefix, name, NF_NAME_MAX - 1);
    label(sec, t.full, prefix, t.what, sizeof t.what);
    if (*t.full && check_name_free(b, t.full, sec->line, err) != QT_OK)
        return QT_ERR;
    if (b->net->nlayers >= MAX_LAYERS)
        return qt_errorf(err, "%s:%d: more than %d layers", b->file, sec->line, MAX_LAYERS);
    if (b->nplaced > 0)
        t.in = b->placed[b->nplaced - 1].layer;
    t.s = shape_of(b->net, t.in);
    int l = build_kind(b, &t, prefix, err);
    if (l < 0 && strncmp(err->msg, b->file, strlen(b->file)) != 0)  /* a constructor's own */
        return qt_error_prefix(err, "%s:%d: %s", b->file, sec->line, t.what);
    if (l < 0)
        return QT_ERR;
    if (*t.full && !(sec->kind == NF_SHORTCUT && sec->v.type == 1))
        snprintf(b->net->layers[l].name, sizeof b->net->layers[l].name, "%s", t.full);
    return place(b, l, sec->line, t.full, err);
}

/* Sections [lo, hi) with repeats unrolled; prefix is the names' prefix ("layer2.3."). */
static int build_range(builder *b, int lo, int hi, const char *prefix, qt_error *err)
{
    for (int s = lo; s < hi; s++) {
        const nf_section *sec = &b->secs[s];
        if (sec->kind == NF_NET)
            continue;
        if (sec->kind != NF_REPEAT) {
            if (build_layer(b, sec, prefix, err) != QT_OK)
                return QT_ERR;
            continue;
        }
        for (int i = sec->v.first; i < sec->v.first + sec->v.times; i++) {
            char inner[2 * NF_NAME_MAX];
            if (nf_given(sec, "name"))
                snprintf(inner, sizeof inner, "%s%s.%d.", prefix, sec->v.name, i);
            else
                snprintf(inner, sizeof inner, "%s", prefix);
            if (build_range(b, s + 1, b->end_of[s], inner, err) != QT_OK)
                return QT_ERR;
        }
        s = b->end_of[s];
    }
    return QT_OK;
}

/* ---- the whole file ---- */

/* The net's output must be one score per class. */
static int check_output(const builder *b, qt_error *err)
{
    if (b->nplaced == 0)
        return qt_errorf(err, "%s: holds no layers", b->file);
    const placed *last = &b->placed[b->nplaced - 1];
    shape s = shape_of(b->net, last->layer);
    char sx[48];
    if (s.ndim != 2 || s.c != b->spec->num_classes)
        return qt_errorf(err, "%s:%d: the net's output is %s; it must be (%d), one score per "
                         "class (e.g. a last [linear] with out = classes)", b->file, last->line,
                         shape_text(s, sx, sizeof sx), b->spec->num_classes);
    return QT_OK;
}

static int check_input(const builder *b, qt_error *err)
{
    const nf_section *net = b->nsecs > 0 && b->secs[0].kind == NF_NET ? &b->secs[0] : NULL;
    const qt_model_spec *sp = b->spec;
    if (!net || !net->in_c ||
        (net->in_c == sp->in_c && net->in_h == sp->in_h && net->in_w == sp->in_w))
        return QT_OK;
    return qt_errorf(err, "%s:%d: net: input = %s, but the data's images are %dx%dx%d", b->file,
                     nf_given(net, "input"), net->v.input, sp->in_c, sp->in_h, sp->in_w);
}

/* [net] name, or the file's name without its directory and ".net". */
static void net_name(const builder *b, char *out, size_t n)
{
    if (b->nsecs > 0 && b->secs[0].kind == NF_NET && nf_given(&b->secs[0], "name")) {
        snprintf(out, n, "%s", b->secs[0].v.name);
        return;
    }
    const char *base = strrchr(b->file, '/');
    base = base ? base + 1 : b->file;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".net"))
        len -= 4;
    snprintf(out, n, "%.*s", (int)len, base);
}

/* "file input=3x32x32 classes=10 bn_momentum=0.1 bn_eps=1e-05 path=<path>\n<text>" */
static char *describe(const char *path, const char *text, size_t len, const qt_model_spec *sp)
{
    char *out = NULL, mom[QT_NUMBER_TEXT_MAX], eps[QT_NUMBER_TEXT_MAX];
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return NULL;
    qt_format_float(mom, sp->bn_momentum);
    qt_format_float(eps, sp->bn_eps);
    fprintf(f, "file input=%dx%dx%d classes=%d bn_momentum=%s bn_eps=%s path=%s\n", sp->in_c,
            sp->in_h, sp->in_w, sp->num_classes, mom, eps, path);
    fwrite(text, 1, len, f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int build(builder *b, const char *text, size_t len, qt_error *err)
{
    char name[64];
    if (match_repeats(b, err) != QT_OK || check_input(b, err) != QT_OK)
        return QT_ERR;
    net_name(b, name, sizeof name);
    if (!(b->net = qt_net_new(name, b->spec->in_c, b->spec->in_h, b->spec->in_w, err)))
        return QT_ERR;
    b->net->num_classes = b->spec->num_classes;
    if (build_range(b, 0, b->nsecs, "", err) != QT_OK || check_output(b, err) != QT_OK)
        return QT_ERR;
    if (!(b->net->description = describe(b->file, text, len, b->spec)))
        return qt_errorf(err, "out of memory");
    return QT_OK;
}

qt_net *qt_net_file_parse(const char *path, const char *text, size_t len,
                          const qt_model_spec *spec, qt_error *err)
{
    qt_ini *ini;
    if (qt_ini_parse(&ini, path, text, len, err) != QT_OK)
        return NULL;
    nf_section *secs = NULL;
    builder b = {path, NULL, ini->n_sections, NULL, spec, NULL, NULL, 0, 0};
    int rc = read_sections(ini, &secs, err);
    b.secs = secs;
    if (rc == QT_OK && !(b.end_of = calloc((size_t)(b.nsecs ? b.nsecs : 1), sizeof *b.end_of)))
        rc = qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        rc = build(&b, text, len, err);
    if (rc != QT_OK) {
        qt_net_free(b.net);
        b.net = NULL;
    }
    free(b.placed);
    free(b.end_of);
    free(secs);
    qt_ini_free(ini);
    return b.net;
}

qt_net *qt_net_file_load(const char *path, const qt_model_spec *spec, qt_error *err)
{
    uint8_t *data;
    size_t len;
    if (qt_read_file(path, &data, &len, err) != QT_OK)
        return NULL;
    qt_net *net = qt_net_file_parse(path, (const char *)data, len, spec, err);
    free(data);
    return net;
}

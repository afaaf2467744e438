/* Name -> builder. resnet<depth> and wrn<depth>_<k> take any valid depth up to
 * QT_RESNET_MAX_DEPTH and k up to QT_WRN_MAX_WIDEN. Every net built here records its
 * description ("zoo:<name> input=... classes=... <options>", net_desc.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/number_text.h"
#include "qtrain/models.h"

qt_model_spec qt_model_spec_default(const char *name, int in_c, int in_h, int in_w, int classes)
{
    qt_model_spec s = {name, in_c, in_h, in_w, classes, NULL, 0, 'A', 0.0f, 0.1f, 1e-5f};
    return s;
}

const char *qt_model_names(void)
{
    return "mlp, convnet, gpfq_cnn, vgg9, vgg_bc, resnet<6n+2> (resnet20, resnet32, resnet44, "
           "resnet56, resnet110, ... up to resnet1202), wrn<6n+2>_<k> (wrn56_2; k up to 16), "
           "resnet18";
}

/* The spec options a family's builder reads; only these enter its description. */
enum { USES_WIDTHS = 1, USES_DROPOUT = 2, USES_SHORTCUT = 4 };

typedef struct family {
    const char *name;
    qt_net *(*build)(const qt_model_spec *spec, qt_error *err);
    int uses;
} family;

static const family fixed_families[] = {
    {"mlp", qt_model_mlp, USES_WIDTHS | USES_DROPOUT},
    {"convnet", qt_model_convnet, USES_DROPOUT},
    {"gpfq_cnn", qt_model_gpfq_cnn, USES_DROPOUT},
    {"vgg9", qt_model_vgg9, USES_DROPOUT},
    {"vgg_bc", qt_model_vgg_bc, USES_DROPOUT},
    {"resnet18", qt_model_resnet18, 0},
};

/* Splits "<prefix><depth>" or "<prefix><depth>_<widen>" into the numbers as typed (digits
 * only); returns how many it found, 0 when name does not have that form. */
static int split_name(const char *name, const char *prefix, char *depth, char *widen, size_t n)
{
    size_t p = strlen(prefix);
    if (strncmp(name, prefix, p) != 0)
        return 0;
    const char *d = name + p, *w;
    size_t nd = strspn(d, "0123456789"), nw;
    if (nd == 0 || nd >= n || (d[nd] != '\0' && d[nd] != '_'))
        return 0;
    snprintf(depth, n, "%.*s", (int)nd, d);
    if (d[nd] == '\0')
        return 1;
    w = d + nd + 1;
    nw = strspn(w, "0123456789");
    if (nw == 0 || nw >= n || w[nw] != '\0')
        return 0;
    snprintf(widen, n, "%.*s", (int)nw, w);
    return 2;
}

/* The number written in text (digits only) when it lies in lo..hi. */
static int in_range(const char *text, long lo, long hi, int *v)
{
    errno = 0;
    long x = strtol(text, NULL, 10);
    if (errno == ERANGE || x < lo || x > hi)
        return 0;
    *v = (int)x;
    return 1;
}

/* resnet<depth> and wrn<depth>_<widen>, with both numbers bounded before anything is built. */
static qt_net *build_cifar_resnet(const qt_model_spec *spec, int parts, const char *depth_text,
                                  const char *widen_text, qt_error *err)
{
    int depth, widen = 1;
    if (!in_range(depth_text, 8, QT_RESNET_MAX_DEPTH, &depth)) {
        qt_errorf(err, "%s: depth %s out of range (CIFAR ResNets have depth 6n+2 from 8 to %d)",
                  spec->name, depth_text, QT_RESNET_MAX_DEPTH);
        return NULL;
    }
    if (parts == 2 && !in_range(widen_text, 1, QT_WRN_MAX_WIDEN, &widen)) {
        qt_errorf(err, "%s: widening factor %s out of range 1..%d", spec->name, widen_text,
                  QT_WRN_MAX_WIDEN);
        return NULL;
    }
    return qt_model_resnet_cifar(spec, depth, widen, err);
}

/* "zoo:resnet20 input=3x32x32 classes=10 shortcut=A bn_momentum=0.1 bn_eps=1e-05" */
static char *describe(const qt_model_spec *spec, int uses)
{
    char *text = NULL, num[QT_NUMBER_TEXT_MAX];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f, "zoo:%s input=%dx%dx%d classes=%d", spec->name, spec->in_c, spec->in_h,
            spec->in_w, spec->num_classes);
    for (int i = 0; (uses & USES_WIDTHS) && i < spec->nwidths; i++)
        fprintf(f, "%s%d", i ? "," : " widths=", spec->widths[i]);
    if (uses & USES_DROPOUT) {
        qt_format_float(num, spec->dropout);
        fprintf(f, " dropout=%s", num);
    }
    if (uses & USES_SHORTCUT)
        fprintf(f, " shortcut=%c", spec->shortcut);
    qt_format_float(num, spec->bn_momentum);
    fprintf(f, " bn_momentum=%s", num);
    qt_format_float(num, spec->bn_eps);
    fprintf(f, " bn_eps=%s", num);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static qt_net *build_family(const qt_model_spec *spec, int *uses, qt_error *err)
{
    const char *name = spec->name;
    char depth[64], widen[64];
    int parts;
    for (size_t i = 0; i < sizeof fixed_families / sizeof *fixed_families; i++)
        if (strcmp(name, fixed_families[i].name) == 0) {
            *uses = fixed_families[i].uses;
            return fixed_families[i].build(spec, err);
        }
    *uses = USES_SHORTCUT;
    if ((parts = split_name(name, "resnet", depth, widen, sizeof depth)) == 1 ||
        (parts = split_name(name, "wrn", depth, widen, sizeof depth)) == 2)
        return build_cifar_resnet(spec, parts, depth, widen, err);
    qt_errorf(err, "unknown model \"%s\" (known: %s)", name, qt_model_names());
    return NULL;
}

qt_net *qt_model_build(const qt_model_spec *spec, qt_error *err)
{
    if (spec->num_classes < 2) {
        qt_errorf(err, "%s: needs at least 2 classes, got %d", spec->name, spec->num_classes);
        return NULL;
    }
    int uses = 0;
    qt_net *net = build_family(spec, &uses, err);
    if (!net)
        return NULL;
    net->num_classes = spec->num_classes;
    if (!(net->description = describe(spec, uses))) {
        qt_errorf(err, "out of memory");
        qt_net_free(net);
        return NULL;
    }
    return net;
}

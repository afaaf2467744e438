/* Name -> builder. resnet<depth> and wrn<depth>_<k> take any valid depth up to
 * QT_RESNET_MAX_DEPTH and k up to QT_WRN_MAX_WIDEN. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

qt_net *qt_model_build(const qt_model_spec *spec, qt_error *err)
{
    const char *name = spec->name;
    char depth[64], widen[64];
    int parts;
    if (spec->num_classes < 2) {
        qt_errorf(err, "%s: needs at least 2 classes, got %d", name, spec->num_classes);
        return NULL;
    }
    if (strcmp(name, "mlp") == 0)
        return qt_model_mlp(spec, err);
    if (strcmp(name, "convnet") == 0)
        return qt_model_convnet(spec, err);
    if (strcmp(name, "gpfq_cnn") == 0)
        return qt_model_gpfq_cnn(spec, err);
    if (strcmp(name, "vgg9") == 0)
        return qt_model_vgg9(spec, err);
    if (strcmp(name, "vgg_bc") == 0)
        return qt_model_vgg_bc(spec, err);
    if (strcmp(name, "resnet18") == 0)
        return qt_model_resnet18(spec, err);
    if ((parts = split_name(name, "resnet", depth, widen, sizeof depth)) == 1 ||
        (parts = split_name(name, "wrn", depth, widen, sizeof depth)) == 2)
        return build_cifar_resnet(spec, parts, depth, widen, err);
    qt_errorf(err, "unknown model \"%s\" (known: %s)", name, qt_model_names());
    return NULL;
}

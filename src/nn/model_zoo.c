/* Name -> builder. resnet<depth> and wrn<depth>_<k> take any valid depth. */
#include <stdio.h>
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
           "resnet56, resnet110), wrn<6n+2>_<k> (wrn56_2), resnet18";
}

/* Parses "<prefix><int>" or "<prefix><int>_<int>" fully; returns the number of ints read. */
static int parse_depth(const char *name, const char *prefix, int *depth, int *widen)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return 0;
    char tail;
    if (sscanf(name + n, "%d_%d%c", depth, widen, &tail) == 2)
        return 2;
    if (sscanf(name + n, "%d%c", depth, &tail) == 1 && strchr(name + n, '_') == NULL)
        return 1;
    return 0;
}

qt_net *qt_model_build(const qt_model_spec *spec, qt_error *err)
{
    const char *name = spec->name;
    int depth = 0, widen = 1;
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
    if (parse_depth(name, "resnet", &depth, &widen) == 1)
        return qt_model_resnet_cifar(spec, depth, 1, err);
    if (parse_depth(name, "wrn", &depth, &widen) == 2)
        return qt_model_resnet_cifar(spec, depth, widen, err);
    qt_errorf(err, "unknown model \"%s\" (known: %s)", name, qt_model_names());
    return NULL;
}

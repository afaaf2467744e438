/* Which layers a post-training method quantizes. */
#include <stdlib.h>
#include <string.h>

#include "qtrain/ptq.h"

int qt_ptq_layer_quantizable(const qt_net *net, int i)
{
    if (i < 0 || i >= net->nlayers)
        return 0;
    qt_layer_kind k = net->layers[i].kind;
    return k == QT_LAYER_CONV || k == QT_LAYER_LINEAR;
}

static int find_layer(const qt_net *net, const char *name, size_t len)
{
    for (int i = 0; i < net->nlayers; i++)
        if (strlen(net->layers[i].name) == len && !strncmp(net->layers[i].name, name, len))
            return i;
    return -1;
}

int qt_ptq_select_layers(const qt_net *net, const char *spec, int *mask, qt_error *err)
{
    int all = !spec || !*spec || !strcmp(spec, "all");
    for (int i = 0; i < net->nlayers; i++)
        mask[i] = all && qt_ptq_layer_quantizable(net, i);
    if (all)
        return QT_OK;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        int i = find_layer(net, p, len);
        if (i < 0 || !qt_ptq_layer_quantizable(net, i))
            return qt_errorf(err, "--layers: %.*s is not a conv or linear layer of %s", (int)len,
                             p, net->name);
        mask[i] = 1;
        p += len + (p[len] == ',');
    }
    return QT_OK;
}

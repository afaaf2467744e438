/* ResNets: the CIFAR family of He et al. 2016 (depth 6n+2, widths 16/32/64 times a widening
 * factor k, so k > 1 is a wide ResNet such as WRN-56-2) and the ImageNet ResNet-18. */
#include <stdio.h>

#include "qtrain/net_blocks.h"

static int stage(qt_net *net, const qt_model_spec *spec, int x, int index, int blocks, int width,
                 int stride, char kind, qt_error *err)
{
    for (int b = 0; b < blocks && x != QT_ERR; b++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "layer%d.%d", index, b);
        x = qt_block_basic(net, spec, x, prefix, width, b == 0 ? stride : 1, kind, err);
    }
    return x;
}

static qt_net *finish(qt_net *net, const qt_model_spec *spec, int x, qt_error *err)
{
    if (x != QT_ERR)
        x = qt_net_global_avgpool(net, x, err);
    if (x != QT_ERR)
        x = qt_net_linear(net, "fc", x, spec->num_classes, 1, err);
    if (x == QT_ERR) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

/* Stem conv3x3(16k)-BN-ReLU, three stages of n basic blocks (16k, 32k, 64k channels, the
 * last two starting with stride 2), global average pool, linear classifier. */
qt_net *qt_model_resnet_cifar(const qt_model_spec *spec, int depth, int widen, qt_error *err)
{
    if (depth < 8 || (depth - 2) % 6) {
        qt_errorf(err, "%s: CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got %d",
                  spec->name, depth);
        return NULL;
    }
    if (widen < 1) {
        qt_errorf(err, "%s: widening factor must be at least 1, got %d", spec->name, widen);
        return NULL;
    }
    if (spec->shortcut != 'A' && spec->shortcut != 'B') {
        qt_errorf(err, "%s: shortcut must be A or B", spec->name);
        return NULL;
    }
    qt_net *net = qt_net_new(spec->name, spec->in_c, spec->in_h, spec->in_w, err);
    if (!net)
        return NULL;
    int n = (depth - 2) / 6;
    int x = qt_block_conv_bn(net, spec, QT_NET_INPUT, "conv1", "bn1", 16 * widen, 3, 1, 1, 1, err);
    for (int s = 0; s < 3 && x != QT_ERR; s++)
        x = stage(net, spec, x, s + 1, n, (16 << s) * widen, s == 0 ? 1 : 2, spec->shortcut, err);
    return finish(net, spec, x, err);
}

/* He et al.'s ImageNet ResNet-18 (as torchvision): conv7x7/2(64)-BN-ReLU-maxpool3x3/2, four
 * stages of two basic blocks (64..512 channels) with 1x1-conv shortcuts (option B), global
 * average pool, linear classifier. 11,689,512 parameters with 1000 classes. */
qt_net *qt_model_resnet18(const qt_model_spec *spec, qt_error *err)
{
    qt_net *net = qt_net_new(spec->name, spec->in_c, spec->in_h, spec->in_w, err);
    if (!net)
        return NULL;
    int x = qt_block_conv_bn(net, spec, QT_NET_INPUT, "conv1", "bn1", 64, 7, 2, 3, 1, err);
    if (x != QT_ERR)
        x = qt_net_maxpool(net, x, 3, 2, 1, err);
    for (int s = 0; s < 4 && x != QT_ERR; s++)
        x = stage(net, spec, x, s + 1, 2, 64 << s, s == 0 ? 1 : 2, 'B', err);
    return finish(net, spec, x, err);
}

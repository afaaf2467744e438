/* Multi-layer perceptron: flatten, then per hidden width linear -> BN -> ReLU, then a linear
 * classifier with bias. With widths 500,300 on 28x28 inputs this is GPFQ's MNIST MLP
 * (Lybrand and Saab 2021), with BN before the ReLU. */
#include <stdio.h>

#include "qtrain/net_blocks.h"

qt_net *qt_model_mlp(const qt_model_spec *spec, qt_error *err)
{
    if (spec->nwidths < 1) {
        qt_errorf(err, "mlp: needs at least one hidden width (model.widths)");
        return NULL;
    }
    qt_net *net = qt_net_new(spec->name, spec->in_c, spec->in_h, spec->in_w, err);
    if (!net)
        return NULL;
    int x = qt_net_flatten(net, QT_NET_INPUT, err);
    for (int i = 0; i < spec->nwidths && x >= 0; i++) {
        char fc[32], bn[32];
        snprintf(fc, sizeof fc, "fc%d", i + 1);
        snprintf(bn, sizeof bn, "bn%d", i + 1);
        x = qt_block_linear_bn_relu(net, spec, x, fc, bn, spec->widths[i], err);
    }
    if (x < 0 || qt_net_linear(net, "classifier", x, spec->num_classes, 1, err) < 0) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

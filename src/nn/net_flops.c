/* Floating-point operations of a net per image: 2 per multiply-add of conv and linear layers
 * (the layers that dominate), forward only or for a training step. A training step costs the
 * forward product, the weight-gradient product and the input-gradient product, except that
 * the first layer's input needs no gradient. Elementwise layers are not counted. */
#include "qtrain/net.h"

double qt_layer_weight_macs(const qt_layer *l)
{
    if (l->kind == QT_LAYER_LINEAR)
        return (double)l->weight->t.numel;
    if (l->kind == QT_LAYER_CONV)
        return (double)l->weight->t.numel * l->out_h * l->out_w;
    return 0.0;
}

double qt_net_flops_per_image(const qt_net *net, int training)
{
    double flops = 0.0;
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        double f = 2.0 * qt_layer_weight_macs(l);
        if (training && f > 0.0)
            f *= l->in[0] == QT_NET_INPUT ? 2.0 : 3.0;
        flops += f;
    }
    return flops;
}

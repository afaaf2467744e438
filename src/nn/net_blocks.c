#include "qtrain/net_blocks.h"

#include <stdio.h>

int qt_block_conv_bn(qt_net *net, const qt_model_spec *spec, int in, const char *name,
                     const char *bn_name, int out_c, int k, int stride, int pad, int relu,
                     qt_error *err)
{
    int x = qt_net_conv(net, name, in, out_c, k, stride, pad, 0, err);
    if (x < 0 || (x = qt_net_batchnorm(net, bn_name, x, spec->bn_momentum, spec->bn_eps, err)) < 0)
        return QT_ERR;
    return relu ? qt_net_relu(net, x, err) : x;
}

int qt_block_linear_bn_relu(qt_net *net, const qt_model_spec *spec, int in, const char *name,
                            const char *bn_name, int out_f, qt_error *err)
{
    int x = in;
    if (spec->dropout > 0.0f && (x = qt_net_dropout(net, x, spec->dropout, err)) < 0)
        return QT_ERR;
    if ((x = qt_net_linear(net, name, x, out_f, 0, err)) < 0 ||
        (x = qt_net_batchnorm(net, bn_name, x, spec->bn_momentum, spec->bn_eps, err)) < 0)
        return QT_ERR;
    return qt_net_relu(net, x, err);
}

static int shortcut(qt_net *net, const qt_model_spec *spec, int in, const char *prefix,
                    int out_c, int stride, char kind, qt_error *err)
{
    const qt_layer *src = in == QT_NET_INPUT ? NULL : &net->layers[in];
    int in_c = src ? src->out_c : net->in_c;
    if (stride == 1 && in_c == out_c)
        return in;
    if (kind == 'A')
        return qt_net_shortcut_pad(net, in, out_c, stride, err);
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "%s.shortcut.conv", prefix);
    snprintf(bn, sizeof bn, "%s.shortcut.bn", prefix);
    return qt_block_conv_bn(net, spec, in, conv, bn, out_c, 1, stride, 0, 0, err);
}

int qt_block_basic(qt_net *net, const qt_model_spec *spec, int in, const char *prefix, int out_c,
                   int stride, char kind, qt_error *err)
{
    char c1[64], b1[64], c2[64], b2[64];
    snprintf(c1, sizeof c1, "%s.conv1", prefix);
    snprintf(b1, sizeof b1, "%s.bn1", prefix);
    snprintf(c2, sizeof c2, "%s.conv2", prefix);
    snprintf(b2, sizeof b2, "%s.bn2", prefix);
    int x = qt_block_conv_bn(net, spec, in, c1, b1, out_c, 3, stride, 1, 1, err);
    if (x < 0 || (x = qt_block_conv_bn(net, spec, x, c2, b2, out_c, 3, 1, 1, 0, err)) < 0)
        return QT_ERR;
    int s = shortcut(net, spec, in, prefix, out_c, stride, kind, err);
    if (s == QT_ERR || (x = qt_net_add(net, x, s, err)) < 0)
        return QT_ERR;
    return qt_net_relu(net, x, err);
}

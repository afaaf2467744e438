/* VGG-style nets: conv3x3 (no bias) -> BN -> ReLU stacks with 2x2 max pools, then linear layers. */
#include <stdio.h>

#include "qtrain/net_blocks.h"

#define POOL (-1)

/* Stacks conv units of the given widths (POOL = 2x2 max pool). Returns the last layer. */
static int conv_stack(qt_net *net, const qt_model_spec *spec, const int *plan, int n, qt_error *err)
{
    int x = QT_NET_INPUT, conv = 0;
    for (int i = 0; i < n; i++) {
        if (plan[i] == POOL) {
            if ((x = qt_net_maxpool(net, x, 2, 2, 0, err)) < 0)
                return QT_ERR;
            continue;
        }
        char name[32], bn[32];
        conv++;
        snprintf(name, sizeof name, "conv%d", conv);
        snprintf(bn, sizeof bn, "bn%d", conv);
        if ((x = qt_block_conv_bn(net, spec, x, name, bn, plan[i], 3, 1, 1, 1, err)) < 0)
            return QT_ERR;
    }
    return x;
}

/* conv plan -> flatten -> hidden linear units -> classifier (with bias, or without bias and
 * followed by BN when bn_last). */
static qt_net *vgg(const qt_model_spec *spec, const int *plan, int n, const int *fc, int nfc,
                   int bn_last, qt_error *err)
{
    qt_net *net = qt_net_new(spec->name, spec->in_c, spec->in_h, spec->in_w, err);
    if (!net)
        return NULL;
    int x = conv_stack(net, spec, plan, n, err);
    if (x >= 0)
        x = qt_net_flatten(net, x, err);
    for (int i = 0; i < nfc && x >= 0; i++) {
        char name[32], bn[32];
        snprintf(name, sizeof name, "fc%d", i + 1);
        snprintf(bn, sizeof bn, "fc_bn%d", i + 1);
        x = qt_block_linear_bn_relu(net, spec, x, name, bn, fc[i], err);
    }
    if (x >= 0)
        x = qt_net_linear(net, "classifier", x, spec->num_classes, !bn_last, err);
    if (x >= 0 && bn_last)
        x = qt_net_batchnorm(net, "classifier_bn", x, spec->bn_momentum, spec->bn_eps, err);
    if (x < 0) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

/* VGG-9 of Li et al. (loss-landscape's vgg9): 64,64,M,128,128,M,256,256,256,M, FC 256, FC classes. */
qt_net *qt_model_vgg9(const qt_model_spec *spec, qt_error *err)
{
    static const int plan[] = {64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL};
    static const int fc[] = {256};
    return vgg(spec, plan, 10, fc, 1, 0, err);
}

/* BinaryConnect's CIFAR-10 net: 2x128C3-MP-2x256C3-MP-2x512C3-MP-FC1024-FC1024-classes, BN
 * after every layer including the last (no ReLU there), no biases (BN's beta takes their place).
 * Parameters for 3x32x32 input and 10 classes:
 *   convs  3*128*9 + 128*128*9 + 128*256*9 + 256*256*9 + 256*512*9 + 512*512*9 =  4,574,592
 *   linear 8192*1024 + 1024*1024 + 1024*10                                     =  9,447,424
 *   BN     2 * (128+128+256+256+512+512 + 1024+1024 + 10)                      =      7,700
 *   total                                                                        14,029,716 */
qt_net *qt_model_vgg_bc(const qt_model_spec *spec, qt_error *err)
{
    static const int plan[] = {128, 128, POOL, 256, 256, POOL, 512, 512, POOL};
    static const int fc[] = {1024, 1024};
    return vgg(spec, plan, 9, fc, 2, 1, err);
}

/* GPFQ's CIFAR-10 CNN (Lybrand and Saab 2021): 2x32C3-MP-2x64C3-MP-2x128C3-MP-FC128-FC classes,
 * BN after every conv and after FC128 (their dropouts come from model.dropout, before linears). */
qt_net *qt_model_gpfq_cnn(const qt_model_spec *spec, qt_error *err)
{
    static const int plan[] = {32, 32, POOL, 64, 64, POOL, 128, 128, POOL};
    static const int fc[] = {128};
    return vgg(spec, plan, 9, fc, 1, 0, err);
}

/* The small Fashion-MNIST net of the quick start: 32C3-MP-64C3-MP-FC256-FC classes, BN after
 * each conv and after FC256. About 4.6M multiply-adds per 28x28 image. */
qt_net *qt_model_convnet(const qt_model_spec *spec, qt_error *err)
{
    static const int plan[] = {32, POOL, 64, POOL};
    static const int fc[] = {256};
    return vgg(spec, plan, 4, fc, 1, 0, err);
}

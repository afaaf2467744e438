/* Net: a network as a list of layers in evaluation order, each reading the outputs of
 * earlier layers (or the input). Built once by a model builder; walked forward by
 * qt_net_forward, which calls the ops (the autograd tape then handles backward). Tools that
 * work layer by layer (post-training quantizers, FLOP counting, batchnorm calibration) walk
 * the same list. */
#ifndef QTRAIN_NET_H
#define QTRAIN_NET_H

#include "qtrain/error.h"
#include "qtrain/grid_kind.h"
#include "qtrain/ops.h"
#include "qtrain/param.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_LAYER_CONV,
    QT_LAYER_LINEAR,
    QT_LAYER_BATCHNORM,
    QT_LAYER_RELU,
    QT_LAYER_HARDTANH,
    QT_LAYER_MAXPOOL,
    QT_LAYER_AVGPOOL,
    QT_LAYER_GLOBAL_AVGPOOL,
    QT_LAYER_FLATTEN,
    QT_LAYER_DROPOUT,
    QT_LAYER_ADD,
    QT_LAYER_SHORTCUT_PAD,
} qt_layer_kind;

#define QT_NET_INPUT (-2) /* distinct from QT_ERR */

/* A conv or linear layer's own quantization choice, from a net file's quantize, grid and bits
 * keys (docs/net-files.md); all zero: as the rule says. qt_quant_attach reads it. */
typedef struct qt_layer_quant {
    int quantize;             /* 0: per quant.quantize_first/last, 1: quantized, -1: stays float */
    int own_grid;             /* 1: grid and bits below replace the rule's grid and bits */
    qt_grid_kind grid;
    int bits;
} qt_layer_quant;

typedef struct qt_layer {
    qt_layer_kind kind;
    char name[48];
    int in[2];                /* producing layers (QT_NET_INPUT for the input); in[1] for add */
    qt_param *weight, *bias;  /* conv/linear weight and bias; batchnorm gamma and beta */
    qt_conv_spec conv;
    qt_bn_stats bn;           /* running statistics, owned by the layer */
    int k, stride, pad;       /* pooling window */
    int channels;             /* shortcut: output channels */
    float p;                  /* dropout probability */
    int out_ndim;             /* 4 for (N, C, H, W) outputs, 2 for (N, F) */
    int out_c, out_h, out_w;  /* per-image output shape (F, 1, 1 for vectors) */
    int cp_part;              /* 1, 2 or 3: a part of a CP-factorised layer (net_cp.h); 0 otherwise */
    qt_layer_quant quant;
    qt_uniform_grid act;      /* conv/linear: grid of the layer's input, applied in every
                                 forward (post-training activation quantization); levels 0:
                                 the input stays float */
    qt_uniform_grid *act_ch;  /* conv: one grid per input channel instead (act_nch of them,
                                 owned; act.levels then holds their common level count),
                                 or NULL */
    int act_nch;
} qt_layer;

typedef struct qt_net {
    char name[64];
    qt_layer *layers;
    int nlayers, layers_cap;
    qt_param **params;        /* every learnable tensor, in creation order */
    int nparams, params_cap;
    int in_c, in_h, in_w;
    int num_classes;
    char *description;        /* how it was built, to rebuild it (net_desc.h); NULL if unknown */
} qt_net;

qt_net *qt_net_new(const char *name, int in_c, int in_h, int in_w, qt_error *err);
void qt_net_free(qt_net *net);

/* Layer l's input grids: n = 1 puts the whole input on g[0] (act), n > 1 gives input channel
 * c the grid g[c] (act_ch, copied; every grid with the same levels), n = 0 leaves the input
 * float. */
int qt_layer_set_act(qt_layer *l, const qt_uniform_grid *g, int n, qt_error *err);
/* Input channels of conv layer l (its weight is [C_out, C_in / groups, k, k]). */
int qt_layer_in_channels(const qt_layer *l);

/* Layer constructors: each takes the producing layer (or QT_NET_INPUT), checks shapes, and
 * returns the new layer's index, or QT_ERR with err filled. Parameters start at zero; see
 * qt_net_init_params. */
int qt_net_conv(qt_net *net, const char *name, int in, int out_c, int k, int stride, int pad,
                int bias, qt_error *err);
/* The same with groups: input and output channels split into `groups` independent
 * convolutions (groups = input channels is a depthwise conv). */
int qt_net_conv_groups(qt_net *net, const char *name, int in, int out_c, int k, int stride,
                       int pad, int groups, int bias, qt_error *err);
int qt_net_linear(qt_net *net, const char *name, int in, int out_f, int bias, qt_error *err);
int qt_net_batchnorm(qt_net *net, const char *name, int in, float momentum, float eps,
                     qt_error *err);
int qt_net_relu(qt_net *net, int in, qt_error *err);
int qt_net_hardtanh(qt_net *net, int in, qt_error *err);
int qt_net_maxpool(qt_net *net, int in, int k, int stride, int pad, qt_error *err);
int qt_net_avgpool(qt_net *net, int in, int k, int stride, int pad, qt_error *err);
int qt_net_global_avgpool(qt_net *net, int in, qt_error *err);
int qt_net_flatten(qt_net *net, int in, qt_error *err);
int qt_net_dropout(qt_net *net, int in, float p, qt_error *err);
int qt_net_add(qt_net *net, int a, int b, qt_error *err);
int qt_net_shortcut_pad(qt_net *net, int in, int out_c, int stride, qt_error *err);

/* He-normal weights (std sqrt(2 / fan_in)), zero biases, batchnorm gamma 1 and beta 0,
 * running mean 0 and variance 1; all draws from a stream derived from seed. */
void qt_net_init_params(qt_net *net, uint64_t seed);

/* Runs layers [0, upto) on x (N, in_c, in_h, in_w); outs[i] receives layer i's output when
 * outs is non-NULL. Returns the output of layer upto-1, or NULL with the context failed. */
qt_tensor *qt_net_run(qt_ctx *c, qt_net *net, qt_tensor *x, int upto, qt_tensor **outs);
/* The whole network: logits (N, num_classes). */
qt_tensor *qt_net_forward(qt_ctx *c, qt_net *net, qt_tensor *x);

/* FLOPs per image (2 per multiply-add of conv and linear layers); training counts the
 * forward, weight-gradient and input-gradient products (no input gradient for the first layer). */
double qt_net_flops_per_image(const qt_net *net, int training);
/* Multiply-adds per image of a conv (C_out * C_in/groups * KH * KW * OH * OW) or linear
 * (IN * OUT) layer; 0 for other layers. */
double qt_layer_weight_macs(const qt_layer *l);

/* "conv", "linear", "batchnorm", ... */
const char *qt_layer_kind_name(qt_layer_kind kind);

/* Number of learnable scalars. */
size_t qt_net_param_count(const qt_net *net);
qt_param *qt_net_find_param(const qt_net *net, const char *name);
/* Index of the layer with this name, or -1. */
int qt_net_find_layer(const qt_net *net, const char *name);

#ifdef __cplusplus
}
#endif

#endif

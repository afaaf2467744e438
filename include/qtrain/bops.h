/* BOPs (bit operations), the cost measure of Cherniuk et al. 2024 (scripts/custom_benchmark.py):
 * per layer, multiply-adds x weight bits x activation bits, summed over the conv, linear and
 * batchnorm layers, and compared with the same net in FP32 (32 x 32 bits per multiply-add). */
#ifndef QTRAIN_BOPS_H
#define QTRAIN_BOPS_H

#include "qtrain/net.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Multiply-adds per image of layer i: conv and linear as qt_layer_weight_macs, batchnorm one
 * per output element (y = a x + b once folded); 0 for every other layer. */
double qt_layer_macs(const qt_net *net, int i);

/* Per layer of net: the bits of its stored weights, log2(levels) for a coded weight in cn
 * (cn may be NULL), 32 for everything else (float layers, batchnorm). */
void qt_net_weight_bits(const qt_net *net, const qt_coded_net *cn, double *bits);

/* Per layer of net: the bits of its input as applied, log2(levels) of a conv or linear
 * layer's activation grid (qt_layer.act), 32 for float inputs. */
void qt_net_act_bits(const qt_net *net, double *bits);

/* BOPs per image: sum over layers of qt_layer_macs x wbits[i] x abits[i] (NULL: 32). */
double qt_net_bops(const qt_net *net, const double *wbits, const double *abits);

typedef struct qt_model_cost {
    double macs, bops;        /* per image, of the compressed net */
    double fp32_macs, fp32_bops;   /* of the float net, 32-bit weights and activations */
    double bops_percent;      /* 100 bops / fp32_bops */
    size_t params, fp32_params;
    double act_bits;          /* the lowest input bits of any layer (32: none quantized) */
} qt_model_cost;

/* The cost of net (weights coded per cn, inputs as its activation grids apply) against the
 * float net. */
int qt_model_cost_of(const qt_net *fnet, const qt_net *net, const qt_coded_net *cn,
                     qt_model_cost *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

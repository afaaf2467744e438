/* Building blocks shared by the model builders: conv + BN (+ ReLU) units, linear + BN units,
 * and the ResNet basic block. Each returns the index of its last layer or QT_ERR. */
#ifndef QTRAIN_NET_BLOCKS_H
#define QTRAIN_NET_BLOCKS_H

#include "qtrain/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* conv kxk (no bias) -> batchnorm [-> relu], layers named <name> and <bn_name>. */
int qt_block_conv_bn(qt_net *net, const qt_model_spec *spec, int in, const char *name,
                     const char *bn_name, int out_c, int k, int stride, int pad, int relu,
                     qt_error *err);
/* [dropout ->] linear (no bias) -> batchnorm -> relu. */
int qt_block_linear_bn_relu(qt_net *net, const qt_model_spec *spec, int in, const char *name,
                            const char *bn_name, int out_f, qt_error *err);
/* ResNet basic block: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.
 * The shortcut is the identity when shapes match, else option A (zero-pad) or B (1x1 conv + BN). */
int qt_block_basic(qt_net *net, const qt_model_spec *spec, int in, const char *prefix, int out_c,
                   int stride, char shortcut, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

/* A net's description: one text that says how the net was built and rebuilds it, without the
 * config or the net file it came from. The model zoo and the net-file reader record it in the
 * net they build (qt_net.description); checkpoints store it, and exports can record it as
 * metadata so that a reader knows which architecture the weights belong to.
 *
 *   zoo:resnet20 input=3x32x32 classes=10 shortcut=A bn_momentum=0.1 bn_eps=1e-05
 *   file input=3x32x32 classes=10 bn_momentum=0.1 bn_eps=1e-05 path=configs/nets/x.net
 *   <the net file's text, verbatim>
 *
 * A zoo description lists only the options its family uses (widths and dropout for mlp,
 * dropout for the VGG-style nets, shortcut for the CIFAR ResNets). The text is what the net
 * was built from: a net factorised later by a post-training tool (net_cp.h) is described as
 * built, and its checkpoint records the factorisation separately. */
#ifndef QTRAIN_NET_DESC_H
#define QTRAIN_NET_DESC_H

#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The description (owned by the net), or NULL for a net assembled layer by layer in code. */
const char *qt_net_description(const qt_net *net);

/* Builds the net a description describes (parameters at zero: qt_net_init_params); it
 * records the same description. */
qt_net *qt_net_from_description(const char *text, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

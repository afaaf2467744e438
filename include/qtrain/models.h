/* The model zoo: builds a Net by name. Input shape and class count come from the dataset. */
#ifndef QTRAIN_MODELS_H
#define QTRAIN_MODELS_H

#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_model_spec {
    const char *name;         /* see qt_model_names */
    int in_c, in_h, in_w;
    int num_classes;
    const int *widths;        /* mlp hidden widths */
    int nwidths;
    char shortcut;            /* CIFAR ResNets: 'A' zero-pad (parameter-free) or 'B' 1x1 conv + BN */
    float dropout;            /* before each hidden linear layer's successor (mlp, convnet, gpfq_cnn, vgg9) */
    float bn_momentum, bn_eps;
} qt_model_spec;

/* A spec with the defaults: shortcut A, no dropout, BN momentum 0.1 and eps 1e-5. */
qt_model_spec qt_model_spec_default(const char *name, int in_c, int in_h, int in_w, int classes);

/* Bounds of the CIFAR ResNet names: resnet<depth> and wrn<depth>_<k> take depth 6n+2 from 8
 * to 1202 (the deepest net He et al. trained on CIFAR-10) and k from 1 to 16. */
enum { QT_RESNET_MAX_DEPTH = 1202, QT_WRN_MAX_WIDEN = 16 };

/* Builds (and does not initialise: see qt_net_init_params) the named model. */
qt_net *qt_model_build(const qt_model_spec *spec, qt_error *err);

/* One line listing the accepted names, for help texts and error messages. */
const char *qt_model_names(void);

/* Builders of the individual families (src/nn/models/). */
qt_net *qt_model_mlp(const qt_model_spec *spec, qt_error *err);
qt_net *qt_model_convnet(const qt_model_spec *spec, qt_error *err);
qt_net *qt_model_gpfq_cnn(const qt_model_spec *spec, qt_error *err);
qt_net *qt_model_vgg9(const qt_model_spec *spec, qt_error *err);
qt_net *qt_model_vgg_bc(const qt_model_spec *spec, qt_error *err);
qt_net *qt_model_resnet_cifar(const qt_model_spec *spec, int depth, int widen, qt_error *err);
qt_net *qt_model_resnet18(const qt_model_spec *spec, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

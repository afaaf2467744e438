/* Post-training quantization: the machinery every method shares.
 *
 * A method quantizes a trained float net layer by layer, first to last. For each chosen conv
 * or linear layer it needs that layer's input on calibration images, in the float network
 * (X) and in the network whose earlier layers are already quantized (Xq). Inputs are
 * gathered feature-major: row t of an (N x m) matrix is feature t over the m samples. A
 * linear layer's samples are images; a conv layer's samples are im2col patches (C_in*k*k
 * features), a fixed number drawn at random per image so memory stays bounded. */
#ifndef QTRAIN_PTQ_H
#define QTRAIN_PTQ_H

#include <stdint.h>

#include "qtrain/alphabet.h"
#include "qtrain/checkpoint.h"
#include "qtrain/dataset.h"
#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Calibration images, normalised like evaluation batches, kept in memory. */
typedef struct qt_calib_set {
    float *x;                 /* n x C x H x W */
    int32_t *y;
    int n, c, h, w;
} qt_calib_set;

/* Images [skip, skip + n) of a random permutation (seed) of ds (n < 1 or past the end: all
 * the rest), with the evaluation preprocessing of the dataset kind (normalisation, centre
 * crop for PNG folders). Two loads with the same seed and non-overlapping ranges hold
 * disjoint images: qquant's validation split is [0, V), its calibration images follow. */
int qt_calib_load(qt_calib_set *cs, qt_dataset *ds, int skip, int n, uint64_t seed,
                  qt_error *err);
void qt_calib_free(qt_calib_set *cs);
/* The first n images of cs (a view: not to be freed). */
qt_calib_set qt_calib_head(const qt_calib_set *cs, int n);
/* Top-1 accuracy of net (evaluation mode) on the images of cs. */
int qt_calib_accuracy(qt_net *net, const qt_calib_set *cs, double *acc, qt_error *err);

/* Is layer i a conv or linear layer (one PTQ can quantize)? */
int qt_ptq_layer_quantizable(const qt_net *net, int i);
/* Parses "all" or a comma list of layer names into a 0/1 mask over net->layers; every named
 * layer must exist and be quantizable. */
int qt_ptq_select_layers(const qt_net *net, const char *spec, int *mask, qt_error *err);

typedef struct qt_layer_inputs {
    float *xt;                /* N x m, feature-major */
    int n_features, m;
} qt_layer_inputs;

/* Sampling of a layer's inputs: patches_per_image distinct random patch positions per image
 * for conv layers (drawn without replacement; 0, or at least the positions there are: every
 * position); images in batches of batch. */
typedef struct qt_sample_opts {
    int patches_per_image;
    int batch;
    uint64_t seed;            /* positions depend on (seed, layer, image) only, so X and Xq
                                 use the same positions */
} qt_sample_opts;

/* Runs net on the calibration images (grad off, batchnorm running statistics) up to layer
 * `layer` and gathers that layer's input as samples. */
int qt_ptq_layer_inputs(qt_net *net, int layer, const qt_calib_set *cs, const qt_sample_opts *o,
                        qt_layer_inputs *out, qt_error *err);
void qt_layer_inputs_free(qt_layer_inputs *li);
/* ||W X - Q Xq||_F / ||W X||_F for weights w and q (rows x N) and feature-major X, Xq: a
 * quantized layer's output error on the calibration samples (NaN when out of memory). */
double qt_ptq_relative_error(const float *w, const float *q, int rows, const qt_layer_inputs *x,
                             const qt_layer_inputs *xq);

/* A quantized layer's stored form: level indices on an equispaced alphabet. Post-training
 * methods fill one per quantized layer; the checkpoint writer stores them as
 * param/<name>.index and param/<name>.levels (see checkpoint.h). */
typedef struct qt_coded_layer {
    const qt_param *param;
    qt_alphabet alphabet;
    uint8_t *index;           /* one per weight */
} qt_coded_layer;

typedef struct qt_coded_net {
    qt_coded_layer *layers;
    int n;
} qt_coded_net;

/* The checkpoint_extra that stores coded layers in their coded form. */
qt_checkpoint_extra qt_coded_net_writer(qt_coded_net *cn);
void qt_coded_net_free(qt_coded_net *cn);

/* Bytes of a model whose coded layers store log2(levels) bits per weight plus their alphabet
 * (lowest level and spacing, 8 bytes), every other parameter 4 bytes. */
double qt_coded_net_bytes(const qt_net *net, const qt_coded_net *cn);
/* Average bits per quantized weight. */
double qt_coded_net_bits_per_weight(const qt_coded_net *cn);

#ifdef __cplusplus
}
#endif

#endif

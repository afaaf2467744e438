/* What `qtrain export` and `qtrain eval` do with a checkpoint or an exported file.
 * docs/export-format.md describes the files. */
#ifndef QTRAIN_EXPORT_H
#define QTRAIN_EXPORT_H

#include "qtrain/checkpoint.h"
#include "qtrain/config.h"
#include "qtrain/evaluate.h"
#include "qtrain/export_meta.h"
#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_EXPORT_SAFETENSORS, QT_EXPORT_ONNX } qt_export_format;

typedef struct qt_export_opts {
    qt_export_format format;
    int packed;               /* safetensors: quantized layers as packed codes + scale */
    int float_buffer;         /* safetensors: also BC's float buffer, as <name>.float_buffer */
    int onnx_float;           /* onnx: quantized weights as float initializers, not codes */
    int onnx_fold_bn;         /* onnx: batchnorm after a conv/linear folded into it */
} qt_export_opts;

/* Writes every parameter and every batchnorm's running_mean and running_var, named like
 * PyTorch's state_dict ("layer1.0.conv1.weight", "bn1.running_var"). Quantized weights are
 * F32 values (SR/R grid values, BC sign(w_r) * H) or, packed, codes and a scale. The header's
 * __metadata__ holds meta's pairs (may be NULL), "quantized" (their names, comma-separated)
 * and "quantized_tensors" (JSON: per quantized tensor its grid, bits and packing). */
int qt_export_safetensors(const qt_net *net, const qt_export_meta *meta, const qt_export_opts *o,
                          const char *path, qt_error *err);

/* The net as an ONNX model (opset 13): normalized NCHW input "input" with a dynamic batch,
 * logits "logits"; meta's pairs in metadata_props. */
int qt_export_onnx(const qt_net *net, const qt_export_meta *meta, const qt_export_opts *o,
                   const char *path, qt_error *err);

/* Grid codes of quantized parameter p from its exported values (qt_quant_export_values);
 * fails when a value is not exactly a grid level. */
int qt_export_codes(const qt_param *p, const float *values, int8_t *codes, qt_error *err);

/* Loads a checkpoint under config c and writes it to path in the format o asks for, with
 * the metadata of export_meta.h. codecs (may be NULL) decodes weights a post-training
 * quantizer stored in its own form (e.g. qt_pq_checkpoint_reader). */
int qt_export_checkpoint(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                         const qt_export_opts *o, const char *path, qt_error *err);

/* Loads the config a checkpoint was trained with (its config.ini record), then applies
 * overrides ("section.key=value"). */
int qt_checkpoint_config(const char *ckpt, const char *const *overrides, int n_overrides,
                         qt_config *c, qt_error *err);

/* Builds the net the checkpoint records (qt_run_build_checkpoint_net: its stored description,
 * else config c's model for its dataset's shape), applies the structure the checkpoint
 * records (factorised layers) and loads its weights (weights only; grid codes decoded; a
 * post-training quantizer's own coded forms are not read: qt_eval_checkpoint reads them). */
int qt_open_checkpoint_net(const qt_config *c, const char *ckpt, qt_net **net, qt_error *err);

/* Test-split accuracy of a checkpoint under config c: quantized weights, or (float_view)
 * BC's float buffer; codecs as for qt_export_checkpoint. */
int qt_eval_checkpoint(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                       int float_view, qt_eval_result *out, qt_error *err);

/* An exported safetensors file (float or packed) rebuilt into a net from its metadata
 * alone: the config it records (plus overrides) in *c, the net with its quantizers and
 * weights in *net. */
int qt_open_weights_net(const char *path, const char *const *overrides, int n_overrides,
                        qt_config *c, qt_net **net, qt_error *err);

/* Test-split accuracy of an exported file, on the dataset its metadata records (data.*
 * overrides apply, e.g. data.root), normalized as it records: quantized weights, or
 * (float_view) the BC float buffer it holds. */
int qt_eval_weights(const char *path, const char *const *overrides, int n_overrides,
                    int float_view, qt_eval_result *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

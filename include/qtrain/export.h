/* What `qtrain export` and `qtrain eval` do with a checkpoint. */
#ifndef QTRAIN_EXPORT_H
#define QTRAIN_EXPORT_H

#include "qtrain/config.h"
#include "qtrain/evaluate.h"
#include "qtrain/net.h"

/* Writes every parameter (quantized layers as their quantized values: SR/R grid values, BC
 * sign(w_r) * H), and every batchnorm's running_mean and running_var, as F32 tensors named
 * like PyTorch's state_dict ("layer1.0.conv1.weight", "bn1.running_var"). Metadata records
 * the model, the quantization mode and which tensors are quantized. */
int qt_export_safetensors(const qt_net *net, const char *quant_mode, const char *path,
                          qt_error *err);

/* Loads the config a checkpoint was trained with (its config.ini record), then applies
 * overrides ("section.key=value"). */
int qt_checkpoint_config(const char *ckpt, const char *const *overrides, int n_overrides,
                         qt_config *c, qt_error *err);

/* Builds the net the checkpoint records (qt_run_build_checkpoint_net: its stored description,
 * else config c's model for its dataset's shape), applies the structure the checkpoint
 * records (factorised layers) and loads its weights (weights only; coded forms decoded). */
int qt_open_checkpoint_net(const qt_config *c, const char *ckpt, qt_net **net, qt_error *err);

/* Test-split accuracy of a checkpoint under config c: quantized weights, or (float_view)
 * BC's float buffer. */
int qt_eval_checkpoint(const qt_config *c, const char *ckpt, int float_view, qt_eval_result *out,
                       qt_error *err);

#endif

/* What an export records besides the weights, so that a file alone says how to rebuild the
 * net, what its input is and what its outputs mean (docs/export-format.md). The same string
 * pairs go into a safetensors header's __metadata__ and an ONNX model's metadata_props:
 *   format               "qtrain"
 *   format_version       "2"
 *   model                the zoo name ("resnet20")
 *   quant_mode           "fp", "bc", "sr", "r"
 *   architecture         JSON {"model": {"name", "widths", "shortcut", "dropout",
 *                        "bn_momentum", "bn_eps"}, "input_shape": [C, H, W],
 *                        "num_classes": K, "cp_ranks": {"<layer>": R, ...}}
 *   quantization         JSON {"mode", "grid", "bits", "scale", "scale_value", "binarize",
 *                        "step_scale", "quantize_first", "quantize_last"}
 *   data                 JSON {"dataset", "image_size", "classes", "labels", "normalize"}
 *   input_normalization  JSON {"mean": [C floats], "std": [C floats]}: the net's input is
 *                        x[c] = (pixel / 255 - mean[c]) / std[c]
 *   class_names          JSON [K strings], by class index
 * The members of "model", "quantization" and "data" are qtrain config keys ([model], [quant],
 * [data]) with their values; configs/README.md documents each. */
#ifndef QTRAIN_EXPORT_META_H
#define QTRAIN_EXPORT_META_H

#include "qtrain/config.h"
#include "qtrain/dataset.h"
#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_EXPORT_META_MAX = 16 };

typedef struct qt_export_meta {
    int n;
    const char *pairs[2 * QT_EXPORT_META_MAX];   /* {key0, value0, key1, value1, ...} */
    char *owned[QT_EXPORT_META_MAX];             /* the values */
} qt_export_meta;

/* The pairs for a net built from config c for dataset ds (its test split). */
int qt_export_meta_make(const qt_config *c, const qt_net *net, const qt_dataset *ds,
                        qt_export_meta *m, qt_error *err);
/* The value of key, or NULL. */
const char *qt_export_meta_get(const qt_export_meta *m, const char *key);
void qt_export_meta_free(qt_export_meta *m);

/* Reading an export back. get(src, key) returns a metadata value or NULL; path names the
 * file in errors. */
typedef const char *(*qt_meta_get_fn)(const void *src, const char *key);

/* The config the export was made from: defaults, then the recorded model, quantization and
 * data keys, then overrides ("section.key=value"), validated. */
int qt_export_meta_config(qt_meta_get_fn get, const void *src, const char *path,
                          const char *const *overrides, int n_overrides, qt_config *c,
                          qt_error *err);
/* Builds the recorded net with its quantizers attached (weights still the initial ones): from
 * architecture.description (net_desc.h) when the export has one, so that net files and their
 * per-layer grids round-trip, else from config c for the recorded input shape and classes;
 * then the CP factorisations. */
int qt_export_meta_build_net(qt_meta_get_fn get, const void *src, const char *path,
                             const qt_config *c, qt_net **net, qt_error *err);
/* The recorded per-channel normalization (channels = the input's channel count). */
int qt_export_meta_normalization(qt_meta_get_fn get, const void *src, const char *path,
                                 float mean[3], float std[3], qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

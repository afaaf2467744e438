/* Writing ONNX models (https://onnx.ai): a graph of nodes, initializers, one input and one
 * output, metadata, serialized with protobuf-c from the schema in third_party/onnx.
 *
 *   qt_onnx *m = qt_onnx_new("convnet", 13);
 *   qt_onnx_input(m, "input", 4, (int64_t[]){-1, 1, 28, 28});    -1: the dynamic batch "N"
 *   qt_onnx_initializer(m, "w", QT_ONNX_FLOAT, 4, dims, data);
 *   qt_onnx_node(m, "Conv", "conv1", 2, (const char *[]){"input", "w"}, "conv1_out");
 *   qt_onnx_attr_ints(m, "pads", 4, pads);                       attributes of the last node
 *   qt_onnx_save(m, "model.onnx", &err);                         reports any earlier failure
 *   qt_onnx_free(m);
 * Calls after a failure (out of memory) do nothing; qt_onnx_save reports it. */
#ifndef QTRAIN_ONNX_MODEL_H
#define QTRAIN_ONNX_MODEL_H

#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_ONNX_FLOAT = 1, QT_ONNX_INT8 = 3, QT_ONNX_INT64 = 7 } qt_onnx_dtype;

typedef struct qt_onnx qt_onnx;

qt_onnx *qt_onnx_new(const char *graph_name, int opset);
void qt_onnx_free(qt_onnx *m);

/* A constant tensor (data copied; little-endian raw bytes). ndim 0 is a scalar. */
void qt_onnx_initializer(qt_onnx *m, const char *name, qt_onnx_dtype dtype, int ndim,
                         const int64_t *dims, const void *data);
/* A node op(in[0..nin-1]) -> out; an empty input name is an omitted optional input. */
void qt_onnx_node(qt_onnx *m, const char *op, const char *name, int nin, const char *const *in,
                  const char *out);
/* Attributes of the node added last. */
void qt_onnx_attr_int(qt_onnx *m, const char *name, int64_t v);
void qt_onnx_attr_float(qt_onnx *m, const char *name, float v);
void qt_onnx_attr_ints(qt_onnx *m, const char *name, int n, const int64_t *v);
/* The graph's float32 input and output; a dim of -1 is the symbolic batch size "N". */
void qt_onnx_input(qt_onnx *m, const char *name, int ndim, const int64_t *dims);
void qt_onnx_output(qt_onnx *m, const char *name, int ndim, const int64_t *dims);
/* A metadata_props entry. */
void qt_onnx_metadata(qt_onnx *m, const char *key, const char *value);

/* Serializes the model to path atomically (IR version 7). */
int qt_onnx_save(qt_onnx *m, const char *path, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

/* safetensors: the weights format PyTorch users load and save
 * (https://huggingface.co/docs/safetensors).
 *
 * Layout: u64 little-endian N, then N bytes of JSON header, then the data. The header
 * maps each tensor name to {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets":
 * [begin, end]} with offsets relative to the start of the data, plus an optional
 * "__metadata__" object of string values. Data is little-endian, row-major, and the
 * tensors tile the data exactly: no gaps, no overlaps. The writer pads the header with
 * spaces so the data starts at a multiple of 8 bytes. */
#ifndef QTRAIN_SAFETENSORS_H
#define QTRAIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_ST_MAX_DIMS = 8 };

typedef enum qt_st_dtype {
    QT_ST_BOOL, QT_ST_U8, QT_ST_I8, QT_ST_U16, QT_ST_I16, QT_ST_F16, QT_ST_BF16,
    QT_ST_U32, QT_ST_I32, QT_ST_F32, QT_ST_U64, QT_ST_I64, QT_ST_F64
} qt_st_dtype;

/* "F32", "F16", "I8", ... */
const char *qt_st_dtype_name(qt_st_dtype t);
size_t qt_st_dtype_size(qt_st_dtype t);

typedef struct qt_st_tensor {
    const char *name;
    qt_st_dtype dtype;
    int ndim;                       /* 0 = a scalar */
    int64_t shape[QT_ST_MAX_DIMS];
    const void *data;               /* the bytes, little-endian; reading: may be unaligned
                                     * in files from other writers, so memcpy them */
    size_t nbytes;                  /* set by the reader; the writer computes it */
} qt_st_tensor;

/* Writes n tensors, in this order, and n_metadata key/value string pairs
 * (metadata = {k0, v0, k1, v1, ...}) to path atomically. */
int qt_safetensors_write(const char *path, const qt_st_tensor *tensors, int n,
                         const char *const *metadata, int n_metadata, qt_error *err);

typedef struct qt_safetensors qt_safetensors;

/* Reads a file and checks it: header length against the file size, the header JSON,
 * every dtype, shape and offset pair, and that the tensors tile the data exactly. */
int qt_safetensors_open(qt_safetensors **st, const char *path, qt_error *err);
void qt_safetensors_close(qt_safetensors *st);
int qt_safetensors_count(const qt_safetensors *st);
/* Tensors in the order of their data. */
const qt_st_tensor *qt_safetensors_at(const qt_safetensors *st, int i);
const qt_st_tensor *qt_safetensors_find(const qt_safetensors *st, const char *name);
/* A __metadata__ value, or NULL. */
const char *qt_safetensors_metadata(const qt_safetensors *st, const char *key);

#ifdef __cplusplus
}
#endif

#endif

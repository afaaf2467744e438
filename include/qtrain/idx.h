/* The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
 * byte, the number of dimensions, then one uint32 per dimension) followed by the data.
 * Only unsigned-byte data (type 0x08) is used by those datasets and supported here. */
#ifndef QTRAIN_IDX_H
#define QTRAIN_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_IDX_MAX_DIMS = 4, QT_IDX_UBYTE = 0x08 };

typedef struct qt_idx {
    int ndims;
    uint32_t dims[QT_IDX_MAX_DIMS];
    size_t count;        /* product of dims: number of data bytes */
    const uint8_t *data; /* points into the parsed buffer */
} qt_idx;

/* Parses an IDX buffer that must hold unsigned bytes in ndims dimensions (magic
 * 0x0000 08 ndims) and exactly as many data bytes as the header announces.
 * name is used in messages ("<name>: bad magic number ..."). */
int qt_idx_parse(const char *name, const uint8_t *buf, size_t len, int ndims, qt_idx *out,
                 qt_error *err);

/* Encodes an unsigned-byte IDX buffer (*buf, free() it) from dims and data. */
int qt_idx_encode(int ndims, const uint32_t *dims, const uint8_t *data, uint8_t **buf,
                  size_t *len, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

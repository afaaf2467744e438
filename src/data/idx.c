#include "qtrain/idx.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int qt_idx_parse(const char *name, const uint8_t *buf, size_t len, int ndims, qt_idx *out,
                 qt_error *err)
{
    uint32_t want = (uint32_t)QT_IDX_UBYTE << 8 | (uint32_t)ndims;
    if (len < 4)
        return qt_errorf(err, "%s: truncated: %zu bytes, too short for an IDX header", name, len);
    uint32_t magic = be32(buf);
    if (magic != want)
        return qt_errorf(err, "%s: bad magic number 0x%08x (expected 0x%08x: unsigned-byte IDX "
                         "with %d dimensions)", name, magic, want, ndims);
    size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        return qt_errorf(err, "%s: truncated: %zu bytes, header needs %zu", name, len, header);
    size_t count = 1;
    out->ndims = ndims;
    for (int d = 0; d < ndims; d++) {
        out->dims[d] = be32(buf + 4 + 4 * d);
        if (__builtin_mul_overflow(count, (size_t)out->dims[d], &count))
            return qt_errorf(err, "%s: dimensions overflow the address space", name);
    }
    size_t have = len - header;
    if (have < count)
        return qt_errorf(err, "%s: truncated: header announces %zu data bytes, file has %zu",
                         name, count, have);
    if (have > count)
        return qt_errorf(err, "%s: size mismatch: header announces %zu data bytes, file has %zu",
                         name, count, have);
    out->count = count;
    out->data = buf + header;
    return QT_OK;
}

int qt_idx_encode(int ndims, const uint32_t *dims, const uint8_t *data, uint8_t **buf,
                  size_t *len, qt_error *err)
{
    if (ndims < 1 || ndims > QT_IDX_MAX_DIMS)
        return qt_errorf(err, "IDX: %d dimensions (1..%d supported)", ndims, QT_IDX_MAX_DIMS);
    size_t count = 1, header = 4 + 4 * (size_t)ndims;
    for (int d = 0; d < ndims; d++)
        count *= dims[d];
    uint8_t *b = malloc(header + count);
    if (!b)
        return qt_errorf(err, "IDX: out of memory for %zu bytes", header + count);
    b[0] = b[1] = 0;
    b[2] = QT_IDX_UBYTE;
    b[3] = (uint8_t)ndims;
    for (int d = 0; d < ndims; d++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
    memcpy(b + header, data, count);
    *buf = b;
    *len = header + count;
    return QT_OK;
}

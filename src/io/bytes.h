/* Little-endian integers and array byte counts, shared by the binary formats. */
#ifndef QTRAIN_IO_BYTES_H
#define QTRAIN_IO_BYTES_H

#include <stddef.h>
#include <stdint.h>

void qt_put_u16(uint8_t *p, uint16_t v);
void qt_put_u32(uint8_t *p, uint32_t v);
void qt_put_u64(uint8_t *p, uint64_t v);
uint16_t qt_get_u16(const uint8_t *p);
uint32_t qt_get_u32(const uint8_t *p);
uint64_t qt_get_u64(const uint8_t *p);

/* Bytes of an array of elem-byte elements with ndim dims, or SIZE_MAX on overflow or a
 * negative dim. */
size_t qt_shape_bytes(size_t elem, int ndim, const int64_t *shape);

#endif

/* Grid codes packed into bytes, for exports that keep quantized weights small (see
 * docs/export-format.md).
 *
 * A grid's int8 codes (grid.h) are stored in the narrowest field that holds every level:
 *   bits1  binary grid {-1, +1}: 1 bit per code, bit 1 = +1, bit 0 = -1
 *   int2   codes in [-2, 1] (ternary; uniform 2-bit): 2-bit two's complement
 *   int4   codes in [-8, 7] (uniform 3- and 4-bit): 4-bit two's complement
 *   int8   anything else (uniform 5..8-bit, unbounded): one signed byte per code
 * Code i of a packed field of width b lives in byte (i*b)/8 at bit offset (i*b)%8, least
 * significant bits first (numpy: unpackbits(..., bitorder="little") for bits1); unused
 * bits of the last byte are zero. */
#ifndef QTRAIN_CODE_PACK_H
#define QTRAIN_CODE_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/grid.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_PACK_BITS1, QT_PACK_INT2, QT_PACK_INT4, QT_PACK_INT8 } qt_pack_kind;

/* The narrowest packing that holds every code of grid g. */
qt_pack_kind qt_pack_for_grid(const qt_grid *g);
/* "bits1", "int2", "int4", "int8"; and back (-1 for an unknown name). */
const char *qt_pack_name(qt_pack_kind k);
int qt_pack_from_name(const char *name);
/* Bits per code: 1, 2, 4, 8. */
int qt_pack_bits(qt_pack_kind k);
/* Bytes that n packed codes take. */
size_t qt_pack_bytes(qt_pack_kind k, size_t n);

/* Packs n codes into qt_pack_bytes(k, n) bytes. Fails, naming the first code the packing
 * cannot hold, without writing a partial result anyone should use. */
int qt_pack_codes(qt_pack_kind k, const int8_t *codes, size_t n, uint8_t *out, qt_error *err);
/* Unpacks n codes. */
void qt_unpack_codes(qt_pack_kind k, const uint8_t *packed, size_t n, int8_t *codes);

#ifdef __cplusplus
}
#endif

#endif

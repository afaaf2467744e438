/* Grid codes packed 1, 2, 4 or 8 bits each (code_pack.h). */
#include "qtrain/code_pack.h"

#include <string.h>

static const char *const names[] = {"bits1", "int2", "int4", "int8"};

qt_pack_kind qt_pack_for_grid(const qt_grid *g)
{
    if (g->kind == QT_GRID_BINARY)
        return QT_PACK_BITS1;
    int lo = g->code0, hi = g->code0 + (g->levels - 1) * g->code_step;
    if (lo >= -2 && hi <= 1)
        return QT_PACK_INT2;
    if (lo >= -8 && hi <= 7)
        return QT_PACK_INT4;
    return QT_PACK_INT8;
}

const char *qt_pack_name(qt_pack_kind k)
{
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

int qt_pack_from_name(const char *name)
{
    for (int k = 0; k < (int)(sizeof names / sizeof *names); k++)
        if (strcmp(names[k], name) == 0)
            return k;
    return -1;
}

int qt_pack_bits(qt_pack_kind k)
{
    return 1 << k;
}

size_t qt_pack_bytes(qt_pack_kind k, size_t n)
{
    size_t b = (size_t)qt_pack_bits(k);
    return (n * b + 7) / 8;
}

/* The field a code is stored as, or -1 when it does not fit. */
static int field_of(qt_pack_kind k, int8_t code)
{
    int b = qt_pack_bits(k);
    if (k == QT_PACK_BITS1)
        return code == 1 ? 1 : code == -1 ? 0 : -1;
    if (code < -(1 << (b - 1)) || code >= (1 << (b - 1)))
        return -1;
    return code & ((1 << b) - 1);
}

int qt_pack_codes(qt_pack_kind k, const int8_t *codes, size_t n, uint8_t *out, qt_error *err)
{
    const int b = qt_pack_bits(k);
    memset(out, 0, qt_pack_bytes(k, n));
    for (size_t i = 0; i < n; i++) {
        int f = field_of(k, codes[i]);
        if (f < 0)
            return qt_errorf(err, "code %d at %zu does not fit %s packing", codes[i], i,
                             qt_pack_name(k));
        size_t bit = i * (size_t)b;
        out[bit / 8] |= (uint8_t)(f << (bit % 8));
    }
    return QT_OK;
}

void qt_unpack_codes(qt_pack_kind k, const uint8_t *packed, size_t n, int8_t *codes)
{
    const int b = qt_pack_bits(k), mask = (1 << b) - 1;
    for (size_t i = 0; i < n; i++) {
        size_t bit = i * (size_t)b;
        int f = (packed[bit / 8] >> (bit % 8)) & mask;
        if (k == QT_PACK_BITS1)
            codes[i] = (int8_t)(2 * f - 1);
        else
            codes[i] = (int8_t)(f >= 1 << (b - 1) ? f - (1 << b) : f);
    }
}

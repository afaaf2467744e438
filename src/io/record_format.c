#include "record_format.h"

#include <string.h>
#include <zlib.h>

const char *qt_record_dtype_name(qt_record_dtype t)
{
    switch (t) {
    case QT_REC_F32: return "f32";
    case QT_REC_I8: return "i8";
    case QT_REC_U8: return "u8";
    case QT_REC_I32: return "i32";
    case QT_REC_U64: return "u64";
    case QT_REC_F64: return "f64";
    case QT_REC_F16: return "f16";
    case QT_REC_U16: return "u16";
    }
    return "?";
}

size_t qt_record_dtype_size(qt_record_dtype t)
{
    switch (t) {
    case QT_REC_I8:
    case QT_REC_U8: return 1;
    case QT_REC_F16:
    case QT_REC_U16: return 2;
    case QT_REC_F32:
    case QT_REC_I32: return 4;
    case QT_REC_U64:
    case QT_REC_F64: return 8;
    }
    return 0;
}

uint32_t qt_record_header_crc(const uint8_t in[QT_RECORD_HEADER_LEN])
{
    return (uint32_t)crc32(0, in, QT_RECORD_HEADER_LEN - 4);
}

void qt_record_header_encode(const qt_record_header *h, uint8_t out[QT_RECORD_HEADER_LEN])
{
    memcpy(out, QT_RECORD_MAGIC, QT_RECORD_MAGIC_LEN);
    qt_put_u32(out + 8, h->version);
    qt_put_u32(out + 12, h->content_crc);
    qt_put_u64(out + 16, h->content_len);
    qt_put_u64(out + 24, h->stored_len);
    qt_put_u32(out + 32, h->stored_crc);
    qt_put_u32(out + 36, qt_record_header_crc(out));
}

void qt_record_header_decode(const uint8_t in[QT_RECORD_HEADER_LEN], qt_record_header *h)
{
    h->version = qt_get_u32(in + 8);
    h->content_crc = qt_get_u32(in + 12);
    h->content_len = qt_get_u64(in + 16);
    h->stored_len = qt_get_u64(in + 24);
    h->stored_crc = qt_get_u32(in + 32);
}

size_t qt_record_pad(uint64_t pos)
{
    return (size_t)((8 - pos % 8) % 8);
}

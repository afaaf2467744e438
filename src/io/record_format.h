/* The byte layout of record files, shared by the writer and the reader (see record_file.h). */
#ifndef QTRAIN_IO_RECORD_FORMAT_H
#define QTRAIN_IO_RECORD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "qtrain/record_file.h"

#define QT_RECORD_MAGIC "QTRECORD"
enum {
    QT_RECORD_MAGIC_LEN = 8,
    QT_RECORD_HEADER_LEN = 40,
    /* deflate expands at most 1032:1; a larger claimed content length is corrupt. */
    QT_RECORD_MAX_RATIO = 1032,
};

typedef struct qt_record_header {
    uint32_t version;
    uint32_t content_crc;
    uint64_t content_len;
    uint64_t stored_len;
    uint32_t stored_crc;
} qt_record_header;

/* Header bytes, including magic and header CRC. */
void qt_record_header_encode(const qt_record_header *h, uint8_t out[QT_RECORD_HEADER_LEN]);
/* Fields only; the caller checks magic and CRCs (to say which one failed). */
void qt_record_header_decode(const uint8_t in[QT_RECORD_HEADER_LEN], qt_record_header *h);
uint32_t qt_record_header_crc(const uint8_t in[QT_RECORD_HEADER_LEN]);

/* Zero bytes that follow a record header ending at content offset pos. */
size_t qt_record_pad(uint64_t pos);

#endif

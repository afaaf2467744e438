/* Record files: the checkpoint container. A file of named records, each a small typed
 * array (dtype, up to 4 dims, bytes), e.g. "conv1.weight" f32 [16,3,3,3] or "rng" u64 [4].
 *
 * Layout (all integers little-endian):
 *   header, 40 bytes:
 *     0  magic "QTRECORD"
 *     8  u32 format version (QT_RECORD_VERSION)
 *    12  u32 CRC32 of the content (the uncompressed records)
 *    16  u64 content length
 *    24  u64 stored length (the zlib stream that follows the header)
 *    32  u32 CRC32 of the stored bytes
 *    36  u32 CRC32 of header bytes 0..35
 *   the content, zlib-compressed; uncompressed it is a sequence of records:
 *     u16 name length, name bytes, u8 dtype, u8 ndim, u64 dims[ndim], u64 byte count,
 *     zero padding to a multiple of 8 in the content, the bytes.
 * The file ends where the zlib stream ends. Every byte is covered by a checksum, so any
 * change is detected; the reader also checks every length and bound, so a corrupt or
 * truncated file is rejected with a message, never read out of bounds.
 *
 * The writer streams records through zlib into "<path>.tmp" and renames it over <path>
 * on commit (see file_io.h): a crash never leaves a partial file under <path>. */
#ifndef QTRAIN_RECORD_FILE_H
#define QTRAIN_RECORD_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_RECORD_VERSION = 1, QT_RECORD_MAX_DIMS = 4, QT_RECORD_MAX_NAME = 255 };

/* F16 holds IEEE binary16 bit patterns (half.h converts); U16 unsigned 16-bit integers. */
typedef enum qt_record_dtype {
    QT_REC_F32 = 1, QT_REC_I8, QT_REC_U8, QT_REC_I32, QT_REC_U64, QT_REC_F64, QT_REC_F16, QT_REC_U16
} qt_record_dtype;

/* "f32", "i8", ...; "?" for anything else. */
const char *qt_record_dtype_name(qt_record_dtype t);
/* Bytes per element; 0 for an unknown dtype. */
size_t qt_record_dtype_size(qt_record_dtype t);

typedef struct qt_record {
    const char *name;
    qt_record_dtype dtype;
    int ndim;                               /* 0 = a scalar (one element) */
    int64_t shape[QT_RECORD_MAX_DIMS];
    const void *data;                       /* 8-byte aligned, valid until close */
    size_t nbytes;
} qt_record;

/* ---- writing ---- */

typedef struct qt_record_writer qt_record_writer;

int qt_record_writer_open(qt_record_writer **w, const char *path, qt_error *err);
/* Appends a record; data holds product(shape) elements of dtype. Names are 1 to 255
 * bytes and unique in the file. */
int qt_record_write(qt_record_writer *w, const char *name, qt_record_dtype dtype, int ndim,
                    const int64_t *shape, const void *data, qt_error *err);
/* Finishes the file and renames it into place; frees w whatever the outcome. */
int qt_record_writer_commit(qt_record_writer *w, qt_error *err);
/* Drops the temporary file (the old file under path is untouched); frees w. */
void qt_record_writer_abort(qt_record_writer *w);

/* ---- reading ---- */

typedef struct qt_record_file qt_record_file;

/* Reads and verifies the whole file. Errors name the file and the problem:
 * "ckpt/e3.qtr: truncated: 812 of 4096 stored bytes present". */
int qt_record_file_open(qt_record_file **f, const char *path, qt_error *err);
void qt_record_file_close(qt_record_file *f);

int qt_record_file_count(const qt_record_file *f);
const qt_record *qt_record_file_at(const qt_record_file *f, int i);
/* NULL when absent. */
const qt_record *qt_record_file_find(const qt_record_file *f, const char *name);
/* The record name, checked to have this dtype and shape (ndim entries); errors name the
 * file, the record, and what differs. */
int qt_record_file_get(const qt_record_file *f, const char *name, qt_record_dtype dtype,
                       int ndim, const int64_t *shape, const qt_record **out, qt_error *err);
/* qt_record_file_get, then copies the bytes into dst. */
int qt_record_file_read(const qt_record_file *f, const char *name, qt_record_dtype dtype,
                        int ndim, const int64_t *shape, void *dst, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

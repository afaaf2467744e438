/* gzip: files that may be gzip-compressed (decided by the magic bytes), and gzip in memory.
 * The dataset readers parse the buffers; keeping the I/O here lets the fuzz harnesses feed the
 * same parsers from memory. Plain whole-file reads and atomic writes are in file_io.h. */
#ifndef QTRAIN_GZIP_H
#define QTRAIN_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif


/* Reads path; when the contents start with the gzip magic (1f 8b) they are inflated.
 * Decompressed data larger than max_len is an error (protects against gzip bombs). */
int qt_read_file_maybe_gz(const char *path, size_t max_len, uint8_t **buf, size_t *len,
                          qt_error *err);

/* Inflates a gzip stream (one or more members) into a new buffer. name is used in messages.
 * Bytes after the last member that do not start another member are an error: a file
 * cut, padded or joined by mistake would otherwise pass unnoticed. */
int qt_gunzip(const char *name, const uint8_t *in, size_t in_len, size_t max_len,
              uint8_t **out, size_t *out_len, qt_error *err);

/* Compresses into a new gzip buffer. */
int qt_gzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

/* Whole files as byte buffers: reading (plain or gzip, decided by the gzip magic bytes),
 * gzip in memory, and writing through a temporary name so an existing file is replaced
 * only by a complete new one. The dataset readers parse the buffers; keeping the I/O here
 * lets the fuzz harnesses feed the same parsers from memory. */
#ifndef QTRAIN_FILE_BYTES_H
#define QTRAIN_FILE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

/* Reads the file at path into a new buffer (*buf, free() it). */
int qt_file_read(const char *path, uint8_t **buf, size_t *len, qt_error *err);

/* Reads path; when the contents start with the gzip magic (1f 8b) they are inflated.
 * Decompressed data larger than max_len is an error (protects against gzip bombs). */
int qt_file_read_maybe_gz(const char *path, size_t max_len, uint8_t **buf, size_t *len,
                          qt_error *err);

/* Inflates a gzip stream (one or more members) into a new buffer. name is used in messages. */
int qt_gunzip(const char *name, const uint8_t *in, size_t in_len, size_t max_len,
              uint8_t **out, size_t *out_len, qt_error *err);

/* Compresses into a new gzip buffer. */
int qt_gzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len, qt_error *err);

/* Writes buf to "<path>.tmp" and renames it to path. */
int qt_file_write(const char *path, const void *buf, size_t len, qt_error *err);

#endif

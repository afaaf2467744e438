/* Whole-file reads, and writes that replace a file atomically.
 *
 * A qt_atomic_file writes to "<path>.tmp" in the same directory; commit fsyncs it, renames it
 * over <path> and fsyncs the directory. A crash at any point leaves either the old file or
 * the complete new one under <path>, never a partial file. */
#ifndef QTRAIN_FILE_IO_H
#define QTRAIN_FILE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads all of path into a malloc'd buffer (*data, *len). One extra NUL byte follows the
 * data so text parsers can treat it as a string; *len does not count it. */
int qt_read_file(const char *path, uint8_t **data, size_t *len, qt_error *err);
/* The same into a buffer that is reused from one file to the next: *buf (of *cap bytes,
 * both 0 at first) grows as needed; free(*buf) when done. */
int qt_read_file_into(const char *path, uint8_t **buf, size_t *cap, size_t *len, qt_error *err);
/* qt_read_file_into for a file of at most max_len bytes: a larger one is an error giving
 * its size, told before reading when its size is known (a file that grows while read is
 * caught as it passes max_len), so a hostile file costs no more than max_len of memory. */
int qt_read_file_at_most(const char *path, size_t max_len, uint8_t **buf, size_t *cap,
                         size_t *len, qt_error *err);

typedef struct qt_atomic_file {
    int fd;             /* -1 once committed or aborted */
    char *path;         /* final name */
    char *temp_path;    /* "<path>.tmp" */
} qt_atomic_file;

int qt_atomic_open(qt_atomic_file *f, const char *path, qt_error *err);
/* Appends len bytes at the current end of the temporary file. */
int qt_atomic_write(qt_atomic_file *f, const void *data, size_t len, qt_error *err);
/* Overwrites bytes at offset (for headers filled in after the body is known). */
int qt_atomic_pwrite(qt_atomic_file *f, const void *data, size_t len, uint64_t offset,
                     qt_error *err);
/* fsync, rename over the final name, fsync the directory; frees f's names. On error the
 * temporary file is removed and the old file under the final name is untouched. */
int qt_atomic_commit(qt_atomic_file *f, qt_error *err);
/* Removes the temporary file and frees f's names; does nothing after commit. */
void qt_atomic_abort(qt_atomic_file *f);

/* mkdir -p: creates path and every missing parent (existing ones are fine). */
int qt_make_dirs(const char *path, qt_error *err);

/* Open, write data, commit. */
int qt_write_file_atomic(const char *path, const void *data, size_t len, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

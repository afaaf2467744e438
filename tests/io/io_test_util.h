/* Helpers for the io tests: a scratch directory per test program, whole files in and out. */
#ifndef QTRAIN_TESTS_IO_TEST_UTIL_H
#define QTRAIN_TESTS_IO_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); returns its path (static storage). */
const char *io_tmpdir(void);
/* cmocka group setup/teardown: make and remove the scratch directory. */
int io_group_setup(void **state);
int io_group_teardown(void **state);
/* Removes the directory made by io_tmpdir and everything in it. */
void io_tmpdir_remove(void);
/* "<tmpdir>/<name>" in a static buffer (one of a few, so two can be used together). */
const char *io_path(const char *name);
/* Writes text or bytes to path; aborts the test on failure. */
void io_write(const char *path, const void *data, size_t len);
void io_write_text(const char *path, const char *text);
/* Reads path into a malloc'd, NUL-terminated buffer; NULL if it cannot be read. */
uint8_t *io_read(const char *path, size_t *len);

#endif

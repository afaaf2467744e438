/* Scratch directories for tests: made under $TMPDIR (or /tmp), removed with
 * their contents when the test is done. */
#ifndef QTRAIN_TESTS_TMPDIR_H
#define QTRAIN_TESTS_TMPDIR_H

#include <stddef.h>

/* Creates a fresh directory and writes its path to dir (size n); returns 0 on success. */
int tmpdir_make(char *dir, size_t n);
/* Removes dir and everything below it. */
void tmpdir_remove(const char *dir);
/* Writes len bytes to dir/name; returns 0 on success. */
int tmpdir_write(const char *dir, const char *name, const void *buf, size_t len);

#endif

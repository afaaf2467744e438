/* Test helpers: do two checkpoints hold the same weights? A checkpoint with records dropped
 * or added. */
#ifndef QTRAIN_TESTS_CHECKPOINT_DIFF_H
#define QTRAIN_TESTS_CHECKPOINT_DIFF_H

#include <stddef.h>

#include "qtrain/record_file.h"

/* Compares every param/, bn/ and opt/ record of checkpoint a with b's record of that name, byte
 * for byte. Returns how many it compared, or -1 with what differs (or failed) in why. */
int checkpoint_same_weights(const char *a, const char *b, char *why, size_t why_size);

/* Writes dst: every record of src whose name does not start with drop_prefix, then the nadd
 * records of add. Returns 0, or -1 with the reason in why. */
int checkpoint_rewrite(const char *src, const char *dst, const char *drop_prefix,
                       const qt_record *add, int nadd, char *why, size_t why_size);

#endif

/* Test helper: do two checkpoints hold the same weights? */
#ifndef QTRAIN_TESTS_CHECKPOINT_DIFF_H
#define QTRAIN_TESTS_CHECKPOINT_DIFF_H

#include <stddef.h>

/* Compares every param/, bn/ and opt/ record of checkpoint a with b's record of that name, byte
 * for byte. Returns how many it compared, or -1 with what differs (or failed) in why. */
int checkpoint_same_weights(const char *a, const char *b, char *why, size_t why_size);

#endif

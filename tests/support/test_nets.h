/* Test helpers: tiny nets. */
#ifndef QTRAIN_TEST_NETS_H
#define QTRAIN_TEST_NETS_H

#include "qtrain/net.h"

/* flatten -> linear(in -> out), input shape (1, 1, in); weights initialised He-normal. */
qt_net *tn_linear(int in, int out, int bias, uint64_t seed);

#endif

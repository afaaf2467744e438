/* A net as a table, one row per layer: its name, kind, inputs, output shape, parameters,
 * whether its weights are quantized (rule and grid) and its forward FLOPs per image. What
 * `qtrain --print-net` prints. */
#ifndef QTRAIN_NET_TABLE_H
#define QTRAIN_NET_TABLE_H

#include "qtrain/config.h"
#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The table of a built net (with its quantizers attached), as text (malloc'd; NULL when out
 * of memory). */
char *qt_net_table(const qt_net *net);

/* Builds the config's net for its dataset (the test split gives the shape and the classes)
 * and returns its table. */
int qt_config_net_table(const qt_config *c, char **text, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

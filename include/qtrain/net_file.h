/* Nets described in files (docs/net-files.md): an INI file whose sections, in order, are the
 * layers of the net ([conv], [bn], [relu], ..., [add], [shortcut]), with [repeat] ... [end]
 * around a block that occurs several times, an optional [net] section first, and per conv or
 * linear layer its own quantization (quantize, grid, bits).
 *
 * Errors name file:line and the layer, and say what was expected and what came:
 *   "nets/my.net:31: add: shapes (64,8,8) and (32,16,16) differ" */
#ifndef QTRAIN_NET_FILE_H
#define QTRAIN_NET_FILE_H

#include <stddef.h>

#include "qtrain/config.h"
#include "qtrain/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the net of a net file's text (len bytes; path names it in messages and in the net's
 * description). From spec it takes the input shape, the class count (out = classes) and the
 * batchnorm momentum and eps of [bn] layers that do not set their own; the other fields are
 * not used. Parameters start at zero (qt_net_init_params). */
qt_net *qt_net_file_parse(const char *path, const char *text, size_t len,
                          const qt_model_spec *spec, qt_error *err);
/* The same for a file on disk. */
qt_net *qt_net_file_load(const char *path, const qt_model_spec *spec, qt_error *err);

/* Every key a section may hold, one row per (section kind, key): section is the kind
 * ("conv"), default_text is NULL for a required key and "" for an optional key without a
 * default value. For documentation and its tests. */
const qt_config_key *qt_net_file_keys(int *n);

#ifdef __cplusplus
}
#endif

#endif

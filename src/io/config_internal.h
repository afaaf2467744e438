/* Shared by the config sources: how a key's type and allowed values read in messages and docs. */
#ifndef QTRAIN_IO_CONFIG_INTERNAL_H
#define QTRAIN_IO_CONFIG_INTERNAL_H

#include "qtrain/config.h"

/* "int", "float", "bool", "string", "path", "choice", "int list", "float list". */
const char *qt_config_type_name(qt_cfg_type t);
/* Allowed values in words: ">= 1", "> 0", "[1, 8]", "(0, 1]", "sgd|adam", "non-empty",
 * or "" when anything of the type goes. For lists, the rule for each item. */
void qt_config_limits_text(const qt_config_key *k, char *out, size_t n);

#endif

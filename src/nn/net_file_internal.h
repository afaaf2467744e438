/* Net files, inside: the sections of a file read into values (net_file_keys.c), which the
 * builder (net_file.c) expands and turns into layers. */
#ifndef QTRAIN_NN_NET_FILE_INTERNAL_H
#define QTRAIN_NN_NET_FILE_INTERNAL_H

#include <stdbool.h>

#include "qtrain/config.h"
#include "qtrain/ini.h"
#include "qtrain/net.h"

typedef enum {
    NF_NET, NF_REPEAT, NF_END,
    NF_CONV, NF_LINEAR, NF_BN, NF_RELU, NF_HARDTANH, NF_MAXPOOL, NF_AVGPOOL, NF_GLOBAL_AVGPOOL,
    NF_FLATTEN, NF_DROPOUT, NF_ADD, NF_SHORTCUT,
} nf_kind;

enum { NF_NAME_MAX = sizeof(((qt_layer *)0)->name), NF_MAX_KEYS = 16, NF_CLASSES = -1 };

/* Every key any section may have; the table in net_file_keys.c says which kind takes which. */
typedef struct nf_values {
    char name[NF_NAME_MAX];
    char out[16];             /* conv, linear: a number or "classes" (see out_n) */
    char from[NF_NAME_MAX];
    char input[32];
    char grid[QT_CONFIG_NAME_MAX];   /* conv, linear: a grid's name (grid.h) */
    int k, stride, pad, groups, bits, times, first, type;
    bool depthwise, bias, quantize;
    double momentum, eps, p;
} nf_values;

typedef struct nf_section {
    nf_kind kind;
    const char *kind_name;
    int line;                 /* of the [header] */
    nf_values v;
    int key_line[NF_MAX_KEYS];/* line of each of the kind's keys that was written, else 0 */
    int out_n;                /* out as a number, or NF_CLASSES */
    int from_back;            /* from = -N: N; 0 when from names a layer */
    int in_c, in_h, in_w;     /* [net] input, 0 when not given */
    qt_layer_quant quant;     /* conv, linear: quantize, grid and bits resolved */
} nf_section;

/* Reads section s of ini: its kind, the defaults, every key (checked against the kind's
 * table), and the checks that need only this section. Errors name file:line. */
int nf_read_section(const qt_ini *ini, int s, nf_section *out, qt_error *err);

/* Line of key in sec, 0 when it was not written. */
int nf_given(const nf_section *sec, const char *key);

#endif

/* The typed run configuration: INI sections [model] [data] [train] [quant] [log].
 *
 * One table (the schema, config_schema.c) lists every key with its type, default, allowed
 * values, one-line doc and place in qt_config. Loading, --set overrides, validation,
 * writing the resolved INI, `qtrain --help-config` and configs/README.md all come from it.
 *
 * Typical use:
 *   qt_config c;
 *   qt_config_defaults(&c);
 *   qt_config_load(&c, "configs/resnet56_bc.ini", &err);      file on top of defaults
 *   qt_config_set_arg(&c, "train.lr=0.01", &err);             each --set
 *   qt_config_validate(&c, &err);                              cross-key checks
 * Errors name where the value came from: "configs/x.ini:12: train.lr: expected a number,
 * got "fast"", or "--set: train.lr: ..." for overrides. qt_config is a plain value: copy it
 * with `=`, nothing to free. */
#ifndef QTRAIN_CONFIG_H
#define QTRAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    QT_CONFIG_STR_MAX = 64,      /* model.name capacity, including the NUL */
    QT_CONFIG_PATH_MAX = 1024,   /* data.root capacity, including the NUL */
    QT_CONFIG_NAME_MAX = 24,     /* a named choice (quant.mode, ...), including the NUL */
    QT_CONFIG_LIST_MAX = 16,     /* items in an int or float list */
    QT_CONFIG_KEYS_MAX = 96,     /* rows the schema may have */
    QT_CONFIG_FILES_MAX = 4,     /* config files loaded into one qt_config */
};

typedef struct qt_cfg_int_list {
    int n;
    int v[QT_CONFIG_LIST_MAX];
} qt_cfg_int_list;

typedef struct qt_cfg_float_list {
    int n;
    double v[QT_CONFIG_LIST_MAX];
} qt_cfg_float_list;

/* Enum keys store the index of the chosen word in the key's choices, in this order. Keys
 * that name a row of a table an upper layer owns (the training rules of quant.mode, the
 * grids, scale rules, schedules and losses) store the name instead (QT_KEY_NAME). */
typedef enum qt_cfg_shortcut { QT_CFG_SHORTCUT_A, QT_CFG_SHORTCUT_B } qt_cfg_shortcut;
typedef enum qt_cfg_dataset {
    QT_CFG_DATASET_CIFAR10, QT_CFG_DATASET_CIFAR100, QT_CFG_DATASET_FASHION_MNIST,
    QT_CFG_DATASET_MNIST, QT_CFG_DATASET_PNG_FOLDER, QT_CFG_DATASET_IMAGE_FOLDER,
    QT_CFG_DATASET_IMAGENET, QT_CFG_DATASET_TINY_IMAGENET
} qt_cfg_dataset;
typedef enum qt_cfg_labels { QT_CFG_LABELS_FINE, QT_CFG_LABELS_COARSE } qt_cfg_labels;
typedef enum qt_cfg_optimizer { QT_CFG_OPTIM_SGD, QT_CFG_OPTIM_ADAM } qt_cfg_optimizer;
typedef enum qt_cfg_binarize { QT_CFG_BINARIZE_DET, QT_CFG_BINARIZE_STOCH } qt_cfg_binarize;
typedef enum qt_cfg_step_scale { QT_CFG_STEP_SCALE_NONE, QT_CFG_STEP_SCALE_GLOROT } qt_cfg_step_scale;

/* Field names equal key names; see configs/README.md for each key's meaning. */
typedef struct qt_config_model {
    char name[QT_CONFIG_STR_MAX];
    char file[QT_CONFIG_PATH_MAX];
    qt_cfg_int_list widths;
    qt_cfg_shortcut shortcut;
    double dropout;
    double bn_momentum;
    double bn_eps;
} qt_config_model;

typedef struct qt_config_data {
    qt_cfg_dataset dataset;
    char root[QT_CONFIG_PATH_MAX];
    int train_limit;
    int test_limit;
    int classes;
    int per_class;
    double fraction;
    qt_cfg_labels labels;
    int image_size;
    char class_list[QT_CONFIG_PATH_MAX];
    char val_labels[QT_CONFIG_PATH_MAX];
    bool scaled_decode;
    bool augment;
    int crop_pad;
    bool flip;
    bool normalize;
    bool skip_bad;
    bool prefetch;
    bool drop_last;
    int eval_batch_size;
} qt_config_data;

typedef struct qt_config_train {
    int epochs;
    int max_steps;
    int batch_size;
    double lr;
    qt_cfg_optimizer optimizer;
    double momentum;
    bool nesterov;
    double weight_decay;
    double adam_beta1;
    double adam_beta2;
    double adam_eps;
    char schedule[QT_CONFIG_NAME_MAX];
    qt_cfg_int_list lr_decay_epochs;
    double lr_decay_factor;
    double lr_final;
    double warmup_epochs;
    char loss[QT_CONFIG_NAME_MAX];
    int seed;
    int eval_every;
    int threads;
    bool sync_bn;
    int sync_check_every;
} qt_config_train;

typedef struct qt_config_quant {
    char mode[QT_CONFIG_NAME_MAX];
    char grid[QT_CONFIG_NAME_MAX];
    int bits;
    char scale[QT_CONFIG_NAME_MAX];
    double scale_value;
    qt_cfg_binarize binarize;
    qt_cfg_step_scale step_scale;
    bool quantize_first;
    bool quantize_last;
    bool eval_float;
} qt_config_quant;

typedef struct qt_config_log {
    int every;
    int print_every;
    int checkpoint_every;
    int keep_checkpoints;
    bool flips;
} qt_config_log;

/* Where each key's value came from, for error messages; not part of the value. */
enum { QT_CONFIG_FROM_DEFAULT = -1, QT_CONFIG_FROM_SET = -2 };
typedef struct qt_config_origin {
    int source;     /* QT_CONFIG_FROM_DEFAULT, QT_CONFIG_FROM_SET or an index into files */
    int line;
} qt_config_origin;

typedef struct qt_config_where {
    int n_files;
    char files[QT_CONFIG_FILES_MAX][QT_CONFIG_PATH_MAX];
    qt_config_origin key[QT_CONFIG_KEYS_MAX];   /* by schema row */
} qt_config_where;

typedef struct qt_config {
    qt_config_model model;
    qt_config_data data;
    qt_config_train train;
    qt_config_quant quant;
    qt_config_log log;
    qt_config_where where;
} qt_config;

/* ---- schema ---- */

typedef enum qt_cfg_type {
    QT_KEY_INT, QT_KEY_FLOAT, QT_KEY_BOOL, QT_KEY_STRING, QT_KEY_PATH, QT_KEY_ENUM,
    QT_KEY_INT_LIST, QT_KEY_FLOAT_LIST,
    QT_KEY_NAME     /* a row of a table the config does not hold: a word of letters, digits
                       and _, stored as text; the layer owning the table checks it */
} qt_cfg_type;

typedef struct qt_config_key {
    const char *section;
    const char *key;
    qt_cfg_type type;
    const char *default_text;   /* as written in an INI file */
    /* Numbers and list items: an interval "[lo, hi]", "(lo, hi]", ... with "inf" for no
     * bound, or NULL; enums: the choices "a|b|c"; strings: "non-empty" or NULL; names:
     * NULL (the choices come from a qt_config_names_fn). */
    const char *limits;
    const char *doc;            /* one line */
    size_t offset;              /* of the field in the struct the value lives in */
    size_t size;                /* of that field */
} qt_config_key;

typedef struct qt_config_section {
    const char *name;
    const char *doc;
} qt_config_section;

const qt_config_key *qt_config_schema(int *n_keys);
const qt_config_section *qt_config_sections(int *n_sections);
/* The row of section.key, or NULL; *index (if non-NULL) gets its position. */
const qt_config_key *qt_config_find_key(const char *section, const char *key, int *index);

/* Parses text as the value of row k into the field at base + k->offset (base is a
 * qt_config for schema rows). On failure returns QT_ERR and writes why, e.g.
 * `expected a number, got "fast"`, without the key's name. */
int qt_config_parse_value(const qt_config_key *k, const char *text, void *base, char *why,
                          size_t why_size);
/* The field's value as INI text (snprintf semantics); parsing it gives the same value. */
size_t qt_config_format_value(const qt_config_key *k, const void *base, char *out,
                              size_t out_size);

/* ---- values ---- */

/* Every key at its default; no files loaded. */
void qt_config_defaults(qt_config *c);
/* Applies an INI file on top of c. Unknown sections and keys, a key set twice in the
 * file, and bad values are errors naming file:line and section.key. c is unchanged on
 * error. Cross-key checks wait for qt_config_validate. */
int qt_config_load(qt_config *c, const char *path, qt_error *err);
/* The same for INI text held in memory; name stands for the file in messages. */
int qt_config_load_text(qt_config *c, const char *name, const char *text, qt_error *err);
/* Applies a command-line override "section.key=value" (blanks around key and value are
 * ignored; the value is taken literally, without INI quoting). c is unchanged on error. */
int qt_config_set_arg(qt_config *c, const char *arg, qt_error *err);
/* Checks every value against its type and range (fields may have been set from code) and
 * the rules between keys, e.g. quant.grid = binary needs quant.bits = 1. */
int qt_config_validate(const qt_config *c, qt_error *err);
/* An error about a key's value found outside the config (a missing dataset directory, ...),
 * named like the config's own errors: "configs/x.ini:7: data.root: <what>". */
int qt_config_key_error(const qt_config *c, const char *dotted_key, qt_error *err,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same for a rule between two keys: the message names the key that was set (of the
 * two, a blamed before b when only a was set), e.g. "x.ini:3: quant.bits: ...". */
int qt_config_cross_error(const qt_config *c, const char *dotted_a, const char *dotted_b,
                          qt_error *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether every key has the same value (origins are ignored). */
bool qt_config_equal(const qt_config *a, const qt_config *b);
/* The value of "section.key" as INI text, e.g. "bc" for quant.mode (snprintf semantics);
 * returns (size_t)-1 for an unknown key. */
size_t qt_config_value_text(const qt_config *c, const char *dotted_key, char *out,
                            size_t out_size);

/* The resolved config as INI text (malloc'd; NULL when out of memory). Loading it on top
 * of defaults gives a config equal to c. */
char *qt_config_to_ini(const qt_config *c);
/* Writes qt_config_to_ini to path, replacing it atomically. */
int qt_config_save(const qt_config *c, const char *path, qt_error *err);

/* ---- documentation, generated from the schema (malloc'd text; NULL when out of memory) ---- */

/* The choices of name key k joined by '|', "fp|bc|sr" (snprintf semantics), read from the
 * table that holds them; qt_run_config_names (run_setup.h) knows every name key's table. */
typedef size_t (*qt_config_names_fn)(const qt_config_key *k, char *out, size_t size);

/* Plain text for `qtrain --help-config`; names gives the choices of name keys. */
char *qt_config_help_text(qt_config_names_fn names);
/* The full text of configs/README.md. */
char *qt_config_readme(qt_config_names_fn names);

#ifdef __cplusplus
}
#endif

#endif

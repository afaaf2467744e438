/* Checkpoints: a net's state in one record file (record_file.h: zlib, magic, version,
 * checksums, written to a temporary name and renamed).
 *
 * Records:
 *   config.ini                 u8    the resolved config the net was built from
 *   net                        u8    the net's description (net_desc.h): a zoo name and its
 *                                    options, or a net file's text; rebuilds the net alone
 *   state/step, state/epoch, state/batch, state/opt_t, state/images,
 *   state/window_correct, state/window_images, state/window_steps      u64
 *   state/best_acc, state/seconds, state/window_loss                   f64
 *   state/window_flips, state/epoch_flips                              f64 (absent before
 *                              per-step flips were logged: read as 0)
 *   param/<name>               f32   a float parameter (or a BC layer's float buffer w_r)
 *   param/<name>.index         u8    a weight stored on a grid: level indices...
 *   param/<name>.levels        f64   ...and the grid {lowest value, spacing, levels}
 *   param/<name>.pq_index      u8/u16 a product-quantized weight: a centroid per subvector...
 *   param/<name>.pq_centroids  f16   ...and the layer's codebook (pq_coded.h)
 *   bn/<layer>.running_mean, bn/<layer>.running_var                    f32
 *   opt/<name>.m, opt/<name>.v f32   optimizer state
 *   flips/<name>               i8    signs at the start of the epoch (flip counting)
 *   arch/<layer>.cp_rank       u64   layer <layer> is CP-factorised with this rank (net_cp.h)
 *   act/<layer>                f64   [n, 3]: the grids {lowest level, spacing, levels} that
 *                                    layer's input is put on (qt_layer_set_act, act_quant.h):
 *                                    n = 1 for the whole input, n = C_in (conv) for one per
 *                                    input channel; absent: the input stays float
 * SR and R weights are stored only as level indices (1 byte per weight); BC stores w_r
 * (the indices of Q(w_r) follow from it). Post-training quantizers store their own coded
 * forms through a qt_checkpoint_extra, whose reader decodes them again on a weights-only
 * load: the checkpoint code knows no coded form but the grid's. */
#ifndef QTRAIN_CHECKPOINT_H
#define QTRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/net.h"
#include "qtrain/optimizer.h"
#include "qtrain/record_file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_train_state {
    int64_t step;             /* optimizer steps taken */
    int64_t epoch;            /* the epoch in progress (0-based) */
    int64_t batch;            /* batches of that epoch already consumed */
    int64_t images;           /* training images seen */
    double best_acc;          /* best test accuracy so far (-1: none yet) */
    double seconds;           /* training time so far */
    /* the train.csv row being accumulated (rows average log.every steps) */
    double window_loss;       /* sum of step losses */
    int64_t window_correct, window_images, window_steps;
    double window_flips;      /* sum of the window's per-step flip fractions */
    double epoch_flips;       /* the same, over the epoch in progress (eval.csv's step_flips_sum) */
} qt_train_state;

/* Writes extra records for parameters a tool stores in its own coded form; returns 1 when it
 * wrote p (the default f32 record is then skipped), 0 to let the default handle it. */
typedef int (*qt_param_writer_fn)(qt_record_writer *w, const qt_param *p, void *user, qt_error *err);

/* Reads a float parameter a tool stored in its own coded form (a weights-only load): returns
 * 1 when p's records are in that form and were checked (apply = 0) or decoded into p->t.data
 * (apply = 1), 0 when they are not in that form, QT_ERR when they are but are invalid. The
 * load calls it twice per parameter, checking everything before it changes anything. */
typedef int (*qt_param_reader_fn)(const qt_record_file *f, const char *path, qt_param *p,
                                  int apply, void *user, qt_error *err);

/* A tool's coded forms: write_param for saving, read_param for loading (either may be NULL). */
typedef struct qt_checkpoint_extra {
    qt_param_writer_fn write_param;
    void *user;
    qt_param_reader_fn read_param;
} qt_checkpoint_extra;

/* opt and state may be NULL (a weights-only file, e.g. a post-training quantized model). */
int qt_checkpoint_save(const char *path, const qt_net *net, const qt_optimizer *opt,
                       const qt_train_state *state, const char *config_ini,
                       const qt_checkpoint_extra *extra, qt_error *err);

/* Loads a checkpoint into a net built from the same config. Every record is checked against
 * the net (names, shapes) before anything is copied, so a mismatching or corrupt file leaves
 * the net untouched. opt/state may be NULL to load weights only; then quantized weights may
 * come in any stored form and are decoded to the net's float values for evaluation. */
int qt_checkpoint_load(const char *path, qt_net *net, qt_optimizer *opt, qt_train_state *state,
                       qt_error *err);
/* The same, with extra->read_param (may be NULL) decoding parameters in a tool's coded form. */
int qt_checkpoint_load_with(const char *path, qt_net *net, qt_optimizer *opt,
                            qt_train_state *state, const qt_checkpoint_extra *extra, qt_error *err);

/* Applies the structure a checkpoint records (arch/<layer>.cp_rank: factorise that layer)
 * to a net freshly built from its config, before qt_checkpoint_load. */
int qt_checkpoint_apply_arch(const char *path, qt_net *net, qt_error *err);

/* The config.ini text stored in a checkpoint (malloc'd, NUL-terminated). */
int qt_checkpoint_config_text(const char *path, char **text, qt_error *err);
/* The net's description stored in a checkpoint (malloc'd), or *text = NULL when it has none
 * (checkpoints written before it was recorded, or of a net assembled in code). */
int qt_checkpoint_net_description(const char *path, char **text, qt_error *err);

/* Checkpoint file name for a step: "<dir>/step-000001234.qtr". */
void qt_checkpoint_path(const char *dir, int64_t step, char *out, size_t n);

/* The newest checkpoint in dir that opens and verifies. Unreadable newer ones are described
 * in skipped (one line each, may be NULL). Returns 0 and an empty path when there is none. */
int qt_checkpoint_find_latest(const char *dir, char *path, size_t n, char *skipped,
                              size_t skipped_n, qt_error *err);

/* Keeps the newest `keep` checkpoints in dir, deleting older ones. */
void qt_checkpoint_prune(const char *dir, int keep);

/* Deletes the temporary files of checkpoints being written when a process was killed
 * ("step-*.qtr.tmp"); returns how many. */
int qt_checkpoint_remove_temps(const char *dir);

#ifdef __cplusplus
}
#endif

#endif

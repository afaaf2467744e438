/* The training loop of `qtrain`: epochs of steps, evaluation, run logs, checkpoints and exact
 * resume. The library never prints: progress reaches the caller through an observer. */
#ifndef QTRAIN_TRAINER_H
#define QTRAIN_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "qtrain/comm.h"
#include "qtrain/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_TRAIN_EV_STEP,         /* after every step */
    QT_TRAIN_EV_EVAL,         /* after an evaluation */
    QT_TRAIN_EV_CHECKPOINT,   /* text: the file written */
    QT_TRAIN_EV_NOTE,         /* text: something the user should know (a skipped checkpoint,
                               * an image left out by data.skip_bad) */
} qt_train_event_kind;

typedef struct qt_train_event {
    qt_train_event_kind kind;
    int64_t epoch;            /* epoch in progress, 0-based */
    int epochs;
    int64_t step;             /* steps done */
    int64_t total_steps;      /* steps the run will take */
    int64_t batch, batches;   /* within the epoch */
    double loss, acc;         /* the last step's */
    double lr, images_per_s, eta_seconds, elapsed_seconds;
    double test_loss, test_acc, float_test_acc; /* EVAL; float_test_acc is NAN when not measured */
    double test_top5;         /* EVAL: top-5 accuracy; NAN with 5 classes or fewer */
    double flips;             /* EVAL: fraction of quantized weights that differ from the epoch's start */
    double step_flips_sum;    /* EVAL: the epoch's per-step flip fractions, summed */
    const char *text;
} qt_train_event;

typedef void (*qt_train_observer)(const qt_train_event *ev, void *user);

typedef struct qt_train_opts {
    const char *run_dir;
    int resume;               /* continue from the newest valid checkpoint in run_dir */
    /* set non-zero (by a SIGINT or SIGTERM handler) to stop at the next step: a checkpoint
     * is written, no evaluation is added */
    const volatile sig_atomic_t *stop;
    qt_train_observer observer;
    void *user;
    int overwrite;            /* a fresh run may replace a run found in run_dir */
    /* Data parallelism (comm.h): this process is one of comm->size that train one model
     * together, each on its share of every batch; NULL = one process. Only rank 0 touches
     * the run directory (lock, logs, checkpoints, summary) and emits events; a stop request
     * on any process stops all of them after the same step. */
    qt_comm *comm;
} qt_train_opts;

typedef struct qt_train_summary {
    double test_acc, best_test_acc, float_test_acc, test_loss;
    double test_top5;         /* NAN with 5 classes or fewer */
    double seconds, images_per_s;
    int64_t steps, epochs_done;
    size_t params, param_bytes;
    size_t state_bytes;       /* weights + optimizer state + flip snapshots as allocated */
    int64_t skipped_images;   /* left out by data.skip_bad (both splits, each image once) */
    int interrupted;
    char checkpoint[1200];    /* the last checkpoint written */
} qt_train_summary;

/* Trains per the config into opts->run_dir (created if needed): config.ini, classes.json,
 * train.csv, eval.csv, summary.json and checkpoints/. Everything that can be checked (config,
 * dataset files, model) is checked before the first step.
 *
 * The run directory is locked for the whole call (dir_lock.h): a second process fails at
 * once. A fresh run refuses a directory that already holds a run (run_dir.h) unless
 * opts->overwrite, which deletes that run's files first. A resume changes nothing in the
 * directory until the checkpoint has loaded into the net and the logs fit it; it then
 * removes temporary files a killed process left. test_acc, test_loss and best_test_acc are
 * NAN until the first evaluation. */
int qt_train(const qt_config *c, const qt_train_opts *opts, qt_train_summary *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

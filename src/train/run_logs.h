/* The run directory's logs (private to src/train). */
#ifndef QTRAIN_RUN_LOGS_H
#define QTRAIN_RUN_LOGS_H

#include <stdint.h>

#include "qtrain/csv_writer.h"
#include "qtrain/trainer.h"

typedef struct run_logs {
    qt_csv_writer *train, *eval;
    int float_acc;            /* eval.csv has float_test_acc */
    int top5;                 /* eval.csv has test_top5 (more than 5 classes) */
    int flips;                /* train.csv has flips, eval.csv flips and step_flips_sum */
} run_logs;

enum { RUN_LOGS_TRAIN_BASE = 8 };  /* train.csv's columns before flips */

typedef struct run_summary_fields {
    const char *model, *quant_mode, *dataset;
    const qt_train_summary *s;
} run_summary_fields;

/* Creates train.csv and eval.csv, or on resume cuts them back to the checkpoint's step and
 * completed epochs and appends. */
int run_logs_open(run_logs *l, const char *dir, int resume, int64_t step, int64_t epochs_done,
                  qt_error *err);
/* Checks that both logs can be resumed at the checkpoint (headers, rows), changing nothing. */
int run_logs_check(const run_logs *l, const char *dir, int64_t step, int64_t epochs_done,
                   qt_error *err);
/* base: step, epoch, lr, loss, acc, images_per_s, seconds; then flips when l->flips (the
 * window's mean per-step flip fraction). */
int run_logs_train_row(run_logs *l, const double base[RUN_LOGS_TRAIN_BASE], double flips,
                       qt_error *err);
/* test_top5 is written when l->top5, float_acc when l->float_acc, flips and step_flips_sum
 * when l->flips. */
int run_logs_eval_row(run_logs *l, int64_t epochs_done, int64_t step, double test_loss,
                      double test_acc, double test_top5, double float_acc, double flips,
                      double step_flips_sum,
                      qt_error *err);
void run_logs_close(run_logs *l);
int run_logs_summary(const char *dir, const run_summary_fields *f, qt_error *err);

#endif

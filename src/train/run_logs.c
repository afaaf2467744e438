/* The run directory's logs: train.csv, eval.csv, summary.json. */
#include "run_logs.h"

#include <math.h>
#include <stdio.h>

#include "qtrain/json.h"

static const char *const train_base_cols[] = {"step", "epoch", "lr", "loss", "acc",
                                               "images_per_s", "seconds", "comm_seconds"};

static int train_columns(const run_logs *l, const char **cols)
{
    int n = 0;
    for (; n < RUN_LOGS_TRAIN_BASE; n++)
        cols[n] = train_base_cols[n];
    if (l->flips)
        cols[n++] = "flips";
    return n;
}

static int eval_columns(const run_logs *l, const char **cols)
{
    int n = 0;
    cols[n++] = "epoch";
    cols[n++] = "step";
    cols[n++] = "test_loss";
    cols[n++] = "test_acc";
    if (l->top5)
        cols[n++] = "test_top5";
    if (l->float_acc)
        cols[n++] = "float_test_acc";
    if (l->flips) {
        cols[n++] = "flips";
        cols[n++] = "step_flips_sum";
    }
    return n;
}

int run_logs_check(const run_logs *l, const char *dir, int64_t step, int64_t epochs_done,
                   qt_error *err)
{
    char path[1200];
    const char *cols[10];
    int ncols = train_columns(l, cols);
    snprintf(path, sizeof path, "%s/train.csv", dir);
    if (qt_csv_writer_check_resume(path, cols, ncols, (double)step, err) != QT_OK)
        return QT_ERR;
    ncols = eval_columns(l, cols);
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    return qt_csv_writer_check_resume(path, cols, ncols, (double)epochs_done, err);
}

int run_logs_open(run_logs *l, const char *dir, int resume, int64_t step, int64_t epochs_done,
                  qt_error *err)
{
    char path[1200];
    const char *cols[10];
    int ncols = train_columns(l, cols);
    snprintf(path, sizeof path, "%s/train.csv", dir);
    int rc = resume ? qt_csv_writer_resume(&l->train, path, cols, ncols, (double)step, err)
                    : qt_csv_writer_create(&l->train, path, cols, ncols, err);
    ncols = eval_columns(l, cols);
    if (rc != QT_OK)
        return QT_ERR;
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    rc = resume ? qt_csv_writer_resume(&l->eval, path, cols, ncols, (double)epochs_done, err)
                : qt_csv_writer_create(&l->eval, path, cols, ncols, err);
    return rc;
}

int run_logs_train_row(run_logs *l, const double base[RUN_LOGS_TRAIN_BASE], double flips,
                       qt_error *err)
{
    double row[RUN_LOGS_TRAIN_BASE + 1];
    for (int i = 0; i < RUN_LOGS_TRAIN_BASE; i++)
        row[i] = base[i];
    row[RUN_LOGS_TRAIN_BASE] = flips;
    return qt_csv_write_row(l->train, row, err);
}

int run_logs_eval_row(run_logs *l, int64_t epochs_done, int64_t step, double test_loss,
                      double test_acc, double test_top5, double float_acc, double flips,
                      double step_flips_sum, qt_error *err)
{
    double row[8];
    int n = 0;
    row[n++] = (double)epochs_done;
    row[n++] = (double)step;
    row[n++] = test_loss;
    row[n++] = test_acc;
    if (l->top5)
        row[n++] = test_top5;
    if (l->float_acc)
        row[n++] = float_acc;
    if (l->flips) {
        row[n++] = flips;
        row[n++] = step_flips_sum;
    }
    return qt_csv_write_row(l->eval, row, err);
}

void run_logs_close(run_logs *l)
{
    qt_error ignored;
    if (l->train)
        qt_csv_writer_close(l->train, &ignored);
    if (l->eval)
        qt_csv_writer_close(l->eval, &ignored);
    l->train = l->eval = NULL;
}

int run_logs_summary(const char *dir, const run_summary_fields *f, qt_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    qt_json_writer *w = qt_json_writer_new(2);
    qt_json_begin_object(w);
    qt_json_field_string(w, "model", f->model);
    qt_json_field_string(w, "quant_mode", f->quant_mode);
    qt_json_field_string(w, "dataset", f->dataset);
    qt_json_field_int(w, "epochs", f->s->epochs_done);
    qt_json_field_int(w, "steps", f->s->steps);
    qt_json_field_number(w, "test_acc", f->s->test_acc);
    if (!isnan(f->s->test_top5))
        qt_json_field_number(w, "test_top5", f->s->test_top5);
    qt_json_field_number(w, "test_loss", f->s->test_loss);
    qt_json_field_number(w, "best_test_acc", f->s->best_test_acc);
    if (!isnan(f->s->float_test_acc))
        qt_json_field_number(w, "float_test_acc", f->s->float_test_acc);
    qt_json_field_int(w, "params", (int64_t)f->s->params);
    qt_json_field_int(w, "param_bytes", (int64_t)f->s->param_bytes);
    qt_json_field_int(w, "state_bytes", (int64_t)f->s->state_bytes);
    qt_json_field_number(w, "seconds", f->s->seconds);
    qt_json_field_number(w, "images_per_s", f->s->images_per_s);
    qt_json_field_int(w, "skipped_images", f->s->skipped_images);
    qt_json_field_bool(w, "interrupted", f->s->interrupted);
    qt_json_field_string(w, "checkpoint", f->s->checkpoint);
    qt_json_end_object(w);
    return qt_json_writer_save(w, path, err); /* frees w */
}

#include "qtrain/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/checkpoint.h"
#include "qtrain/clock.h"
#include "qtrain/dir_lock.h"
#include "qtrain/evaluate.h"
#include "qtrain/file_io.h"
#include "qtrain/run_dir.h"
#include "qtrain/run_setup.h"
#include "run_logs.h"

typedef struct run {
    const qt_config *cfg;
    const qt_train_opts *opts;
    qt_dataset *train_ds, *test_ds;
    qt_loader *train_ld, *test_ld;
    qt_net *net;
    qt_optimizer opt;
    qt_schedule sched;
    qt_loss_kind loss;
    qt_ctx ctx;
    int ctx_ready;
    qt_dir_lock lock;
    run_logs logs;
    qt_train_state st;
    char ckpt_dir[1100];
    char resume_from[1200];   /* the checkpoint --resume continues from */
    char *config_ini;
    int64_t batches, total_steps;
    int eval_float;           /* also evaluate BC's float buffer */
    int quantized;            /* some weight is quantized */
    double t_start, seconds0, step_ema;
    int64_t last_eval_step, last_ckpt_step;
    qt_train_summary *sum;
} run;

static double elapsed(const run *r) { return r->seconds0 + qt_now_seconds() - r->t_start; }

static void emit(const run *r, qt_train_event *ev)
{
    if (!r->opts->observer)
        return;
    ev->epoch = r->st.epoch;
    ev->epochs = r->cfg->train.epochs;
    ev->step = r->st.step;
    ev->total_steps = r->total_steps;
    ev->batch = r->st.batch;
    ev->batches = r->batches;
    ev->elapsed_seconds = elapsed(r);
    r->opts->observer(ev, r->opts->user);
}

static void note(const run *r, const char *text)
{
    qt_train_event ev = {.kind = QT_TRAIN_EV_NOTE, .text = text};
    emit(r, &ev);
}

/* What data.skip_bad left out since the last call: each file once. */
static void report_skipped(const run *r)
{
    qt_loader *lds[2] = {r->train_ld, r->test_ld};
    char text[1200];
    for (int i = 0; i < 2; i++)
        for (const char *m; lds[i] && (m = qt_loader_take_skip_note(lds[i]));) {
            snprintf(text, sizeof text, "data.skip_bad: left out %s", m);
            note(r, text);
        }
}

static void report_skipped_at_open(const run *r, const qt_dataset *ds)
{
    const char *const *notes;
    char text[2100];
    for (int i = 0, n = qt_dataset_skip_notes(ds, &notes); i < n; i++) {
        snprintf(text, sizeof text, "data.skip_bad: %s", notes[i]);
        note(r, text);
    }
}


/* ---- setup ---- */

static int open_data(run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    if (qt_run_open_datasets(c, &r->train_ds, &r->test_ds, err) != QT_OK)
        return QT_ERR;
    report_skipped_at_open(r, r->train_ds);
    report_skipped_at_open(r, r->test_ds);
    qt_loader_config lc;
    qt_run_loader_config(c, r->train_ds, QT_SPLIT_TRAIN, &lc);
    if (qt_loader_open(&r->train_ld, r->train_ds, &lc, err) != QT_OK)
        return QT_ERR;
    qt_run_loader_config(c, r->test_ds, QT_SPLIT_TEST, &lc);
    if (qt_loader_open(&r->test_ld, r->test_ds, &lc, err) != QT_OK)
        return QT_ERR;
    r->batches = qt_loader_batches_per_epoch(r->train_ld);
    if (r->batches < 1)
        return qt_config_key_error(c, "train.batch_size", err,
                                   "%d is more than the %d training images (with data.drop_last)",
                                   c->train.batch_size, qt_dataset_count(r->train_ds));
    int64_t planned = r->batches * c->train.epochs;
    r->total_steps = c->train.max_steps > 0 && c->train.max_steps < planned ? c->train.max_steps : planned;
    return QT_OK;
}

static int open_model(run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    if (!(r->net = qt_run_build_checkpoint_net(c, r->train_ds,
                                               r->resume_from[0] ? r->resume_from : NULL, err)))
        return QT_ERR;
    r->opt = qt_run_optimizer(c);
    r->sched = qt_run_schedule(c);
    r->loss = qt_run_loss(c);
    for (int i = 0; i < r->net->nparams; i++)
        if (qt_optimizer_init_state(&r->opt, r->net->params[i], err) != QT_OK)
            return QT_ERR;
    r->quantized = qt_quant_weight_count(r->net) > 0;
    r->eval_float = c->quant.mode == QT_CFG_QUANT_BC &&
                    (c->quant.eval_float || c->quant.binarize == QT_CFG_BINARIZE_STOCH);
    return QT_OK;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Locks the run directory for the run's life. A fresh run creates it and refuses (or, with
 * overwrite, clears) a directory that holds another run, so two runs never mix. */
static int claim_run_dir(run *r, qt_error *err)
{
    const char *dir = r->opts->run_dir;
    char found[256];
    if (!r->opts->resume && qt_make_dirs(dir, err) != QT_OK)
        return QT_ERR;
    if (qt_dir_lock_take(&r->lock, dir, "run directory", err) != QT_OK)
        return QT_ERR;
    if (r->opts->resume || !qt_run_dir_holds_run(dir, found, sizeof found))
        return QT_OK;
    if (!r->opts->overwrite)
        return qt_errorf(err, "run directory %s already holds a run (%s): continue it with "
                         "--resume --out %s, or start over with another --out or with "
                         "--overwrite (which deletes its checkpoints and logs)", dir, found, dir);
    if (qt_run_dir_clear(dir, err) != QT_OK)
        return QT_ERR;
    if (qt_run_dir_holds_run(dir, found, sizeof found))
        return qt_errorf(err, "run directory %s: could not delete the old run's %s", dir, found);
    char text[1300];
    snprintf(text, sizeof text, "deleted the run that was in %s (--overwrite)", dir);
    note(r, text);
    return QT_OK;
}

/* config.ini, classes.json and the logs. A resume first checks that the logs fit the
 * checkpoint, so a failed resume leaves the directory as it was, then removes the temporary
 * files a killed process left. */
static int open_run_files(run *r, qt_error *err)
{
    const char *dir = r->opts->run_dir;
    r->logs.float_acc = r->eval_float;
    r->logs.top5 = r->net->num_classes > 5;
    r->logs.flips = r->quantized && r->cfg->log.flips;
    if (r->opts->resume) {
        if (run_logs_check(&r->logs, dir, r->st.step, r->st.epoch, err) != QT_OK)
            return QT_ERR;
        int removed = qt_run_dir_remove_temps(dir);
        char text[1300];
        snprintf(text, sizeof text, "removed %d temporary file%s that a killed process left "
                 "in %s", removed, removed == 1 ? "" : "s", dir);
        if (removed)
            note(r, text);
    }
    if (qt_make_dirs(r->ckpt_dir, err) != QT_OK)
        return QT_ERR;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (!(r->config_ini = qt_config_to_ini(r->cfg)))
        return qt_errorf(err, "out of memory");
    if (qt_write_file_atomic(path, r->config_ini, strlen(r->config_ini), err) != QT_OK ||
        qt_dataset_write_classes(r->train_ds, dir, err) != QT_OK)
        return QT_ERR;
    return run_logs_open(&r->logs, dir, r->opts->resume, r->st.step, r->st.epoch, err);
}

/* The newest usable checkpoint, whose net the run is rebuilt from. */
static int find_resume_point(run *r, qt_error *err)
{
    char *path = r->resume_from, skipped[2048];
    if (qt_checkpoint_find_latest(r->ckpt_dir, path, sizeof r->resume_from, skipped,
                                  sizeof skipped, err) != QT_OK)
        return QT_ERR;
    if (skipped[0]) {
        char text[2200];
        snprintf(text, sizeof text, "skipped unreadable checkpoint(s): %s", skipped);
        note(r, text);
    }
    if (!path[0])
        return qt_errorf(err, "--resume: no usable checkpoint in %s", r->ckpt_dir);
    return QT_OK;
}

static int resume(run *r, qt_error *err)
{
    const char *path = r->resume_from;
    if (qt_checkpoint_load(path, r->net, &r->opt, &r->st, err) != QT_OK)
        return QT_ERR;
    char text[1300];
    snprintf(text, sizeof text, "resumed from %s (step %lld)", path, (long long)r->st.step);
    note(r, text);
    r->last_ckpt_step = r->st.step;
    return qt_loader_seek(r->train_ld, r->st.epoch, r->st.batch, err);
}

/* ---- the loop's pieces ---- */

static int save_checkpoint(run *r, qt_error *err)
{
    char path[1200];
    r->st.seconds = elapsed(r);
    qt_checkpoint_path(r->ckpt_dir, r->st.step, path, sizeof path);
    if (qt_checkpoint_save(path, r->net, &r->opt, &r->st, r->config_ini, NULL, err) != QT_OK)
        return QT_ERR;
    qt_checkpoint_prune(r->ckpt_dir, r->cfg->log.keep_checkpoints);
    snprintf(r->sum->checkpoint, sizeof r->sum->checkpoint, "%s", path);
    r->last_ckpt_step = r->st.step;
    qt_train_event ev = {.kind = QT_TRAIN_EV_CHECKPOINT, .text = path};
    emit(r, &ev);
    return QT_OK;
}

static int evaluate(run *r, int64_t epochs_done, qt_error *err)
{
    qt_eval_result q, f = {NAN, NAN, NAN, 0, 0};
    if (qt_evaluate(&r->ctx, r->net, r->test_ld, QT_VIEW_EVAL, r->loss, &q, err) != QT_OK)
        return QT_ERR;
    if (r->eval_float &&
        qt_evaluate(&r->ctx, r->net, r->test_ld, QT_VIEW_FLOAT, r->loss, &f, err) != QT_OK)
        return QT_ERR;
    report_skipped(r);
    double flips = qt_quant_flip_fraction(r->net);
    double top5 = r->logs.top5 ? q.top5 : NAN;
    if (run_logs_eval_row(&r->logs, epochs_done, r->st.step, q.loss, q.acc, top5, f.acc, flips,
                          r->st.epoch_flips, err) != QT_OK)
        return QT_ERR;
    if (q.acc > r->st.best_acc)
        r->st.best_acc = q.acc;
    r->sum->test_acc = q.acc;
    r->sum->test_top5 = top5;
    r->sum->test_loss = q.loss;
    r->sum->float_test_acc = f.acc;
    r->last_eval_step = r->st.step;
    qt_train_event ev = {.kind = QT_TRAIN_EV_EVAL, .test_loss = q.loss, .test_acc = q.acc,
                         .test_top5 = top5, .float_test_acc = f.acc, .flips = flips,
                         .step_flips_sum = r->st.epoch_flips};
    emit(r, &ev);
    return QT_OK;
}

static int every(int n, int64_t k) { return n > 0 && k % n == 0; }

static int end_epoch(run *r, qt_error *err)
{
    int64_t done = r->st.epoch + 1;
    int last = done >= r->cfg->train.epochs;
    if ((every(r->cfg->train.eval_every, done) || last) && evaluate(r, done, err) != QT_OK)
        return QT_ERR;
    r->st.epoch_flips = 0.0;
    r->st.epoch = done;
    r->st.batch = 0;
    if (!last && qt_loader_seek(r->train_ld, r->st.epoch, 0, err) != QT_OK)
        return QT_ERR;
    if ((every(r->cfg->log.checkpoint_every, done) || last) && save_checkpoint(r, err) != QT_OK)
        return QT_ERR;
    qt_quant_snapshot(r->net);
    return QT_OK;
}

/* The shortest decimal that reads back as the same float, so float values print as "0.003"
 * instead of the double expansion of their binary value. */
static double float_digits(double x)
{
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        double y = strtod(buf, NULL);
        if ((float)y == (float)x)
            return y;
    }
    return x;
}

static int log_window(run *r, float lr, qt_error *err)
{
    qt_train_state *s = &r->st;
    if (s->window_steps == 0 || !every(r->cfg->log.every, s->step))
        return QT_OK;
    double row[RUN_LOGS_TRAIN_BASE] = {
        (double)s->step, (double)s->epoch + (double)s->batch / (double)r->batches,
        float_digits(lr), float_digits(s->window_loss / (double)s->window_steps),
        (double)s->window_correct / (double)s->window_images,
        r->step_ema > 0 ? r->cfg->train.batch_size / r->step_ema : 0.0, elapsed(r)};
    double flips = s->window_flips / (double)s->window_steps;
    s->window_loss = s->window_flips = 0.0;
    s->window_correct = s->window_images = s->window_steps = 0;
    return run_logs_train_row(&r->logs, row, flips, err);
}

static int one_step(run *r, const qt_batch *b, qt_error *err)
{
    double progress = (double)r->st.epoch + (double)r->st.batch / (double)r->batches;
    float lr = qt_schedule_lr(&r->sched, progress);
    qt_batch_result res;
    double t0 = qt_now_seconds();
    if (qt_train_step(&r->ctx, r->net, &r->opt, lr, r->loss, (float *)b->x, b->y, b->n,
                      (uint64_t)r->cfg->train.seed, (uint64_t)r->st.step, &res, err) != QT_OK)
        return QT_ERR;
    double dt = qt_now_seconds() - t0;
    r->step_ema = r->step_ema > 0 ? 0.9 * r->step_ema + 0.1 * dt : dt;
    if (!isfinite(res.loss))
        return qt_errorf(err, "the loss became %g at step %lld (epoch %lld); stopped. The last "
                         "good checkpoint is %s", res.loss, (long long)r->st.step + 1,
                         (long long)r->st.epoch + 1, r->sum->checkpoint[0] ? r->sum->checkpoint : "(none yet)");
    report_skipped(r);
    qt_train_state *s = &r->st;
    s->step++;
    s->batch++;
    s->images += res.n;
    s->window_loss += res.loss;
    s->window_correct += res.correct;
    s->window_images += res.n;
    s->window_steps++;
    s->window_flips += res.flips;
    s->epoch_flips += res.flips;
    if (log_window(r, lr, err) != QT_OK)
        return QT_ERR;
    qt_train_event ev = {.kind = QT_TRAIN_EV_STEP, .loss = res.loss,
                         .acc = (double)res.correct / res.n, .lr = lr,
                         .images_per_s = b->n / r->step_ema,
                         .eta_seconds = (double)(r->total_steps - s->step) * r->step_ema};
    emit(r, &ev);
    return QT_OK;
}

static int stop_requested(const run *r) { return r->opts->stop && *r->opts->stop; }

static int train_loop(run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    if (r->st.batch == 0)
        qt_quant_snapshot(r->net);
    while (r->st.epoch < c->train.epochs && !(c->train.max_steps > 0 && r->st.step >= c->train.max_steps)) {
        if (stop_requested(r)) {
            r->sum->interrupted = 1;
            break;
        }
        qt_batch b;
        int got = qt_loader_next(r->train_ld, &b, err);
        if (got < 0)
            return QT_ERR;
        if (got == 1 && one_step(r, &b, err) != QT_OK)
            return QT_ERR;
        if ((got == 0 || r->st.batch >= r->batches) && end_epoch(r, err) != QT_OK)
            return QT_ERR;
    }
    /* An interrupted run only checkpoints: an evaluation here would add an eval.csv row
     * that the uninterrupted run does not have. */
    if (!r->sum->interrupted && r->last_eval_step != r->st.step && evaluate(r, r->st.epoch, err) != QT_OK)
        return QT_ERR;
    if (r->last_ckpt_step != r->st.step && save_checkpoint(r, err) != QT_OK)
        return QT_ERR;
    return QT_OK;
}

static int write_summary(run *r, qt_error *err)
{
    qt_train_summary *s = r->sum;
    s->best_test_acc = r->st.best_acc >= 0.0 ? r->st.best_acc : NAN;
    s->steps = r->st.step;
    s->epochs_done = r->st.epoch;
    s->seconds = elapsed(r);
    s->images_per_s = s->seconds > 0 ? (double)r->st.images / s->seconds : 0.0;
    s->params = qt_net_param_count(r->net);
    s->param_bytes = qt_quant_param_bytes(r->net);
    s->state_bytes = qt_quant_state_bytes(r->net);
    s->skipped_images = qt_dataset_skipped(r->train_ds) + qt_dataset_skipped(r->test_ds) +
                        qt_loader_skipped_images(r->train_ld) + qt_loader_skipped_images(r->test_ld);
    if (r->cfg->data.skip_bad) {
        char text[200];
        snprintf(text, sizeof text, "data.skip_bad: %lld image%s left out in all",
                 (long long)s->skipped_images, s->skipped_images == 1 ? "" : "s");
        note(r, text);
    }
    char mode[16], dataset[32];
    qt_config_value_text(r->cfg, "quant.mode", mode, sizeof mode);
    qt_config_value_text(r->cfg, "data.dataset", dataset, sizeof dataset);
    run_summary_fields f = {r->net->name, mode, dataset, s};
    return run_logs_summary(r->opts->run_dir, &f, err);
}

static void close_run(run *r)
{
    run_logs_close(&r->logs);
    qt_loader_free(r->train_ld);
    qt_loader_free(r->test_ld);
    qt_dataset_free(r->train_ds);
    qt_dataset_free(r->test_ds);
    qt_net_free(r->net);
    if (r->ctx_ready)
        qt_ctx_free(&r->ctx);
    free(r->config_ini);
    qt_dir_lock_release(&r->lock);
}

static int train(run *r, qt_error *err)
{
    const char *dir = r->opts->run_dir;
    if (qt_config_validate(r->cfg, err) != QT_OK)
        return QT_ERR;
    if (!dir || !dir[0])
        return qt_errorf(err, "the run directory name is empty");
    if (strlen(dir) > QT_RUN_DIR_MAX)
        return qt_errorf(err, "run directory %.60s...: name longer than %d characters", dir,
                         QT_RUN_DIR_MAX);
    if (r->opts->resume && !is_dir(dir))
        return qt_errorf(err, "--resume: run directory %s does not exist", dir);
    snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", dir);
    /* An existing directory is claimed before the datasets are read (which can take long),
     * so that a second process fails at once; a new one only once the run can start. The
     * resumed net is rebuilt from its checkpoint's description of it. */
    if (is_dir(dir) && claim_run_dir(r, err) != QT_OK)
        return QT_ERR;
    if (open_data(r, err) != QT_OK || (r->opts->resume && find_resume_point(r, err) != QT_OK) ||
        open_model(r, err) != QT_OK)
        return QT_ERR;
    if (r->lock.fd < 0 && claim_run_dir(r, err) != QT_OK)
        return QT_ERR;
    qt_ctx_init(&r->ctx);
    r->ctx_ready = 1;
    if (qt_ctx_set_threads(&r->ctx, r->cfg->train.threads, err) != QT_OK)
        return QT_ERR;
    r->st.best_acc = -1.0;
    r->last_eval_step = r->last_ckpt_step = -1;
    if (r->opts->resume && resume(r, err) != QT_OK)
        return QT_ERR;
    if (open_run_files(r, err) != QT_OK)
        return QT_ERR;
    r->seconds0 = r->st.seconds;
    r->t_start = qt_now_seconds();
    if (train_loop(r, err) != QT_OK)
        return QT_ERR;
    return write_summary(r, err);
}

int qt_train(const qt_config *c, const qt_train_opts *opts, qt_train_summary *out, qt_error *err)
{
    run r;
    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);
    out->test_acc = out->test_loss = out->best_test_acc = out->float_test_acc = NAN;
    out->test_top5 = NAN;
    r.lock = (qt_dir_lock)QT_DIR_LOCK_INIT;
    r.cfg = c;
    r.opts = opts;
    r.sum = out;
    int rc = train(&r, err);
    close_run(&r);
    return rc;
}

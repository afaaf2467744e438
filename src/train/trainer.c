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
#include "qtrain/quant_rule.h"
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
    /* data parallelism (NULL comm: one process) */
    qt_comm *comm;
    int rank0;                /* writes the run directory and reports */
    qt_step_shard shard;
    double window_comm;       /* seconds in collectives since the last train.csv row */
    int stop_agreed;          /* some process was asked to stop (reduced every step) */
} run;

static double elapsed(const run *r) { return r->seconds0 + qt_now_seconds() - r->t_start; }

static void emit(const run *r, qt_train_event *ev)
{
    if (!r->opts->observer || !r->rank0)
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

static int nprocs(const run *r) { return r->comm ? r->comm->size : 1; }

/* Every process takes its contiguous share of each batch (loader.h): a batch of n images
 * gives process k images [n k / N, n (k + 1) / N), so a batch that N does not divide gives
 * its remainder to the higher ranks, the same way every time. Every process needs at least
 * one image of every training batch (batch norm of an empty share has no statistics). */
static int check_shards(const run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    int n = qt_dataset_count(r->train_ds), b = c->train.batch_size, procs = nprocs(r);
    int last = c->data.drop_last || n % b == 0 ? b : n % b;
    if (c->data.skip_bad)
        return qt_config_key_error(c, "data.skip_bad", err, "works with one process only (a "
                                   "process whose share of a batch was all left out would "
                                   "have no step to take), and this run has %d", procs);
    if (qt_dataset_count(r->test_ds) < procs)
        return qt_errorf(err, "the test split has %d images, fewer than the %d processes",
                         qt_dataset_count(r->test_ds), procs);
    if (b < procs)
        return qt_config_key_error(c, "train.batch_size", err, "%d is less than the %d "
                                   "processes: every process needs images of every batch", b,
                                   procs);
    if (last < procs)
        return qt_config_key_error(c, "train.batch_size", err, "the last batch of an epoch "
                                   "(%d training images, batch %d) has %d image%s, fewer than "
                                   "the %d processes: set data.drop_last = true or another "
                                   "batch size", n, b, last, last == 1 ? "" : "s", procs);
    return QT_OK;
}

static void shard_loader(const run *r, qt_loader_config *lc)
{
    lc->shard = r->comm ? r->comm->rank : 0;
    lc->shards = nprocs(r);
}

static int open_data(run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    if (qt_run_open_datasets(c, &r->train_ds, &r->test_ds, err) != QT_OK)
        return QT_ERR;
    report_skipped_at_open(r, r->train_ds);
    report_skipped_at_open(r, r->test_ds);
    if (r->comm && check_shards(r, err) != QT_OK)
        return QT_ERR;
    qt_loader_config lc;
    qt_run_loader_config(c, r->train_ds, QT_SPLIT_TRAIN, &lc);
    shard_loader(r, &lc);
    if (qt_loader_open(&r->train_ld, r->train_ds, &lc, err) != QT_OK)
        return QT_ERR;
    qt_run_loader_config(c, r->test_ds, QT_SPLIT_TEST, &lc);
    shard_loader(r, &lc);
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
    if (qt_run_schedule(c, &r->sched, err) != QT_OK || qt_run_loss(c, &r->loss, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < r->net->nparams; i++)
        if (qt_optimizer_init_state(&r->opt, r->net->params[i], err) != QT_OK)
            return QT_ERR;
    r->quantized = qt_quant_weight_count(r->net) > 0;
    qt_quant_config qc;
    if (qt_run_quant_config(c, &qc, err) != QT_OK)
        return QT_ERR;
    /* a float buffer is evaluated too on request, and always under stochastic binarisation,
     * whose quantized net (sign(w_r)) is not the one it trained */
    r->eval_float = qt_quant_rule_of(qc.mode)->float_buffer &&
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

/* The newest usable checkpoint, whose net the run is rebuilt from: rank 0 chooses it and
 * tells the others (which read it from the same, shared, file system). */
static int find_resume_point(run *r, qt_error *err)
{
    if (!r->rank0)
        return r->comm->broadcast(r->comm, r->resume_from, sizeof r->resume_from, 0, err);
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
    return r->comm ? r->comm->broadcast(r->comm, path, sizeof r->resume_from, 0, err) : QT_OK;
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
    r->last_ckpt_step = r->st.step;
    if (!r->rank0)
        return QT_OK;
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

/* The test split in one view; with several processes each evaluates its shard of every
 * batch and the sums are reduced, so every process gets the whole split's figures. */
static int evaluate_view(run *r, qt_weights_view view, qt_eval_result *out, qt_error *err)
{
    if (qt_evaluate(&r->ctx, r->net, r->test_ld, view, r->loss, out, err) != QT_OK)
        return QT_ERR;
    if (!r->comm)
        return QT_OK;
    double n = (double)out->images;
    double sums[4] = {out->loss * n, round(out->acc * n), round(out->top5 * n), n};
    if (r->comm->sum_f64(r->comm, sums, 4, err) != QT_OK)
        return QT_ERR;
    if (sums[3] == 0)
        return qt_errorf(err, "evaluation split is empty");
    out->loss = sums[0] / sums[3];
    out->acc = sums[1] / sums[3];
    out->top5 = sums[2] / sums[3];
    out->images = (int64_t)sums[3];
    return QT_OK;
}

static int evaluate(run *r, int64_t epochs_done, qt_error *err)
{
    qt_eval_result q, f = {NAN, NAN, NAN, 0, 0};
    if (evaluate_view(r, QT_VIEW_EVAL, &q, err) != QT_OK ||
        (r->eval_float && evaluate_view(r, QT_VIEW_FLOAT, &f, err) != QT_OK))
        return QT_ERR;
    report_skipped(r);
    double flips = qt_quant_flip_fraction(r->net);
    double top5 = r->logs.top5 ? q.top5 : NAN;
    if (r->rank0 && run_logs_eval_row(&r->logs, epochs_done, r->st.step, q.loss, q.acc, top5, f.acc, flips,
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
        r->step_ema > 0 ? r->cfg->train.batch_size / r->step_ema : 0.0, elapsed(r),
        r->window_comm / (double)s->window_steps};
    double flips = s->window_flips / (double)s->window_steps;
    s->window_loss = s->window_flips = r->window_comm = 0.0;
    s->window_correct = s->window_images = s->window_steps = 0;
    return r->rank0 ? run_logs_train_row(&r->logs, row, flips, err) : QT_OK;
}

static int stop_requested(const run *r) { return r->opts->stop && *r->opts->stop; }

/* The step's loss, accuracy and images over every process, and whether any was asked to
 * stop: all of them then stop after this same step. */
static int reduce_step(run *r, qt_batch_result *res, qt_error *err)
{
    double v[4] = {res->loss * res->n, res->correct, res->n, stop_requested(r)};
    if (r->comm->sum_f64(r->comm, v, 4, err) != QT_OK)
        return QT_ERR;
    res->loss = v[0] / v[2];
    res->correct = (int)v[1];
    res->n = (int)v[2];
    r->stop_agreed = v[3] > 0;
    return QT_OK;
}

/* FNV-1a over bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The weights as kept between steps: float parameters, BC's float buffers, grid codes. */
static uint64_t weights_checksum(const qt_net *net)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < net->nparams; i++) {
        const qt_param *p = net->params[i];
        size_t n = p->t.numel;
        if (p->owned)
            h = fnv1a(h, p->owned, n * sizeof(float));
        const float *buffer = qt_quant_float_buffer(p);
        if (buffer)
            h = fnv1a(h, buffer, n * sizeof(float));
        if (p->q && p->q->codes)
            h = fnv1a(h, p->q->codes, n);
    }
    return h;
}

/* Every train.sync_check_every steps the processes must hold the same weights: they apply
 * the same update to the same summed gradients, so a difference is a bug or a fault. */
static int check_in_sync(run *r, qt_error *err)
{
    int n = r->cfg->train.sync_check_every, equal;
    if (!r->comm || !every(n, r->st.step))
        return QT_OK;
    if (qt_comm_all_equal(r->comm, weights_checksum(r->net), &equal, err) != QT_OK)
        return QT_ERR;
    if (!equal)
        return qt_errorf(err, "the %d processes hold different weights after step %lld "
                         "(train.sync_check_every = %d): stopped. The last checkpoint is %s",
                         r->comm->size, (long long)r->st.step, n,
                         r->sum->checkpoint[0] ? r->sum->checkpoint : "(none yet)");
    return QT_OK;
}

static int one_step(run *r, const qt_batch *b, qt_error *err)
{
    double progress = (double)r->st.epoch + (double)r->st.batch / (double)r->batches;
    float lr = qt_schedule_lr(&r->sched, progress);
    qt_batch_result res;
    double t0 = qt_now_seconds(), comm0 = r->comm ? r->comm->seconds : 0.0;
    r->shard.total_n = b->total_n;
    if (qt_train_step_shard(&r->ctx, r->net, &r->opt, lr, r->loss, (float *)b->x, b->y, b->n,
                            r->comm ? &r->shard : NULL, (uint64_t)r->cfg->train.seed,
                            (uint64_t)r->st.step, &res, err) != QT_OK ||
        (r->comm && reduce_step(r, &res, err) != QT_OK))
        return QT_ERR;
    double dt = qt_now_seconds() - t0;
    r->window_comm += r->comm ? r->comm->seconds - comm0 : 0.0;
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
    if (check_in_sync(r, err) != QT_OK || log_window(r, lr, err) != QT_OK)
        return QT_ERR;
    qt_train_event ev = {.kind = QT_TRAIN_EV_STEP, .loss = res.loss,
                         .acc = (double)res.correct / res.n, .lr = lr,
                         .images_per_s = res.n / r->step_ema,
                         .eta_seconds = (double)(r->total_steps - s->step) * r->step_ema};
    emit(r, &ev);
    return QT_OK;
}

/* One process: the signal handler's flag. Several: the flag reduced at the last step, so
 * that all stop after the same step (none is left waiting in a collective). */
static int stop_now(const run *r) { return r->comm ? r->stop_agreed : stop_requested(r); }

static int train_loop(run *r, qt_error *err)
{
    const qt_config *c = r->cfg;
    if (r->st.batch == 0)
        qt_quant_snapshot(r->net);
    while (r->st.epoch < c->train.epochs && !(c->train.max_steps > 0 && r->st.step >= c->train.max_steps)) {
        if (stop_now(r)) {
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
    if (!r->rank0)
        return QT_OK;
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
    free(r->shard.bucket);
    qt_dir_lock_release(&r->lock);
}

/* Gradients are summed in buckets of this many floats (4 MiB): few calls, bounded memory. */
enum { GRAD_BUCKET_FLOATS = 1 << 20 };

static int start_shard(run *r, qt_error *err)
{
    r->shard.comm = r->comm;
    r->shard.bucket_floats = GRAD_BUCKET_FLOATS;
    if (!(r->shard.bucket = malloc(GRAD_BUCKET_FLOATS * sizeof(float))))
        return qt_errorf(err, "out of memory");
    if (r->cfg->train.sync_bn)
        r->ctx.sync_bn = r->comm;
    return QT_OK;
}

static int train(run *r, qt_error *err)
{
    const char *dir = r->opts->run_dir;
    if (qt_run_validate(r->cfg, err) != QT_OK)
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
    if (r->rank0 && is_dir(dir) && claim_run_dir(r, err) != QT_OK)
        return QT_ERR;
    if (open_data(r, err) != QT_OK || (r->opts->resume && find_resume_point(r, err) != QT_OK) ||
        open_model(r, err) != QT_OK)
        return QT_ERR;
    if (r->rank0 && r->lock.fd < 0 && claim_run_dir(r, err) != QT_OK)
        return QT_ERR;
    qt_ctx_init(&r->ctx);
    r->ctx_ready = 1;
    if (qt_ctx_set_threads(&r->ctx, r->cfg->train.threads, err) != QT_OK ||
        (r->comm && start_shard(r, err) != QT_OK))
        return QT_ERR;
    r->st.best_acc = -1.0;
    r->last_eval_step = r->last_ckpt_step = -1;
    if (r->opts->resume && resume(r, err) != QT_OK)
        return QT_ERR;
    if (r->rank0 && open_run_files(r, err) != QT_OK)
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
    r.comm = opts->comm && opts->comm->size > 1 ? opts->comm : NULL;
    r.rank0 = !opts->comm || opts->comm->rank == 0;
    int rc = train(&r, err);
    close_run(&r);
    return rc;
}

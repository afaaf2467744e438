#include "qtrain/qquant.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/bn_calib.h"
#include "qtrain/clock.h"
#include "qtrain/compress_report.h"
#include "qtrain/csv_writer.h"
#include "qtrain/evaluate.h"
#include "qtrain/export.h"
#include "qtrain/file_io.h"
#include "qtrain/json.h"
#include "qtrain/run_setup.h"
#include "qtrain/threads.h"

qt_qquant_opts qt_qquant_defaults(void)
{
    qt_qquant_opts o;
    memset(&o, 0, sizeof o);
    o.method = QT_QQUANT_GPFQ;
    o.bits = log2(3.0);
    o.c_alpha = 2.0;
    o.alphabet = QT_ALPHABET_MIDRISE;
    o.calib_images = 5000;
    o.patches_per_image = 16;
    o.seed = 1;
    o.pq = qt_pq_defaults();
    o.cp = (qt_cp_net_opts){.method = QT_CP_ADMM, .init = QT_CP_INIT_CP, .rate = 2.0, .bits = 4,
                            .max_sweeps = 100, .max_inner = 30, .als_sweeps = 50,
                            .als_tol = 1e-6};
    o.act_bits = 32.0;
    return o;
}

const char *qt_qquant_method_name(qt_qquant_method m)
{
    static const char *const names[] = {"gpfq", "msq", "pq", "admm-cp", "cp-quant"};
    return m >= 0 && m <= QT_QQUANT_CP_QUANT ? names[m] : "?";
}

static int is_cp(qt_qquant_method m) { return m == QT_QQUANT_ADMM_CP || m == QT_QQUANT_CP_QUANT; }

/* The layer mask: the method's default set when no --layers was given. */
static int select_layers(const qt_qquant_opts *o, const qt_net *net, int *mask, qt_error *err)
{
    if (!o->layers && is_cp(o->method)) {
        qt_cp_default_mask(net, mask);
        return QT_OK;
    }
    return qt_ptq_select_layers(net, o->layers, mask, err);
}

/* Everything one or several quantizations of the same checkpoint share. */
typedef struct session {
    qt_config cfg;
    char *config_ini;
    qt_dataset *train_ds, *test_ds;
    qt_loader *test_ld;
    qt_net *fnet;
    qt_calib_set calib;
    int *mask;
    double float_acc;
    qt_ctx ctx;
} session;

static int load_config(const qt_qquant_opts *o, qt_config *c, qt_error *err)
{
    if (!o->config)
        return qt_checkpoint_config(o->checkpoint, o->sets, o->nsets, c, err);
    qt_config_defaults(c);
    if (qt_config_load(c, o->config, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < o->nsets; i++)
        if (qt_config_set_arg(c, o->sets[i], err) != QT_OK)
            return QT_ERR;
    return qt_config_validate(c, err);
}

/* Accuracy of net on the test split (quantized weights where it has them). */
static int test_accuracy(session *s, qt_net *net, double *acc, qt_error *err)
{
    qt_eval_result er;
    if (qt_evaluate(&s->ctx, net, s->test_ld, QT_VIEW_EVAL, qt_run_loss(&s->cfg), &er, err) != QT_OK)
        return QT_ERR;
    *acc = er.acc;
    return QT_OK;
}

static int open_session(session *s, const qt_qquant_opts *o, qt_error *err)
{
    qt_ctx_init(&s->ctx);
    if (load_config(o, &s->cfg, err) != QT_OK)
        return QT_ERR;
    /* the float net: whatever the run trained, post-training methods start from float weights
     * (BC's float buffer, or SR/R's grid values) */
    if (qt_config_set_arg(&s->cfg, "quant.mode=fp", err) != QT_OK)
        return QT_ERR;
    if (!(s->config_ini = qt_config_to_ini(&s->cfg)))
        return qt_errorf(err, "out of memory");
    qt_threads_set(o->threads);
    qt_loader_config lc;
    /* calibration images (train) run through a net built for the test split's shape */
    if (qt_run_open_datasets(&s->cfg, &s->train_ds, &s->test_ds, err) != QT_OK)
        return QT_ERR;
    qt_run_loader_config(&s->cfg, s->test_ds, QT_SPLIT_TEST, &lc);
    if (qt_loader_open(&s->test_ld, s->test_ds, &lc, err) != QT_OK ||
        qt_open_checkpoint_net(&s->cfg, o->checkpoint, &s->fnet, err) != QT_OK)
        return QT_ERR;
    if (!(s->mask = calloc((size_t)s->fnet->nlayers, sizeof *s->mask)) ||
        select_layers(o, s->fnet, s->mask, err) != QT_OK)
        return s->mask ? QT_ERR : qt_errorf(err, "out of memory");
    /* CP needs images only for batchnorm calibration */
    int n_calib = is_cp(o->method) ? 0 : o->calib_images;
    n_calib = o->bn_calib > n_calib ? o->bn_calib : n_calib;
    if (n_calib > 0 && qt_calib_load(&s->calib, s->train_ds, n_calib, o->seed, err) != QT_OK)
        return QT_ERR;
    return test_accuracy(s, s->fnet, &s->float_acc, err);
}

static void close_session(session *s)
{
    qt_calib_free(&s->calib);
    qt_net_free(s->fnet);
    qt_loader_free(s->test_ld);
    qt_dataset_free(s->train_ds);
    qt_dataset_free(s->test_ds);
    free(s->mask);
    free(s->config_ini);
    qt_ctx_free(&s->ctx);
}


/* What every method adds to the summary: cost, weight errors, batchnorm calibration, and
 * the CP details. */
typedef struct compress_info {
    const qt_weight_report *weights;
    int nweights;
    const qt_cp_layer_report *cp;  /* fnet->nlayers entries (CP methods) */
} compress_info;

/* The summary keys of every method; calib_images: how many images the method itself used. */
static void write_result(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                         const qt_qquant_result *r, int calib_images)
{
    qt_json_field_string(w, "method", qt_qquant_method_name(o->method));
    qt_json_field_number(w, "float_acc", r->float_acc);
    qt_json_field_number(w, "quant_acc", r->quant_acc);
    qt_json_field_number(w, "bits_per_weight", r->bits_per_weight);
    qt_json_field_number(w, "model_bytes", r->model_bytes);
    qt_json_field_number(w, "float_model_bytes", r->float_model_bytes);
    qt_json_field_number(w, "seconds", r->seconds);
    qt_json_field_int(w, "calib_images", calib_images);
    qt_json_field_int(w, "seed", (int64_t)o->seed);
    qt_json_field_int(w, "bn_calib", o->bn_calib > 0 ? (o->bn_calib < s->calib.n ? o->bn_calib : s->calib.n) : 0);
    if (o->bn_calib > 0)
        qt_json_field_number(w, "quant_acc_before_bn_calib", r->acc_before_bn_calib);
    qt_json_field_string(w, "checkpoint", o->checkpoint);
}

static void write_compress(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                           const qt_qquant_result *r, const compress_info *ci)
{
    qt_model_cost_json(w, &r->cost);
    if (is_cp(o->method)) {
        qt_json_field_number(w, "rate", o->cp.rate);
        qt_json_field_string(w, "init", o->method == QT_QQUANT_CP_QUANT ? "cp"
                          : o->cp.init == QT_CP_INIT_CP ? "cp" : "random");
        qt_json_field_int(w, "max_sweeps", o->cp.max_sweeps);
        qt_json_field_int(w, "max_inner", o->cp.max_inner);
        qt_json_field_int(w, "als_sweeps", o->cp.als_sweeps);
        qt_json_field_int(w, "rest_bits", o->cp.rest_bits);
        qt_cp_reports_json(w, ci->cp, s->fnet->nlayers);
    }
    qt_weight_reports_json(w, ci->weights, ci->nweights);
}

static int write_summary(const char *dir, const qt_qquant_opts *o, const session *s,
                         const qt_qquant_result *r, const qt_ptq_layer_report *reps,
                         const compress_info *ci, qt_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    qt_json_writer *w = qt_json_writer_new(2);
    qt_json_begin_object(w);
    /* CP methods use no images to quantize */
    write_result(w, o, s, r, is_cp(o->method) ? 0
                 : (s->calib.n < o->calib_images ? s->calib.n : o->calib_images));
    qt_json_field_number(w, "bits", o->bits);
    qt_json_field_number(w, "calpha", r->c_alpha);
    qt_json_field_string(w, "alphabet", o->alphabet == QT_ALPHABET_ZERO ? "zero" : "midrise");
    qt_json_key(w, "layers");
    qt_json_begin_array(w);
    for (int i = 0; i < s->fnet->nlayers; i++) {
        if (!s->mask[i] || !reps[i].name[0])
            continue;
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", reps[i].name);
        qt_json_field_int(w, "levels", reps[i].alphabet.levels);
        qt_json_field_number(w, "step", reps[i].alphabet.step);
        qt_json_field_int(w, "samples", reps[i].samples);
        qt_json_field_number(w, "rel_error", reps[i].rel_error);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
    write_compress(w, o, s, r, ci);
    qt_json_end_object(w);
    return qt_json_writer_save(w, path, err);
}

/* Settings checked before any data is read. */
static int check_opts(const qt_qquant_opts *o, qt_error *err)
{
    if (is_cp(o->method) && (o->bits != floor(o->bits) || o->bits < 2 || o->bits > 8))
        return qt_errorf(err, "%s: --bits must be a whole number from 2 to 8 (got %g)",
                         qt_qquant_method_name(o->method), o->bits);
    if (is_cp(o->method) && !(o->cp.rate > 0.0))
        return qt_errorf(err, "%s: the reduction rate must be positive (got %g)",
                         qt_qquant_method_name(o->method), o->cp.rate);
    if (!(o->act_bits >= 1.0 && o->act_bits <= 32.0))
        return qt_errorf(err, "activation bits %g outside [1, 32]", o->act_bits);
    return QT_OK;
}

/* CP factorization of qnet (cp_net.h) with the session's mask. */
static int cp_compress(session *s, const qt_qquant_opts *o, qt_net *qnet, qt_coded_net *coded,
                       qt_cp_layer_report *reps, qt_error *err)
{
    qt_cp_net_opts co = o->cp;
    co.method = o->method == QT_QQUANT_CP_QUANT ? QT_CP_FLOAT_THEN_QUANT : QT_CP_ADMM;
    co.bits = (int)o->bits;
    co.seed = o->seed;
    co.mask = s->mask;
    return qt_cp_net_factorize(qnet, &co, coded, reps, o->cp_progress, o->user, err);
}

/* Batchnorm calibration of qnet, with the accuracy before it. */
static int bn_calibrate(session *s, const qt_qquant_opts *o, qt_net *qnet, qt_qquant_result *r,
                        qt_error *err)
{
    if (test_accuracy(s, qnet, &r->acc_before_bn_calib, err) != QT_OK)
        return QT_ERR;
    return qt_bn_calibrate(qnet, &s->calib, o->bn_calib, 32, err);
}

/* One quantization at c_alpha into dir. */
static int quantize_once(session *s, const qt_qquant_opts *o, double c_alpha, const char *dir,
                         qt_qquant_result *r, qt_error *err)
{
    double t0 = qt_now_seconds();
    memset(r, 0, sizeof *r);
    r->c_alpha = c_alpha;
    r->float_acc = s->float_acc;
    qt_net *qnet = NULL;
    qt_coded_net coded = {0};
    qt_ptq_layer_report *reps = calloc((size_t)s->fnet->nlayers, sizeof *reps);
    qt_cp_layer_report *cp_reps = calloc((size_t)s->fnet->nlayers, sizeof *cp_reps);
    compress_info ci = {NULL, 0, cp_reps};
    qt_gpfq_net_opts go = {o->method == QT_QQUANT_MSQ ? QT_GPFQ_MSQ : QT_GPFQ_GREEDY, o->alphabet,
                           o->bits, c_alpha, o->per_channel, o->stochastic, o->seed,
                           {o->patches_per_image, 100, o->seed}, s->mask};
    /* the set may hold more images, for batchnorm calibration; GPFQ takes the first ones */
    qt_calib_set gpfq_calib = s->calib;
    gpfq_calib.n = gpfq_calib.n < o->calib_images ? gpfq_calib.n : o->calib_images;
    int rc = reps && cp_reps ? qt_make_dirs(dir, err) : qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        rc = qt_open_checkpoint_net(&s->cfg, o->checkpoint, &qnet, err);
    if (rc == QT_OK && is_cp(o->method))
        rc = cp_compress(s, o, qnet, &coded, cp_reps, err);
    else if (rc == QT_OK)
        rc = qt_gpfq_quantize_net(s->fnet, qnet, &gpfq_calib, &go, &coded, reps, o->progress,
                                  o->user, err);
    if (rc == QT_OK && o->bn_calib > 0)
        rc = bn_calibrate(s, o, qnet, r, err);
    if (rc == QT_OK)
        rc = test_accuracy(s, qnet, &r->quant_acc, err);
    if (rc == QT_OK) {
        char path[1200];
        qt_checkpoint_extra extra = qt_coded_net_writer(&coded);
        snprintf(path, sizeof path, "%s/model.qtr", dir);
        r->bits_per_weight = qt_coded_net_bits_per_weight(&coded);
        r->model_bytes = qt_coded_net_bytes(qnet, &coded);
        r->float_model_bytes = 4.0 * (double)qt_net_param_count(s->fnet);
        rc = qt_checkpoint_save(path, qnet, NULL, NULL, s->config_ini, &extra, err);
    }
    if (rc == QT_OK)
        rc = qt_model_cost_of(s->fnet, qnet, &coded, o->act_bits, &r->cost, err);
    qt_weight_report *wr = NULL;
    if (rc == QT_OK)
        rc = qt_weight_reports(s->fnet, qnet, &coded, &wr, &ci.nweights, err);
    ci.weights = wr;
    r->seconds = qt_now_seconds() - t0;
    if (rc == QT_OK)
        rc = write_summary(dir, o, s, r, reps, &ci, err);
    qt_coded_net_free(&coded);
    qt_net_free(qnet);
    free(reps);
    free(cp_reps);
    free(wr);
    return rc;
}

/* ---- method pq: product quantization (pq_net.h) ---- */

static void pq_json_settings(qt_json_writer *w, const qt_pq_opts *p)
{
    qt_json_key(w, "pq");
    qt_json_begin_object(w);
    qt_json_field_int(w, "block_size", p->blocks.conv_d);
    qt_json_field_int(w, "centroids", p->blocks.conv_k);
    qt_json_field_int(w, "pw_block_size", p->blocks.pw_d);
    qt_json_field_int(w, "pw_centroids", p->blocks.pw_k);
    qt_json_field_int(w, "fc_block_size", p->blocks.fc_d);
    qt_json_field_int(w, "fc_centroids", p->blocks.fc_k);
    qt_json_field_int(w, "em_iters", p->em.iters);
    qt_json_field_int(w, "em_sample", p->em.sample);
    qt_json_field_int(w, "act_images", p->act_images);
    qt_json_field_int(w, "patches_per_image", p->sample.patches_per_image);
    qt_json_field_int(w, "finetune_steps", p->layer_ft.steps);
    qt_json_field_int(w, "global_finetune_steps", p->global_ft.steps);
    qt_json_field_int(w, "finetune_batch", p->layer_ft.batch);
    qt_json_field_number(w, "finetune_lr", p->layer_ft.lr);
    qt_json_field_number(w, "global_finetune_lr", p->global_ft.lr);
    qt_json_end_object(w);
}

static void pq_json_size(qt_json_writer *w, const qt_pq_size *z)
{
    qt_json_key(w, "size");
    qt_json_begin_object(w);
    qt_json_field_number(w, "index_bytes", z->index_bytes);
    qt_json_field_number(w, "centroid_bytes", z->centroid_bytes);
    qt_json_field_number(w, "other_bytes", z->other_bytes);
    qt_json_field_number(w, "total_bytes", z->total_bytes);
    qt_json_field_number(w, "total_mb", qt_pq_mb(z->total_bytes));
    qt_json_field_number(w, "float_bytes", z->float_bytes);
    qt_json_field_number(w, "float_mb", qt_pq_mb(z->float_bytes));
    qt_json_field_number(w, "ratio", z->ratio);
    qt_json_end_object(w);
}

static void pq_json_layers(qt_json_writer *w, const qt_pq_layer_report *reps, int n)
{
    qt_json_key(w, "layers");
    qt_json_begin_array(w);
    for (int i = 0; i < n; i++) {
        const qt_pq_layer_report *r = &reps[i];
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", r->name);
        qt_json_field_int(w, "outputs", r->shape.rows);
        qt_json_field_int(w, "fan_in", r->shape.fan_in);
        qt_json_field_int(w, "block_size", r->shape.d);
        qt_json_field_int(w, "centroids", r->shape.k);
        qt_json_field_int(w, "subvectors", r->shape.rows * r->shape.n_blocks);
        qt_json_field_int(w, "samples", r->samples);
        qt_json_field_number(w, "objective_first", r->obj_first);
        qt_json_field_number(w, "objective_last", r->obj_last);
        qt_json_field_int(w, "splits", r->splits);
        qt_json_field_int(w, "rank_deficient_iters", r->rank_deficient);
        qt_json_field_number(w, "rel_error_em", r->rel_error_em);
        qt_json_field_number(w, "rel_error", r->rel_error);
        qt_json_field_number(w, "finetune_loss_first", r->loss_first);
        qt_json_field_number(w, "finetune_loss_last", r->loss_last);
        qt_json_field_number(w, "seconds", r->seconds);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
}

static int pq_write_summary(const char *dir, const qt_qquant_opts *o, const session *s,
                            const qt_qquant_result *r, const qt_pq_finetune_stats *gs,
                            const qt_pq_layer_report *reps, int n, qt_error *err)
{
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/model.qtr", dir);
    double file_bytes = stat(path, &st) == 0 ? (double)st.st_size : -1.0;
    snprintf(path, sizeof path, "%s/summary.json", dir);
    qt_json_writer *w = qt_json_writer_new(2);
    qt_json_begin_object(w);
    write_result(w, o, s, r, s->calib.n);
    qt_json_field_number(w, "acc_before_global_finetune", r->pq_acc_before_global);
    qt_json_field_number(w, "global_finetune_loss_first", gs->loss_first);
    qt_json_field_number(w, "global_finetune_loss_last", gs->loss_last);
    qt_json_field_number(w, "file_bytes", file_bytes);   /* model.qtr: whole-byte indices, zlib */
    pq_json_size(w, &r->pq_size);
    pq_json_settings(w, &o->pq);
    pq_json_layers(w, reps, n);
    qt_json_end_object(w);
    return qt_json_writer_save(w, path, err);
}

/* Product quantization into dir: the layer stage, the global stage, the coded model. */
static int pq_quantize_once(session *s, const qt_qquant_opts *o, const char *dir,
                            qt_qquant_result *r, qt_error *err)
{
    double t0 = qt_now_seconds();
    memset(r, 0, sizeof *r);
    r->float_acc = s->float_acc;
    r->pq_acc_before_global = -1.0;
    qt_pq_opts po = o->pq;
    po.mask = s->mask;
    po.keep_first = !o->layers || !*o->layers || !strcmp(o->layers, "all");
    po.sample.patches_per_image = o->patches_per_image;
    po.sample.seed = po.em.seed = po.layer_ft.seed = po.global_ft.seed = o->seed;
    qt_net *qnet = NULL;
    qt_pq_net pq = {0};
    qt_pq_layer_report *reps = NULL;
    qt_pq_finetune_stats gs = {0};
    float *teacher = NULL;
    int rc = qt_make_dirs(dir, err);
    if (rc == QT_OK)
        rc = qt_open_checkpoint_net(&s->cfg, o->checkpoint, &qnet, err);
    if (rc == QT_OK)
        rc = qt_pq_teacher_logits(s->fnet, &s->calib, &teacher, err);
    if (rc == QT_OK)
        rc = qt_pq_quantize_layers(qnet, &s->calib, teacher, &po, &pq, &reps, err);
    if (rc == QT_OK && po.global_ft.steps > 0) {
        rc = test_accuracy(s, qnet, &r->pq_acc_before_global, err);
        if (rc == QT_OK)
            rc = qt_pq_finetune_global(qnet, &pq, &s->calib, teacher, &po, &gs, err);
    }
    if (rc == QT_OK && o->bn_calib > 0)
        rc = bn_calibrate(s, o, qnet, r, err);
    if (rc == QT_OK)
        rc = test_accuracy(s, qnet, &r->quant_acc, err);
    if (rc == QT_OK) {
        char path[1200];
        qt_checkpoint_extra extra = qt_pq_net_writer(&pq);
        snprintf(path, sizeof path, "%s/model.qtr", dir);
        qt_pq_net_size(qnet, &pq, &r->pq_size);
        r->model_bytes = r->pq_size.total_bytes;
        r->float_model_bytes = r->pq_size.float_bytes;
        r->bits_per_weight = r->pq_size.coded_weights > 0
                                 ? 8.0 * r->pq_size.index_bytes / r->pq_size.coded_weights : 32.0;
        rc = qt_checkpoint_save(path, qnet, NULL, NULL, s->config_ini, &extra, err);
    }
    r->seconds = qt_now_seconds() - t0;
    if (rc == QT_OK)
        rc = pq_write_summary(dir, o, s, r, &gs, reps, pq.n, err);
    free(teacher);
    free(reps);
    qt_pq_net_free(&pq);
    qt_net_free(qnet);
    return rc;
}

int qt_qquant_run(const qt_qquant_opts *o, qt_qquant_result *r, qt_error *err)
{
    session s;
    memset(&s, 0, sizeof s);
    int rc = check_opts(o, err);
    if (rc == QT_OK)
        rc = open_session(&s, o, err);
    if (rc == QT_OK && o->method == QT_QQUANT_PQ)
        rc = pq_quantize_once(&s, o, o->out_dir, r, err);
    else if (rc == QT_OK)
        rc = quantize_once(&s, o, o->c_alpha, o->out_dir, r, err);
    close_session(&s);
    return rc;
}

int qt_qquant_sweep(const qt_qquant_opts *o, const double *c_alphas, int n,
                    qt_qquant_result *results, qt_error *err)
{
    if (o->method != QT_QQUANT_GPFQ && o->method != QT_QQUANT_MSQ)
        return qt_errorf(err, "the C_alpha sweep applies to gpfq and msq, not %s",
                         qt_qquant_method_name(o->method));
    session s;
    memset(&s, 0, sizeof s);
    int rc = check_opts(o, err);
    if (rc == QT_OK)
        rc = qt_make_dirs(o->out_dir, err);
    if (rc == QT_OK)
        rc = open_session(&s, o, err);
    qt_csv_writer *csv = NULL;
    char path[1200];
    static const char *const cols[] = {"calpha", "float_acc", "quant_acc", "bits_per_weight", "model_bytes"};
    snprintf(path, sizeof path, "%s/sweep.csv", o->out_dir);
    if (rc == QT_OK)
        rc = qt_csv_writer_create(&csv, path, cols, 5, err);
    for (int i = 0; rc == QT_OK && i < n; i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/calpha-%g", o->out_dir, c_alphas[i]);
        rc = quantize_once(&s, o, c_alphas[i], dir, &results[i], err);
        double row[5] = {c_alphas[i], results[i].float_acc, results[i].quant_acc,
                         results[i].bits_per_weight, results[i].model_bytes};
        if (rc == QT_OK)
            rc = qt_csv_write_row(csv, row, err);
    }
    qt_error ignored;
    if (csv)
        qt_csv_writer_close(csv, &ignored);
    close_session(&s);
    return rc;
}

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
    o.pq_finetune_images = 10000;
    o.adaround = qt_adaround_defaults();
    o.cp = (qt_cp_net_opts){.method = QT_CP_ADMM, .init = QT_CP_INIT_CP, .rate = 2.0, .bits = 4,
                            .max_sweeps = 100, .max_inner = 30, .diverge_window = 5,
                            .epc_sweeps = 50, .als_sweeps = 50, .als_tol = 1e-6};
    o.act = (qt_act_quant_opts){32, QT_ACT_RANGE_MSE, 500, 1, 0};
    return o;
}

/* ---- a session: everything the quantizations of one checkpoint share ---- */

typedef struct session {
    qt_config cfg;
    char *config_ini;
    qt_dataset *train_ds, *test_ds;
    qt_loader *test_ld;
    qt_net *fnet;
    qt_calib_set val;         /* training images [0, val_images) of the seeded permutation */
    qt_calib_set train;       /* the images after them: calibration, finetuning */
    int *mask;                /* per fnet layer: the method may quantize it */
    double float_acc, float_val_acc;
    qt_ctx ctx;
} session;

/* ---- one quantization's products ---- */

typedef struct quant_run {
    qt_net *qnet;
    qt_coded_net coded;                /* methods with level-coded weights */
    qt_ptq_layer_report *reps;         /* gpfq, msq, adaround: per fnet layer */
    qt_cp_layer_report *cp_reps;       /* CP methods: per fnet layer */
    qt_weight_report *weights;         /* per conv/linear layer: ||W - W^|| / ||W|| */
    int nweights;
    qt_pq_net pq;
    qt_pq_layer_report *pq_reps;
    qt_pq_finetune_stats pq_global;
    int pq_finetune_images;
    double c_alpha;
} quant_run;

static void run_free(quant_run *q)
{
    qt_coded_net_free(&q->coded);
    qt_pq_net_free(&q->pq);
    qt_net_free(q->qnet);
    free(q->reps);
    free(q->cp_reps);
    free(q->weights);
    free(q->pq_reps);
    memset(q, 0, sizeof *q);
}

/* ---- the table of methods ---- */

typedef struct ptq_method {
    const char *name;
    int alphabet_family;      /* gpfq, msq, adaround: --bits, --calpha, --alphabet apply */
    int factorizes;           /* CP: whole bits 2..8, the paper's default layers, no images */
    /* weights of r->qnet (a copy of the float net) quantized in place */
    int (*quantize)(session *s, const qt_qquant_opts *o, quant_run *r, qt_error *err);
    /* method-specific summary keys */
    void (*summary)(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                    const quant_run *r);
    qt_checkpoint_extra (*writer)(quant_run *r);
    /* model size, bits per weight and cost into res */
    int (*size)(const session *s, quant_run *r, qt_qquant_result *res, qt_error *err);
} ptq_method;

static const ptq_method *method_of(qt_qquant_method m);

const char *qt_qquant_method_name(qt_qquant_method m)
{
    const ptq_method *pm = method_of(m);
    return pm ? pm->name : "?";
}

/* gpfq, msq, adaround: one alphabet per layer (alphabet.h), calibration images */
static int quantize_on_alphabet(session *s, const qt_qquant_opts *o, quant_run *r, qt_error *err)
{
    qt_gpfq_method kind = o->method == QT_QQUANT_MSQ        ? QT_GPFQ_MSQ
                          : o->method == QT_QQUANT_ADAROUND ? QT_GPFQ_ADAROUND
                                                            : QT_GPFQ_GREEDY;
    qt_gpfq_net_opts go = {kind, o->alphabet, o->bits, r->c_alpha, o->per_channel, o->stochastic,
                           o->seed, {o->patches_per_image, 100, o->seed}, s->mask, o->adaround};
    qt_calib_set cs = qt_calib_head(&s->train, o->calib_images);
    if (!(r->reps = calloc((size_t)s->fnet->nlayers, sizeof *r->reps)))
        return qt_errorf(err, "out of memory");
    return qt_gpfq_quantize_net(s->fnet, r->qnet, &cs, &go, &r->coded, r->reps, o->progress,
                                o->user, err);
}

static void alphabet_summary(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                             const quant_run *r)
{
    qt_json_field_number(w, "bits", o->bits);
    qt_json_field_number(w, "calpha", r->c_alpha);
    qt_json_field_string(w, "alphabet", o->alphabet == QT_ALPHABET_ZERO ? "zero" : "midrise");
    if (o->method == QT_QQUANT_ADAROUND) {
        qt_json_key(w, "adaround");
        qt_json_begin_object(w);
        qt_json_field_int(w, "iters", o->adaround.iters);
        qt_json_field_int(w, "batch", o->adaround.batch);
        qt_json_field_number(w, "lr", o->adaround.lr);
        qt_json_field_number(w, "reg", o->adaround.reg);
        qt_json_end_object(w);
    }
    qt_json_key(w, "layers");
    qt_json_begin_array(w);
    for (int i = 0; i < s->fnet->nlayers; i++) {
        const qt_ptq_layer_report *rep = &r->reps[i];
        if (!s->mask[i] || !rep->name[0])
            continue;
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", rep->name);
        qt_json_field_int(w, "levels", rep->alphabet.levels);
        qt_json_field_number(w, "step", rep->alphabet.step);
        qt_json_field_int(w, "samples", rep->samples);
        qt_json_field_number(w, "rel_error", rep->rel_error);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
    qt_weight_reports_json(w, r->weights, r->nweights);
}

/* admm-cp, admm-epc, cp-quant: CP factorization (cp_net.h), no images */
static int quantize_cp(session *s, const qt_qquant_opts *o, quant_run *r, qt_error *err)
{
    qt_cp_net_opts co = o->cp;
    co.method = o->method == QT_QQUANT_CP_QUANT ? QT_CP_FLOAT_THEN_QUANT : QT_CP_ADMM;
    if (o->method == QT_QQUANT_ADMM_EPC)
        co.init = QT_CP_INIT_EPC;
    co.bits = (int)o->bits;
    co.seed = o->seed;
    co.mask = s->mask;
    if (!(r->cp_reps = calloc((size_t)s->fnet->nlayers, sizeof *r->cp_reps)))
        return qt_errorf(err, "out of memory");
    return qt_cp_net_factorize(r->qnet, &co, &r->coded, r->cp_reps, o->cp_progress, o->user, err);
}

static const char *cp_init_name(const qt_qquant_opts *o)
{
    if (o->method == QT_QQUANT_ADMM_EPC)
        return "epc";
    return o->method == QT_QQUANT_CP_QUANT || o->cp.init == QT_CP_INIT_CP ? "cp" : "random";
}

static void cp_summary(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                       const quant_run *r)
{
    qt_json_field_number(w, "bits", o->bits);
    qt_json_field_number(w, "rate", o->cp.rate);
    qt_json_field_string(w, "init", cp_init_name(o));
    qt_json_field_int(w, "max_sweeps", o->cp.max_sweeps);
    qt_json_field_int(w, "max_inner", o->cp.max_inner);
    qt_json_field_int(w, "diverge_window", o->cp.diverge_window);
    qt_json_field_int(w, "epc_sweeps", o->method == QT_QQUANT_ADMM_EPC ? o->cp.epc_sweeps : 0);
    qt_json_field_int(w, "als_sweeps", o->cp.als_sweeps);
    qt_json_field_int(w, "rest_bits", o->cp.rest_bits);
    qt_cp_reports_json(w, r->cp_reps, s->fnet->nlayers);
    qt_weight_reports_json(w, r->weights, r->nweights);
}

static qt_checkpoint_extra coded_writer(quant_run *r) { return qt_coded_net_writer(&r->coded); }

/* Level-coded weights: log2(levels) bits each, BOPs, per-layer weight errors. */
static int coded_size(const session *s, quant_run *r, qt_qquant_result *res, qt_error *err)
{
    res->bits_per_weight = qt_coded_net_bits_per_weight(&r->coded);
    res->model_bytes = qt_coded_net_bytes(r->qnet, &r->coded);
    res->float_model_bytes = 4.0 * (double)qt_net_param_count(s->fnet);
    if (qt_model_cost_of(s->fnet, r->qnet, &r->coded, &res->cost, err) != QT_OK)
        return QT_ERR;
    return qt_weight_reports(s->fnet, r->qnet, &r->coded, &r->weights, &r->nweights, err);
}

/* pq: product quantization (pq_net.h); the EM on the first act_images images, finetuning
 * drawing from all pq_finetune_images */
static int quantize_pq(session *s, const qt_qquant_opts *o, quant_run *r, qt_error *err)
{
    qt_pq_opts po = o->pq;
    po.mask = s->mask;
    po.keep_first = !o->layers || !*o->layers || !strcmp(o->layers, "all");
    po.sample.patches_per_image = o->patches_per_image;
    po.sample.seed = po.em.seed = po.layer_ft.seed = po.global_ft.seed = o->seed;
    qt_calib_set cs = qt_calib_head(&s->train, o->pq_finetune_images);
    r->pq_finetune_images = cs.n;
    float *teacher = NULL;
    int rc = qt_pq_teacher_logits(s->fnet, &cs, &teacher, err);
    if (rc == QT_OK)
        rc = qt_pq_quantize_layers(r->qnet, &cs, teacher, &po, &r->pq, &r->pq_reps, err);
    if (rc == QT_OK)
        rc = qt_pq_finetune_global(r->qnet, &r->pq, &cs, teacher, &po, &r->pq_global, err);
    free(teacher);
    return rc;
}

static void pq_json_settings(qt_json_writer *w, const qt_pq_opts *p, int finetune_images)
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
    qt_json_field_int(w, "finetune_images", finetune_images);
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

static void pq_summary(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                       const quant_run *r)
{
    (void)s;
    qt_json_field_number(w, "global_finetune_loss_first", r->pq_global.loss_first);
    qt_json_field_number(w, "global_finetune_loss_last", r->pq_global.loss_last);
    pq_json_settings(w, &o->pq, r->pq_finetune_images);
    pq_json_layers(w, r->pq_reps, r->pq.n);
}

static qt_checkpoint_extra pq_writer(quant_run *r) { return qt_pq_net_writer(&r->pq); }

static int pq_size(const session *s, quant_run *r, qt_qquant_result *res, qt_error *err)
{
    (void)s;
    (void)err;
    qt_pq_net_size(r->qnet, &r->pq, &res->pq_size);
    res->model_bytes = res->pq_size.total_bytes;
    res->float_model_bytes = res->pq_size.float_bytes;
    res->bits_per_weight = res->pq_size.coded_weights > 0
                               ? 8.0 * res->pq_size.index_bytes / res->pq_size.coded_weights : 32.0;
    return QT_OK;
}

static const ptq_method methods[QT_QQUANT_NMETHODS] = {
    [QT_QQUANT_GPFQ] = {"gpfq", 1, 0, quantize_on_alphabet, alphabet_summary, coded_writer, coded_size},
    [QT_QQUANT_MSQ] = {"msq", 1, 0, quantize_on_alphabet, alphabet_summary, coded_writer, coded_size},
    [QT_QQUANT_ADAROUND] = {"adaround", 1, 0, quantize_on_alphabet, alphabet_summary, coded_writer,
                            coded_size},
    [QT_QQUANT_PQ] = {"pq", 0, 0, quantize_pq, pq_summary, pq_writer, pq_size},
    [QT_QQUANT_ADMM_CP] = {"admm-cp", 0, 1, quantize_cp, cp_summary, coded_writer, coded_size},
    [QT_QQUANT_ADMM_EPC] = {"admm-epc", 0, 1, quantize_cp, cp_summary, coded_writer, coded_size},
    [QT_QQUANT_CP_QUANT] = {"cp-quant", 0, 1, quantize_cp, cp_summary, coded_writer, coded_size},
};

static const ptq_method *method_of(qt_qquant_method m)
{
    return m >= 0 && m < QT_QQUANT_NMETHODS ? &methods[m] : NULL;
}

/* ---- the shared path: calibrate -> quantize -> evaluate -> save ---- */

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
    return qt_run_validate(c, err);
}

/* Accuracy of net on the test split (quantized weights where it has them). */
static int test_accuracy(session *s, qt_net *net, double *acc, qt_error *err)
{
    qt_eval_result er;
    qt_loss_kind loss;
    if (qt_run_loss(&s->cfg, &loss, err) != QT_OK ||
        qt_evaluate(&s->ctx, net, s->test_ld, QT_VIEW_EVAL, loss, &er, err) != QT_OK)
        return QT_ERR;
    *acc = er.acc;
    return QT_OK;
}

static int act_quantized(const qt_qquant_opts *o) { return o->act.bits < 32; }

/* Training images the method needs after the validation split. */
static int train_images_needed(const qt_qquant_opts *o)
{
    const ptq_method *pm = method_of(o->method);
    int n = pm->factorizes ? 0 : o->calib_images;
    if (o->method == QT_QQUANT_PQ)
        n = o->pq_finetune_images > o->pq.act_images ? o->pq_finetune_images : o->pq.act_images;
    n = o->bn_calib > n ? o->bn_calib : n;
    return act_quantized(o) && o->act.images > n ? o->act.images : n;
}

static int open_session(session *s, const qt_qquant_opts *o, qt_error *err)
{
    qt_ctx_init(&s->ctx);
    if (load_config(o, &s->cfg, err) != QT_OK)
        return QT_ERR;
    /* the float net: whatever the run trained, post-training methods start from float weights
     * (BC's float buffer, or SR/R's grid values) */
    char fp[64];
    snprintf(fp, sizeof fp, "quant.mode=%s", qt_quant_mode_name(QT_QUANT_FP));
    if (qt_config_set_arg(&s->cfg, fp, err) != QT_OK)
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
    if (!(s->mask = calloc((size_t)s->fnet->nlayers, sizeof *s->mask)))
        return qt_errorf(err, "out of memory");
    if (!o->layers && method_of(o->method)->factorizes)
        qt_cp_default_mask(s->fnet, s->mask);
    else if (qt_ptq_select_layers(s->fnet, o->layers, s->mask, err) != QT_OK)
        return QT_ERR;
    s->float_val_acc = -1.0;
    if (o->val_images > 0 &&
        (qt_calib_load(&s->val, s->train_ds, 0, o->val_images, o->seed, err) != QT_OK ||
         qt_calib_accuracy(s->fnet, &s->val, &s->float_val_acc, err) != QT_OK))
        return qt_error_prefix(err, "validation images");
    int n = train_images_needed(o);
    if (n > 0 && qt_calib_load(&s->train, s->train_ds, o->val_images, n, o->seed, err) != QT_OK)
        return QT_ERR;
    return test_accuracy(s, s->fnet, &s->float_acc, err);
}

static void close_session(session *s)
{
    qt_calib_free(&s->val);
    qt_calib_free(&s->train);
    qt_net_free(s->fnet);
    qt_loader_free(s->test_ld);
    qt_dataset_free(s->train_ds);
    qt_dataset_free(s->test_ds);
    free(s->mask);
    free(s->config_ini);
    qt_ctx_free(&s->ctx);
}

/* Settings checked before any data is read. */
static int check_opts(const qt_qquant_opts *o, qt_error *err)
{
    const ptq_method *pm = method_of(o->method);
    if (!pm)
        return qt_errorf(err, "unknown method %d", (int)o->method);
    if (pm->factorizes && (o->bits != floor(o->bits) || o->bits < 2 || o->bits > 8))
        return qt_errorf(err, "%s: --bits must be a whole number from 2 to 8 (got %g)", pm->name,
                         o->bits);
    if (pm->factorizes && !(o->cp.rate > 0.0))
        return qt_errorf(err, "%s: the reduction rate must be positive (got %g)", pm->name,
                         o->cp.rate);
    if (o->act.bits != 32 && (o->act.bits < 2 || o->act.bits > 8))
        return qt_errorf(err, "activation bits %d: 2 to 8, or 32 for float inputs", o->act.bits);
    if (o->val_images < 0)
        return qt_errorf(err, "validation images %d < 0", o->val_images);
    return QT_OK;
}

/* Per layer of r->qnet: is its weight quantized (coded, or product-quantized)? */
static void quantized_layers(const quant_run *r, int *mask)
{
    for (int i = 0; i < r->qnet->nlayers; i++) {
        const qt_param *w = r->qnet->layers[i].weight;
        mask[i] = 0;
        for (int k = 0; w && k < r->coded.n; k++)
            mask[i] |= r->coded.layers[k].param == w;
        for (int k = 0; w && k < r->pq.n; k++)
            mask[i] |= r->pq.layers[k].param == w;
        mask[i] &= qt_ptq_layer_quantizable(r->qnet, i);
    }
}

/* The input grids of the quantized layers (after batchnorm calibration, which sees float
 * inputs like the weights' calibration did). */
static int calibrate_activations(session *s, const qt_qquant_opts *o, quant_run *r, qt_error *err)
{
    int *mask = calloc((size_t)r->qnet->nlayers, sizeof *mask);
    if (!mask)
        return qt_errorf(err, "out of memory");
    quantized_layers(r, mask);
    qt_act_quant_opts ao = o->act;
    ao.seed = o->seed;
    int rc = qt_act_calibrate(r->qnet, mask, &s->train, &ao, err);
    free(mask);
    return rc;
}

/* act_bits, act_range, act_images and each quantized input's grid. */
static void act_json(qt_json_writer *w, const qt_qquant_opts *o, const session *s,
                     const quant_run *r)
{
    int on = act_quantized(o);
    qt_json_field_int(w, "act_bits", on ? o->act.bits : 32);
    qt_json_field_string(w, "act_range", !on ? "none"
                         : o->act.range == QT_ACT_RANGE_MSE ? "mse" : "minmax");
    qt_json_field_int(w, "act_images", on ? (o->act.images < s->train.n ? o->act.images : s->train.n) : 0);
    qt_json_field_bool(w, "act_per_channel", on && o->act.per_channel);
    qt_json_key(w, "act_grids");
    qt_json_begin_array(w);
    for (int i = 0; i < r->qnet->nlayers; i++) {
        const qt_layer *l = &r->qnet->layers[i];
        if (l->act.levels < 2)
            continue;
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", l->name);
        qt_json_field_int(w, "levels", l->act.levels);
        if (l->act_ch) {      /* one grid per input channel: lists by channel */
            qt_json_key(w, "lo");
            qt_json_begin_array(w);
            for (int k = 0; k < l->act_nch; k++)
                qt_json_number(w, l->act_ch[k].lo);
            qt_json_end_array(w);
            qt_json_key(w, "step");
            qt_json_begin_array(w);
            for (int k = 0; k < l->act_nch; k++)
                qt_json_number(w, l->act_ch[k].step);
            qt_json_end_array(w);
        } else {
            qt_json_field_number(w, "lo", l->act.lo);
            qt_json_field_number(w, "step", l->act.step);
        }
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
}

/* Images the method itself used for its weights. */
static int weight_images(const qt_qquant_opts *o, const session *s)
{
    if (method_of(o->method)->factorizes)
        return 0;
    int n = o->method == QT_QQUANT_PQ ? o->pq.act_images : o->calib_images;
    return n < s->train.n ? n : s->train.n;
}

static int write_summary(const char *dir, const qt_qquant_opts *o, const session *s,
                         const quant_run *r, const qt_qquant_result *res, qt_error *err)
{
    const ptq_method *pm = method_of(o->method);
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/model.qtr", dir);
    double file_bytes = stat(path, &st) == 0 ? (double)st.st_size : -1.0;
    snprintf(path, sizeof path, "%s/summary.json", dir);
    qt_json_writer *w = qt_json_writer_new(2);
    qt_json_begin_object(w);
    qt_json_field_string(w, "method", pm->name);
    qt_json_field_number(w, "float_acc", res->float_acc);
    qt_json_field_number(w, "quant_acc", res->quant_acc);
    qt_json_field_int(w, "val_images", s->val.n);
    qt_json_field_number(w, "float_val_acc", res->float_val_acc);
    qt_json_field_number(w, "val_acc", res->val_acc);
    qt_json_field_number(w, "weight_bits", o->method == QT_QQUANT_PQ ? res->bits_per_weight : o->bits);
    act_json(w, o, s, r);
    qt_json_field_number(w, "bits_per_weight", res->bits_per_weight);
    qt_json_field_number(w, "model_bytes", res->model_bytes);
    qt_json_field_number(w, "float_model_bytes", res->float_model_bytes);
    qt_json_field_number(w, "file_bytes", file_bytes);   /* model.qtr: whole-byte indices, zlib */
    qt_json_field_number(w, "seconds", res->seconds);
    qt_json_field_int(w, "calib_images", weight_images(o, s));
    qt_json_field_int(w, "seed", (int64_t)o->seed);
    qt_json_field_int(w, "bn_calib", o->bn_calib > 0 ? (o->bn_calib < s->train.n ? o->bn_calib : s->train.n) : 0);
    if (o->bn_calib > 0)
        qt_json_field_number(w, "quant_acc_before_bn_calib", res->acc_before_bn_calib);
    qt_json_field_string(w, "checkpoint", o->checkpoint);
    if (o->method == QT_QQUANT_PQ)
        pq_json_size(w, &res->pq_size);
    else
        qt_model_cost_json(w, &res->cost);
    pm->summary(w, o, s, r);
    qt_json_end_object(w);
    return qt_json_writer_save(w, path, err);
}

/* Accuracies of the quantized net: validation when there are validation images, test when
 * asked (a sweep's candidates are never tested). */
static int evaluate_run(session *s, quant_run *r, int want_test, qt_qquant_result *res,
                        qt_error *err)
{
    if (s->val.n > 0 && qt_calib_accuracy(r->qnet, &s->val, &res->val_acc, err) != QT_OK)
        return QT_ERR;
    return want_test ? test_accuracy(s, r->qnet, &res->quant_acc, err) : QT_OK;
}

/* One quantization at c_alpha into dir. */
static int quantize_once(session *s, const qt_qquant_opts *o, double c_alpha, const char *dir,
                         int want_test, qt_qquant_result *res, qt_error *err)
{
    const ptq_method *pm = method_of(o->method);
    double t0 = qt_now_seconds();
    memset(res, 0, sizeof *res);
    res->c_alpha = c_alpha;
    res->float_acc = want_test ? s->float_acc : -1.0;
    res->float_val_acc = s->float_val_acc;
    res->quant_acc = res->val_acc = -1.0;
    quant_run r;
    memset(&r, 0, sizeof r);
    r.c_alpha = c_alpha;
    int rc = qt_make_dirs(dir, err);
    if (rc == QT_OK)
        rc = qt_open_checkpoint_net(&s->cfg, o->checkpoint, &r.qnet, err);
    if (rc == QT_OK)
        rc = pm->quantize(s, o, &r, err);
    if (rc == QT_OK && o->bn_calib > 0 && want_test)
        rc = test_accuracy(s, r.qnet, &res->acc_before_bn_calib, err);
    if (rc == QT_OK && o->bn_calib > 0)
        rc = qt_bn_calibrate(r.qnet, &s->train, o->bn_calib, 32, err);
    if (rc == QT_OK && act_quantized(o))
        rc = calibrate_activations(s, o, &r, err);
    if (rc == QT_OK)
        rc = evaluate_run(s, &r, want_test, res, err);
    if (rc == QT_OK)
        rc = pm->size(s, &r, res, err);
    if (rc == QT_OK) {
        char path[1200];
        qt_checkpoint_extra extra = pm->writer(&r);
        snprintf(path, sizeof path, "%s/model.qtr", dir);
        rc = qt_checkpoint_save(path, r.qnet, NULL, NULL, s->config_ini, &extra, err);
    }
    res->seconds = qt_now_seconds() - t0;
    if (rc == QT_OK)
        rc = write_summary(dir, o, s, &r, res, err);
    run_free(&r);
    return rc;
}

int qt_qquant_run(const qt_qquant_opts *o, qt_qquant_result *r, qt_error *err)
{
    session s;
    memset(&s, 0, sizeof s);
    int rc = check_opts(o, err);
    if (rc == QT_OK)
        rc = open_session(&s, o, err);
    if (rc == QT_OK)
        rc = quantize_once(&s, o, o->c_alpha, o->out_dir, 1, r, err);
    close_session(&s);
    return rc;
}

/* The candidates into out_dir/calpha-C/ and sweep.csv; *best: the index chosen. */
static int sweep_candidates(session *s, const qt_qquant_opts *o, const double *c_alphas, int n,
                            qt_qquant_result *results, int *best, qt_error *err)
{
    qt_csv_writer *csv = NULL;
    char path[1200];
    static const char *const cols[] = {"calpha", "float_val_acc", "val_acc", "bits_per_weight",
                                       "model_bytes"};
    snprintf(path, sizeof path, "%s/sweep.csv", o->out_dir);
    int rc = qt_csv_writer_create(&csv, path, cols, 5, err);
    *best = 0;
    for (int i = 0; rc == QT_OK && i < n; i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/calpha-%g", o->out_dir, c_alphas[i]);
        rc = quantize_once(s, o, c_alphas[i], dir, 0, &results[i], err);
        double row[5] = {c_alphas[i], results[i].float_val_acc, results[i].val_acc,
                         results[i].bits_per_weight, results[i].model_bytes};
        if (rc == QT_OK)
            rc = qt_csv_write_row(csv, row, err);
        if (rc == QT_OK && results[i].val_acc > results[*best].val_acc)
            *best = i;
    }
    qt_error ignored;
    if (csv)
        qt_csv_writer_close(csv, &ignored);
    return rc;
}

int qt_qquant_sweep(const qt_qquant_opts *o, const double *c_alphas, int n,
                    qt_qquant_result *results, qt_qquant_result *chosen, qt_error *err)
{
    const ptq_method *pm = method_of(o->method);
    if (pm && !pm->alphabet_family)
        return qt_errorf(err, "the C_alpha sweep applies to gpfq, msq and adaround, not %s",
                         pm->name);
    if (o->val_images < 1)
        return qt_errorf(err, "the C_alpha sweep chooses on validation images: give "
                         "--val-images N (held out from the training data)");
    session s;
    memset(&s, 0, sizeof s);
    int best = 0;
    int rc = check_opts(o, err);
    if (rc == QT_OK)
        rc = qt_make_dirs(o->out_dir, err);
    if (rc == QT_OK)
        rc = open_session(&s, o, err);
    if (rc == QT_OK)
        rc = sweep_candidates(&s, o, c_alphas, n, results, &best, err);
    if (rc == QT_OK)
        rc = quantize_once(&s, o, c_alphas[best], o->out_dir, 1, chosen, err);
    close_session(&s);
    return rc;
}

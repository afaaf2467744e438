#include "qtrain/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qtrain/net_cp.h"
#include "qtrain/net_desc.h"
#include "qtrain/quant.h"
#include "qtrain/quant_rule.h"

#define NAME_MAX_LEN 160

static void shape_of(const qt_tensor *t, int64_t *shape)
{
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
}

/* ---- save ---- */

static int write_f32(qt_record_writer *w, const char *prefix, const char *name, const char *suffix,
                     const qt_tensor *shape_like, const float *data, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    int64_t shape[QT_MAX_DIMS];
    snprintf(rec, sizeof rec, "%s%s%s", prefix, name, suffix);
    shape_of(shape_like, shape);
    return qt_record_write(w, rec, QT_REC_F32, shape_like->ndim, shape, data, err);
}

static int write_levels(qt_record_writer *w, const qt_param *p, qt_error *err)
{
    const qt_grid *g = &p->q->grid;
    double lv[3] = {(double)g->code0 * g->unit, (double)g->code_step * g->unit, g->levels};
    char rec[NAME_MAX_LEN];
    int64_t three = 3;
    snprintf(rec, sizeof rec, "param/%s.levels", p->name);
    return qt_record_write(w, rec, QT_REC_F64, 1, &three, lv, err);
}

/* One byte per weight of p (bytes: malloc'd, NULL when that failed, freed here) as record
 * `prefix name suffix`, shaped like p. */
static int write_weight_bytes(qt_record_writer *w, const char *prefix, const char *suffix,
                              qt_record_dtype dtype, const qt_param *p, void *bytes, qt_error *err)
{
    if (!bytes)
        return qt_errorf(err, "out of memory");
    char rec[NAME_MAX_LEN];
    int64_t shape[QT_MAX_DIMS];
    snprintf(rec, sizeof rec, "%s%s%s", prefix, p->name, suffix);
    shape_of(&p->t, shape);
    int rc = qt_record_write(w, rec, dtype, p->t.ndim, shape, bytes, err);
    free(bytes);
    return rc;
}

static int write_indices(qt_record_writer *w, const qt_param *p, qt_error *err)
{
    const qt_qstate *q = p->q;
    uint8_t *idx = malloc(p->t.numel);
    for (size_t i = 0; idx && i < p->t.numel; i++)
        idx[i] = (uint8_t)((q->codes[i] - q->grid.code0) / q->grid.code_step);
    return write_weight_bytes(w, "param/", ".index", QT_REC_U8, p, idx, err);
}

/* The flip snapshot's signs, one int8 each. */
static int write_flip_signs(qt_record_writer *w, const qt_param *p, qt_error *err)
{
    int8_t *signs = malloc(p->t.numel);
    for (size_t i = 0; signs && i < p->t.numel; i++)
        signs[i] = qt_quant_snapshot_sign(p->q, i);
    return write_weight_bytes(w, "flips/", "", QT_REC_I8, p, signs, err);
}

static int write_param(qt_record_writer *w, const qt_param *p, const qt_optimizer *opt,
                       const qt_train_state *st, const qt_checkpoint_extra *extra, qt_error *err)
{
    int handled = extra && extra->write_param ? extra->write_param(w, p, extra->user, err) : 0;
    if (handled < 0)
        return QT_ERR;
    if (!handled) {
        if (!p->q && write_f32(w, "param/", p->name, "", &p->t, p->t.data, err) != QT_OK)
            return QT_ERR;
        const float *buffer = qt_quant_float_buffer(p);
        if (p->q && (write_levels(w, p, err) != QT_OK ||
                     (buffer ? write_f32(w, "param/", p->name, "", &p->t, buffer, err)
                             : write_indices(w, p, err)) != QT_OK))
            return QT_ERR;
    }
    if (opt && p->opt_m && write_f32(w, "opt/", p->name, ".m", &p->t, p->opt_m, err) != QT_OK)
        return QT_ERR;
    if (opt && p->opt_v && write_f32(w, "opt/", p->name, ".v", &p->t, p->opt_v, err) != QT_OK)
        return QT_ERR;
    return st && p->q ? write_flip_signs(w, p, err) : QT_OK;
}

static int write_bn(qt_record_writer *w, const qt_layer *l, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    int64_t c = l->out_c;
    snprintf(rec, sizeof rec, "bn/%s.running_mean", l->name);
    if (qt_record_write(w, rec, QT_REC_F32, 1, &c, l->bn.running_mean, err) != QT_OK)
        return QT_ERR;
    snprintf(rec, sizeof rec, "bn/%s.running_var", l->name);
    return qt_record_write(w, rec, QT_REC_F32, 1, &c, l->bn.running_var, err);
}

static int write_u64(qt_record_writer *w, const char *name, uint64_t v, qt_error *err)
{
    return qt_record_write(w, name, QT_REC_U64, 0, NULL, &v, err);
}

static int write_f64(qt_record_writer *w, const char *name, double v, qt_error *err)
{
    return qt_record_write(w, name, QT_REC_F64, 0, NULL, &v, err);
}

static int write_state(qt_record_writer *w, const qt_optimizer *opt, const qt_train_state *st,
                       qt_error *err)
{
    if (write_u64(w, "state/step", (uint64_t)st->step, err) != QT_OK ||
        write_u64(w, "state/epoch", (uint64_t)st->epoch, err) != QT_OK ||
        write_u64(w, "state/batch", (uint64_t)st->batch, err) != QT_OK ||
        write_u64(w, "state/images", (uint64_t)st->images, err) != QT_OK ||
        write_f64(w, "state/best_acc", st->best_acc, err) != QT_OK ||
        write_f64(w, "state/seconds", st->seconds, err) != QT_OK ||
        write_f64(w, "state/window_loss", st->window_loss, err) != QT_OK ||
        write_u64(w, "state/window_correct", (uint64_t)st->window_correct, err) != QT_OK ||
        write_u64(w, "state/window_images", (uint64_t)st->window_images, err) != QT_OK ||
        write_u64(w, "state/window_steps", (uint64_t)st->window_steps, err) != QT_OK ||
        write_f64(w, "state/window_flips", st->window_flips, err) != QT_OK ||
        write_f64(w, "state/epoch_flips", st->epoch_flips, err) != QT_OK)
        return QT_ERR;
    return opt ? write_u64(w, "state/opt_t", opt->t, err) : QT_OK;
}

/* arch/<layer>.cp_rank for each factorised layer, named by its first part "<layer>.cp1". */
static int write_arch(qt_record_writer *w, const qt_net *net, qt_error *err)
{
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        if (l->cp_part != 1)
            continue;
        char rec[NAME_MAX_LEN];
        snprintf(rec, sizeof rec, "arch/%.*s.cp_rank", (int)strlen(l->name) - 4, l->name);
        if (write_u64(w, rec, (uint64_t)l->out_c, err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

/* act/<layer> for each layer whose input is put on grids (post-training activation
 * quantization, act_quant.h): [n, 3] f64, one row {lowest level, spacing, levels} per grid
 * (n = 1: the whole input; n = C_in: one per input channel). The forward pass applies them,
 * so the loaded net computes what the quantizer measured. */
static int write_act(qt_record_writer *w, const qt_net *net, qt_error *err)
{
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        const qt_uniform_grid *g = l->act_ch ? l->act_ch : &l->act;
        int64_t shape[2] = {l->act_ch ? l->act_nch : 1, 3};
        if (l->act.levels < 1)
            continue;
        double *rows = malloc((size_t)shape[0] * 3 * sizeof *rows);
        if (!rows)
            return qt_errorf(err, "out of memory");
        for (int64_t k = 0; k < shape[0]; k++) {
            rows[3 * k] = g[k].lo;
            rows[3 * k + 1] = g[k].step;
            rows[3 * k + 2] = g[k].levels;
        }
        char rec[NAME_MAX_LEN];
        snprintf(rec, sizeof rec, "act/%s", l->name);
        int rc = qt_record_write(w, rec, QT_REC_F64, 2, shape, rows, err);
        free(rows);
        if (rc != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

static int write_text(qt_record_writer *w, const char *name, const char *text, qt_error *err)
{
    int64_t len = (int64_t)strlen(text);
    return qt_record_write(w, name, QT_REC_U8, 1, &len, text, err);
}

static int write_all(qt_record_writer *w, const qt_net *net, const qt_optimizer *opt,
                     const qt_train_state *st, const char *config_ini,
                     const qt_checkpoint_extra *extra, qt_error *err)
{
    if (config_ini && write_text(w, "config.ini", config_ini, err) != QT_OK)
        return QT_ERR;
    if (qt_net_description(net) && write_text(w, "net", qt_net_description(net), err) != QT_OK)
        return QT_ERR;
    if (write_arch(w, net, err) != QT_OK || write_act(w, net, err) != QT_OK ||
        (st && write_state(w, opt, st, err) != QT_OK))
        return QT_ERR;
    for (int i = 0; i < net->nparams; i++)
        if (write_param(w, net->params[i], opt, st, extra, err) != QT_OK)
            return QT_ERR;
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == QT_LAYER_BATCHNORM && write_bn(w, &net->layers[i], err) != QT_OK)
            return QT_ERR;
    return QT_OK;
}

int qt_checkpoint_save(const char *path, const qt_net *net, const qt_optimizer *opt,
                       const qt_train_state *state, const char *config_ini,
                       const qt_checkpoint_extra *extra, qt_error *err)
{
    qt_record_writer *w;
    if (qt_record_writer_open(&w, path, err) != QT_OK)
        return QT_ERR;
    if (write_all(w, net, opt, state, config_ini, extra, err) != QT_OK) {
        qt_record_writer_abort(w);
        return qt_error_prefix(err, "writing %s", path);
    }
    return qt_record_writer_commit(w, err);
}

/* ---- load ---- */

typedef struct {
    const qt_record_file *f;
    const char *path;
    int weights_only;
    const qt_checkpoint_extra *extra;  /* a tool's reader of its coded forms, or NULL */
} loader;

static int get_f32(const loader *ld, const char *name, const qt_tensor *like,
                   const qt_record **out, qt_error *err)
{
    int64_t shape[QT_MAX_DIMS];
    shape_of(like, shape);
    return qt_record_file_get(ld->f, name, QT_REC_F32, like->ndim, shape, out, err);
}

/* The grid {lo, step, levels} of a coded weight, checked against the param's grid when it
 * has one (the unit is taken from the file: it was derived from the initial weights). */
static int get_levels(const loader *ld, const qt_param *p, double lv[3], qt_error *err)
{
    char rec[NAME_MAX_LEN];
    int64_t three = 3;
    snprintf(rec, sizeof rec, "param/%s.levels", p->name);
    if (qt_record_file_read(ld->f, rec, QT_REC_F64, 1, &three, lv, err) != QT_OK)
        return QT_ERR;
    if (!(lv[1] > 0.0) || !(lv[2] >= 2.0 && lv[2] <= 256.0) || !isfinite(lv[0]))
        return qt_errorf(err, "%s: %s: invalid grid {%g, %g, %g}", ld->path, rec, lv[0], lv[1], lv[2]);
    const qt_qstate *q = p->q;
    if (q && ((int)lv[2] != q->grid.levels ||
              fabs(lv[0] / lv[1] * q->grid.code_step - q->grid.code0) > 1e-3))
        return qt_errorf(err, "%s: %s: a %d-level grid, the model's %s grid has %d levels",
                         ld->path, rec, (int)lv[2], qt_grid_kind_name(q->grid.kind), q->grid.levels);
    return QT_OK;
}

static int get_indices(const loader *ld, const qt_param *p, const qt_record **out, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    int64_t shape[QT_MAX_DIMS];
    snprintf(rec, sizeof rec, "param/%s.index", p->name);
    shape_of(&p->t, shape);
    return qt_record_file_get(ld->f, rec, QT_REC_U8, p->t.ndim, shape, out, err);
}

/* A float parameter stored in a tool's own coded form: 1 when the extra's reader checked
 * (apply = 0) or decoded (apply = 1) it, 0 when p is not in that form, QT_ERR when bad. */
static int read_coded(const loader *ld, qt_param *p, int apply, qt_error *err)
{
    if (!ld->extra || !ld->extra->read_param)
        return 0;
    return ld->extra->read_param(ld->f, ld->path, p, apply, ld->extra->user, err);
}

/* Checks (apply = 0) or copies (apply = 1) one parameter. */
static int load_param(const loader *ld, qt_param *p, qt_optimizer *opt, int apply, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    const qt_record *r = NULL, *idx = NULL;
    double lv[3];
    int coded;
    qt_qstate *q = p->q;
    snprintf(rec, sizeof rec, "param/%s", p->name);
    int has_float = qt_record_file_find(ld->f, rec) != NULL;
    float *buffer = qt_quant_float_buffer(p);
    if (buffer) {                    /* a rule's float buffer (BC) and its grid */
        if (get_f32(ld, rec, &p->t, &r, err) != QT_OK || get_levels(ld, p, lv, err) != QT_OK)
            return QT_ERR;
    } else if (q) {                  /* codes only (SR, R, frozen): level indices */
        if (get_indices(ld, p, &idx, err) != QT_OK || get_levels(ld, p, lv, err) != QT_OK)
            return QT_ERR;
    } else if (has_float || !ld->weights_only) {
        if (get_f32(ld, rec, &p->t, &r, err) != QT_OK)
            return QT_ERR;
    } else if ((coded = read_coded(ld, p, apply, err)) != 0) {
        return coded < 0 ? QT_ERR : QT_OK;  /* weights only: no optimizer state, no flips */
    } else if (get_indices(ld, p, &idx, err) != QT_OK || get_levels(ld, p, lv, err) != QT_OK) {
        return QT_ERR;               /* a float net reading a coded weight: decode it */
    }
    const qt_record *m = NULL, *v = NULL;
    if (opt && p->opt_m) {
        snprintf(rec, sizeof rec, "opt/%s.m", p->name);
        if (get_f32(ld, rec, &p->t, &m, err) != QT_OK)
            return QT_ERR;
    }
    if (opt && p->opt_v) {
        snprintf(rec, sizeof rec, "opt/%s.v", p->name);
        if (get_f32(ld, rec, &p->t, &v, err) != QT_OK)
            return QT_ERR;
    }
    const qt_record *flips = NULL;
    if (!ld->weights_only && q) {
        int64_t shape[QT_MAX_DIMS];
        shape_of(&p->t, shape);
        snprintf(rec, sizeof rec, "flips/%s", p->name);
        if (qt_record_file_get(ld->f, rec, QT_REC_I8, p->t.ndim, shape, &flips, err) != QT_OK)
            return QT_ERR;
    }
    if (idx)
        for (size_t i = 0; i < p->t.numel; i++)
            if (((const uint8_t *)idx->data)[i] >= (int)lv[2])
                return qt_errorf(err, "%s: param/%s.index: level %u of a %d-level grid", ld->path,
                                 p->name, ((const uint8_t *)idx->data)[i], (int)lv[2]);
    if (!apply)
        return QT_OK;
    size_t n = p->t.numel;
    if (q) {
        q->grid.unit = (float)(lv[1] / q->grid.code_step);
        if (r)
            memcpy(buffer, r->data, n * sizeof(float));
        for (size_t i = 0; idx && i < n; i++)
            q->codes[i] = (int8_t)(q->grid.code0 + ((const uint8_t *)idx->data)[i] * q->grid.code_step);
        for (size_t i = 0; flips && i < n; i++)
            qt_quant_snapshot_set(q, i, ((const int8_t *)flips->data)[i]);
    } else if (r) {
        memcpy(p->t.data, r->data, n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++)
            p->t.data[i] = (float)(lv[0] + lv[1] * ((const uint8_t *)idx->data)[i]);
    }
    if (m)
        memcpy(p->opt_m, m->data, n * sizeof(float));
    if (v)
        memcpy(p->opt_v, v->data, n * sizeof(float));
    return QT_OK;
}

static int load_bn(const loader *ld, qt_layer *l, int apply, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    int64_t c = l->out_c;
    const qt_record *m, *v;
    snprintf(rec, sizeof rec, "bn/%s.running_mean", l->name);
    if (qt_record_file_get(ld->f, rec, QT_REC_F32, 1, &c, &m, err) != QT_OK)
        return QT_ERR;
    snprintf(rec, sizeof rec, "bn/%s.running_var", l->name);
    if (qt_record_file_get(ld->f, rec, QT_REC_F32, 1, &c, &v, err) != QT_OK)
        return QT_ERR;
    if (apply) {
        memcpy(l->bn.running_mean, m->data, (size_t)c * sizeof(float));
        memcpy(l->bn.running_var, v->data, (size_t)c * sizeof(float));
    }
    return QT_OK;
}

/* Row k of an act/ record as a grid, or QT_ERR when it is not one. */
static int act_row(const loader *ld, const qt_record *r, int64_t k, qt_uniform_grid *g,
                   qt_error *err)
{
    const double *row = (const double *)r->data + 3 * k;
    int ok = isfinite(row[0]) && row[1] > 0.0 && isfinite(row[1]) && row[2] >= 2.0 &&
             row[2] <= 256.0 && row[2] == floor(row[2]);
    *g = ok ? (qt_uniform_grid){(float)row[0], (float)row[1], (int)row[2]} : (qt_uniform_grid){0};
    if (!ok || (double)g->lo != row[0] || (double)g->step != row[1])
        return qt_errorf(err, "%s: %s: invalid grid {%g, %g, %g}", ld->path, r->name, row[0],
                         row[1], row[2]);
    return QT_OK;
}

/* Checks (apply = 0) or sets (apply = 1) layer l's input grids from act/<layer>: [1, 3] for
 * the whole input, [C_in, 3] (conv) for one per input channel. A file without one (every
 * checkpoint before activation grids were stored) leaves the input float. */
static int load_act(const loader *ld, qt_layer *l, int apply, qt_error *err)
{
    char rec[NAME_MAX_LEN];
    snprintf(rec, sizeof rec, "act/%s", l->name);
    const qt_record *r = qt_record_file_find(ld->f, rec);
    if (!r)
        return apply ? qt_layer_set_act(l, NULL, 0, err) : QT_OK;
    if (l->kind != QT_LAYER_CONV && l->kind != QT_LAYER_LINEAR)
        return qt_errorf(err, "%s: %s: only conv and linear inputs are quantized", ld->path, rec);
    int64_t in_c = l->kind == QT_LAYER_CONV ? qt_layer_in_channels(l) : 1;
    if (r->dtype != QT_REC_F64 || r->ndim != 2 || r->shape[1] != 3 ||
        (r->shape[0] != 1 && r->shape[0] != in_c))
        return qt_errorf(err, "%s: %s: expected f64 [1, 3] or [%lld, 3] (one grid per input "
                         "channel)", ld->path, rec, (long long)in_c);
    qt_uniform_grid *g = malloc((size_t)r->shape[0] * sizeof *g);
    int rc = g ? QT_OK : qt_errorf(err, "out of memory");
    for (int64_t k = 0; rc == QT_OK && k < r->shape[0]; k++) {
        rc = act_row(ld, r, k, &g[k], err);
        if (rc == QT_OK && g[k].levels != g[0].levels)
            rc = qt_errorf(err, "%s: %s: channel grids of %d and %d levels", ld->path, rec,
                           g[0].levels, g[k].levels);
    }
    if (rc == QT_OK && apply)
        rc = qt_layer_set_act(l, g, (int)r->shape[0], err);
    free(g);
    return rc;
}

static int read_u64(const loader *ld, const char *name, int64_t *out, qt_error *err)
{
    uint64_t v;
    if (qt_record_file_read(ld->f, name, QT_REC_U64, 0, NULL, &v, err) != QT_OK)
        return QT_ERR;
    *out = (int64_t)v;
    return QT_OK;
}

/* A record that older checkpoints lack: 0 when absent. */
static int read_optional_f64(const loader *ld, const char *name, double *out, qt_error *err)
{
    *out = 0.0;
    if (!qt_record_file_find(ld->f, name))
        return QT_OK;
    return qt_record_file_read(ld->f, name, QT_REC_F64, 0, NULL, out, err);
}

static int load_state(const loader *ld, qt_optimizer *opt, qt_train_state *st, qt_error *err)
{
    int64_t t = 0;
    if (read_u64(ld, "state/step", &st->step, err) != QT_OK ||
        read_u64(ld, "state/epoch", &st->epoch, err) != QT_OK ||
        read_u64(ld, "state/batch", &st->batch, err) != QT_OK ||
        read_u64(ld, "state/images", &st->images, err) != QT_OK ||
        qt_record_file_read(ld->f, "state/best_acc", QT_REC_F64, 0, NULL, &st->best_acc, err) != QT_OK ||
        qt_record_file_read(ld->f, "state/seconds", QT_REC_F64, 0, NULL, &st->seconds, err) != QT_OK ||
        qt_record_file_read(ld->f, "state/window_loss", QT_REC_F64, 0, NULL, &st->window_loss, err) != QT_OK ||
        read_u64(ld, "state/window_correct", &st->window_correct, err) != QT_OK ||
        read_u64(ld, "state/window_images", &st->window_images, err) != QT_OK ||
        read_u64(ld, "state/window_steps", &st->window_steps, err) != QT_OK ||
        read_optional_f64(ld, "state/window_flips", &st->window_flips, err) != QT_OK ||
        read_optional_f64(ld, "state/epoch_flips", &st->epoch_flips, err) != QT_OK ||
        (opt && read_u64(ld, "state/opt_t", &t, err) != QT_OK))
        return QT_ERR;
    if (opt)
        opt->t = (uint64_t)t;
    return QT_OK;
}

/* Pass 0 checks every record, pass 1 copies: nothing changes unless everything fits. */
static int load_all(const loader *ld, qt_net *net, qt_optimizer *opt, qt_train_state *st,
                    qt_error *err)
{
    for (int apply = 0; apply < 2; apply++) {
        for (int i = 0; i < net->nparams; i++)
            if (load_param(ld, net->params[i], opt, apply, err) != QT_OK)
                return QT_ERR;
        for (int i = 0; i < net->nlayers; i++)
            if ((net->layers[i].kind == QT_LAYER_BATCHNORM && load_bn(ld, &net->layers[i], apply, err) != QT_OK) ||
                load_act(ld, &net->layers[i], apply, err) != QT_OK)
                return QT_ERR;
        qt_train_state scratch;
        if (st && load_state(ld, apply ? opt : NULL, apply ? st : &scratch, err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

int qt_checkpoint_load(const char *path, qt_net *net, qt_optimizer *opt, qt_train_state *state,
                       qt_error *err)
{
    return qt_checkpoint_load_with(path, net, opt, state, NULL, err);
}

int qt_checkpoint_load_with(const char *path, qt_net *net, qt_optimizer *opt,
                            qt_train_state *state, const qt_checkpoint_extra *extra, qt_error *err)
{
    qt_record_file *f;
    if (qt_record_file_open(&f, path, err) != QT_OK)
        return QT_ERR;
    loader ld = {f, path, !state, extra};
    int rc = load_all(&ld, net, opt, state, err);
    qt_record_file_close(f);
    return rc;
}

/* One arch/ record: factorises the layer it names. */
static int apply_arch_record(const char *path, const qt_record *r, qt_net *net, qt_error *err)
{
    static const char suffix[] = ".cp_rank";
    const char *name = r->name + 5;
    size_t len = strlen(name), sl = sizeof suffix - 1;
    if (len <= sl || strcmp(name + len - sl, suffix) != 0 || len - sl >= sizeof net->layers[0].name)
        return qt_errorf(err, "%s: %s: unknown structure record", path, r->name);
    if (r->dtype != QT_REC_U64 || r->ndim != 0)
        return qt_errorf(err, "%s: %s: expected a u64 scalar", path, r->name);
    char layer[sizeof net->layers[0].name];
    snprintf(layer, sizeof layer, "%.*s", (int)(len - sl), name);
    uint64_t rank;
    memcpy(&rank, r->data, sizeof rank);
    int i = qt_net_find_layer(net, layer);
    if (i < 0)
        return qt_errorf(err, "%s: %s: %s has no layer %s", path, r->name, net->name, layer);
    if (rank < 1 || rank > 1000000)
        return qt_errorf(err, "%s: %s: rank %llu out of range", path, r->name, (unsigned long long)rank);
    if (qt_net_cp_factorize(net, i, (int)rank, err) != QT_OK)
        return qt_error_prefix(err, "%s: %s", path, r->name);
    return QT_OK;
}

int qt_checkpoint_apply_arch(const char *path, qt_net *net, qt_error *err)
{
    qt_record_file *f;
    if (qt_record_file_open(&f, path, err) != QT_OK)
        return QT_ERR;
    int rc = QT_OK;
    for (int i = 0; rc == QT_OK && i < qt_record_file_count(f); i++) {
        const qt_record *r = qt_record_file_at(f, i);
        if (!strncmp(r->name, "arch/", 5))
            rc = apply_arch_record(path, r, net, err);
    }
    qt_record_file_close(f);
    return rc;
}

/* The text of record `name` (malloc'd), or NULL when the file has no such record. */
static int read_text(const char *path, const char *name, char **text, qt_error *err)
{
    qt_record_file *f;
    *text = NULL;
    if (qt_record_file_open(&f, path, err) != QT_OK)
        return QT_ERR;
    const qt_record *r = qt_record_file_find(f, name);
    int rc = QT_OK;
    if (r && (r->dtype != QT_REC_U8 || memchr(r->data, '\0', r->nbytes)))
        rc = qt_errorf(err, "%s: record \"%s\" is not text", path, name);
    else if (r && !(*text = malloc(r->nbytes + 1)))
        rc = qt_errorf(err, "out of memory");
    else if (r) {
        memcpy(*text, r->data, r->nbytes);
        (*text)[r->nbytes] = '\0';
    }
    qt_record_file_close(f);
    return rc;
}

int qt_checkpoint_config_text(const char *path, char **text, qt_error *err)
{
    if (read_text(path, "config.ini", text, err) != QT_OK)
        return QT_ERR;
    return *text ? QT_OK : qt_errorf(err, "%s: holds no config.ini record", path);
}

int qt_checkpoint_net_description(const char *path, char **text, qt_error *err)
{
    return read_text(path, "net", text, err);
}

/* ---- files in a checkpoint directory ---- */

void qt_checkpoint_path(const char *dir, int64_t step, char *out, size_t n)
{
    snprintf(out, n, "%s/step-%09" PRId64 ".qtr", dir, step);
}

/* Steps of the checkpoint files in dir, newest first. */
static int list_steps(const char *dir, int64_t **steps, int *count)
{
    *steps = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return QT_OK;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s;
        char tail[8];
        if (sscanf(e->d_name, "step-%" SCNd64 ".qt%c%1s", &s, tail, tail + 1) != 2 || tail[0] != 'r')
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *ns = realloc(*steps, (size_t)cap * sizeof *ns);
            if (!ns) {
                closedir(d);
                return QT_ERR;
            }
            *steps = ns;
        }
        (*steps)[(*count)++] = s;
    }
    closedir(d);
    for (int i = 1; i < *count; i++)  /* newest first */
        for (int j = i; j > 0 && (*steps)[j] > (*steps)[j - 1]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return QT_OK;
}

int qt_checkpoint_find_latest(const char *dir, char *path, size_t n, char *skipped,
                              size_t skipped_n, qt_error *err)
{
    int64_t *steps;
    int count;
    path[0] = '\0';
    if (skipped && skipped_n)
        skipped[0] = '\0';
    if (list_steps(dir, &steps, &count) != QT_OK)
        return qt_errorf(err, "out of memory listing %s", dir);
    for (int i = 0; i < count; i++) {
        qt_record_file *f;
        qt_error why;
        qt_checkpoint_path(dir, steps[i], path, n);
        if (qt_record_file_open(&f, path, &why) == QT_OK) {
            qt_record_file_close(f);
            free(steps);
            return QT_OK;
        }
        if (skipped) {
            size_t used = strlen(skipped);
            snprintf(skipped + used, skipped_n - used, "%s%s", used ? "\n" : "", why.msg);
        }
    }
    path[0] = '\0';
    free(steps);
    return QT_OK;
}

void qt_checkpoint_prune(const char *dir, int keep)
{
    int64_t *steps;
    int count;
    if (list_steps(dir, &steps, &count) != QT_OK)
        return;
    for (int i = keep; i < count; i++) {
        char path[1200];
        qt_checkpoint_path(dir, steps[i], path, sizeof path);
        unlink(path);
    }
    free(steps);
}

int qt_checkpoint_remove_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s;
        char tail[3];
        char path[4400];
        /* exactly "step-<n>.qtr.tmp": the writer's temporary name (record_file.h) */
        if (sscanf(e->d_name, "step-%" SCNd64 ".qtr.tm%c%c", &s, tail, tail + 1) != 2 ||
            tail[0] != 'p')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}

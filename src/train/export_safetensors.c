/* A net's weights as safetensors: float32 values, or quantized layers as packed grid codes
 * and a scale (docs/export-format.md). */
#include "qtrain/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/code_pack.h"
#include "qtrain/json.h"
#include "qtrain/quant.h"
#include "qtrain/quant_rule.h"
#include "qtrain/safetensors.h"

typedef struct {
    qt_st_tensor *t;
    char (*names)[160];
    void **owned;             /* per tensor: its data when this list allocated it */
    int n, cap;
} tensor_list;

static int list_init(tensor_list *l, int cap)
{
    l->t = calloc((size_t)cap, sizeof *l->t);
    l->names = calloc((size_t)cap, sizeof *l->names);
    l->owned = calloc((size_t)cap, sizeof *l->owned);
    l->n = 0;
    l->cap = cap;
    return l->t && l->names && l->owned ? QT_OK : QT_ERR;
}

static void list_free(tensor_list *l)
{
    for (int i = 0; l->owned && i < l->n; i++)
        free(l->owned[i]);
    free(l->t);
    free(l->names);
    free(l->owned);
}

/* Appends a tensor; data is taken over when owned (freed with the list). */
static void add_tensor(tensor_list *l, const char *name, qt_st_dtype dtype, int ndim,
                       const int64_t *shape, const void *data, int owned)
{
    qt_st_tensor *t = &l->t[l->n];
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    memset(t, 0, sizeof *t);
    t->name = l->names[l->n];
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = data;
    l->owned[l->n] = owned ? (void *)data : NULL;
    l->n++;
}

static void param_shape(const qt_param *p, int64_t *shape)
{
    for (int i = 0; i < p->t.ndim; i++)
        shape[i] = p->t.shape[i];
}

int qt_export_codes(const qt_param *p, const float *values, int8_t *codes, qt_error *err)
{
    const qt_grid *g = &p->q->grid;
    for (size_t i = 0; i < p->t.numel; i++) {
        long c = lrintf(values[i] / g->unit);
        if (c < -127 || c > 127 || qt_grid_value(g, (int8_t)c) != values[i])
            return qt_errorf(err, "%s: weight %zu = %g is not on its %s grid (unit %g)", p->name,
                             i, (double)values[i], qt_grid_kind_name(g->kind), (double)g->unit);
        codes[i] = (int8_t)c;
    }
    return QT_OK;
}

/* The codes of a quantized parameter, packed, and its scale. */
static int add_packed(tensor_list *l, const qt_param *p, const float *values, qt_pack_kind k,
                      qt_error *err)
{
    size_t n = p->t.numel, bytes = qt_pack_bytes(k, n);
    int8_t *codes = malloc(n);
    uint8_t *packed = malloc(bytes);
    float *scale = malloc(sizeof *scale);
    int rc = codes && packed && scale ? QT_OK : qt_errorf(err, "out of memory packing %s", p->name);
    if (rc == QT_OK)
        rc = qt_export_codes(p, values, codes, err);
    if (rc == QT_OK)
        rc = qt_pack_codes(k, codes, n, packed, err);
    free(codes);
    if (rc != QT_OK) {
        free(packed);
        free(scale);
        return QT_ERR;
    }
    int64_t shape[QT_ST_MAX_DIMS], flat = (int64_t)bytes;
    param_shape(p, shape);
    if (k == QT_PACK_INT8)
        add_tensor(l, p->name, QT_ST_I8, p->t.ndim, shape, packed, 1);
    else
        add_tensor(l, p->name, QT_ST_U8, 1, &flat, packed, 1);
    char name[160];
    snprintf(name, sizeof name, "%s.scale", p->name);
    *scale = p->q->grid.unit;
    add_tensor(l, name, QT_ST_F32, 0, NULL, scale, 1);
    return QT_OK;
}

/* What a reader needs to decode quantized tensor p: {"grid", "bits", "levels", "packing",
 * "shape", and "scale" (the scale tensor) or "scale_value" (float exports)}. */
static void describe(qt_json_writer *w, const qt_param *p, const qt_export_opts *o)
{
    const qt_grid *g = &p->q->grid;
    char name[160];
    qt_json_key(w, p->name);
    qt_json_begin_object(w);
    qt_json_field_string(w, "grid", qt_grid_kind_name(g->kind));
    qt_json_field_int(w, "bits", g->bits);
    qt_json_field_int(w, "levels", g->levels);
    qt_json_field_int(w, "code_min", g->code0);
    qt_json_field_int(w, "code_max", g->code0 + (g->levels - 1) * g->code_step);
    qt_json_field_string(w, "packing", o->packed ? qt_pack_name(qt_pack_for_grid(g)) : "float32");
    qt_json_key(w, "shape");
    qt_json_begin_array(w);
    for (int i = 0; i < p->t.ndim; i++)
        qt_json_int(w, p->t.shape[i]);
    qt_json_end_array(w);
    if (o->packed) {
        snprintf(name, sizeof name, "%s.scale", p->name);
        qt_json_field_string(w, "scale", name);
    } else {
        qt_json_key(w, "scale_value");
        qt_json_float(w, g->unit);
    }
    if (o->float_buffer && qt_quant_float_buffer(p)) {
        snprintf(name, sizeof name, "%s.float_buffer", p->name);
        qt_json_field_string(w, "float_buffer", name);
    }
    qt_json_end_object(w);
}

static int add_param(tensor_list *l, const qt_param *p, const qt_export_opts *o, qt_error *err)
{
    int64_t shape[QT_ST_MAX_DIMS];
    float *values = malloc(p->t.numel * sizeof *values);
    if (!values)
        return qt_errorf(err, "out of memory exporting %s", p->name);
    qt_quant_export_values(p, values);
    param_shape(p, shape);
    if (p->q && o->packed) {
        int rc = add_packed(l, p, values, qt_pack_for_grid(&p->q->grid), err);
        free(values);
        if (rc != QT_OK)
            return QT_ERR;
    } else {
        add_tensor(l, p->name, QT_ST_F32, p->t.ndim, shape, values, 1);
    }
    float *buffer = qt_quant_float_buffer(p);
    if (o->float_buffer && buffer) {
        char name[160];
        snprintf(name, sizeof name, "%s.float_buffer", p->name);
        add_tensor(l, name, QT_ST_F32, p->t.ndim, shape, buffer, 0);
    }
    return QT_OK;
}

static int has_float_buffer(const qt_net *net)
{
    for (int i = 0; i < net->nparams; i++)
        if (qt_quant_float_buffer(net->params[i]))
            return 1;
    return 0;
}

static int collect(const qt_net *net, const qt_export_opts *o, tensor_list *l,
                   qt_json_writer *w, qt_error *err)
{
    qt_json_begin_object(w);
    for (int i = 0; i < net->nparams; i++) {
        if (add_param(l, net->params[i], o, err) != QT_OK)
            return QT_ERR;
        if (net->params[i]->q)
            describe(w, net->params[i], o);
    }
    qt_json_end_object(w);
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *ly = &net->layers[i];
        if (ly->kind != QT_LAYER_BATCHNORM)
            continue;
        char name[160];
        int64_t c = ly->out_c;
        snprintf(name, sizeof name, "%s.running_mean", ly->name);
        add_tensor(l, name, QT_ST_F32, 1, &c, ly->bn.running_mean, 0);
        snprintf(name, sizeof name, "%s.running_var", ly->name);
        add_tensor(l, name, QT_ST_F32, 1, &c, ly->bn.running_var, 0);
    }
    return QT_OK;
}

/* "a,b,c": the quantized parameters' names. */
static char *quantized_names(const qt_net *net)
{
    size_t n = 1;
    for (int i = 0; i < net->nparams; i++)
        n += strlen(net->params[i]->name) + 1;
    char *s = calloc(n, 1);
    for (int i = 0; s && i < net->nparams; i++)
        if (net->params[i]->q) {
            if (s[0])
                strcat(s, ",");
            strcat(s, net->params[i]->name);
        }
    return s;
}

int qt_export_safetensors(const qt_net *net, const qt_export_meta *meta, const qt_export_opts *o,
                          const char *path, qt_error *err)
{
    if (o->float_buffer && !has_float_buffer(net))
        return qt_errorf(err, "%s: --float-buffer: the net has no float buffer (only "
                         "quant.mode = bc keeps one)", path);
    tensor_list l = {0};
    qt_json_writer *w = qt_json_writer_new(0);
    char *tensors = NULL, *quantized = quantized_names(net);
    int rc = list_init(&l, 3 * net->nparams + 2 * net->nlayers) == QT_OK && quantized
                 ? QT_OK
                 : qt_errorf(err, "out of memory exporting %s", path);
    if (rc == QT_OK)
        rc = collect(net, o, &l, w, err);
    if (rc == QT_OK)
        rc = (tensors = qt_json_writer_finish(w, NULL, err)) ? QT_OK : QT_ERR;
    else
        qt_json_writer_free(w);
    if (rc == QT_OK) {
        enum { EXTRA = 2 };
        int n = (meta ? meta->n : 0) + EXTRA;
        const char *pairs[2 * (QT_EXPORT_META_MAX + EXTRA)];
        if (meta)
            memcpy(pairs, meta->pairs, 2 * (size_t)meta->n * sizeof *pairs);
        const char *extra[2 * EXTRA] = {"quantized", quantized, "quantized_tensors", tensors};
        memcpy(pairs + 2 * (n - EXTRA), extra, sizeof extra);
        rc = qt_safetensors_write(path, l.t, l.n, pairs, n, err);
    }
    free(tensors);
    free(quantized);
    list_free(&l);
    return rc;
}

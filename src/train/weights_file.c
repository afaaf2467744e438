/* Reading an exported safetensors file (float or packed) back into a net, built from the
 * file's metadata alone (export_meta.h, docs/export-format.md). */
#include "qtrain/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/code_pack.h"
#include "qtrain/json.h"
#include "qtrain/quant.h"
#include "qtrain/quant_rule.h"
#include "qtrain/safetensors.h"

typedef struct {
    const char *path;
    qt_safetensors *st;
    qt_json *quantized;       /* the "quantized_tensors" object */
    int used;                 /* tensors consumed, to find ones nobody reads */
} weights_file;

static const char *file_meta(const void *st, const char *key)
{
    return qt_safetensors_metadata(st, key);
}

/* Tensor name with the given dtype and shape (ndim < 0: any shape, element count n). */
static const qt_st_tensor *tensor(weights_file *f, const char *name, qt_st_dtype dtype, int ndim,
                                  const int *shape, size_t nbytes, qt_error *err)
{
    const qt_st_tensor *t = qt_safetensors_find(f->st, name);
    if (!t) {
        qt_errorf(err, "%s: no tensor \"%s\"", f->path, name);
        return NULL;
    }
    int ok = t->dtype == dtype && t->nbytes == nbytes && (ndim < 0 || t->ndim == ndim);
    for (int i = 0; ok && ndim > 0 && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        qt_errorf(err, "%s: tensor \"%s\" is %s of %zu bytes, expected %s of %zu bytes%s", f->path,
                  name, qt_st_dtype_name(t->dtype), t->nbytes, qt_st_dtype_name(dtype), nbytes,
                  ndim >= 0 ? " in the net's shape" : "");
        return NULL;
    }
    f->used++;
    return t;
}

static int read_f32(weights_file *f, const char *name, int ndim, const int *shape, size_t n,
                    float *out, qt_error *err)
{
    const qt_st_tensor *t = tensor(f, name, QT_ST_F32, ndim, shape, n * sizeof(float), err);
    if (!t)
        return QT_ERR;
    memcpy(out, t->data, n * sizeof(float));
    return QT_OK;
}

static const char *entry_string(const qt_json *e, const char *key)
{
    const qt_json *v = qt_json_get(e, key);
    return v && v->type == QT_JSON_STRING ? v->string : NULL;
}

/* The quantized tensor's codes and grid unit, packed or as float values. */
static int read_codes(weights_file *f, const qt_param *p, const qt_json *e, int8_t *codes,
                      float *unit, float *values, qt_error *err)
{
    const char *packing = entry_string(e, "packing");
    const qt_json *scale_value = qt_json_get(e, "scale_value");
    size_t n = p->t.numel;
    if (packing && strcmp(packing, "float32") == 0) {
        if (!scale_value || scale_value->type != QT_JSON_NUMBER)
            return qt_errorf(err, "%s: quantized_tensors.%s has no scale_value", f->path, p->name);
        *unit = (float)scale_value->number;
        if (read_f32(f, p->name, p->t.ndim, p->t.shape, n, values, err) != QT_OK)
            return QT_ERR;
        return qt_export_codes(p, values, codes, err) == QT_OK ? QT_OK
                                                               : qt_error_prefix(err, "%s", f->path);
    }
    int k = packing ? qt_pack_from_name(packing) : -1;
    const char *scale = entry_string(e, "scale");
    if (k < 0 || !scale)
        return qt_errorf(err, "%s: quantized_tensors.%s: unknown packing \"%s\" or no scale",
                         f->path, p->name, packing ? packing : "");
    const qt_st_tensor *t =
        k == QT_PACK_INT8 ? tensor(f, p->name, QT_ST_I8, p->t.ndim, p->t.shape, n, err)
                          : tensor(f, p->name, QT_ST_U8, -1, NULL, qt_pack_bytes(k, n), err);
    if (!t || read_f32(f, scale, 0, NULL, 1, unit, err) != QT_OK)
        return QT_ERR;
    qt_unpack_codes(k, t->data, n, codes);
    return QT_OK;
}

/* Sets quantized parameter p to codes (and BC's float buffer: the given one, or the decoded
 * weights when the file has none). */
static int set_quantized(weights_file *f, qt_param *p, const qt_json *e, qt_error *err)
{
    qt_qstate *q = p->q;
    size_t n = p->t.numel;
    float *values = malloc(n * sizeof *values), unit = 0.0f;
    int8_t *codes = malloc(n);
    int rc = values && codes ? QT_OK : qt_errorf(err, "%s: out of memory", f->path);
    const qt_json *grid = qt_json_get(e, "grid"), *levels = qt_json_get(e, "levels");
    if (rc == QT_OK && (!grid || grid->type != QT_JSON_STRING || !levels ||
                        strcmp(grid->string, qt_grid_kind_name(q->grid.kind)) != 0 ||
                        levels->type != QT_JSON_NUMBER || (int)levels->number != q->grid.levels))
        rc = qt_errorf(err, "%s: quantized_tensors.%s: grid differs from the recorded "
                       "quantization (%s, %d levels)", f->path, p->name,
                       qt_grid_kind_name(q->grid.kind), q->grid.levels);
    if (rc == QT_OK)
        rc = read_codes(f, p, e, codes, &q->grid.unit, values, err);
    unit = q->grid.unit;
    for (size_t i = 0; rc == QT_OK && i < n; i++)
        if (codes[i] < q->grid.code0 || codes[i] > q->grid.code0 + (q->grid.levels - 1) * q->grid.code_step ||
            (codes[i] - q->grid.code0) % q->grid.code_step)
            rc = qt_errorf(err, "%s: %s: code %d at %zu is not a level of its grid", f->path,
                           p->name, codes[i], i);
    if (rc == QT_OK && !(unit > 0.0f))
        rc = qt_errorf(err, "%s: %s: scale %g is not positive", f->path, p->name, (double)unit);
    const char *fb = entry_string(e, "float_buffer");
    float *buffer = qt_quant_float_buffer(p);
    if (rc == QT_OK && buffer) {
        if (fb)
            rc = read_f32(f, fb, p->t.ndim, p->t.shape, n, buffer, err);
        else
            qt_grid_decode(&q->grid, codes, buffer, n);
        for (size_t i = 0; rc == QT_OK && i < n; i++)
            if (qt_round_det(&q->grid, buffer[i]) != codes[i])
                rc = qt_errorf(err, "%s: %s: the float buffer rounds to another code than the "
                               "stored one at %zu", f->path, p->name, i);
    } else if (rc == QT_OK && fb) {
        rc = qt_errorf(err, "%s: %s has a float buffer but the recorded quant.mode keeps none",
                       f->path, p->name);
    }
    if (rc == QT_OK)
        memcpy(q->codes, codes, n);
    free(values);
    free(codes);
    return rc;
}

static int load_param(weights_file *f, qt_param *p, qt_error *err)
{
    const qt_json *e = qt_json_get(f->quantized, p->name);
    if (!p->q && e)
        return qt_errorf(err, "%s: %s is quantized in the file but not in the net its metadata "
                         "describes", f->path, p->name);
    if (!p->q)
        return read_f32(f, p->name, p->t.ndim, p->t.shape, p->t.numel, p->t.data, err);
    if (!e || e->type != QT_JSON_OBJECT)
        return qt_errorf(err, "%s: %s is quantized in the net its metadata describes but has no "
                         "quantized_tensors entry", f->path, p->name);
    return set_quantized(f, p, e, err);
}

static int load_all(weights_file *f, qt_net *net, qt_error *err)
{
    for (int i = 0; i < net->nparams; i++)
        if (load_param(f, net->params[i], err) != QT_OK)
            return QT_ERR;
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        char name[160];
        if (l->kind != QT_LAYER_BATCHNORM)
            continue;
        snprintf(name, sizeof name, "%s.running_mean", l->name);
        if (read_f32(f, name, 1, &l->out_c, (size_t)l->out_c, l->bn.running_mean, err) != QT_OK)
            return QT_ERR;
        snprintf(name, sizeof name, "%s.running_var", l->name);
        if (read_f32(f, name, 1, &l->out_c, (size_t)l->out_c, l->bn.running_var, err) != QT_OK)
            return QT_ERR;
    }
    if (f->used != qt_safetensors_count(f->st))
        return qt_errorf(err, "%s: %d tensors the net its metadata describes has no place for",
                         f->path, qt_safetensors_count(f->st) - f->used);
    return QT_OK;
}

int qt_open_weights_net(const char *path, const char *const *overrides, int n_overrides,
                        qt_config *c, qt_net **net, qt_error *err)
{
    weights_file f = {path, NULL, NULL, 0};
    *net = NULL;
    if (qt_safetensors_open(&f.st, path, err) != QT_OK)
        return QT_ERR;
    const char *q = qt_safetensors_metadata(f.st, "quantized_tensors");
    int rc = qt_export_meta_config(file_meta, f.st, path, overrides, n_overrides, c, err);
    if (rc == QT_OK && !q)
        rc = qt_errorf(err, "%s: no \"quantized_tensors\" in the metadata", path);
    if (rc == QT_OK && (qt_json_parse(q, strlen(q), &f.quantized, err) != QT_OK ||
                        f.quantized->type != QT_JSON_OBJECT))
        rc = qt_errorf(err, "%s: metadata \"quantized_tensors\" is not a JSON object", path);
    if (rc == QT_OK)
        rc = qt_export_meta_build_net(file_meta, f.st, path, c, net, err);
    if (rc == QT_OK)
        rc = load_all(&f, *net, err);
    if (rc != QT_OK) {
        qt_net_free(*net);
        *net = NULL;
    }
    qt_json_free(f.quantized);
    qt_safetensors_close(f.st);
    return rc;
}

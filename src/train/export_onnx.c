/* A net as an ONNX model (opset 13), layer by layer (docs/export-format.md):
 *   conv            Conv (group = the conv's groups: CP-factorised depthwise parts)
 *   linear          Gemm (transB = 1)
 *   batchnorm       BatchNormalization (inference form), or folded into the conv/linear it
 *                   follows (--onnx-fold-bn)
 *   relu, hardtanh  Relu, Clip(-1, 1)
 *   max/avg pool    MaxPool, AveragePool (count_include_pad = 1, as qtrain divides by k*k)
 *   global avgpool  GlobalAveragePool + Flatten (qtrain's output is (N, C))
 *   flatten, add    Flatten (axis 1), Add
 *   dropout         nothing (inference is the identity)
 *   shortcut_pad    Slice (every stride-th row and column from 0, like x[:, :, ::s, ::s])
 *                   then Pad with (C_out - C_in)/2 zero channels in front and the rest behind
 * A quantized weight is its int8 grid codes, a float scale and a zero point of 0 through
 * DequantizeLinear (codes * scale: the values qtrain computes with), unless onnx_float. */
#include "qtrain/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/onnx_model.h"
#include "qtrain/quant.h"

enum { OPSET = 13, NAME = 96 };

typedef struct {
    qt_onnx *m;
    const qt_net *net;
    const qt_export_opts *o;
    char (*out)[NAME];        /* per layer: the value holding its output */
    int *readers;             /* per layer: how many layers read its output */
    int clip_bounds;          /* the Clip bounds initializers exist */
    int slice_axes;           /* the Slice axes and ends initializers exist */
} builder;

static const char *value_of(const builder *b, int layer)
{
    return layer == QT_NET_INPUT ? "input" : b->out[layer];
}

static const char *kind_name(qt_layer_kind k)
{
    static const char *const names[] = {
        [QT_LAYER_CONV] = "conv", [QT_LAYER_LINEAR] = "linear", [QT_LAYER_BATCHNORM] = "bn",
        [QT_LAYER_RELU] = "relu", [QT_LAYER_HARDTANH] = "hardtanh", [QT_LAYER_MAXPOOL] = "maxpool",
        [QT_LAYER_AVGPOOL] = "avgpool", [QT_LAYER_GLOBAL_AVGPOOL] = "global_avgpool",
        [QT_LAYER_FLATTEN] = "flatten", [QT_LAYER_DROPOUT] = "dropout", [QT_LAYER_ADD] = "add",
        [QT_LAYER_SHORTCUT_PAD] = "shortcut_pad"};
    return names[k];
}

static void shape64(const qt_tensor *t, int64_t *dims)
{
    for (int i = 0; i < t->ndim; i++)
        dims[i] = t->shape[i];
}

/* Per output channel of the batchnorm that follows a conv/linear: y = x * mul + add. */
typedef struct {
    float *mul, *add;
} bn_fold;

static int fold_of(const qt_layer *bn, bn_fold *f)
{
    int c = bn->out_c;
    f->mul = malloc((size_t)c * sizeof *f->mul);
    f->add = malloc((size_t)c * sizeof *f->add);
    if (!f->mul || !f->add)
        return QT_ERR;
    for (int i = 0; i < c; i++) {
        f->mul[i] = bn->weight->t.data[i] / sqrtf(bn->bn.running_var[i] + bn->bn.eps);
        f->add[i] = bn->bias->t.data[i] - bn->bn.running_mean[i] * f->mul[i];
    }
    return QT_OK;
}

/* The weight input of a conv/linear layer: a float initializer, or codes through
 * DequantizeLinear; fold (may have NULL members) scales each output channel. */
static int weight_input(builder *b, const qt_param *p, const bn_fold *fold, char *name,
                        qt_error *err)
{
    size_t n = p->t.numel, per = n / (size_t)p->t.shape[0];
    int64_t dims[4];
    shape64(&p->t, dims);
    float *values = malloc(n * sizeof *values);
    int8_t *codes = malloc(n);
    if (!values || !codes) {
        free(values);
        free(codes);
        return qt_errorf(err, "out of memory exporting %s", p->name);
    }
    qt_quant_export_values(p, values);
    snprintf(name, NAME, "%s", p->name);
    int rc = QT_OK;
    if (p->q && !b->o->onnx_float && (rc = qt_export_codes(p, values, codes, err)) == QT_OK) {
        char cn[NAME], sn[NAME], zn[NAME];
        int co = p->t.shape[0];
        float *scale = malloc((size_t)co * sizeof *scale);
        int8_t *zero = calloc((size_t)co, 1);
        if (!scale || !zero)
            rc = qt_errorf(err, "out of memory exporting %s", p->name);
        /* A negative batchnorm factor flips the channel's codes (every grid is symmetric),
         * so that scales stay positive as QuantizeLinear's are. */
        for (int i = 0; rc == QT_OK && i < co; i++) {
            float mul = fold->mul ? fold->mul[i] : 1.0f;
            scale[i] = p->q->grid.unit * fabsf(mul);
            for (size_t j = 0; mul < 0.0f && j < per; j++)
                codes[(size_t)i * per + j] = (int8_t)-codes[(size_t)i * per + j];
        }
        snprintf(cn, sizeof cn, "%s.codes", p->name);
        snprintf(sn, sizeof sn, "%s.scale", p->name);
        snprintf(zn, sizeof zn, "%s.zero_point", p->name);
        int64_t nco = co;
        /* Per-tensor scale unless folding made it per output channel (axis 0). */
        int per_channel = fold->mul != NULL;
        qt_onnx_initializer(b->m, cn, QT_ONNX_INT8, p->t.ndim, dims, codes);
        qt_onnx_initializer(b->m, sn, QT_ONNX_FLOAT, per_channel, &nco, scale);
        qt_onnx_initializer(b->m, zn, QT_ONNX_INT8, per_channel, &nco, zero);
        qt_onnx_node(b->m, "DequantizeLinear", name, 3, (const char *[]){cn, sn, zn}, name);
        if (per_channel)
            qt_onnx_attr_int(b->m, "axis", 0);
        free(scale);
        free(zero);
    } else if (rc == QT_OK) {
        for (size_t i = 0; fold->mul && i < n; i++)
            values[i] *= fold->mul[i / per];
        qt_onnx_initializer(b->m, name, QT_ONNX_FLOAT, p->t.ndim, dims, values);
    }
    free(values);
    free(codes);
    return rc;
}

/* The bias input ("" for none): the layer's bias, with a folded batchnorm's shift. */
static int bias_input(builder *b, const qt_layer *l, const bn_fold *fold, char *name,
                      qt_error *err)
{
    int c = l->out_c;
    name[0] = '\0';
    if (!l->bias && !fold->add)
        return QT_OK;
    float *bias = calloc((size_t)c, sizeof *bias);
    if (!bias)
        return qt_errorf(err, "out of memory exporting %s", l->name);
    for (int i = 0; i < c; i++) {
        float v = l->bias ? l->bias->t.data[i] : 0.0f;
        bias[i] = fold->add ? v * fold->mul[i] + fold->add[i] : v;
    }
    int64_t dc = c;
    snprintf(name, NAME, "%s.bias%s", l->name, fold->add ? "_folded" : "");
    qt_onnx_initializer(b->m, name, QT_ONNX_FLOAT, 1, &dc, bias);
    free(bias);
    return QT_OK;
}

/* Whether layer i (conv/linear) has its batchnorm folded into it. */
static int folds_bn(const builder *b, int i)
{
    const qt_layer *l = b->net->layers;
    return b->o->onnx_fold_bn && i + 1 < b->net->nlayers && l[i + 1].kind == QT_LAYER_BATCHNORM &&
           l[i + 1].in[0] == i && b->readers[i] == 1;
}

static int weight_layer(builder *b, int i, qt_error *err)
{
    const qt_layer *l = &b->net->layers[i];
    bn_fold fold = {NULL, NULL};
    char w[NAME], bias[NAME];
    int rc = folds_bn(b, i) && fold_of(&l[1], &fold) != QT_OK
                 ? qt_errorf(err, "out of memory folding %s", l[1].name)
                 : QT_OK;
    if (rc == QT_OK)
        rc = weight_input(b, l->weight, &fold, w, err);
    if (rc == QT_OK)
        rc = bias_input(b, l, &fold, bias, err);
    if (rc == QT_OK) {
        const char *in[3] = {value_of(b, l->in[0]), w, bias};
        int nin = bias[0] ? 3 : 2;
        if (l->kind == QT_LAYER_CONV) {
            const qt_tensor *t = &l->weight->t;
            int64_t k[2] = {t->shape[2], t->shape[3]}, s[2] = {l->conv.stride, l->conv.stride};
            int64_t pad[4] = {l->conv.pad, l->conv.pad, l->conv.pad, l->conv.pad};
            qt_onnx_node(b->m, "Conv", b->out[i], nin, in, b->out[i]);
            qt_onnx_attr_ints(b->m, "kernel_shape", 2, k);
            qt_onnx_attr_ints(b->m, "strides", 2, s);
            qt_onnx_attr_ints(b->m, "pads", 4, pad);
            qt_onnx_attr_int(b->m, "group", l->conv.groups);
        } else {
            qt_onnx_node(b->m, "Gemm", b->out[i], nin, in, b->out[i]);
            qt_onnx_attr_int(b->m, "transB", 1);
        }
    }
    free(fold.mul);
    free(fold.add);
    return rc;
}

static void batchnorm(builder *b, int i)
{
    const qt_layer *l = &b->net->layers[i];
    char mean[NAME], var[NAME];
    int64_t c = l->out_c;
    snprintf(mean, sizeof mean, "%s.running_mean", l->name);
    snprintf(var, sizeof var, "%s.running_var", l->name);
    qt_onnx_initializer(b->m, l->weight->name, QT_ONNX_FLOAT, 1, &c, l->weight->t.data);
    qt_onnx_initializer(b->m, l->bias->name, QT_ONNX_FLOAT, 1, &c, l->bias->t.data);
    qt_onnx_initializer(b->m, mean, QT_ONNX_FLOAT, 1, &c, l->bn.running_mean);
    qt_onnx_initializer(b->m, var, QT_ONNX_FLOAT, 1, &c, l->bn.running_var);
    const char *in[5] = {value_of(b, l->in[0]), l->weight->name, l->bias->name, mean, var};
    qt_onnx_node(b->m, "BatchNormalization", b->out[i], 5, in, b->out[i]);
    qt_onnx_attr_float(b->m, "epsilon", l->bn.eps);
}

static void pool(builder *b, int i, const char *op)
{
    const qt_layer *l = &b->net->layers[i];
    int64_t k[2] = {l->k, l->k}, s[2] = {l->stride, l->stride};
    int64_t pad[4] = {l->pad, l->pad, l->pad, l->pad};
    qt_onnx_node(b->m, op, b->out[i], 1, (const char *[]){value_of(b, l->in[0])}, b->out[i]);
    qt_onnx_attr_ints(b->m, "kernel_shape", 2, k);
    qt_onnx_attr_ints(b->m, "strides", 2, s);
    qt_onnx_attr_ints(b->m, "pads", 4, pad);
    if (l->kind == QT_LAYER_AVGPOOL)
        qt_onnx_attr_int(b->m, "count_include_pad", 1);
}

static void unary(builder *b, int i, const char *op, const char *value)
{
    const qt_layer *l = &b->net->layers[i];
    qt_onnx_node(b->m, op, value, 1, (const char *[]){value_of(b, l->in[0])}, value);
}

static void hardtanh(builder *b, int i)
{
    const qt_layer *l = &b->net->layers[i];
    if (!b->clip_bounds) {
        float lo = -1.0f, hi = 1.0f;
        qt_onnx_initializer(b->m, "hardtanh.min", QT_ONNX_FLOAT, 0, NULL, &lo);
        qt_onnx_initializer(b->m, "hardtanh.max", QT_ONNX_FLOAT, 0, NULL, &hi);
        b->clip_bounds = 1;
    }
    const char *in[3] = {value_of(b, l->in[0]), "hardtanh.min", "hardtanh.max"};
    qt_onnx_node(b->m, "Clip", b->out[i], 3, in, b->out[i]);
}

/* qtrain's option-A shortcut: y[:, lo + c, y, x] = in[:, c, y*s, x*s], zeros elsewhere, with
 * lo = (C_out - C_in) / 2 (shortcut_pad.c). */
static void shortcut_pad(builder *b, int i)
{
    const qt_layer *l = &b->net->layers[i];
    const qt_layer *src = l->in[0] == QT_NET_INPUT ? NULL : &b->net->layers[l->in[0]];
    int64_t in_c = src ? src->out_c : b->net->in_c, lo = (l->channels - in_c) / 2;
    char sliced[NAME], steps[NAME], pads[NAME];
    const char *x = value_of(b, l->in[0]);
    if (l->stride > 1) {
        if (!b->slice_axes) {
            int64_t zero[2] = {0, 0}, end[2] = {INT64_MAX, INT64_MAX}, axes[2] = {2, 3}, two = 2;
            qt_onnx_initializer(b->m, "shortcut.starts", QT_ONNX_INT64, 1, &two, zero);
            qt_onnx_initializer(b->m, "shortcut.ends", QT_ONNX_INT64, 1, &two, end);
            qt_onnx_initializer(b->m, "shortcut.axes", QT_ONNX_INT64, 1, &two, axes);
            b->slice_axes = 1;
        }
        int64_t st[2] = {l->stride, l->stride}, two = 2;
        snprintf(steps, sizeof steps, "%s.steps", b->out[i]);
        snprintf(sliced, sizeof sliced, "%s.subsampled", b->out[i]);
        qt_onnx_initializer(b->m, steps, QT_ONNX_INT64, 1, &two, st);
        const char *in[5] = {x, "shortcut.starts", "shortcut.ends", "shortcut.axes", steps};
        qt_onnx_node(b->m, "Slice", sliced, 5, in, sliced);
        x = sliced;
    }
    int64_t p[8] = {0, lo, 0, 0, 0, l->channels - in_c - lo, 0, 0}, eight = 8;
    snprintf(pads, sizeof pads, "%s.pads", b->out[i]);
    qt_onnx_initializer(b->m, pads, QT_ONNX_INT64, 1, &eight, p);
    qt_onnx_node(b->m, "Pad", b->out[i], 2, (const char *[]){x, pads}, b->out[i]);
}

/* A layer that adds no node passes on the value it reads. */
static void copy_name(char *dst, const char *src)
{
    memcpy(dst, src, strlen(src) + 1);
}

static int layer(builder *b, int i, qt_error *err)
{
    const qt_layer *l = &b->net->layers[i];
    char gap[NAME];
    switch (l->kind) {
    case QT_LAYER_CONV:
    case QT_LAYER_LINEAR: return weight_layer(b, i, err);
    case QT_LAYER_BATCHNORM:
        if (l->in[0] >= 0 && folds_bn(b, l->in[0]))
            copy_name(b->out[i], b->out[l->in[0]]);
        else
            batchnorm(b, i);
        break;
    case QT_LAYER_RELU: unary(b, i, "Relu", b->out[i]); break;
    case QT_LAYER_HARDTANH: hardtanh(b, i); break;
    case QT_LAYER_MAXPOOL: pool(b, i, "MaxPool"); break;
    case QT_LAYER_AVGPOOL: pool(b, i, "AveragePool"); break;
    case QT_LAYER_GLOBAL_AVGPOOL:
        snprintf(gap, sizeof gap, "%s.pooled", b->out[i]);
        unary(b, i, "GlobalAveragePool", gap);
        qt_onnx_node(b->m, "Flatten", b->out[i], 1, (const char *[]){gap}, b->out[i]);
        qt_onnx_attr_int(b->m, "axis", 1);
        break;
    case QT_LAYER_FLATTEN:
        unary(b, i, "Flatten", b->out[i]);
        qt_onnx_attr_int(b->m, "axis", 1);
        break;
    case QT_LAYER_DROPOUT: copy_name(b->out[i], value_of(b, l->in[0])); break;
    case QT_LAYER_ADD: {
        const char *in[2] = {value_of(b, l->in[0]), value_of(b, l->in[1])};
        qt_onnx_node(b->m, "Add", b->out[i], 2, in, b->out[i]);
        break;
    }
    case QT_LAYER_SHORTCUT_PAD: shortcut_pad(b, i); break;
    }
    return QT_OK;
}

/* Output names: the layer's name, or "<kind><index>"; the last layer's is "logits". */
static void name_outputs(builder *b)
{
    const qt_net *net = b->net;
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        if (i == net->nlayers - 1)
            snprintf(b->out[i], NAME, "logits");
        else if (l->name[0])
            snprintf(b->out[i], NAME, "%s", l->name);
        else
            snprintf(b->out[i], NAME, "%s%d", kind_name(l->kind), i);
        for (int k = 0; k < (l->kind == QT_LAYER_ADD ? 2 : 1); k++)
            if (l->in[k] >= 0)
                b->readers[l->in[k]]++;
    }
}

static int build(builder *b, const qt_export_meta *meta, qt_error *err)
{
    const qt_net *net = b->net;
    int64_t in[4] = {-1, net->in_c, net->in_h, net->in_w}, out[2] = {-1, net->num_classes};
    name_outputs(b);
    qt_onnx_input(b->m, "input", 4, in);
    for (int i = 0; i < net->nlayers; i++)
        if (layer(b, i, err) != QT_OK)
            return QT_ERR;
    const qt_layer *last = &net->layers[net->nlayers - 1];
    if (strcmp(b->out[net->nlayers - 1], "logits") != 0) {   /* a trailing dropout or folded BN */
        const char *src = b->out[net->nlayers - 1];
        qt_onnx_node(b->m, "Identity", "logits", 1, &src, "logits");
    }
    if (last->out_ndim != 2)
        return qt_errorf(err, "%s: the last layer's output is not (N, classes)", net->name);
    qt_onnx_output(b->m, "logits", 2, out);
    for (int i = 0; meta && i < meta->n; i++)
        qt_onnx_metadata(b->m, meta->pairs[2 * i], meta->pairs[2 * i + 1]);
    return QT_OK;
}

int qt_export_onnx(const qt_net *net, const qt_export_meta *meta, const qt_export_opts *o,
                   const char *path, qt_error *err)
{
    if (net->nlayers == 0)
        return qt_errorf(err, "%s: the net has no layers", path);
    builder b = {qt_onnx_new(net->name, OPSET), net, o,
                 calloc((size_t)net->nlayers, sizeof *b.out),
                 calloc((size_t)net->nlayers, sizeof *b.readers), 0, 0};
    int rc = b.m && b.out && b.readers ? build(&b, meta, err)
                                       : qt_errorf(err, "%s: out of memory", path);
    if (rc == QT_OK)
        rc = qt_onnx_save(b.m, path, err);
    else
        qt_error_prefix(err, "%s", path);
    qt_onnx_free(b.m);
    free(b.out);
    free(b.readers);
    return rc;
}

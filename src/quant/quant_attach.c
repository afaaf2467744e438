/* Attaching quantizers to a net's weights, and what the quantized storage costs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/name_table.h"
#include "qtrain/net.h"
#include "quant_rule_steps.h"

/* BinaryConnect's Glorot coefficient (binary_connect.py, DenseLayer and Conv2DLayer
 * __init__): its H = "Glorot" option, and one over its W_LR_scale = "Glorot". */
static float glorot_coefficient(const qt_param *p)
{
    return sqrtf(1.5f / (float)(p->fan_in + p->fan_out));
}

static float unit_scale(const qt_param *p)
{
    (void)p;
    return 1.0f;
}

static float mean_abs(const qt_param *p)
{
    double s = 0.0;
    for (size_t i = 0; i < p->t.numel; i++)
        s += fabs(p->t.data[i]);
    return (float)(s / (double)p->t.numel);
}

static float he_std(const qt_param *p)
{
    return sqrtf(2.0f / (float)p->fan_in);
}

/* The scale rules: a layer's H (or Δ) is quant.scale_value times the rule's value. */
typedef struct scale_row {
    const char *name;
    float (*value)(const qt_param *p);
} scale_row;

static const scale_row scale_rows[] = {
    [QT_SCALE_CONST] = {"const", unit_scale},
    [QT_SCALE_MEAN_ABS] = {"mean_abs", mean_abs},
    [QT_SCALE_STD] = {"std", he_std},
    [QT_SCALE_GLOROT] = {"glorot", glorot_coefficient},
};

QT_NAME_TABLE_LOOKUPS(qt_scale_rule, QT_SCALE_RULES, scale_rows, qt_scale_rule_name,
                      qt_scale_rule_find, qt_scale_rule_names)

/* times 1 is exact: const gives scale_value itself */
static float layer_scale(const qt_quant_config *cfg, const qt_param *p)
{
    return cfg->scale_value * scale_rows[cfg->scale].value(p);
}

/* Indices (into net->layers) of the first weight layer and of the last linear layer. */
static void edge_layers(const qt_net *net, int *first, int *last_linear)
{
    *first = *last_linear = -1;
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer_kind k = net->layers[i].kind;
        if ((k == QT_LAYER_CONV || k == QT_LAYER_LINEAR) && *first < 0)
            *first = i;
        if (k == QT_LAYER_LINEAR)
            *last_linear = i;
    }
}

static int param_index(const qt_net *net, const qt_param *p)
{
    for (int i = 0; i < net->nparams; i++)
        if (net->params[i] == p)
            return i;
    return -1;
}

static int attach_one(qt_net *net, qt_param *p, const qt_quant_config *cfg, uint64_t seed,
                      qt_error *err)
{
    qt_qstate *q = calloc(1, sizeof *q);
    if (!q)
        return qt_errorf(err, "out of memory");
    p->q = q;
    p->q_free = qt_quant_detach;
    q->mode = cfg->mode;
    q->stochastic = cfg->stochastic;
    q->index = param_index(net, p);
    q->step_scale = cfg->glorot_step_scale ? 1.0f / glorot_coefficient(p) : 1.0f;
    if (qt_grid_make(&q->grid, cfg->grid, cfg->bits, layer_scale(cfg, p), err) != QT_OK)
        return qt_error_prefix(err, "%s", p->name);
    size_t n = p->t.numel;
    const qt_quant_rule *rule = qt_quant_rule_of(cfg->mode);
    q->snapshot_bits = rule->float_buffer || q->grid.kind == QT_GRID_BINARY ? 1 : 2;
    if (!(q->codes = malloc(n)) || !(q->snapshot = calloc(qt_quant_snapshot_bytes(q, n), 1)))
        return qt_errorf(err, "out of memory for %s", p->name);
    qt_rng r;
    qt_rng_derive(&r, seed, 0x51a7, (uint64_t)q->index);
    if (rule->float_buffer) {
        float h = qt_grid_max(&q->grid);
        for (size_t i = 0; i < n; i++)
            p->owned[i] = fminf(fmaxf(p->owned[i], -h), h);
        q->w_real = p->owned;  /* the float buffer is the parameter's own storage */
        rule->attach(q, q->w_real, n, &r);
    } else {
        rule->attach(q, p->owned, n, &r);
        free(p->owned);        /* the rule keeps nothing but the codes */
    }
    p->owned = NULL;
    p->t.data = NULL;
    return QT_OK;
}

/* Whether layer i is quantized, and the config it gets: the layer's own choice (a net file's
 * quantize, grid and bits) where it has one, else the rule's. */
static int layer_config(const qt_layer *l, int i, int first, int last, const qt_quant_config *cfg,
                        qt_quant_config *out)
{
    *out = *cfg;
    if (l->quant.own_grid) {
        out->grid = l->quant.grid;
        out->bits = l->quant.bits;
    }
    if (l->quant.quantize)
        return l->quant.quantize > 0;
    return !((i == first && !cfg->quantize_first) || (i == last && !cfg->quantize_last));
}

void qt_rule_attach_det(qt_qstate *q, const float *w, size_t n, qt_rng *r)
{
    (void)r;
    qt_round_det_vec(&q->grid, w, q->codes, n);
}

void qt_rule_attach_stoch(qt_qstate *q, const float *w, size_t n, qt_rng *r)
{
    qt_round_stoch_vec(&q->grid, w, q->codes, n, r);
}

int qt_quant_attach(qt_net *net, const qt_quant_config *cfg, uint64_t seed, qt_error *err)
{
    if ((unsigned)cfg->mode >= QT_QUANT_RULES)
        return qt_errorf(err, "unknown training rule %d", (int)cfg->mode);
    if ((unsigned)cfg->scale >= QT_SCALE_RULES)
        return qt_errorf(err, "unknown scale rule %d", (int)cfg->scale);
    if (!qt_quant_rule_of(cfg->mode)->quantizes)
        return QT_OK;
    int first, last;
    edge_layers(net, &first, &last);
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        qt_quant_config lc;
        if (l->kind != QT_LAYER_CONV && l->kind != QT_LAYER_LINEAR)
            continue;
        if (layer_config(l, i, first, last, cfg, &lc) &&
            attach_one(net, l->weight, &lc, seed, err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

void qt_quant_detach(qt_param *p)
{
    qt_qstate *q = p->q;
    if (!q)
        return;
    if (q->w_real && !p->owned)
        p->owned = q->w_real;  /* hand the float buffer back to the parameter, which frees it */
    free(q->codes);
    free(q->snapshot);
    free(q);
    p->q = NULL;
    p->t.data = p->owned;
    p->t.codes = NULL;
}

size_t qt_quant_param_bytes(const qt_net *net)
{
    size_t bytes = 0;
    for (int i = 0; i < net->nparams; i++) {
        const qt_param *p = net->params[i];
        size_t n = p->t.numel;
        if (!p->q)
            bytes += 4 * n;
        else  /* the codes, the float buffer if kept, and the grid's scale */
            bytes += (qt_quant_float_buffer(p) ? 5 : 1) * n + 4;
    }
    return bytes;
}

size_t qt_quant_state_bytes(const qt_net *net)
{
    size_t bytes = qt_quant_param_bytes(net);
    for (int i = 0; i < net->nparams; i++) {
        const qt_param *p = net->params[i];
        size_t n = p->t.numel;
        bytes += (p->opt_m ? 4 * n : 0) + (p->opt_v ? 4 * n : 0);
        if (p->q)
            bytes += qt_quant_snapshot_bytes(p->q, n);
    }
    return bytes;
}

size_t qt_quant_weight_count(const qt_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->nparams; i++)
        if (net->params[i]->q)
            n += net->params[i]->t.numel;
    return n;
}

void qt_quant_export_values(const qt_param *p, float *out)
{
    const qt_qstate *q = p->q;
    size_t n = p->t.numel;
    if (!q) {
        memcpy(out, p->t.data, n * sizeof(float));
        return;
    }
    const float *wr = qt_quant_float_buffer(p);
    for (size_t i = 0; i < n; i++) {
        int8_t code = wr ? qt_round_det(&q->grid, wr[i]) : q->codes[i];
        out[i] = qt_grid_value(&q->grid, code);
    }
}

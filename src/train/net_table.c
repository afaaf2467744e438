/* The net as a table (net_table.h): every cell is formatted first, then the columns are
 * sized to their widest cell. */
#include "qtrain/net_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/net_desc.h"
#include "qtrain/quant.h"
#include "qtrain/run_setup.h"

enum { COLS = 8, CELL = 64 };

typedef char row[COLS][CELL];

static const char *const heads[COLS] = {"#", "layer", "kind", "in", "output", "params",
                                        "weights", "FLOPs"};
static const int right_aligned[COLS] = {1, 0, 0, 0, 0, 1, 0, 1};

static const char *kind_name(qt_layer_kind k)
{
    switch (k) {
    case QT_LAYER_CONV: return "conv";
    case QT_LAYER_LINEAR: return "linear";
    case QT_LAYER_BATCHNORM: return "bn";
    case QT_LAYER_RELU: return "relu";
    case QT_LAYER_HARDTANH: return "hardtanh";
    case QT_LAYER_MAXPOOL: return "maxpool";
    case QT_LAYER_AVGPOOL: return "avgpool";
    case QT_LAYER_GLOBAL_AVGPOOL: return "global_avgpool";
    case QT_LAYER_FLATTEN: return "flatten";
    case QT_LAYER_DROPOUT: return "dropout";
    case QT_LAYER_ADD: return "add";
    case QT_LAYER_SHORTCUT_PAD: return "shortcut A";
    }
    return "?";
}

/* "conv 3x3 s2 g4", "maxpool 3 s2 p1", "dropout 0.5" */
static void kind_cell(const qt_layer *l, char *out)
{
    int n = snprintf(out, CELL, "%s", kind_name(l->kind));
    if (l->kind == QT_LAYER_CONV) {
        int k = l->weight->t.shape[2];
        n += snprintf(out + n, (size_t)(CELL - n), " %dx%d", k, k);
        if (l->conv.stride != 1)
            n += snprintf(out + n, (size_t)(CELL - n), " s%d", l->conv.stride);
        if (l->conv.groups != 1)
            snprintf(out + n, (size_t)(CELL - n), " g%d", l->conv.groups);
    } else if (l->kind == QT_LAYER_MAXPOOL || l->kind == QT_LAYER_AVGPOOL) {
        n += snprintf(out + n, (size_t)(CELL - n), " %d", l->k);
        if (l->stride != l->k)
            n += snprintf(out + n, (size_t)(CELL - n), " s%d", l->stride);
        if (l->pad)
            snprintf(out + n, (size_t)(CELL - n), " p%d", l->pad);
    } else if (l->kind == QT_LAYER_SHORTCUT_PAD && l->stride != 1) {
        snprintf(out + n, (size_t)(CELL - n), " s%d", l->stride);
    } else if (l->kind == QT_LAYER_DROPOUT) {
        snprintf(out + n, (size_t)(CELL - n), " %g", (double)l->p);
    }
}

/* The layers it reads: "x" for the net's input. */
static void input_cell(const qt_layer *l, char *out)
{
    char a[16], b[16];
    snprintf(a, sizeof a, l->in[0] == QT_NET_INPUT ? "x" : "%d", l->in[0]);
    snprintf(b, sizeof b, l->in[1] == QT_NET_INPUT ? "x" : "%d", l->in[1]);
    if (l->kind == QT_LAYER_ADD)
        snprintf(out, CELL, "%s+%s", a, b);
    else
        snprintf(out, CELL, "%s", a);
}

/* "-" without weights, "float", or the rule and grid: "bc binary", "sr 4-bit". */
static void weights_cell(const qt_layer *l, char *out)
{
    const qt_param *w = l->kind == QT_LAYER_CONV || l->kind == QT_LAYER_LINEAR ? l->weight : NULL;
    if (!w) {
        snprintf(out, CELL, "-");
    } else if (!w->q) {
        snprintf(out, CELL, "float");
    } else if (w->q->grid.kind == QT_GRID_UNIFORM) {
        snprintf(out, CELL, "%s %d-bit", qt_quant_mode_name(w->q->mode), w->q->grid.bits);
    } else {
        snprintf(out, CELL, "%s %s", qt_quant_mode_name(w->q->mode),
                 qt_grid_kind_name(w->q->grid.kind));
    }
}

static size_t layer_params(const qt_layer *l)
{
    return (l->weight ? l->weight->t.numel : 0) + (l->bias ? l->bias->t.numel : 0);
}

static void fill_row(const qt_net *net, int i, row r)
{
    const qt_layer *l = &net->layers[i];
    double flops = 2.0 * qt_layer_weight_macs(l);
    size_t params = layer_params(l);
    snprintf(r[0], CELL, "%d", i);
    snprintf(r[1], CELL, "%s", l->name);
    kind_cell(l, r[2]);
    input_cell(l, r[3]);
    if (l->out_ndim == 4)
        snprintf(r[4], CELL, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
    else
        snprintf(r[4], CELL, "%d", l->out_c);
    snprintf(r[5], CELL, params ? "%zu" : "-", params);
    weights_cell(l, r[6]);
    snprintf(r[7], CELL, flops > 0 ? "%.0f" : "-", flops);
}

static void put_row(FILE *f, const row r, const int *width)
{
    for (int c = 0; c < COLS; c++) {
        const char *sep = c ? "  " : "";
        if (c == COLS - 1 && !right_aligned[c])
            fprintf(f, "%s%s", sep, r[c]);
        else
            fprintf(f, "%s%*s", sep, right_aligned[c] ? width[c] : -width[c], r[c]);
    }
    fputc('\n', f);
}

static void put_table(FILE *f, const qt_net *net, row *rows)
{
    int width[COLS];
    row head;
    for (int c = 0; c < COLS; c++) {
        snprintf(head[c], CELL, "%s", heads[c]);
        width[c] = (int)strlen(heads[c]);
    }
    for (int i = 0; i < net->nlayers; i++) {
        fill_row(net, i, rows[i]);
        for (int c = 0; c < COLS; c++)
            if ((int)strlen(rows[i][c]) > width[c])
                width[c] = (int)strlen(rows[i][c]);
    }
    put_row(f, head, width);
    for (int i = 0; i < net->nlayers; i++)
        put_row(f, rows[i], width);
}

char *qt_net_table(const qt_net *net)
{
    char *text = NULL;
    size_t len = 0;
    row *rows = calloc((size_t)(net->nlayers ? net->nlayers : 1), sizeof *rows);
    FILE *f = rows ? open_memstream(&text, &len) : NULL;
    if (!f) {
        free(rows);
        return NULL;
    }
    const char *desc = qt_net_description(net);
    fprintf(f, "%s: input %dx%dx%d, %d classes", net->name, net->in_c, net->in_h, net->in_w,
            net->num_classes);
    if (desc)
        fprintf(f, "; built from %.*s", (int)strcspn(desc, "\n"), desc);
    fputc('\n', f);
    put_table(f, net, rows);
    fprintf(f, "total: %zu parameters, %zu of them quantized weights; %.0f FLOPs per image "
            "(forward, 2 per multiply-add of conv and linear layers)\n",
            qt_net_param_count(net), qt_quant_weight_count(net), qt_net_flops_per_image(net, 0));
    free(rows);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int qt_config_net_table(const qt_config *c, char **text, qt_error *err)
{
    qt_dataset *ds;
    *text = NULL;
    if (qt_run_open_dataset(c, QT_SPLIT_TEST, &ds, err) != QT_OK)
        return QT_ERR;
    qt_net *net = qt_run_build_net(c, ds, err);
    qt_dataset_free(ds);
    if (!net)
        return QT_ERR;
    *text = qt_net_table(net);
    qt_net_free(net);
    return *text ? QT_OK : qt_errorf(err, "out of memory");
}

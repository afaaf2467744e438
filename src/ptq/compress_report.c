/* Per-layer weight errors and the JSON of a compression's cost and details. */
#include "qtrain/compress_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bits and parameters of layer `name` as net stores it (its factorised parts summed). */
static void stored_form(const qt_net *net, const char *name, const double *bits,
                        qt_weight_report *r)
{
    qt_cp_layout lo;
    qt_error ignored;
    int i = qt_net_find_layer(net, name), n = 1;
    if (i < 0 && qt_net_cp_find(net, name, &lo, &ignored) == QT_OK) {
        i = lo.first;
        n = lo.nparts;
    }
    double b = 0.0;
    r->params = 0;
    for (int k = i; i >= 0 && k < i + n; k++) {
        size_t p = net->layers[k].weight->t.numel;
        r->params += p;
        b += bits[k] * (double)p;
    }
    r->bits = r->params ? b / (double)r->params : 32.0;
}

int qt_weight_reports(const qt_net *fnet, const qt_net *net, const qt_coded_net *cn,
                      qt_weight_report **out, int *n, qt_error *err)
{
    *out = NULL;
    *n = 0;
    qt_weight_report *r = calloc((size_t)(fnet->nlayers > 0 ? fnet->nlayers : 1), sizeof *r);
    double *bits = malloc((size_t)(net->nlayers > 0 ? net->nlayers : 1) * sizeof *bits);
    float *w = NULL;
    int rc = r && bits ? QT_OK : qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        qt_net_weight_bits(net, cn, bits);
    for (int i = 0; rc == QT_OK && i < fnet->nlayers; i++) {
        const qt_layer *l = &fnet->layers[i];
        if (l->kind != QT_LAYER_CONV && l->kind != QT_LAYER_LINEAR)
            continue;
        const float *ref = l->weight->t.data;
        size_t numel = l->weight->t.numel;
        float *nw = realloc(w, numel * sizeof *w);
        if (!nw) {
            rc = qt_errorf(err, "out of memory");
            break;
        }
        w = nw;
        if ((rc = qt_net_dense_weight(net, l->name, w, numel, err)) != QT_OK)
            break;
        double e = 0.0, s = 0.0;
        for (size_t k = 0; k < numel; k++) {
            e += ((double)ref[k] - w[k]) * ((double)ref[k] - w[k]);
            s += (double)ref[k] * ref[k];
        }
        qt_weight_report *wr = &r[(*n)++];
        memcpy(wr->name, l->name, sizeof wr->name);
        wr->rel_error = s > 0.0 ? sqrt(e / s) : sqrt(e);
        wr->fp32_params = numel;
        stored_form(net, l->name, bits, wr);
    }
    free(bits);
    free(w);
    if (rc != QT_OK) {
        free(r);
        *n = 0;
        return QT_ERR;
    }
    *out = r;
    return QT_OK;
}

void qt_model_cost_json(qt_json_writer *w, const qt_model_cost *c)
{
    qt_json_field_number(w, "macs", c->macs);
    qt_json_field_number(w, "bops", c->bops);
    qt_json_field_number(w, "fp32_macs", c->fp32_macs);
    qt_json_field_number(w, "fp32_bops", c->fp32_bops);
    qt_json_field_number(w, "bops_percent", c->bops_percent);
    qt_json_field_int(w, "params", (int64_t)c->params);
    qt_json_field_int(w, "fp32_params", (int64_t)c->fp32_params);
}

void qt_weight_reports_json(qt_json_writer *w, const qt_weight_report *r, int n)
{
    qt_json_key(w, "weights");
    qt_json_begin_array(w);
    for (int i = 0; i < n; i++) {
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", r[i].name);
        qt_json_field_number(w, "rel_error", r[i].rel_error);
        qt_json_field_number(w, "bits", r[i].bits);
        qt_json_field_int(w, "params", (int64_t)r[i].params);
        qt_json_field_int(w, "fp32_params", (int64_t)r[i].fp32_params);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
}

static void grid_json(qt_json_writer *w, const qt_alphabet *a)
{
    qt_json_begin_object(w);
    qt_json_key(w, "lo");
    qt_json_float(w, a->lo);
    qt_json_key(w, "step");
    qt_json_float(w, a->step);
    qt_json_field_int(w, "levels", a->levels);
    qt_json_end_object(w);
}

void qt_cp_reports_json(qt_json_writer *w, const qt_cp_layer_report *r, int n)
{
    qt_json_key(w, "cp_layers");
    qt_json_begin_array(w);
    for (int i = 0; i < n; i++) {
        if (!r[i].name[0])
            continue;
        qt_json_begin_object(w);
        qt_json_field_string(w, "name", r[i].name);
        qt_json_key(w, "shape");
        qt_json_begin_array(w);
        qt_json_int(w, r[i].c_out);
        qt_json_int(w, r[i].c_in);
        qt_json_int(w, r[i].kk);
        qt_json_end_array(w);
        qt_json_field_int(w, "rank", r[i].rank);
        qt_json_field_number(w, "rel_error", r[i].rel_error);
        qt_json_field_number(w, "float_error", r[i].float_error);
        qt_json_field_int(w, "sweeps", r[i].sweeps);
        qt_json_field_int(w, "inner_iters", r[i].inner_iters);
        qt_json_field_int(w, "params_before", (int64_t)r[i].params_before);
        qt_json_field_int(w, "params_after", (int64_t)r[i].params_after);
        qt_json_field_number(w, "seconds", r[i].seconds);
        qt_json_key(w, "grids");
        qt_json_begin_array(w);
        int ngrids = r[i].rank == 0 ? 1 : (r[i].kk > 1 ? 3 : 2);
        for (int m = 0; m < ngrids; m++)
            grid_json(w, &r[i].grids[m]);
        qt_json_end_array(w);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
}

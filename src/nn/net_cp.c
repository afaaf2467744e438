/* Net surgery for CP-factorised layers (see net_cp.h). */
#include "qtrain/net_cp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows the layer and parameter arrays so `extra_layers` and `extra_params` more fit. */
static int reserve(qt_net *net, int extra_layers, int extra_params, qt_error *err)
{
    if (net->nlayers + extra_layers > net->layers_cap) {
        int cap = net->nlayers + extra_layers + 8;
        qt_layer *nl = realloc(net->layers, (size_t)cap * sizeof *nl);
        if (!nl)
            return qt_errorf(err, "out of memory");
        net->layers = nl;
        net->layers_cap = cap;
    }
    if (net->nparams + extra_params > net->params_cap) {
        int cap = net->nparams + extra_params + 8;
        qt_param **np = realloc(net->params, (size_t)cap * sizeof *np);
        if (!np)
            return qt_errorf(err, "out of memory");
        net->params = np;
        net->params_cap = cap;
    }
    return QT_OK;
}

static int find_param(const qt_net *net, const qt_param *p)
{
    for (int i = 0; i < net->nparams; i++)
        if (net->params[i] == p)
            return i;
    return -1;
}

static qt_param *new_weight(const char *layer, const char *part, int ndim, const int *shape,
                            int fan_in, int fan_out)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s.weight", layer, part);
    qt_param *p = qt_param_new(name, QT_PARAM_WEIGHT, ndim, shape);
    if (p) {
        p->fan_in = fan_in;
        p->fan_out = fan_out;
    }
    return p;
}

/* The parts of layer `orig` (index at) of rank r: filled into parts[], their new weights
 * into w[] (nparts of each). */
static int make_parts(const qt_net *net, const qt_layer *orig, int at, int r, qt_layer *parts,
                      qt_param **w, int *nparts, qt_error *err)
{
    const qt_tensor *wt = &orig->weight->t;
    const int conv = orig->kind == QT_LAYER_CONV, c_out = wt->shape[0], c_in = wt->shape[1];
    const int kh = conv ? wt->shape[2] : 1, kw = conv ? wt->shape[3] : 1;
    const int n = kh * kw > 1 ? 3 : 2;
    static const char *const names[3] = {"cp1", "cp2", "cp3"};
    const char *nm[3] = {names[0], n == 3 ? names[1] : names[2], names[2]};
    memset(w, 0, 3 * sizeof *w);
    if (conv) {
        w[0] = new_weight(orig->name, nm[0], 4, (int[]){r, c_in, 1, 1}, c_in, r);
        if (n == 3)
            w[1] = new_weight(orig->name, nm[1], 4, (int[]){r, 1, kh, kw}, kh * kw, r * kh * kw);
        w[n - 1] = new_weight(orig->name, nm[n - 1], 4, (int[]){c_out, r, 1, 1}, r, c_out);
    } else {
        w[0] = new_weight(orig->name, nm[0], 2, (int[]){r, c_in}, c_in, r);
        w[1] = new_weight(orig->name, nm[1], 2, (int[]){c_out, r}, r, c_out);
    }
    for (int i = 0; i < n; i++)
        if (!w[i]) {
            for (int j = 0; j < n; j++)
                qt_param_free(w[j]);
            return qt_errorf(err, "out of memory factorising %s", orig->name);
        }
    int in_h = orig->in[0] == QT_NET_INPUT ? net->in_h : net->layers[orig->in[0]].out_h;
    int in_w = orig->in[0] == QT_NET_INPUT ? net->in_w : net->layers[orig->in[0]].out_w;
    for (int i = 0; i < n; i++) {
        qt_layer *l = &parts[i];
        *l = *orig;
        memset(&l->bn, 0, sizeof l->bn);
        l->act = (qt_uniform_grid){0};    /* inputs of new shapes: no grid carries over */
        l->act_ch = NULL;
        l->act_nch = 0;
        snprintf(l->name, sizeof l->name, "%.43s.%s", orig->name, nm[i]); /* length checked */
        l->in[0] = i == 0 ? orig->in[0] : at + i - 1;
        l->in[1] = QT_NET_INPUT;
        l->weight = w[i];
        l->bias = i == n - 1 ? orig->bias : NULL;
        l->out_c = i == n - 1 ? c_out : r;
        l->cp_part = i == n - 1 ? 3 : i + 1;
    }
    if (conv) {
        /* three parts: only the depthwise conv moves over the image; two: cp1 subsamples */
        qt_conv_spec one = {1, 0, 1};
        parts[0].conv = n == 3 ? one : orig->conv;
        parts[0].out_h = n == 3 ? in_h : orig->out_h;
        parts[0].out_w = n == 3 ? in_w : orig->out_w;
        if (n == 3)
            parts[1].conv = (qt_conv_spec){orig->conv.stride, orig->conv.pad, r};
        parts[n - 1].conv = one;
    }
    *nparts = n;
    return QT_OK;
}

int qt_net_cp_factorize(qt_net *net, int layer, int rank, qt_error *err)
{
    if (layer < 0 || layer >= net->nlayers)
        return qt_errorf(err, "%s: no layer %d to factorise", net->name, layer);
    const qt_layer *orig = &net->layers[layer];
    if (orig->kind != QT_LAYER_CONV && orig->kind != QT_LAYER_LINEAR)
        return qt_errorf(err, "%s: layer %d (%s) is not a conv or linear layer", net->name, layer,
                         orig->name);
    if (orig->cp_part)
        return qt_errorf(err, "%s: %s is already a factorised part", net->name, orig->name);
    if (orig->weight->q)
        return qt_errorf(err, "%s: %s has a quantizer attached; only float layers can be "
                         "factorised", net->name, orig->name);
    if (orig->kind == QT_LAYER_CONV && orig->conv.groups > 1)
        return qt_errorf(err, "%s: %s is a grouped conv, which cannot be factorised", net->name,
                         orig->name);
    if (rank < 1)
        return qt_errorf(err, "%s: rank %d for %s, must be at least 1", net->name, rank, orig->name);
    if (strlen(orig->name) + 4 >= sizeof orig->name || !orig->name[0])
        return qt_errorf(err, "%s: layer name '%s' leaves no room for a '.cp1' suffix", net->name,
                         orig->name);
    if (reserve(net, 2, 2, err) != QT_OK)
        return QT_ERR;
    orig = &net->layers[layer];
    qt_layer parts[3];
    qt_param *w[3];
    int n = 0;
    if (make_parts(net, orig, layer, rank, parts, w, &n, err) != QT_OK)
        return QT_ERR;
    const int shift = n - 1, pw = find_param(net, orig->weight);
    qt_param *old_w = orig->weight, *bias = orig->bias;
    qt_uniform_grid *old_act = orig->act_ch;

    memmove(&net->layers[layer + n], &net->layers[layer + 1],
            (size_t)(net->nlayers - layer - 1) * sizeof *net->layers);
    for (int i = layer + n; i < net->nlayers + shift; i++)
        for (int k = 0; k < 2; k++)
            if (net->layers[i].in[k] >= layer)
                net->layers[i].in[k] += shift;
    memcpy(&net->layers[layer], parts, (size_t)n * sizeof *parts);
    net->nlayers += shift;
    free(old_act);

    if (pw >= 0) {
        memmove(&net->params[pw + n], &net->params[pw + 1],
                (size_t)(net->nparams - pw - 1) * sizeof *net->params);
        memcpy(&net->params[pw], w, (size_t)n * sizeof *w);
        net->nparams += shift;
    }
    qt_param_free(old_w);
    if (bias)
        snprintf(bias->name, sizeof bias->name, "%s.bias", net->layers[layer + n - 1].name);
    return QT_OK;
}

int qt_net_cp_find(const qt_net *net, const char *name, qt_cp_layout *lo, qt_error *err)
{
    char first[sizeof net->layers[0].name + 8];
    snprintf(first, sizeof first, "%s.cp1", name);
    int i = qt_net_find_layer(net, first);
    if (i < 0 || net->layers[i].cp_part != 1 || i + 1 >= net->nlayers)
        return qt_errorf(err, "%s: no factorised layer %s", net->name, name);
    int n = net->layers[i + 1].cp_part == 2 ? 3 : 2;
    if (i + n - 1 >= net->nlayers || net->layers[i + n - 1].cp_part != 3)
        return qt_errorf(err, "%s: factorised layer %s has no .cp3 part after .cp1", net->name, name);
    const qt_tensor *w1 = &net->layers[i].weight->t, *w3 = &net->layers[i + n - 1].weight->t;
    lo->first = i;
    lo->nparts = n;
    lo->rank = w1->shape[0];
    lo->c_in = w1->shape[1];
    lo->c_out = w3->shape[0];
    lo->kk = n == 3 ? net->layers[i + 1].weight->t.shape[2] * net->layers[i + 1].weight->t.shape[3] : 1;
    return QT_OK;
}

void qt_net_cp_set_factors(qt_net *net, const qt_cp_layout *lo, const float *a, const float *b,
                           const float *c)
{
    const int r = lo->rank;
    float *w1 = net->layers[lo->first].weight->t.data;
    float *w3 = net->layers[lo->first + lo->nparts - 1].weight->t.data;
    for (int k = 0; k < r; k++)
        for (int i = 0; i < lo->c_in; i++)
            w1[(size_t)k * lo->c_in + i] = b[(size_t)i * r + k];
    memcpy(w3, a, (size_t)lo->c_out * r * sizeof *w3);
    if (lo->nparts == 3) {
        float *w2 = net->layers[lo->first + 1].weight->t.data;
        for (int k = 0; k < r; k++)
            for (int s = 0; s < lo->kk; s++)
                w2[(size_t)k * lo->kk + s] = c[(size_t)s * r + k];
    }
}

/* W[o, i, s] = sum_r A[o, r] B[i, r] C[s, r] from the parts' weights. */
static void reconstruct(const qt_net *net, const qt_cp_layout *lo, float *w)
{
    const int r = lo->rank, kk = lo->kk;
    const float *w1 = net->layers[lo->first].weight->t.data;
    const float *w2 = lo->nparts == 3 ? net->layers[lo->first + 1].weight->t.data : NULL;
    const float *w3 = net->layers[lo->first + lo->nparts - 1].weight->t.data;
    for (int o = 0; o < lo->c_out; o++)
        for (int i = 0; i < lo->c_in; i++)
            for (int s = 0; s < kk; s++) {
                double acc = 0.0;
                for (int k = 0; k < r; k++)
                    acc += (double)w3[(size_t)o * r + k] * w1[(size_t)k * lo->c_in + i] *
                           (w2 ? w2[(size_t)k * kk + s] : 1.0f);
                w[((size_t)o * lo->c_in + i) * kk + s] = (float)acc;
            }
}

int qt_net_dense_weight(const qt_net *net, const char *name, float *w, size_t n, qt_error *err)
{
    int i = qt_net_find_layer(net, name);
    if (i >= 0 && (net->layers[i].kind == QT_LAYER_CONV || net->layers[i].kind == QT_LAYER_LINEAR)) {
        const qt_tensor *t = &net->layers[i].weight->t;
        if (t->numel != n)
            return qt_errorf(err, "%s: %s has %zu weights, expected %zu", net->name, name, t->numel, n);
        memcpy(w, t->data, n * sizeof *w);
        return QT_OK;
    }
    qt_cp_layout lo;
    if (qt_net_cp_find(net, name, &lo, err) != QT_OK)
        return qt_errorf(err, "%s: no conv, linear or factorised layer %s", net->name, name);
    size_t numel = (size_t)lo.c_out * lo.c_in * lo.kk;
    if (numel != n)
        return qt_errorf(err, "%s: factorised %s has %zu weights, expected %zu", net->name, name,
                         numel, n);
    reconstruct(net, &lo, w);
    return QT_OK;
}

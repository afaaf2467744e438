/* Net construction (shape inference at build time) and the forward walk. */
#include "qtrain/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/im2col.h"
#include "qtrain/profile.h"
#include "qtrain/rng.h"

qt_net *qt_net_new(const char *name, int in_c, int in_h, int in_w, qt_error *err)
{
    if (in_c < 1 || in_h < 1 || in_w < 1) {
        qt_errorf(err, "%s: input shape %dx%dx%d", name, in_c, in_h, in_w);
        return NULL;
    }
    qt_net *net = calloc(1, sizeof *net);
    if (!net) {
        qt_errorf(err, "out of memory");
        return NULL;
    }
    snprintf(net->name, sizeof net->name, "%s", name);
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    return net;
}

void qt_net_free(qt_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->nparams; i++)
        qt_param_free(net->params[i]);
    for (int i = 0; i < net->nlayers; i++) {
        free(net->layers[i].bn.running_mean);
        free(net->layers[i].bn.running_var);
        free(net->layers[i].act_ch);
    }
    free(net->params);
    free(net->layers);
    free(net->description);
    free(net);
}

int qt_layer_set_act(qt_layer *l, const qt_uniform_grid *g, int n, qt_error *err)
{
    qt_uniform_grid *ch = NULL;
    for (int k = 1; k < n; k++)
        if (g[k].levels != g[0].levels)
            return qt_errorf(err, "%s: channel grids of %d and %d levels", l->name, g[0].levels,
                             g[k].levels);
    if (n > 1 && !(ch = malloc((size_t)n * sizeof *ch)))
        return qt_errorf(err, "out of memory");
    if (ch)
        memcpy(ch, g, (size_t)n * sizeof *ch);
    free(l->act_ch);
    l->act_ch = ch;
    l->act_nch = n > 1 ? n : 0;
    l->act = n == 1 ? g[0] : (qt_uniform_grid){0.0f, 0.0f, n > 1 ? g[0].levels : 0};
    return QT_OK;
}

int qt_layer_in_channels(const qt_layer *l)
{
    return l->weight->t.shape[1] * l->conv.groups;
}

/* ---- construction ---- */

typedef struct {
    int ndim, c, h, w;
} in_shape;

static int input_shape(const qt_net *net, int in, in_shape *s, qt_error *err)
{
    if (in == QT_NET_INPUT) {
        *s = (in_shape){4, net->in_c, net->in_h, net->in_w};
        return QT_OK;
    }
    if (in < 0 || in >= net->nlayers)
        return qt_errorf(err, "%s: layer %d reads layer %d, which does not exist yet", net->name,
                         net->nlayers, in);
    const qt_layer *l = &net->layers[in];
    *s = (in_shape){l->out_ndim, l->out_c, l->out_h, l->out_w};
    return QT_OK;
}

/* Appends a layer reading `in`; fills *shape with in's output shape. */
static qt_layer *push_layer(qt_net *net, qt_layer_kind kind, const char *name, int in,
                            in_shape *shape, qt_error *err)
{
    if (input_shape(net, in, shape, err) != QT_OK)
        return NULL;
    if (net->nlayers == net->layers_cap) {
        int cap = net->layers_cap ? 2 * net->layers_cap : 32;
        qt_layer *nl = realloc(net->layers, (size_t)cap * sizeof *nl);
        if (!nl) {
            qt_errorf(err, "out of memory");
            return NULL;
        }
        net->layers = nl;
        net->layers_cap = cap;
    }
    qt_layer *l = &net->layers[net->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    l->in[0] = in;
    l->in[1] = QT_NET_INPUT;
    l->out_ndim = shape->ndim;
    l->out_c = shape->c;
    l->out_h = shape->h;
    l->out_w = shape->w;
    return l;
}

static qt_param *add_param(qt_net *net, const char *layer, const char *suffix, qt_param_role role,
                           int ndim, const int *shape, qt_error *err)
{
    if (net->nparams == net->params_cap) {
        int cap = net->params_cap ? 2 * net->params_cap : 32;
        qt_param **np = realloc(net->params, (size_t)cap * sizeof *np);
        if (!np) {
            qt_errorf(err, "out of memory");
            return NULL;
        }
        net->params = np;
        net->params_cap = cap;
    }
    char full[128];
    snprintf(full, sizeof full, "%s.%s", layer, suffix);
    qt_param *p = qt_param_new(full, role, ndim, shape);
    if (!p) {
        qt_errorf(err, "out of memory for parameter %s", full);
        return NULL;
    }
    net->params[net->nparams++] = p;
    return p;
}

static int commit(qt_net *net) { return net->nlayers++; }

int qt_net_conv(qt_net *net, const char *name, int in, int out_c, int k, int stride, int pad,
                int bias, qt_error *err)
{
    return qt_net_conv_groups(net, name, in, out_c, k, stride, pad, 1, bias, err);
}

int qt_net_conv_groups(qt_net *net, const char *name, int in, int out_c, int k, int stride,
                       int pad, int groups, int bias, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, QT_LAYER_CONV, name, in, &s, err);
    if (!l)
        return QT_ERR;
    int oh = qt_conv_out_size(s.h, k, stride, pad), ow = qt_conv_out_size(s.w, k, stride, pad);
    if (s.ndim != 4 || out_c < 1 || k < 1 || stride < 1 || oh < 1 || ow < 1)
        return qt_errorf(err, "%s: conv %dx%d stride %d pad %d does not fit a %dx%dx%d input",
                         name, k, k, stride, pad, s.c, s.h, s.w);
    if (groups < 1 || s.c % groups || out_c % groups)
        return qt_errorf(err, "%s: %d groups do not divide %d input and %d output channels",
                         name, groups, s.c, out_c);
    l->conv = (qt_conv_spec){stride, pad, groups};
    l->out_c = out_c;
    l->out_h = oh;
    l->out_w = ow;
    int cin_g = s.c / groups;
    if (!(l->weight = add_param(net, name, "weight", QT_PARAM_WEIGHT, 4,
                                (int[]){out_c, cin_g, k, k}, err)))
        return QT_ERR;
    l->weight->fan_in = cin_g * k * k;
    l->weight->fan_out = out_c * k * k;
    if (bias && !(l->bias = add_param(net, name, "bias", QT_PARAM_BIAS, 1, &out_c, err)))
        return QT_ERR;
    return commit(net);
}

int qt_net_linear(qt_net *net, const char *name, int in, int out_f, int bias, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, QT_LAYER_LINEAR, name, in, &s, err);
    if (!l)
        return QT_ERR;
    if (s.ndim != 2 || out_f < 1)
        return qt_errorf(err, "%s: linear layer needs a flat (N, F) input", name);
    l->out_c = out_f;
    if (!(l->weight = add_param(net, name, "weight", QT_PARAM_WEIGHT, 2, (int[]){out_f, s.c}, err)))
        return QT_ERR;
    l->weight->fan_in = s.c;
    l->weight->fan_out = out_f;
    if (bias && !(l->bias = add_param(net, name, "bias", QT_PARAM_BIAS, 1, &out_f, err)))
        return QT_ERR;
    return commit(net);
}

int qt_net_batchnorm(qt_net *net, const char *name, int in, float momentum, float eps,
                     qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, QT_LAYER_BATCHNORM, name, in, &s, err);
    if (!l)
        return QT_ERR;
    l->bn.momentum = momentum;
    l->bn.eps = eps;
    if (!(l->bn.running_mean = calloc((size_t)s.c, sizeof(float))) ||
        !(l->bn.running_var = calloc((size_t)s.c, sizeof(float)))) {
        free(l->bn.running_mean);
        l->bn.running_mean = NULL;
        return qt_errorf(err, "out of memory");
    }
    int idx = commit(net); /* the layer owns its stats from here on, even if a param fails */
    if (!(l->weight = add_param(net, name, "weight", QT_PARAM_BN_GAMMA, 1, &s.c, err)) ||
        !(l->bias = add_param(net, name, "bias", QT_PARAM_BN_BETA, 1, &s.c, err)))
        return QT_ERR;
    return idx;
}

static int simple_layer(qt_net *net, qt_layer_kind kind, int in, qt_error *err)
{
    in_shape s = {0};
    return push_layer(net, kind, NULL, in, &s, err) ? commit(net) : QT_ERR;
}

int qt_net_relu(qt_net *net, int in, qt_error *err) { return simple_layer(net, QT_LAYER_RELU, in, err); }
int qt_net_hardtanh(qt_net *net, int in, qt_error *err) { return simple_layer(net, QT_LAYER_HARDTANH, in, err); }

static int pool_layer(qt_net *net, qt_layer_kind kind, int in, int k, int stride, int pad, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, kind, NULL, in, &s, err);
    if (!l)
        return QT_ERR;
    int oh = qt_conv_out_size(s.h, k, stride, pad), ow = qt_conv_out_size(s.w, k, stride, pad);
    if (s.ndim != 4 || k < 1 || stride < 1 || pad < 0 || 2 * pad > k || oh < 1 || ow < 1)
        return qt_errorf(err, "%s: pool %d stride %d pad %d does not fit a %dx%d input",
                         net->name, k, stride, pad, s.h, s.w);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    l->out_h = oh;
    l->out_w = ow;
    return commit(net);
}

int qt_net_maxpool(qt_net *net, int in, int k, int stride, int pad, qt_error *err)
{
    if (k > QT_MAXPOOL_MAX_K)
        return qt_errorf(err, "%s: max pool window %d is over %d", net->name, k,
                         QT_MAXPOOL_MAX_K);
    return pool_layer(net, QT_LAYER_MAXPOOL, in, k, stride, pad, err);
}

int qt_net_avgpool(qt_net *net, int in, int k, int stride, int pad, qt_error *err)
{
    return pool_layer(net, QT_LAYER_AVGPOOL, in, k, stride, pad, err);
}

static int to_vector(qt_net *net, qt_layer_kind kind, int in, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, kind, NULL, in, &s, err);
    if (!l)
        return QT_ERR;
    if (s.ndim != 4)
        return qt_errorf(err, "%s: %s needs an (N, C, H, W) input", net->name,
                         kind == QT_LAYER_FLATTEN ? "flatten" : "global average pool");
    l->out_ndim = 2;
    l->out_c = kind == QT_LAYER_FLATTEN ? s.c * s.h * s.w : s.c;
    l->out_h = l->out_w = 1;
    return commit(net);
}

int qt_net_global_avgpool(qt_net *net, int in, qt_error *err) { return to_vector(net, QT_LAYER_GLOBAL_AVGPOOL, in, err); }
int qt_net_flatten(qt_net *net, int in, qt_error *err) { return to_vector(net, QT_LAYER_FLATTEN, in, err); }

int qt_net_dropout(qt_net *net, int in, float p, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, QT_LAYER_DROPOUT, NULL, in, &s, err);
    if (!l)
        return QT_ERR;
    if (!(p >= 0.0f && p < 1.0f))
        return qt_errorf(err, "%s: dropout probability %g outside [0, 1)", net->name, (double)p);
    l->p = p;
    return commit(net);
}

int qt_net_add(qt_net *net, int a, int b, qt_error *err)
{
    in_shape sa = {0}, sb = {0};
    if (input_shape(net, b, &sb, err) != QT_OK)
        return QT_ERR;
    qt_layer *l = push_layer(net, QT_LAYER_ADD, NULL, a, &sa, err);
    if (!l)
        return QT_ERR;
    if (sa.ndim != sb.ndim || sa.c != sb.c || sa.h != sb.h || sa.w != sb.w)
        return qt_errorf(err, "%s: add of %dx%dx%d and %dx%dx%d", net->name, sa.c, sa.h, sa.w,
                         sb.c, sb.h, sb.w);
    l->in[1] = b;
    return commit(net);
}

int qt_net_shortcut_pad(qt_net *net, int in, int out_c, int stride, qt_error *err)
{
    in_shape s = {0};
    qt_layer *l = push_layer(net, QT_LAYER_SHORTCUT_PAD, NULL, in, &s, err);
    if (!l)
        return QT_ERR;
    if (s.ndim != 4 || out_c < s.c || stride < 1)
        return qt_errorf(err, "%s: shortcut from %d to %d channels", net->name, s.c, out_c);
    l->channels = out_c;
    l->stride = stride;
    l->out_c = out_c;
    l->out_h = (s.h + stride - 1) / stride;
    l->out_w = (s.w + stride - 1) / stride;
    return commit(net);
}

/* ---- parameters ---- */

void qt_net_init_params(qt_net *net, uint64_t seed)
{
    for (int i = 0; i < net->nparams; i++) {
        qt_param *p = net->params[i];
        qt_rng r;
        qt_rng_derive(&r, seed, 0x1417, (uint64_t)i);
        float fill = p->role == QT_PARAM_BN_GAMMA ? 1.0f : 0.0f;
        float std = sqrtf(2.0f / (float)(p->fan_in > 0 ? p->fan_in : 1));
        for (size_t k = 0; k < p->t.numel; k++)
            p->t.data[k] = p->role == QT_PARAM_WEIGHT ? std * qt_rng_normal(&r) : fill;
    }
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        if (l->kind != QT_LAYER_BATCHNORM)
            continue;
        for (int ch = 0; ch < l->out_c; ch++) {
            l->bn.running_mean[ch] = 0.0f;
            l->bn.running_var[ch] = 1.0f;
        }
    }
}

const char *qt_layer_kind_name(qt_layer_kind kind)
{
    static const char *const names[] = {"conv", "linear", "batchnorm", "relu", "hardtanh",
                                        "maxpool", "avgpool", "global_avgpool", "flatten",
                                        "dropout", "add", "shortcut_pad"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "unknown";
}

size_t qt_net_param_count(const qt_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->nparams; i++)
        n += net->params[i]->t.numel;
    return n;
}

qt_param *qt_net_find_param(const qt_net *net, const char *name)
{
    for (int i = 0; i < net->nparams; i++)
        if (strcmp(net->params[i]->name, name) == 0)
            return net->params[i];
    return NULL;
}

int qt_net_find_layer(const qt_net *net, const char *name)
{
    for (int i = 0; i < net->nlayers; i++)
        if (strcmp(net->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- forward ---- */

static qt_tensor *param_tensor(qt_param *p) { return p ? &p->t : NULL; }

static qt_tensor *layer_forward(qt_ctx *c, qt_layer *l, qt_tensor *a, qt_tensor *b)
{
    switch (l->kind) {
    case QT_LAYER_CONV: return qt_conv2d(c, a, &l->weight->t, param_tensor(l->bias), l->conv);
    case QT_LAYER_LINEAR: return qt_linear(c, a, &l->weight->t, param_tensor(l->bias));
    case QT_LAYER_BATCHNORM: return qt_batchnorm(c, a, &l->weight->t, &l->bias->t, &l->bn);
    case QT_LAYER_RELU: return qt_relu(c, a);
    case QT_LAYER_HARDTANH: return qt_hardtanh(c, a);
    case QT_LAYER_MAXPOOL: return qt_maxpool2d(c, a, l->k, l->stride, l->pad);
    case QT_LAYER_AVGPOOL: return qt_avgpool2d(c, a, l->k, l->stride, l->pad);
    case QT_LAYER_GLOBAL_AVGPOOL: return qt_global_avgpool(c, a);
    case QT_LAYER_FLATTEN: return qt_flatten(c, a);
    case QT_LAYER_DROPOUT: return qt_dropout(c, a, l->p);
    case QT_LAYER_ADD: return qt_add(c, a, b);
    case QT_LAYER_SHORTCUT_PAD: return qt_shortcut_pad(c, a, l->channels, l->stride);
    }
    return qt_ctx_fail(c, "unknown layer kind %d", (int)l->kind);
}

/* How many layers read each layer's output. */
static int *count_readers(qt_ctx *c, const qt_net *net, int upto)
{
    int *readers = qt_ctx_alloc(c, (size_t)(upto > 0 ? upto : 1) * sizeof *readers);
    if (!readers)
        return NULL;
    memset(readers, 0, (size_t)(upto > 0 ? upto : 1) * sizeof *readers);
    for (int i = 0; i < upto; i++)
        for (int k = 0; k < (net->layers[i].kind == QT_LAYER_ADD ? 2 : 1); k++)
            if (net->layers[i].in[k] >= 0)
                readers[net->layers[i].in[k]]++;
    return readers;
}

/* Whether layer k reads only outputs from before layer i. */
static int reads_before(const qt_layer *k, int i)
{
    return k->in[0] < i && (k->kind != QT_LAYER_ADD || k->in[1] < i);
}

/* Layers after batchnorm layer i that run fused with it (qt_batchnorm_relu) when nobody
 * else sees the intermediate outputs: 1 for BN -> ReLU, 2 for BN -> add -> ReLU (the add's
 * other input becomes the residual, stored in *residual_layer), 3 for BN -> S -> add(BN, S)
 * -> ReLU where S reads only earlier layers (a downsampling block's type-A shortcut, placed
 * after its BN): S is then run first (*first = i + 1); 0 otherwise. In inference a conv
 * feeding only that batchnorm joins too (qt_conv2d_bn_relu). */
static int fusable_after_bn(const qt_net *net, const int *readers, int i, int upto,
                            int *residual_layer, int *first)
{
    const qt_layer *l = net->layers;
    *first = -1;
    if (l[i].kind != QT_LAYER_BATCHNORM || readers[i] != 1 || i + 1 >= upto)
        return 0;
    if (l[i + 1].kind == QT_LAYER_RELU && l[i + 1].in[0] == i)
        return 1;
    const int skip = l[i + 1].kind != QT_LAYER_ADD && l[i + 1].kind != QT_LAYER_BATCHNORM &&
                     readers[i + 1] == 1 && reads_before(&l[i + 1], i);
    const int add = i + 1 + skip;
    if (add + 1 >= upto || l[add].kind != QT_LAYER_ADD || readers[add] != 1 ||
        l[add + 1].kind != QT_LAYER_RELU || l[add + 1].in[0] != add)
        return 0;
    if (l[add].in[0] == i && l[add].in[1] != i)
        *residual_layer = l[add].in[1];
    else if (l[add].in[1] == i && l[add].in[0] != i)
        *residual_layer = l[add].in[0];
    else
        return 0;
    if (skip && *residual_layer != i + 1)
        return 0;
    *first = skip ? i + 1 : -1;
    return 2 + skip;
}

/* Whether the output of layer k is read only by a max pool that quantizes nothing: its
 * backward keeps the argmax and never reads its input again. */
static int read_only_by_maxpool(const qt_net *net, const int *readers, int k, int upto)
{
    for (int m = k + 1; readers[k] == 1 && m < upto; m++) {
        const qt_layer *l = &net->layers[m];
        if (l->in[0] == k || (l->kind == QT_LAYER_ADD && l->in[1] == k))
            return l->kind == QT_LAYER_MAXPOOL && l->act.levels == 0 && !l->act_ch;
    }
    return 0;
}

/* Output of layer index k (QT_NET_INPUT: the net's input). */
static qt_tensor *output_of(int k, qt_tensor *x, qt_tensor **outs)
{
    return k == QT_NET_INPUT ? x : outs[k];
}

static int run_layers(qt_ctx *c, qt_net *net, const int *readers, int i, int upto,
                      qt_tensor *x, qt_tensor **outs);

/* The layer a fusion runs ahead of its batchnorm, if any (first >= 0); 0 if it failed. */
static int run_first(qt_ctx *c, qt_net *net, int first, int upto, qt_tensor *x, qt_tensor **outs)
{
    if (first < 0)
        return 1;
    run_layers(c, net, NULL, first, upto, x, outs);
    return outs[first] != NULL;
}

/* Runs layer i, fused with the layers after it where readers allows (NULL: never); every
 * layer it covers gets the one output. Returns how many layers it ran. */
static int run_layers(qt_ctx *c, qt_net *net, const int *readers, int i, int upto,
                      qt_tensor *x, qt_tensor **outs)
{
    qt_layer *l = &net->layers[i];
    qt_tensor *a = output_of(l->in[0], x, outs), *y;
    int res = QT_NET_INPUT, fused, first = -1;
    if (l->act_ch)
        a = qt_uniform_quant_channels(c, a, l->act_ch, l->act_nch);
    else if (l->act.levels > 0)
        a = qt_uniform_quant(c, a, &l->act);
    if (readers && !c->grad_enabled && !c->training && l->kind == QT_LAYER_CONV &&
        readers[i] == 1 && i + 1 < upto && l[1].kind == QT_LAYER_BATCHNORM && l[1].in[0] == i) {
        /* Inference: the conv, its batchnorm and what fuses after that in one op. */
        int after = fusable_after_bn(net, readers, i + 1, upto, &res, &first);
        if (!run_first(c, net, first, upto, x, outs))
            return outs[i] = NULL, 1;
        qt_tensor *r = after >= 2 ? output_of(res, x, outs) : NULL;
        y = qt_conv2d_bn_relu(c, a, &l->weight->t, param_tensor(l->bias), l->conv,
                              &l[1].weight->t, &l[1].bias->t, &l[1].bn, r, after > 0);
        fused = after + 1;
    } else if (readers && (fused = fusable_after_bn(net, readers, i, upto, &res, &first)) > 0) {
        if (!run_first(c, net, first, upto, x, outs))
            return outs[i] = NULL, 1;
        qt_tensor *r = fused >= 2 ? output_of(res, x, outs) : NULL;
        /* Training: batchnorm + ReLU's backward without a residual recomputes its mask from
         * x (batchnorm.c), so an output that only a max pool reads is dead after the pool. */
        const int keep = c->outputs_in_scratch;
        if (fused == 1 && a->ndim == 4 && read_only_by_maxpool(net, readers, i + 1, upto))
            c->outputs_in_scratch = 1;
        y = qt_batchnorm_relu(c, a, &l->weight->t, &l->bias->t, &l->bn, r);
        c->outputs_in_scratch = keep;
    } else {
        qt_tensor *b = l->kind == QT_LAYER_ADD ? output_of(l->in[1], x, outs) : NULL;
        y = layer_forward(c, l, a, b);
        fused = 0;
    }
    for (int k = 0; k <= fused; k++)
        if (i + k != first) /* the shortcut keeps its own output */
            outs[i + k] = y;
    return fused + 1;
}

/* Whether a buffer of the scratch heap at b (bytes long) holds none of the outputs of
 * layers [0, i1) still to be read (pending > 0) nor the last layer's. */
static int buffer_dead(const qt_tensor *const *outs, const int *pending, int i1, int last,
                       const float *b, size_t bytes)
{
    for (int m = 0; m < i1; m++)
        if ((pending[m] > 0 || m == last) && outs[m]->data >= b &&
            (const char *)outs[m]->data < (const char *)b + bytes)
            return 0;
    return 1;
}

/* After layers [i0, i1) ran: counts their reads (pending: reads still to come, -1 once given
 * back), then gives back to the scratch heap every output buffer nothing reads any more.
 * Fused layers share one output, and a view (flatten) points into its input's buffer, so a
 * buffer goes back only when no output still to be read lies in it. */
static void release_read_outputs(qt_ctx *c, const qt_net *net, int *pending, int i0, int i1,
                                 int upto, qt_tensor **outs)
{
    for (int j = i0; j < i1; j++)
        for (int k = 0; k < (net->layers[j].kind == QT_LAYER_ADD ? 2 : 1); k++)
            if (net->layers[j].in[k] >= 0)
                pending[net->layers[j].in[k]]--;
    for (int k = 0; k < i1; k++) {
        float *b = outs[k]->data;
        if (pending[k] != 0 || k == upto - 1 || !qt_heap_owns(&c->scratch, b) ||
            !buffer_dead((const qt_tensor *const *)outs, pending, i1, upto - 1, b,
                         outs[k]->numel * sizeof(float)))
            continue;
        qt_ctx_release(c, b);
        for (int m = 0; m < i1; m++)
            if (outs[m]->data == b)
                pending[m] = -1;
    }
}

qt_tensor *qt_net_run(qt_ctx *c, qt_net *net, qt_tensor *x, int upto, qt_tensor **outs)
{
    if (!x || c->failed)
        return NULL;
    if (x->ndim != 4 || x->shape[1] != net->in_c || x->shape[2] != net->in_h ||
        x->shape[3] != net->in_w) {
        char sx[64];
        return qt_ctx_fail(c, "%s: input %s, expected (N, %d, %d, %d)", net->name,
                           qt_tensor_shape_str(x, sx, sizeof sx), net->in_c, net->in_h, net->in_w);
    }
    if (upto > net->nlayers)
        upto = net->nlayers;
    /* Fusion hides intermediate outputs, and outputs go back to the scratch heap once read
     * (release_read_outputs), so only when the caller does not ask for them. */
    const int *readers = outs ? NULL : count_readers(c, net, upto);
    int *pending = readers ? qt_ctx_alloc(c, (size_t)(upto > 0 ? upto : 1) * sizeof *pending)
                           : NULL;
    if (readers && !pending)
        return NULL;
    if (pending)
        memcpy(pending, readers, (size_t)upto * sizeof *pending);
    if (!outs && !(outs = qt_ctx_alloc(c, (size_t)(upto > 0 ? upto : 1) * sizeof *outs)))
        return NULL;
    const int keep = c->outputs_in_scratch;
    for (int i = 0; i < upto;) {
        const qt_node *tape = c->tape;
        double t0 = qt_profile_clock(c);
        c->outputs_in_scratch = readers && !c->grad_enabled; /* evaluation: every output */
        int ran = run_layers(c, net, readers, i, upto, x, outs);
        c->outputs_in_scratch = keep;
        if (!outs[i])
            return NULL;
        if (c->profile)
            qt_profile_forward(c, i, ran, tape, t0, outs[i]);
        if (pending)
            release_read_outputs(c, net, pending, i, i + ran, upto, outs);
        i += ran;
    }
    return upto > 0 ? outs[upto - 1] : x;
}

qt_tensor *qt_net_forward(qt_ctx *c, qt_net *net, qt_tensor *x)
{
    return qt_net_run(c, net, x, net->nlayers, NULL);
}

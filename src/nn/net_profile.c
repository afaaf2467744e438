/* Per-layer and per-pass times of training steps (see profile.h). */
#include "qtrain/profile.h"

#include <stdlib.h>
#include <string.h>

const char *qt_pass_name(qt_pass p)
{
    static const char *const names[QT_PASS_COUNT] = {
        "forward", "input gradient", "weight gradient", "batchnorm", "other layers", "loss",
        "prepare weights", "update"};
    return p >= 0 && p < QT_PASS_COUNT ? names[p] : "unknown";
}

qt_profile *qt_profile_new(const qt_net *net, qt_error *err)
{
    qt_profile *p = calloc(1, sizeof *p);
    if (p && !(p->layers = calloc(net->nlayers > 0 ? (size_t)net->nlayers : 1, sizeof *p->layers))) {
        free(p);
        p = NULL;
    }
    if (!p) {
        qt_errorf(err, "out of memory for the profile of %s", net->name);
        return NULL;
    }
    p->net = net;
    return p;
}

void qt_profile_free(qt_profile *p)
{
    if (p)
        free(p->layers);
    free(p);
}

void qt_profile_attach(qt_ctx *c, qt_profile *p)
{
    c->profile = p;
    c->backward_hook = p ? qt_profile_backward : NULL;
}

void qt_profile_step_begin(qt_profile *p, const qt_ctx *c)
{
    qt_pool_stats(c->pool, &p->pool_started);
    p->step_started = qt_now_seconds();
}

void qt_profile_step_end(qt_profile *p, const qt_ctx *c)
{
    p->step_seconds += qt_now_seconds() - p->step_started;
    p->steps++;
    qt_pool_counts n;
    qt_pool_stats(c->pool, &n);
    p->pool.jobs += n.jobs - p->pool_started.jobs;
    p->pool.helper_sleeps += n.helper_sleeps - p->pool_started.helper_sleeps;
    p->pool.caller_sleeps += n.caller_sleeps - p->pool_started.caller_sleeps;
}

static int is_product(const qt_layer *l)
{
    return l->kind == QT_LAYER_CONV || l->kind == QT_LAYER_LINEAR;
}

/* FLOPs of one product of layer l (forward, input or weight gradient) on n images. */
static double product_flops(const qt_layer *l, int n) { return 2.0 * qt_layer_weight_macs(l) * n; }

void qt_profile_forward(qt_ctx *c, int layer, int span, const qt_node *tape_before, double t0,
                        const qt_tensor *out)
{
    qt_profile *p = c->profile;
    qt_layer_times *t = &p->layers[layer];
    const qt_layer *l = &p->net->layers[layer];
    t->forward += qt_now_seconds() - t0;
    t->fused = span - 1;
    if (is_product(l))
        t->forward_flops += product_flops(l, out->shape[0]);
    for (qt_node *n = c->tape; n && n != tape_before; n = n->prev)
        n->layer = layer;
}

/* Node n's backward with only the inputs in `keep` (a bit per input) marked as needing a
 * gradient; the marks are restored afterwards. */
static void backward_for(qt_ctx *c, const qt_node *n, unsigned keep)
{
    int was[4];
    for (int i = 0; i < 4; i++)
        if (n->in[i]) {
            was[i] = n->in[i]->requires_grad;
            n->in[i]->requires_grad = was[i] && (keep >> i & 1u);
        }
    n->backward(c, n);
    for (int i = 0; i < 4; i++)
        if (n->in[i])
            n->in[i]->requires_grad = was[i];
}

void qt_profile_backward(qt_ctx *c, const qt_node *n)
{
    qt_profile *p = c->profile;
    double t0 = qt_now_seconds();
    if (n->layer < 0) {
        n->backward(c, n);
        p->loss += qt_now_seconds() - t0;
        return;
    }
    qt_layer_times *t = &p->layers[n->layer];
    const qt_layer *l = &p->net->layers[n->layer];
    if (!is_product(l)) {
        n->backward(c, n);
        t->backward += qt_now_seconds() - t0;
        return;
    }
    /* in[0] is the input, in[1] the weight, in[2] the bias */
    const double flops = product_flops(l, n->out->shape[0]);
    if (n->in[0]->requires_grad) {
        backward_for(c, n, 1u);
        double t1 = qt_now_seconds();
        t->input_grad += t1 - t0;
        t->input_grad_flops += flops;
        t0 = t1;
    }
    int dw = n->in[1] && n->in[1]->requires_grad, db = n->in[2] && n->in[2]->requires_grad;
    if (dw || db) {
        backward_for(c, n, 6u);
        t->weight_grad += qt_now_seconds() - t0;
        t->weight_grad_flops += dw ? flops : 0.0;
    }
}

void qt_profile_phase(qt_ctx *c, qt_pass pass, double t0)
{
    qt_profile *p = c->profile;
    double dt = qt_now_seconds() - t0;
    if (pass == QT_PASS_LOSS)
        p->loss += dt;
    else if (pass == QT_PASS_PREPARE)
        p->prepare += dt;
    else if (pass == QT_PASS_UPDATE)
        p->update += dt;
}

double qt_layer_total(const qt_layer_times *t)
{
    return t->forward + t->input_grad + t->weight_grad + t->backward;
}

double qt_profile_passes(const qt_profile *p, double s[QT_PASS_COUNT])
{
    memset(s, 0, QT_PASS_COUNT * sizeof *s);
    for (int i = 0; i < p->net->nlayers; i++) {
        const qt_layer *l = &p->net->layers[i];
        const qt_layer_times *t = &p->layers[i];
        if (is_product(l)) {
            s[QT_PASS_FORWARD] += t->forward;
            s[QT_PASS_INPUT_GRAD] += t->input_grad;
            s[QT_PASS_WEIGHT_GRAD] += t->weight_grad;
        } else {
            s[l->kind == QT_LAYER_BATCHNORM ? QT_PASS_BATCHNORM : QT_PASS_OTHER] += qt_layer_total(t);
        }
    }
    s[QT_PASS_LOSS] = p->loss;
    s[QT_PASS_PREPARE] = p->prepare;
    s[QT_PASS_UPDATE] = p->update;
    double sum = 0.0;
    for (int k = 0; k < QT_PASS_COUNT; k++)
        sum += s[k];
    return sum;
}

double qt_profile_pass_flops(const qt_profile *p, qt_pass pass)
{
    double f = 0.0;
    for (int i = 0; i < p->net->nlayers; i++) {
        const qt_layer_times *t = &p->layers[i];
        f += pass == QT_PASS_FORWARD      ? t->forward_flops
             : pass == QT_PASS_INPUT_GRAD ? t->input_grad_flops
             : pass == QT_PASS_WEIGHT_GRAD ? t->weight_grad_flops
                                           : 0.0;
    }
    return f;
}

static void add_times(qt_layer_times *sum, const qt_layer_times *t)
{
    sum->forward += t->forward;
    sum->input_grad += t->input_grad;
    sum->weight_grad += t->weight_grad;
    sum->backward += t->backward;
    sum->forward_flops += t->forward_flops;
    sum->input_grad_flops += t->input_grad_flops;
    sum->weight_grad_flops += t->weight_grad_flops;
}

/* The conv shape of layer l: its input is the output of the layer it reads (or the net's). */
static qt_conv_shape_times conv_shape(const qt_net *net, const qt_layer *l)
{
    const qt_tensor *w = &l->weight->t;
    int src = l->in[0];
    qt_conv_shape_times s = {0};
    s.groups = l->conv.groups > 0 ? l->conv.groups : 1;
    s.cin = w->shape[1] * s.groups;
    s.cout = w->shape[0];
    s.k = w->shape[2];
    s.stride = l->conv.stride;
    s.pad = l->conv.pad;
    s.h = src == QT_NET_INPUT ? net->in_h : net->layers[src].out_h;
    s.w = src == QT_NET_INPUT ? net->in_w : net->layers[src].out_w;
    return s;
}

static int same_shape(const qt_conv_shape_times *a, const qt_conv_shape_times *b)
{
    return a->cin == b->cin && a->cout == b->cout && a->k == b->k && a->stride == b->stride &&
           a->pad == b->pad && a->groups == b->groups && a->h == b->h && a->w == b->w;
}

static int by_time_desc(const void *a, const void *b)
{
    double x = qt_layer_total(&((const qt_conv_shape_times *)a)->sum);
    double y = qt_layer_total(&((const qt_conv_shape_times *)b)->sum);
    return (x < y) - (x > y);
}

int qt_profile_conv_shapes(const qt_profile *p, qt_conv_shape_times *out)
{
    int n = 0;
    for (int i = 0; i < p->net->nlayers; i++) {
        const qt_layer *l = &p->net->layers[i];
        if (l->kind != QT_LAYER_CONV)
            continue;
        qt_conv_shape_times s = conv_shape(p->net, l);
        int k = 0;
        while (k < n && !same_shape(&out[k], &s))
            k++;
        if (k == n)
            out[n++] = s;
        out[k].layers++;
        add_times(&out[k].sum, &p->layers[i]);
    }
    qsort(out, (size_t)n, sizeof *out, by_time_desc);
    return n;
}

void qt_profile_layer_order(const qt_profile *p, int *order)
{
    const int n = p->net->nlayers;
    for (int i = 0; i < n; i++)
        order[i] = i;
    /* insertion sort: stable, and nets have at most a few hundred layers */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        double tv = qt_layer_total(&p->layers[v]);
        while (j > 0 && qt_layer_total(&p->layers[order[j - 1]]) < tv) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

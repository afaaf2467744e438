#include "qtrain/autograd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void qt_ctx_init(qt_ctx *c)
{
    memset(c, 0, sizeof *c);
    qt_arena_init(&c->arena, 0);
    c->grad_enabled = 1;
    c->training = 1;
    qt_rng_seed(&c->rng, 0);
}

void qt_ctx_free(qt_ctx *c)
{
    qt_arena_free(&c->arena);
    c->tape = NULL;
}

void qt_ctx_reset(qt_ctx *c)
{
    qt_arena_reset(&c->arena);
    c->tape = NULL;
    c->failed = 0;
    c->err.msg[0] = '\0';
}

void *qt_ctx_fail(qt_ctx *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        qt_verrorf(&c->err, fmt, ap);
        va_end(ap);
        c->failed = 1;
    }
    return NULL;
}

void *qt_ctx_alloc(qt_ctx *c, size_t bytes)
{
    void *p = qt_arena_alloc(&c->arena, bytes);
    if (!p)
        qt_ctx_fail(c, "out of memory allocating %zu bytes for the step arena", bytes);
    return p;
}

static qt_tensor *tensor_header(qt_ctx *c, int ndim, const int *shape)
{
    if (ndim < 1 || ndim > QT_MAX_DIMS)
        return qt_ctx_fail(c, "tensor with %d dims (1..%d supported)", ndim, QT_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1)
            return qt_ctx_fail(c, "tensor dim %d is %d", i, shape[i]);
    qt_tensor *t = qt_ctx_alloc(c, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    qt_tensor_set_shape(t, ndim, shape);
    return t;
}

qt_tensor *qt_tensor_new(qt_ctx *c, int ndim, const int *shape)
{
    qt_tensor *t = tensor_header(c, ndim, shape);
    if (t && !(t->data = qt_ctx_alloc(c, t->numel * sizeof(float))))
        return NULL;
    return t;
}

qt_tensor *qt_tensor_new4(qt_ctx *c, int n, int ch, int h, int w)
{
    int shape[4] = {n, ch, h, w};
    return qt_tensor_new(c, 4, shape);
}

qt_tensor *qt_tensor_new2(qt_ctx *c, int n, int f)
{
    int shape[2] = {n, f};
    return qt_tensor_new(c, 2, shape);
}

qt_tensor *qt_tensor_wrap(qt_ctx *c, float *data, int ndim, const int *shape)
{
    qt_tensor *t = tensor_header(c, ndim, shape);
    if (t)
        t->data = data;
    return t;
}

qt_node *qt_tape_record(qt_ctx *c, qt_backward_fn fn, qt_tensor *out,
                        qt_tensor *in0, qt_tensor *in1, qt_tensor *in2)
{
    if (!c->grad_enabled)
        return NULL;
    int needed = (in0 && in0->requires_grad) || (in1 && in1->requires_grad) ||
                 (in2 && in2->requires_grad);
    if (!needed)
        return NULL;
    qt_node *n = qt_ctx_alloc(c, sizeof *n);
    if (!n)
        return NULL;
    n->backward = fn;
    n->out = out;
    n->in[0] = in0;
    n->in[1] = in1;
    n->in[2] = in2;
    n->saved = NULL;
    n->prev = c->tape;
    c->tape = n;
    out->requires_grad = 1;
    return n;
}

void *qt_node_save(qt_ctx *c, qt_node *n, size_t bytes)
{
    if (!n)
        return NULL;
    n->saved = qt_ctx_alloc(c, bytes);
    return n->saved;
}

float *qt_grad_target(qt_ctx *c, qt_tensor *t, float *beta)
{
    if (!t || !t->requires_grad)
        return NULL;
    if (!t->grad && !(t->grad = qt_ctx_alloc(c, t->numel * sizeof(float))))
        return NULL;
    *beta = t->grad_written ? 1.0f : 0.0f;
    t->grad_written = 1;
    return t->grad;
}

static int run_tape(qt_ctx *c, qt_error *err)
{
    for (const qt_node *n = c->tape; n; n = n->prev) {
        /* A node whose output received no gradient contributes nothing. */
        if (n->out->grad && n->out->grad_written)
            n->backward(c, n);
        if (c->failed)
            return qt_errorf(err, "backward: %s", c->err.msg);
    }
    return QT_OK;
}

int qt_backward_from(qt_ctx *c, qt_tensor *out, const float *dout, qt_error *err)
{
    if (c->failed)
        return qt_errorf(err, "%s", c->err.msg);
    if (!out || !out->requires_grad)
        return qt_errorf(err, "backward: the output does not depend on any parameter");
    float beta;
    float *g = qt_grad_target(c, out, &beta);
    if (!g)
        return qt_errorf(err, "backward: %s", c->err.msg);
    memcpy(g, dout, out->numel * sizeof(float));
    return run_tape(c, err);
}

int qt_backward(qt_ctx *c, qt_tensor *loss, qt_error *err)
{
    if (loss && loss->numel != 1)
        return qt_errorf(err, "backward: the loss has %zu elements, expected 1", loss->numel);
    const float one = 1.0f;
    return qt_backward_from(c, loss, &one, err);
}

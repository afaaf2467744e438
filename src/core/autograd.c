#include "qtrain/autograd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx_step.h"
#include "qtrain/threads.h"

void qt_ctx_init(qt_ctx *c)
{
    memset(c, 0, sizeof *c);
    qt_arena_init(&c->arena, 0);
    qt_heap_init(&c->scratch);
    c->grad_enabled = 1;
    c->training = 1;
    qt_rng_seed(&c->rng, 0);
}

void qt_ctx_free(qt_ctx *c)
{
    qt_arena_free(&c->arena);
    qt_heap_free(&c->scratch);
    qt_pool_free(c->pool);
    c->pool = NULL;
    c->tape = NULL;
    c->step = NULL;
}

int qt_ctx_set_threads(qt_ctx *c, int threads, qt_error *err)
{
    if (threads == 0)
        threads = qt_cpu_count();
    if (threads < 1 || threads > QT_MAX_THREADS)
        return qt_errorf(err, "threads must be in 0..%d (0: every core), got %d", QT_MAX_THREADS,
                         threads);
    qt_pool *p = NULL;
    if (threads > 1 && qt_pool_create(&p, threads, err) != QT_OK)
        return QT_ERR;
    qt_pool_free(c->pool);
    c->pool = p;
    qt_threads_set(1);
    return QT_OK;
}

int qt_ctx_set_isa(qt_ctx *c, qt_isa isa, qt_error *err)
{
    if (!qt_isa_supported(isa))
        return qt_errorf(err, "this CPU or build cannot run %s kernels", qt_isa_name(isa));
    c->isa = isa;
    return QT_OK;
}

void qt_ctx_reset(qt_ctx *c)
{
    qt_arena_reset(&c->arena);
    qt_heap_reset(&c->scratch);
    c->tape = NULL;
    c->step = NULL;
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

qt_ctx_step *qt_ctx_step_state(qt_ctx *c)
{
    if (!c->step && (c->step = qt_ctx_alloc(c, sizeof *c->step)))
        memset(c->step, 0, sizeof *c->step);
    return c->step;
}

void *qt_ctx_scratch(qt_ctx *c, size_t bytes)
{
    void *p = qt_heap_alloc(&c->scratch, bytes);
    if (!p)
        return qt_ctx_fail(c, "out of memory allocating %zu bytes of scratch", bytes);
    if (c->arena.poison) /* a reused buffer is as unwritten as a new one */
        memset(p, 0xff, bytes);
    return p;
}

void qt_ctx_release(qt_ctx *c, const void *p) { qt_heap_release(&c->scratch, p); }

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
    const size_t bytes = t ? t->numel * sizeof(float) : 0;
    if (t && !(t->data = c->outputs_in_scratch ? qt_ctx_scratch(c, bytes) : qt_ctx_alloc(c, bytes)))
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

qt_node *qt_tape_record4(qt_ctx *c, qt_backward_fn fn, qt_tensor *out, qt_tensor *in0,
                         qt_tensor *in1, qt_tensor *in2, qt_tensor *in3)
{
    if (!c->grad_enabled)
        return NULL;
    qt_tensor *in[4] = {in0, in1, in2, in3};
    int needed = 0;
    for (int i = 0; i < 4; i++)
        needed |= in[i] && in[i]->requires_grad;
    if (!needed)
        return NULL;
    qt_node *n = qt_ctx_alloc(c, sizeof *n);
    if (!n)
        return NULL;
    n->backward = fn;
    n->out = out;
    memcpy(n->in, in, sizeof in);
    n->saved = NULL;
    n->prev = c->tape;
    n->layer = -1;
    c->tape = n;
    out->requires_grad = 1;
    out->on_tape = 1;
    return n;
}

qt_node *qt_tape_record(qt_ctx *c, qt_backward_fn fn, qt_tensor *out,
                        qt_tensor *in0, qt_tensor *in1, qt_tensor *in2)
{
    return qt_tape_record4(c, fn, out, in0, in1, in2, NULL);
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
    /* A leaf's gradient (a parameter's) is read after backward: from the arena, where it does
     * not split the heap's space for the short-lived gradients. */
    size_t bytes = t->numel * sizeof(float);
    if (!t->grad && !(t->grad = t->on_tape ? qt_ctx_scratch(c, bytes) : qt_ctx_alloc(c, bytes)))
        return NULL;
    *beta = t->grad_written ? 1.0f : 0.0f;
    t->grad_written = 1;
    return t->grad;
}

int qt_grad_hand_over(qt_ctx *c, qt_tensor *out, qt_tensor *t)
{
    if (!t || !t->requires_grad || t->grad || t->grad_written || t->numel != out->numel ||
        !qt_heap_owns(&c->scratch, out->grad))
        return 0;
    t->grad = out->grad;
    t->grad_written = 1;
    out->grad = NULL;
    out->grad_written = 0;
    return 1;
}

/* The node that produced t has run its backward: nothing reads t's gradient any more. */
static void release_grad(qt_ctx *c, qt_tensor *t)
{
    if (qt_heap_release(&c->scratch, t->grad)) {
        t->grad = NULL;
        t->grad_written = 0;
    }
}

static int run_tape(qt_ctx *c, qt_error *err)
{
    for (const qt_node *n = c->tape; n; n = n->prev) {
        /* A node whose output received no gradient contributes nothing. */
        if (n->out->grad && n->out->grad_written) {
            if (c->backward_hook)
                c->backward_hook(c, n);
            else
                n->backward(c, n);
        }
        release_grad(c, n->out);
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

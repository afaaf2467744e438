#include "qtrain/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qt_gradcheck_opts qt_gradcheck_defaults(void)
{
    qt_gradcheck_opts o = {1e-3, 1e-3, 1e-2, 0, 1, 1};
    return o;
}

typedef struct {
    qt_gradcheck_fn fn;
    void *user;
    qt_tensor *const *inputs;
    int ninputs;
    qt_ctx ctx;
    qt_rng rng0;
    float *r;                 /* projection weights, sized on the first forward */
    size_t out_numel;
} check_state;

/* One forward pass from a clean context; returns y or NULL with err set. */
static qt_tensor *forward(check_state *s, qt_error *err)
{
    qt_ctx_reset(&s->ctx);
    s->ctx.rng = s->rng0;
    for (int i = 0; i < s->ninputs; i++)
        s->inputs[i]->grad_written = 0;
    qt_tensor *y = s->fn(&s->ctx, s->inputs, s->user);
    if (!y || s->ctx.failed) {
        qt_errorf(err, "gradcheck forward failed: %s", s->ctx.err.msg);
        return NULL;
    }
    return y;
}

static int projected_loss(check_state *s, double *loss, qt_error *err)
{
    qt_tensor *y = forward(s, err);
    if (!y)
        return QT_ERR;
    if (y->numel != s->out_numel)
        return qt_errorf(err, "gradcheck: output size changed between passes");
    double acc = 0.0;
    for (size_t k = 0; k < y->numel; k++)
        acc += (double)s->r[k] * y->data[k];
    *loss = acc;
    return QT_OK;
}

static void compare(const qt_gradcheck_opts *o, qt_gradcheck_report *rep, int input, size_t k,
                    double analytic, double numeric)
{
    double diff = fabs(analytic - numeric);
    double scale = fmax(fabs(analytic), fabs(numeric));
    rep->checked++;
    if (!(diff <= rep->max_abs_err))
        rep->max_abs_err = diff;
    if (!(diff <= o->atol + o->rtol * scale)) { /* NaN fails too */
        if (!rep->failed)
            snprintf(rep->first_failure, sizeof rep->first_failure,
                     "input %d element %zu: analytic %.6g numeric %.6g", input, k, analytic,
                     numeric);
        rep->failed++;
    }
}

static int check_input(check_state *s, int i, const float *analytic, const qt_gradcheck_opts *o,
                       qt_gradcheck_report *rep, qt_error *err)
{
    qt_tensor *t = s->inputs[i];
    size_t count = o->max_checks > 0 && (size_t)o->max_checks < t->numel ? (size_t)o->max_checks
                                                                          : t->numel;
    qt_rng pick;
    qt_rng_derive(&pick, o->seed, 0x9c, (uint64_t)i);
    for (size_t m = 0; m < count; m++) {
        size_t k = count == t->numel ? m : qt_rng_below(&pick, (uint32_t)t->numel);
        float saved = t->data[k];
        double lp = 0.0, lm = 0.0;
        t->data[k] = (float)(saved + o->eps);
        double hp = (double)t->data[k] - saved;
        if (projected_loss(s, &lp, err) != QT_OK)
            return QT_ERR;
        t->data[k] = (float)(saved - o->eps);
        double hm = saved - (double)t->data[k];
        if (projected_loss(s, &lm, err) != QT_OK)
            return QT_ERR;
        t->data[k] = saved;
        compare(o, rep, i, k, analytic[k], (lp - lm) / (hp + hm));
    }
    return QT_OK;
}

static int run_check(check_state *s, const qt_gradcheck_opts *o, qt_gradcheck_report *rep,
                     float **analytic, qt_error *err)
{
    qt_tensor *y = forward(s, err);
    if (!y)
        return QT_ERR;
    s->out_numel = y->numel;
    if (!(s->r = malloc(y->numel * sizeof(float))))
        return qt_errorf(err, "gradcheck: out of memory");
    qt_rng rr;
    qt_rng_derive(&rr, o->seed, 0x7, 0);
    for (size_t k = 0; k < y->numel; k++)
        s->r[k] = qt_rng_normal(&rr);
    if (qt_backward_from(&s->ctx, y, s->r, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < s->ninputs; i++) {
        qt_tensor *t = s->inputs[i];
        if (!t->requires_grad)
            continue;
        if (!(analytic[i] = malloc(t->numel * sizeof(float))))
            return qt_errorf(err, "gradcheck: out of memory");
        if (t->grad_written)
            memcpy(analytic[i], t->grad, t->numel * sizeof(float));
        else
            memset(analytic[i], 0, t->numel * sizeof(float));
    }
    for (int i = 0; i < s->ninputs; i++)
        if (s->inputs[i]->requires_grad && check_input(s, i, analytic[i], o, rep, err) != QT_OK)
            return QT_ERR;
    return QT_OK;
}

int qt_gradcheck(qt_gradcheck_fn fn, void *user, qt_tensor *const *inputs, int ninputs,
                 const qt_gradcheck_opts *opts, qt_gradcheck_report *rep, qt_error *err)
{
    qt_gradcheck_opts o = opts ? *opts : qt_gradcheck_defaults();
    memset(rep, 0, sizeof *rep);
    check_state s = {.fn = fn, .user = user, .inputs = inputs, .ninputs = ninputs};
    qt_ctx_init(&s.ctx);
    s.ctx.arena.poison = 1;
    s.ctx.training = o.training;
    s.rng0 = s.ctx.rng;
    float **analytic = calloc((size_t)ninputs, sizeof *analytic);
    int rc = qt_errorf(err, "gradcheck: out of memory");
    int have_grads = 1;
    for (int i = 0; i < ninputs; i++) {
        inputs[i]->grad = NULL;
        if (inputs[i]->requires_grad && !(inputs[i]->grad = malloc(inputs[i]->numel * sizeof(float))))
            have_grads = 0;
        else if (inputs[i]->grad) /* NaN: a kernel must not read a gradient it should overwrite */
            memset(inputs[i]->grad, 0xff, inputs[i]->numel * sizeof(float));
    }
    if (analytic && have_grads)
        rc = run_check(&s, &o, rep, analytic, err);
    for (int i = 0; i < ninputs; i++) {
        if (analytic)
            free(analytic[i]);
        free(inputs[i]->grad);
        inputs[i]->grad = NULL;
    }
    free(analytic);
    free(s.r);
    qt_ctx_free(&s.ctx);
    return rc;
}

#include "qtrain/optimizer.h"

#include <math.h>
#include <stdlib.h>

qt_optimizer qt_optimizer_sgd(float momentum, int nesterov, float weight_decay)
{
    qt_optimizer o = {QT_OPT_SGD, momentum, nesterov, weight_decay, 0.9f, 0.999f, 1e-8f, 0};
    return o;
}

qt_optimizer qt_optimizer_adam(float beta1, float beta2, float eps, float weight_decay)
{
    qt_optimizer o = {QT_OPT_ADAM, 0.0f, 0, weight_decay, beta1, beta2, eps, 0};
    return o;
}

size_t qt_optimizer_state_floats(const qt_optimizer *o)
{
    return o->kind == QT_OPT_ADAM ? 2 : (o->momentum > 0.0f ? 1 : 0);
}

int qt_optimizer_init_state(const qt_optimizer *o, qt_param *p, qt_error *err)
{
    size_t n = p->t.numel, k = qt_optimizer_state_floats(o);
    free(p->opt_m);
    free(p->opt_v);
    p->opt_m = k >= 1 ? calloc(n, sizeof(float)) : NULL;
    p->opt_v = k >= 2 ? calloc(n, sizeof(float)) : NULL;
    if ((k >= 1 && !p->opt_m) || (k >= 2 && !p->opt_v))
        return qt_errorf(err, "out of memory for the optimizer state of %s", p->name);
    return QT_OK;
}

void qt_optimizer_begin_step(qt_optimizer *o) { o->t++; }

/* SGD with heavy-ball momentum (PyTorch's form): m = mu m + g; step = -lr (g + mu m) with
 * Nesterov, else -lr m. The settings are read into locals and the arrays are restrict, so the
 * loops vectorise (a store to m could otherwise change o's fields, for all the compiler knows). */
static void sgd_propose(const qt_optimizer *o, float lr, const float *restrict w,
                        const float *restrict g, float *restrict m, float *restrict step, size_t n)
{
    const float mu = o->momentum, wd = o->weight_decay;
    if (!m) {
        for (size_t i = 0; i < n; i++)
            step[i] = -lr * (g[i] + wd * w[i]);
    } else if (o->nesterov) {
        for (size_t i = 0; i < n; i++) {
            const float gi = g[i] + wd * w[i];
            m[i] = mu * m[i] + gi;
            step[i] = -lr * (gi + mu * m[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            m[i] = mu * m[i] + (g[i] + wd * w[i]);
            step[i] = -lr * m[i];
        }
    }
}

/* Adam (Kingma and Ba): bias-corrected moments, step = -lr m_hat / (sqrt(v_hat) + eps). */
static void adam_propose(const qt_optimizer *o, float lr, const float *restrict w,
                         const float *restrict g, float *restrict m, float *restrict v,
                         float *restrict step, size_t n)
{
    double t = (double)(o->t ? o->t : 1);
    float c1 = (float)(1.0 - pow(o->beta1, t)), c2 = (float)(1.0 - pow(o->beta2, t));
    const float a = lr / c1, inv_c2 = 1.0f / c2, b1 = o->beta1, b2 = o->beta2, eps = o->eps,
                wd = o->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        step[i] = -a * m[i] / (sqrtf(v[i] * inv_c2) + eps);
    }
}

void qt_optimizer_propose(const qt_optimizer *o, float lr, const float *w, const float *g,
                          float *m, float *v, float *step, size_t n)
{
    if (o->kind == QT_OPT_ADAM)
        adam_propose(o, lr, w, g, m, v, step, n);
    else
        sgd_propose(o, lr, w, g, m, step, n);
}

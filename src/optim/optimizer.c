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
 * Nesterov, else -lr m. */
static void sgd_propose(const qt_optimizer *o, float lr, const float *w, const float *g,
                        float *m, float *step, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + o->weight_decay * w[i];
        if (m) {
            m[i] = o->momentum * m[i] + gi;
            gi = o->nesterov ? gi + o->momentum * m[i] : m[i];
        }
        step[i] = -lr * gi;
    }
}

/* Adam (Kingma and Ba): bias-corrected moments, step = -lr m_hat / (sqrt(v_hat) + eps). */
static void adam_propose(const qt_optimizer *o, float lr, const float *w, const float *g,
                         float *m, float *v, float *step, size_t n)
{
    double t = (double)(o->t ? o->t : 1);
    float c1 = (float)(1.0 - pow(o->beta1, t)), c2 = (float)(1.0 - pow(o->beta2, t));
    float a = lr / c1, inv_c2 = 1.0f / c2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + o->weight_decay * w[i];
        m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * gi;
        v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * gi * gi;
        step[i] = -a * m[i] / (sqrtf(v[i] * inv_c2) + o->eps);
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

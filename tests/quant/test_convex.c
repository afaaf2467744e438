/* The convex setting of Li et al. 2017, section 4: least squares
 *   f(w) = 1/(2m) ||A w - b||^2,  A (500 x 10) Gaussian, b = A w* + 0.1 noise,
 * trained by minibatch SGD (batch 10, lr_t = lr0 / (1 + t/1000)) on the unbounded grid ΔZ
 * through the library's real update path (qt_quant_prepare / qt_quant_update).
 *
 * The theory: BC's float iterate gets within O(Δ) of the optimum and keeps refining, while SR's
 * iterates sit on an accuracy floor that is linear in Δ and does not move when the learning
 * rate shrinks. Measured with this exact setup (losses averaged over the second half of
 * training; best grid point by local search: 0.00778 at Δ = 0.1, 0.02764 at Δ = 0.2):
 *   Δ = 0.1, lr0 = 0.1 (20k steps):   BC f(w_r) 0.0103   SR 0.0204
 *   Δ = 0.1, lr0 = 0.01 (200k steps): BC f(w_r) 0.0101   SR 0.0211
 *   Δ = 0.2, lr0 = 0.1:                                  SR 0.0708
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "qtrain/net.h"
#include "qtrain/quant.h"
#include "test_nets.h"

enum { M = 500, D = 10, BATCH = 10 };

typedef struct {
    double a[M][D], b[M];
} problem;

static problem *make_problem(void)
{
    problem *p = malloc(sizeof *p);
    qt_rng r;
    qt_rng_seed(&r, 2017);
    double ws[D];
    for (int j = 0; j < D; j++)
        ws[j] = 0.5 * qt_rng_normal(&r);
    for (int i = 0; i < M; i++) {
        p->b[i] = 0.1 * qt_rng_normal(&r);
        for (int j = 0; j < D; j++) {
            p->a[i][j] = qt_rng_normal(&r);
            p->b[i] += p->a[i][j] * ws[j];
        }
    }
    return p;
}

static double loss_at(const problem *p, const double *w)
{
    double s = 0.0;
    for (int i = 0; i < M; i++) {
        double r = -p->b[i];
        for (int j = 0; j < D; j++)
            r += p->a[i][j] * w[j];
        s += r * r;
    }
    return 0.5 * s / M;
}

static double loss_at_float(const problem *p, const float *w)
{
    double wd[D];
    for (int j = 0; j < D; j++)
        wd[j] = w[j];
    return loss_at(p, wd);
}

/* Best grid point: start from the rounded least-squares optimum (found by gradient descent)
 * and move single coordinates by +-Δ while the loss drops. */
static double best_grid_loss(const problem *p, double delta)
{
    double w[D] = {0};
    for (int it = 0; it < 2000; it++)
        for (int j = 0; j < D; j++) {
            double g = 0.0;
            for (int i = 0; i < M; i++) {
                double r = -p->b[i];
                for (int k = 0; k < D; k++)
                    r += p->a[i][k] * w[k];
                g += r * p->a[i][j];
            }
            w[j] -= 0.5 * g / M;
        }
    for (int j = 0; j < D; j++)
        w[j] = delta * floor(w[j] / delta + 0.5);
    double best = loss_at(p, w);
    for (int improved = 1; improved;) {
        improved = 0;
        for (int j = 0; j < D; j++)
            for (int s = -1; s <= 1; s += 2) {
                w[j] += s * delta;
                double l = loss_at(p, w);
                if (l < best - 1e-15) {
                    best = l;
                    improved = 1;
                } else {
                    w[j] -= s * delta;
                }
            }
    }
    return best;
}

/* Trains with the given rule; returns the loss averaged over the second half of training, of
 * BC's float buffer or of SR's grid weights. */
static double train(const problem *p, qt_quant_mode mode, float delta, float lr0, int steps)
{
    qt_net *net = tn_linear(D, 1, 0, 1);
    qt_param *w = net->params[0];
    for (size_t j = 0; j < D; j++)
        w->t.data[j] = 0.0f;
    qt_quant_config cfg = {mode, QT_GRID_UNBOUNDED, 8, QT_SCALE_CONST, delta, 0, 0, 1, 1};
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    qt_optimizer opt = qt_optimizer_sgd(0.0f, 0, 0.0f);
    qt_ctx c;
    qt_ctx_init(&c);
    qt_rng r;
    qt_rng_seed(&r, 99);
    double sum = 0.0;
    for (int t = 0; t < steps; t++) {
        qt_ctx_reset(&c);
        qt_quant_prepare(&c, net, QT_VIEW_TRAIN, 3, (uint64_t)t);
        w->t.grad = qt_ctx_alloc(&c, D * sizeof(float));
        double g[D] = {0};
        for (int k = 0; k < BATCH; k++) {
            int i = (int)qt_rng_below(&r, M);
            double res = -p->b[i];
            for (int j = 0; j < D; j++)
                res += p->a[i][j] * w->t.data[j];  /* the weights the forward pass used */
            for (int j = 0; j < D; j++)
                g[j] += res * p->a[i][j] / BATCH;
        }
        for (int j = 0; j < D; j++)
            w->t.grad[j] = (float)g[j];
        w->t.grad_written = 1;
        qt_optimizer_begin_step(&opt);
        qt_quant_update(net, &opt, lr0 / (1.0f + (float)t / 1000.0f), 3, (uint64_t)t);
        if (t >= steps / 2) {
            if (mode == QT_QUANT_BC) {
                sum += loss_at_float(p, w->q->w_real);
            } else {
                float v[D];
                qt_quant_export_values(w, v);
                sum += loss_at_float(p, v);
            }
        }
    }
    qt_ctx_free(&c);
    qt_net_free(net);
    return sum / (steps - steps / 2);
}

static void test_bc_reaches_best_grid_loss_sr_has_floor(void **state)
{
    problem *p = make_problem();
    double best1 = best_grid_loss(p, 0.1), best2 = best_grid_loss(p, 0.2);
    double bc = train(p, QT_QUANT_BC, 0.1f, 0.1f, 20000);
    double bc_slow = train(p, QT_QUANT_BC, 0.1f, 0.01f, 200000);
    double sr = train(p, QT_QUANT_SR, 0.1f, 0.1f, 20000);
    double sr_slow = train(p, QT_QUANT_SR, 0.1f, 0.01f, 200000);
    double sr_coarse = train(p, QT_QUANT_SR, 0.2f, 0.1f, 20000);
    print_message("best grid %.5f (Δ 0.1) %.5f (Δ 0.2); BC %.5f / %.5f; SR %.5f / %.5f; SR Δ 0.2 %.5f\n",
                  best1, best2, bc, bc_slow, sr, sr_slow, sr_coarse);
    /* BC's float iterate: within 50% of the best grid point's loss, at both learning rates */
    assert_true(bc <= 1.5 * best1);
    assert_true(bc_slow <= 1.5 * best1);
    /* SR: a floor twice the best grid point's loss that a 10x smaller step does not lower */
    assert_true(sr >= 2.0 * best1);
    assert_true(sr_slow >= 0.8 * sr);
    /* and the floor grows with Δ */
    assert_true(sr_coarse >= 2.0 * sr);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bc_reaches_best_grid_loss_sr_has_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

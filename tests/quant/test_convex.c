/* The convex setting of Li et al. 2017, section 4 (include/qtrain/least_squares.h): least
 * squares f(w) = 1/(2m) ||A w - b||^2, A (500 x 10) Gaussian, b = A w* + 0.1 noise, trained
 * by minibatch SGD (batch 10, lr_t = lr0 / (1 + t/1000)) on the unbounded grid ΔZ through the
 * library's real update path. experiments/convex runs the same code over more Δ and rates.
 *
 * The theory: BC's float iterate gets within O(Δ) of the optimum and keeps refining, while SR's
 * iterates sit on an accuracy floor that is linear in Δ and does not move when the learning
 * rate shrinks. Measured with this exact setup (losses averaged over the second half of
 * training; best grid point by local search: 0.00778 at Δ = 0.1, 0.02764 at Δ = 0.2):
 *   Δ = 0.1, lr0 = 0.1 (20k steps):   BC f(w_r) 0.0103   SR 0.0193
 *   Δ = 0.1, lr0 = 0.01 (200k steps): BC f(w_r) 0.0101   SR 0.0242
 *   Δ = 0.2, lr0 = 0.1:                                  SR 0.0643
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/least_squares.h"

enum { M = 500, D = 10, BATCH = 10 };

static qt_lsq_problem make_problem(void)
{
    qt_lsq_problem p;
    qt_error err;
    assert_int_equal(qt_lsq_make(&p, M, D, 0.5, 0.1, 2017, &err), QT_OK);
    return p;
}

static double best_grid(const qt_lsq_problem *p, double delta)
{
    double loss;
    qt_error err;
    assert_int_equal(qt_lsq_best_grid_loss(p, delta, &loss, &err), QT_OK);
    return loss;
}

/* The loss averaged over the second half of training, of BC's float buffer or of SR's grid
 * weights. */
static double train(const qt_lsq_problem *p, qt_quant_mode mode, float delta, float lr0, int steps)
{
    qt_lsq_run run = {mode, delta, lr0, 1000.0f, steps, BATCH, 99};
    qt_lsq_result res;
    qt_error err;
    assert_int_equal(qt_lsq_train(p, &run, &res, &err), QT_OK);
    return res.loss;
}

static void test_bc_reaches_best_grid_loss_sr_has_floor(void **state)
{
    (void)state;
    qt_lsq_problem p = make_problem();
    double best1 = best_grid(&p, 0.1), best2 = best_grid(&p, 0.2);
    double bc = train(&p, QT_QUANT_BC, 0.1f, 0.1f, 20000);
    double bc_slow = train(&p, QT_QUANT_BC, 0.1f, 0.01f, 200000);
    double sr = train(&p, QT_QUANT_SR, 0.1f, 0.1f, 20000);
    double sr_slow = train(&p, QT_QUANT_SR, 0.1f, 0.01f, 200000);
    double sr_coarse = train(&p, QT_QUANT_SR, 0.2f, 0.1f, 20000);
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
    qt_lsq_free(&p);
}

/* FP SGD with a decaying rate ends near the float optimum (noise 0.1: f* about 0.1^2/2 times
 * (m - d)/m); the solver's optimum has zero gradient. */
static void test_fp_and_solver_agree(void **state)
{
    (void)state;
    qt_lsq_problem p = make_problem();
    double w[D], g[D] = {0};
    qt_error err;
    assert_int_equal(qt_lsq_solve(&p, w, &err), QT_OK);
    for (int i = 0; i < M; i++) {
        double r = -p.b[i];
        for (int j = 0; j < D; j++)
            r += p.a[i * D + j] * w[j];
        for (int j = 0; j < D; j++)
            g[j] += r * p.a[i * D + j] / M;
    }
    for (int j = 0; j < D; j++)
        assert_true(fabs(g[j]) < 1e-10);
    double fstar = qt_lsq_loss(&p, w);
    double fp = train(&p, QT_QUANT_FP, 0.0f, 0.1f, 20000);
    print_message("float optimum %.5f; FP SGD %.5f\n", fstar, fp);
    assert_true(fstar > 0.003 && fstar < 0.006);
    assert_true(fp >= fstar && fp <= 1.05 * fstar);
    /* the best grid point is no better than the float optimum */
    assert_true(best_grid(&p, 0.1) >= fstar);
    qt_lsq_free(&p);
}

static void test_bad_input_is_an_error(void **state)
{
    (void)state;
    qt_lsq_problem p;
    qt_error err;
    assert_int_equal(qt_lsq_make(&p, 0, 3, 1.0, 0.1, 1, &err), QT_ERR);
    assert_string_equal(err.msg, "least squares: needs m >= 1 rows and d >= 1 columns, got 0 x 3");
    assert_int_equal(qt_lsq_make(&p, 2, 3, 1.0, 0.1, 1, &err), QT_OK);
    double w[3];
    assert_int_equal(qt_lsq_solve(&p, w, &err), QT_ERR);
    assert_string_equal(err.msg, "least squares: A^T A is singular (2 rows, 3 columns)");
    qt_lsq_run run = {QT_QUANT_SR, 0.0f, 0.1f, 1000.0f, 100, 1, 1};
    qt_lsq_result res;
    assert_int_equal(qt_lsq_train(&p, &run, &res, &err), QT_ERR);
    assert_string_equal(err.msg, "least squares: grid step must be > 0, got 0");
    run.delta = 0.1f;
    run.steps = 1;
    assert_int_equal(qt_lsq_train(&p, &run, &res, &err), QT_ERR);
    assert_string_equal(err.msg, "least squares: needs steps >= 2 and batch >= 1, got 1 and 1");
    qt_lsq_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bc_reaches_best_grid_loss_sr_has_floor),
        cmocka_unit_test(test_fp_and_solver_agree),
        cmocka_unit_test(test_bad_input_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

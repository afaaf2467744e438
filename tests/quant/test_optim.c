/* Optimizers against hand-computed steps, and the learning-rate schedules. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/optimizer.h"
#include "qtrain/schedule.h"

/* SGD momentum 0.9, weight decay 0.1: g' = g + 0.1 w; m = 0.9 m + g'; step = -lr m. */
static void test_sgd_momentum(void **state)
{
    qt_optimizer o = qt_optimizer_sgd(0.9f, 0, 0.1f);
    float w = 2.0f, g = 1.0f, m = 0.0f, s;
    qt_optimizer_begin_step(&o);
    qt_optimizer_propose(&o, 0.5f, &w, &g, &m, NULL, &s, 1);
    assert_float_equal(m, 1.2f, 1e-6f);
    assert_float_equal(s, -0.6f, 1e-6f);
    qt_optimizer_propose(&o, 0.5f, &w, &g, &m, NULL, &s, 1);
    assert_float_equal(m, 0.9f * 1.2f + 1.2f, 1e-6f);
    assert_float_equal(s, -0.5f * (0.9f * 1.2f + 1.2f), 1e-6f);
    /* Nesterov: step = -lr (g' + mu m) */
    qt_optimizer n = qt_optimizer_sgd(0.9f, 1, 0.0f);
    m = 0.0f;
    qt_optimizer_propose(&n, 1.0f, &w, &g, &m, NULL, &s, 1);
    assert_float_equal(s, -(1.0f + 0.9f * 1.0f), 1e-6f);
}

/* Plain SGD (no momentum state): step = -lr (g + wd w). And every variant proposes on a
 * long array (vector loop and tail) what it proposes one element at a time, bit for bit. */
static void test_sgd_variants_elementwise(void **state)
{
    float w = 2.0f, g = 1.0f, s;
    qt_optimizer plain = qt_optimizer_sgd(0.0f, 0, 0.1f);
    qt_optimizer_propose(&plain, 0.5f, &w, &g, NULL, NULL, &s, 1);
    assert_float_equal(s, -0.5f * 1.2f, 1e-6f);
    const qt_optimizer opts[] = {plain, qt_optimizer_sgd(0.9f, 0, 5e-4f),
                                 qt_optimizer_sgd(0.9f, 1, 5e-4f)};
    enum { N = 37 };
    for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
        float wv[N], gv[N], m[N], m1[N], sv[N], s1[N];
        for (int i = 0; i < N; i++) {
            wv[i] = 0.37f * (float)(i - 18);
            gv[i] = 0.11f * (float)((i * 7) % 13) - 0.6f;
            m[i] = m1[i] = 0.05f * (float)(i % 5);
        }
        float *mv = k ? m : NULL, *mo = k ? m1 : NULL;
        qt_optimizer_propose(&opts[k], 0.1f, wv, gv, mv, NULL, sv, N);
        for (int i = 0; i < N; i++)
            qt_optimizer_propose(&opts[k], 0.1f, wv + i, gv + i, mo ? mo + i : NULL, NULL, s1 + i, 1);
        for (int i = 0; i < N; i++) {
            assert_true(sv[i] == s1[i]);
            assert_true(m[i] == m1[i]);
        }
    }
}

/* Adam's first step is -lr sign(g) (bias correction makes m_hat = g, v_hat = g^2). */
static void test_adam(void **state)
{
    qt_optimizer o = qt_optimizer_adam(0.9f, 0.999f, 1e-8f, 0.0f);
    float w[2] = {0, 0}, g[2] = {3.0f, -0.01f}, m[2] = {0}, v[2] = {0}, s[2];
    qt_optimizer_begin_step(&o);
    qt_optimizer_propose(&o, 0.01f, w, g, m, v, s, 2);
    assert_float_equal(s[0], -0.01f, 1e-7f);
    assert_float_equal(s[1], 0.01f, 1e-5f);
    /* second step with g = 1: m = 0.9*0.3 + 0.1 = 0.37 (for element 0), v = 0.999*0.009 + 0.001 */
    float g2[2] = {1.0f, 1.0f};
    qt_optimizer_begin_step(&o);
    qt_optimizer_propose(&o, 0.01f, w, g2, m, v, s, 2);
    double mh = 0.37 / (1 - 0.81), vh = (0.999 * 0.009 + 0.001) / (1 - 0.999 * 0.999);
    assert_float_equal(s[0], -0.01 * mh / (sqrt(vh) + 1e-8), 1e-6);
}

static void test_schedules(void **state)
{
    qt_schedule st = {QT_SCHED_STEP, 0.1f, 160, {82, 122}, 2, 0.1f, 0.0f, 0.0f};
    assert_float_equal(qt_schedule_lr(&st, 81.99), 0.1f, 1e-9f);
    assert_float_equal(qt_schedule_lr(&st, 82.0), 0.01f, 1e-9f);
    assert_float_equal(qt_schedule_lr(&st, 130.5), 0.001f, 1e-9f);
    /* BinaryConnect: lr_e = lr0 (lr_fin / lr0)^(e / epochs) */
    qt_schedule ex = {QT_SCHED_EXP, 0.003f, 500, {0}, 0, 0.0f, 2e-6f, 0.0f};
    assert_float_equal(qt_schedule_lr(&ex, 0.5), 0.003f, 1e-9f);
    assert_float_equal(qt_schedule_lr(&ex, 250.0), 0.003 * pow(2e-6 / 0.003, 0.5), 1e-9);
    assert_float_equal(qt_schedule_lr(&ex, 500.0), 2e-6f, 1e-10f);
    qt_schedule co = {QT_SCHED_COSINE, 1.0f, 10, {0}, 0, 0.0f, 0.0f, 0.0f};
    assert_float_equal(qt_schedule_lr(&co, 5.0), 0.5f, 1e-6f);
    assert_float_equal(qt_schedule_lr(&co, 10.0), 0.0f, 1e-6f);
    /* linear warm-up over 2 epochs on top of any schedule */
    qt_schedule wu = {QT_SCHED_CONSTANT, 0.4f, 10, {0}, 0, 0.0f, 0.0f, 2.0f};
    assert_float_equal(qt_schedule_lr(&wu, 0.5), 0.1f, 1e-7f);
    assert_float_equal(qt_schedule_lr(&wu, 3.0), 0.4f, 1e-7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_variants_elementwise),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

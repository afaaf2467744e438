/* The distillation loss KL(softmax(teacher) || softmax(student)): exact values, finite for huge
 * logits, and its gradients with respect to both inputs against finite differences.
 *
 * Gradient tolerance as the other op checks: float32 kernels, central differences with
 * eps = 1e-3, pass when |analytic - numeric| <= 2e-3 + 2e-2 * max(|analytic|, |numeric|). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qtrain/gradcheck.h"
#include "qtrain/ops.h"
#include "test_tensor.h"

/* Row 0: p = (3/4, 1/4), q = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2); row 1: equal logits
 * shifted by a constant, KL = 0. The loss is the batch mean. */
static void test_values(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    float s[4] = {0.0f, 0.0f, 1.0f, -2.0f}, t[4] = {logf(3.0f), 0.0f, 4.0f, 1.0f};
    qt_tensor *l = qt_kl_div(&c, qt_tensor_wrap(&c, s, 2, (int[]){2, 2}), qt_tensor_wrap(&c, t, 2, (int[]){2, 2}));
    assert_non_null(l);
    double row0 = 0.75 * log(1.5) + 0.25 * log(0.5);
    assert_float_equal(l->data[0], row0 / 2.0, 1e-6);
    /* huge logits stay finite: p = (1, 0), q = (e^-1e4, 1) up to rounding, KL = 1e4 */
    qt_ctx_reset(&c);
    float hs[2] = {0.0f, 1e4f}, ht[2] = {1e4f, 0.0f};
    l = qt_kl_div(&c, qt_tensor_wrap(&c, hs, 2, (int[]){1, 2}), qt_tensor_wrap(&c, ht, 2, (int[]){1, 2}));
    assert_true(isfinite(l->data[0]));
    assert_float_equal(l->data[0], 1e4, 1.0);
    /* mismatched shapes fail the context */
    qt_ctx_reset(&c);
    assert_null(qt_kl_div(&c, qt_tensor_wrap(&c, s, 2, (int[]){2, 2}), qt_tensor_wrap(&c, t, 2, (int[]){1, 4})));
    assert_string_equal(c.err.msg, "kl_div: student and teacher logits must both be (N, K)");
    qt_ctx_free(&c);
}

static qt_tensor *fn_kl(qt_ctx *c, qt_tensor *const *in, void *u)
{
    return qt_kl_div(c, in[0], in[1]);
}

static void check_grads(qt_tensor **in)
{
    qt_gradcheck_opts o = qt_gradcheck_defaults();
    o.atol = 2e-3;
    o.rtol = 2e-2;
    qt_gradcheck_report rep;
    qt_error err;
    if (qt_gradcheck(fn_kl, NULL, in, 2, &o, &rep, &err) != QT_OK)
        fail_msg("%s", err.msg);
    if (rep.failed)
        fail_msg("%d of %d elements failed; first: %s", rep.failed, rep.checked, rep.first_failure);
    assert_int_equal(rep.checked, (int)(in[0]->requires_grad * in[0]->numel + in[1]->requires_grad * in[1]->numel));
}

/* Every element of both inputs, then the student alone (the fixed teacher of finetuning). */
static void test_gradients(void **state)
{
    qt_tensor *in[2] = {tt_uniform(2, (int[]){4, 5}, -3, 3, 31, 1),
                        tt_uniform(2, (int[]){4, 5}, -3, 3, 32, 1)};
    check_grads(in);
    in[1]->requires_grad = 0;
    check_grads(in);
    tt_free(in[0]);
    tt_free(in[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

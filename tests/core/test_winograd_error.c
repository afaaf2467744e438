/* How far each 3x3 convolution path rounds from the exact result: direct, Winograd F(2x2, 3x3)
 * and F(4x4, 3x3), forward and weight gradient, against the double-precision direct
 * convolution of tests/support/naive_conv.h, on layer-like shapes (activations uniform in
 * [-1, 1), He-scaled weights).
 * Error = max |got - exact| / max |exact| over the tensor. F(4x4)'s transforms multiply by up
 * to 8 and divide by 24, so it rounds about 10x worse than the others; the bounds state that
 * and would catch a transform that loses more (a constant in half precision, a bad order of
 * additions). Measured on this project's machine (AVX-512, 2 threads): direct and F(2x2) at
 * most 9.1e-7 forward and 6.2e-7 weight gradient, F(4x4) at most 9.6e-6 and 3.7e-6; a G
 * with 1/6 rounded to 0.1667 gives F(4x4) 1e-3 and fails. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "qtrain/ops.h"
#include "naive_conv.h"
#include "test_tensor.h"

static double relative_error(const float *got, const double *want, size_t count)
{
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < count; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return err / scale;
}

/* the forward's and the weight gradient's error of one path */
static void path_error(qt_conv_algo algo, qt_tensor *x, qt_tensor *w,
                       const float *dy, const double *y_exact, const double *dw_exact,
                       double *fwd, double *wgrad)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.conv_algo = algo;
    qt_error err;
    assert_int_equal(qt_ctx_set_threads(&c, 2, &err), QT_OK);
    w->grad = calloc(w->numel, sizeof(float));
    qt_tensor *y = qt_conv2d(&c, x, w, NULL, (qt_conv_spec){1, 1, 1});
    assert_non_null(y);
    *fwd = relative_error(y->data, y_exact, y->numel);
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    *wgrad = relative_error(w->grad, dw_exact, w->numel);
    free(w->grad);
    w->grad = NULL;
    qt_ctx_free(&c);
}

static void test_rounding_per_path(void **state)
{
    /* 3x3, stride 1, pad 1, no groups or bias */
    const shape_case layers[] = {{4, 64, 16, 16, 64, 3, 1, 1, 1, 0},
                                 {4, 128, 8, 8, 128, 3, 1, 1, 1, 0},
                                 {2, 32, 32, 32, 32, 3, 1, 1, 1, 0}};
    const qt_conv_algo algos[] = {QT_CONV_DIRECT, QT_CONV_WINOGRAD, QT_CONV_WINOGRAD_F4};
    const char *names[] = {"direct", "F(2x2)", "F(4x4)"};
    const double fwd_bound[] = {4e-6, 4e-6, 4e-5}, wgrad_bound[] = {4e-6, 4e-6, 2e-5};
    for (size_t k = 0; k < sizeof layers / sizeof *layers; k++) {
        const shape_case *l = &layers[k];
        const float a = sqrtf(6.0f / (9.0f * (float)l->ci)); /* He-uniform */
        qt_tensor *x = tt_uniform(4, (int[]){l->n, l->ci, l->h, l->w}, -1, 1, 10 + k, 0);
        qt_tensor *w = tt_uniform(4, (int[]){l->co, l->ci, 3, 3}, -a, a, 20 + k, 1);
        qt_tensor *dy = tt_uniform(4, (int[]){l->n, l->co, l->h, l->w}, -1, 1, 30 + k, 0);
        double *y_exact = calloc(dy->numel, sizeof(double));
        double *dw_exact = calloc(w->numel, sizeof(double));
        double *dx_exact = calloc(x->numel, sizeof(double)), db_exact[128] = {0};
        naive_conv_forward(l, x->data, w->data, NULL, y_exact);
        naive_conv_backward(l, x->data, w->data, dy->data, dx_exact, dw_exact, db_exact);
        for (int p = 0; p < 3; p++) {
            double fwd, wgrad;
            path_error(algos[p], x, w, dy->data, y_exact, dw_exact, &fwd, &wgrad);
            print_message("%d -> %d channels, %dx%d, %s: forward %.2e, weight gradient %.2e\n",
                          l->ci, l->co, l->h, l->w, names[p], fwd, wgrad);
            if (fwd > fwd_bound[p] || wgrad > wgrad_bound[p])
                fail_msg("%s on %d channels %dx%d: errors %.2e / %.2e over %.0e / %.0e",
                         names[p], l->ci, l->h, l->w, fwd, wgrad, fwd_bound[p], wgrad_bound[p]);
        }
        free(y_exact), free(dw_exact), free(dx_exact);
        tt_free(x), tt_free(w), tt_free(dy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rounding_per_path)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

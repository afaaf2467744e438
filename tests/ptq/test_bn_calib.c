/* BatchNorm calibration: on a constructed case the running statistics become the
 * size-weighted average of the batch statistics, dropout is off, settings are restored. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/bn_calib.h"

enum { N = 10, C = 2, S = 9 };

/* input (2, 3, 3) -> dropout 0.5 -> bn: with dropout active the batch statistics would see
 * zeroed and doubled inputs. */
static qt_net *bn_net(void)
{
    qt_error err;
    qt_net *net = qt_net_new("bn", C, 3, 3, &err);
    assert_non_null(net);
    assert_int_equal(qt_net_dropout(net, QT_NET_INPUT, 0.5f, &err), 0);
    assert_int_equal(qt_net_batchnorm(net, "bn", 0, 0.1f, 1e-5f, &err), 1);
    qt_net_init_params(net, 1);
    for (int c = 0; c < C; c++) {   /* stale statistics that must be replaced */
        net->layers[1].bn.running_mean[c] = 100.0f;
        net->layers[1].bn.running_var[c] = 100.0f;
    }
    return net;
}

/* x[i, c, s] = (i + 1) * (c + 1) + s * s / 4: every batch has its own mean and spread. */
static void fill(float *x)
{
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++)
                x[(i * C + c) * S + s] = (float)((i + 1) * (c + 1)) + (float)(s * s) / 4.0f;
}

/* Size-weighted averages of the batch means and unbiased variances, batches of `batch`. */
static void expected(const float *x, int n, int batch, double *mean, double *var)
{
    for (int c = 0; c < C; c++) {
        mean[c] = var[c] = 0.0;
        for (int b0 = 0; b0 < n; b0 += batch) {
            int nb = n - b0 < batch ? n - b0 : batch, m = nb * S;
            double sum = 0.0, sq = 0.0;
            for (int i = b0; i < b0 + nb; i++)
                for (int s = 0; s < S; s++)
                    sum += x[(i * C + c) * S + s];
            double mu = sum / m;
            for (int i = b0; i < b0 + nb; i++)
                for (int s = 0; s < S; s++)
                    sq += (x[(i * C + c) * S + s] - mu) * (x[(i * C + c) * S + s] - mu);
            mean[c] += nb * mu / n;
            var[c] += nb * (sq / (m - 1)) / n;
        }
    }
}

static void test_running_statistics(void **state)
{
    float x[N * C * S];
    fill(x);
    qt_calib_set cs = {x, NULL, N, C, 3, 3};
    static const int cases[][2] = {{10, 4}, {10, 10}, {3, 4}, {50, 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        qt_net *net = bn_net();
        qt_error err;
        assert_int_equal(qt_bn_calibrate(net, &cs, cases[k][0], cases[k][1], &err), QT_OK);
        double mean[C], var[C];
        int n = cases[k][0] < N ? cases[k][0] : N;   /* 50 asks for more than there are */
        expected(x, n, cases[k][1], mean, var);
        for (int c = 0; c < C; c++) {
            print_message("n %d batch %d channel %d: mean %.5f (want %.5f), var %.5f (want %.5f)\n",
                          cases[k][0], cases[k][1], c, net->layers[1].bn.running_mean[c], mean[c],
                          net->layers[1].bn.running_var[c], var[c]);
            assert_true(fabs(net->layers[1].bn.running_mean[c] - mean[c]) < 1e-5 * fabs(mean[c]));
            assert_true(fabs(net->layers[1].bn.running_var[c] - var[c]) < 1e-5 * var[c]);
        }
        assert_true(net->layers[1].bn.momentum == 0.1f);
        assert_true(net->layers[0].p == 0.5f);
        qt_net_free(net);
    }
}

static void test_errors_leave_statistics(void **state)
{
    float x[N * C * S];
    fill(x);
    qt_calib_set cs = {x, NULL, N, C, 3, 4};
    qt_net *net = bn_net();
    qt_error err;
    assert_int_equal(qt_bn_calibrate(net, &cs, 8, 4, &err), QT_ERR);
    assert_string_equal(err.msg, "batchnorm calibration: 2x3x4 images for a 2x3x3 net");
    assert_int_equal(qt_bn_calibrate(net, &cs, 8, 0, &err), QT_ERR);
    assert_true(net->layers[1].bn.running_mean[0] == 100.0f);
    assert_int_equal(qt_net_count_batchnorm(net), 1);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_statistics),
        cmocka_unit_test(test_errors_leave_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* AdaRound on single random layers: its output error is no worse than nearest rounding's
 * (and in fact lower), its indices are those of a neighbouring level of each weight, and bad
 * settings are refused. */
#include <cblas.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/adaround.h"

/* ||W X - Q Xq||_F / ||W X||_F with Q the levels of q. */
static double output_error(const float *w, const int32_t *q, const qt_alphabet *a, int rows,
                           const qt_gpfq_data *d)
{
    const int n = d->n_features, m = d->m;
    float *qv = malloc(sizeof(float) * rows * n), *y = malloc(sizeof(float) * rows * m),
          *yq = malloc(sizeof(float) * rows * m);
    for (int k = 0; k < rows * n; k++)
        qv[k] = qt_alphabet_value(a, q[k]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, m, n, 1.0f, w, n, d->xt, m, 0.0f, y, m);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, m, n, 1.0f, qv, n, d->xqt, m, 0.0f, yq, m);
    double e = 0.0, t = 0.0;
    for (int k = 0; k < rows * m; k++) {
        e += (double)(y[k] - yq[k]) * (y[k] - yq[k]);
        t += (double)y[k] * y[k];
    }
    free(qv);
    free(y);
    free(yq);
    return sqrt(e / t);
}

/* Random layers (weights N(0,1), inputs correlated: x = z + 0.5 * shared, like features after
 * a layer), 2- and 3-bit alphabets; Xq = X plus 5% noise (a partly quantized net) on half the
 * seeds. */
static void test_no_worse_than_nearest(void **state)
{
    enum { ROWS = 16, N = 48, M = 1024 };
    for (uint64_t seed = 1; seed <= 4; seed++)
        for (int bits = 2; bits <= 3; bits++) {
            qt_rng r;
            qt_rng_seed(&r, seed);
            float *w = malloc(sizeof(float) * ROWS * N), *xt = malloc(sizeof(float) * N * M),
                  *xq = malloc(sizeof(float) * N * M);
            for (int k = 0; k < ROWS * N; k++)
                w[k] = qt_rng_normal(&r);
            for (int j = 0; j < M; j++) {
                float shared = qt_rng_normal(&r);
                for (int t = 0; t < N; t++) {
                    xt[t * M + j] = qt_rng_normal(&r) + 0.5f * shared;
                    xq[t * M + j] = xt[t * M + j] + (seed % 2 ? 0.05f * qt_rng_normal(&r) : 0.0f);
                }
            }
            qt_alphabet a;
            qt_error err;
            assert_int_equal(qt_alphabet_for_layer(&a, QT_ALPHABET_MIDRISE, bits, 2.0, w, ROWS, N,
                                                   &err), QT_OK);
            int32_t *qn = malloc(sizeof(int32_t) * ROWS * N), *qa = malloc(sizeof(int32_t) * ROWS * N);
            qt_msq(w, ROWS * N, &a, qn);
            qt_gpfq_data d = {xt, xq, N, M};
            qt_adaround_opts o = qt_adaround_defaults();
            o.seed = seed;
            assert_int_equal(qt_adaround_layer(&d, w, ROWS, &a, &o, qa, &err), QT_OK);
            double en = output_error(w, qn, &a, ROWS, &d), ea = output_error(w, qa, &a, ROWS, &d);
            print_message("seed %d, %d bits: nearest %.4f, adaround %.4f\n", (int)seed, bits, en, ea);
            assert_true(ea <= en);
            for (int k = 0; k < ROWS * N; k++) {
                assert_true(qa[k] >= 0 && qa[k] < a.levels);
                /* a neighbouring level: within one step of the weight (clipped at the ends) */
                float v = qt_alphabet_value(&a, qa[k]);
                float lo = a.lo, hi = qt_alphabet_value(&a, a.levels - 1);
                float wc = w[k] < lo ? lo : (w[k] > hi ? hi : w[k]);
                assert_true(fabsf(v - wc) <= a.step * (1.0f + 1e-5f));
            }
            free(w);
            free(xt);
            free(xq);
            free(qn);
            free(qa);
        }
}

static void test_bad_settings(void **state)
{
    float w[4] = {0.1f, -0.2f, 0.3f, 0.0f}, x[8] = {0};
    qt_alphabet a = {-1.0f, 2.0f / 3.0f, 4};
    qt_gpfq_data d = {x, x, 4, 2};
    int32_t q[4];
    qt_error err;
    qt_adaround_opts o = qt_adaround_defaults();
    o.lr = 0.0;
    assert_int_equal(qt_adaround_layer(&d, w, 1, &a, &o, q, &err), QT_ERR);
    assert_string_equal(err.msg, "AdaRound needs iterations, a batch, a positive learning rate "
                                 "and a non-negative lambda");
    o = qt_adaround_defaults();
    a.levels = 1;
    assert_int_equal(qt_adaround_layer(&d, w, 1, &a, &o, q, &err), QT_ERR);
    assert_string_equal(err.msg, "AdaRound needs an alphabet of at least 2 levels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_worse_than_nearest),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

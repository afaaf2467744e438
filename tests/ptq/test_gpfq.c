/* GPFQ on single layers: beats MSQ on Gaussian data, error shrinks with the layer width, the
 * layer sweep equals the neuron walk, outputs are alphabet members. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/gpfq.h"

typedef struct {
    float *xt;                /* N x m */
    float *w;                 /* rows x N */
    int n, m, rows;
} layer_case;

/* X with i.i.d. N(0,1) entries (the paper's setting), weights uniform in [-1, 1]. */
static layer_case make_case(int n, int m, int rows, uint64_t seed)
{
    layer_case c = {malloc(sizeof(float) * n * m), malloc(sizeof(float) * rows * n), n, m, rows};
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (int i = 0; i < n * m; i++)
        c.xt[i] = qt_rng_normal(&r);
    for (int i = 0; i < rows * n; i++)
        c.w[i] = 2.0f * qt_rng_uniform(&r) - 1.0f;
    return c;
}

static void free_case(layer_case *c)
{
    free(c->xt);
    free(c->w);
}

/* ||X w - X q||_2 / ||X w||_2 for row r. */
static double rel_error(const layer_case *c, int r, const int32_t *q, const qt_alphabet *a)
{
    double e2 = 0.0, y2 = 0.0;
    for (int i = 0; i < c->m; i++) {
        double y = 0.0, yq = 0.0;
        for (int t = 0; t < c->n; t++) {
            y += (double)c->xt[(size_t)t * c->m + i] * c->w[(size_t)r * c->n + t];
            yq += (double)c->xt[(size_t)t * c->m + i] * qt_alphabet_value(a, q[(size_t)r * c->n + t]);
        }
        e2 += (y - yq) * (y - yq);
        y2 += y * y;
    }
    return sqrt(e2 / y2);
}

static double mean_rel_error(const layer_case *c, const qt_alphabet *a, int gpfq)
{
    int32_t *q = malloc(sizeof(int32_t) * c->rows * c->n);
    qt_gpfq_data d = {c->xt, c->xt, c->n, c->m};
    qt_gpfq_opts o = {0, 1};
    qt_error err;
    if (gpfq)
        assert_int_equal(qt_gpfq_layer(&d, c->w, c->rows, a, &o, q, NULL, &err), QT_OK);
    else
        qt_msq(c->w, (size_t)c->rows * c->n, a, q);
    double s = 0.0;
    for (int r = 0; r < c->rows; r++)
        s += rel_error(c, r, q, a);
    free(q);
    return s / c->rows;
}

/* Ternary alphabet {-1, 0, 1}: GPFQ's relative output error is below MSQ's on every seed. */
static void test_gpfq_beats_msq(void **state)
{
    qt_alphabet a = {-1.0f, 1.0f, 3};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        layer_case c = make_case(64, 200, 8, seed);
        double g = mean_rel_error(&c, &a, 1), m = mean_rel_error(&c, &a, 0);
        print_message("seed %d: gpfq %.3f msq %.3f\n", (int)seed, g, m);
        assert_true(g < m);
        free_case(&c);
    }
}

/* The paper's theorem shape: with m fixed and N growing (more weights per neuron to spread
 * the error over), GPFQ's relative error decreases. */
static void test_gpfq_error_decreases_with_width(void **state)
{
    qt_alphabet a = {-1.0f, 1.0f, 3};
    const int widths[] = {32, 128, 512};
    double prev = INFINITY;
    for (int i = 0; i < 3; i++) {
        layer_case c = make_case(widths[i], 64, 6, 10 + i);
        double e = mean_rel_error(&c, &a, 1);
        print_message("N = %d: relative error %.4f\n", widths[i], e);
        assert_true(e < prev);
        prev = e;
        free_case(&c);
    }
}

/* The layer sweep (all neurons per t) equals the neuron-by-neuron walk: the same levels and the
 * same final error vectors, with X != Xq and with stochastic rounding too. */
static void test_layer_equals_neuron_walk(void **state)
{
    for (int stochastic = 0; stochastic < 2; stochastic++) {
        layer_case c = make_case(20, 15, 5, 3);
        layer_case cq = make_case(20, 15, 5, 4);
        qt_alphabet a = {-1.5f, 0.5f, 7};
        qt_gpfq_data d = {c.xt, cq.xt, c.n, c.m};
        qt_gpfq_opts o = {stochastic, 77};
        int32_t q[5 * 20], qn[20];
        float u[5 * 15], un[15];
        qt_error err;
        assert_int_equal(qt_gpfq_layer(&d, c.w, c.rows, &a, &o, q, u, &err), QT_OK);
        for (int r = 0; r < c.rows; r++) {
            assert_int_equal(qt_gpfq_neuron(&d, c.w + r * c.n, &a, &o, r, qn, un), QT_OK);
            assert_memory_equal(qn, q + r * c.n, sizeof qn);
            assert_memory_equal(un, u + r * c.m, sizeof un);
        }
        free_case(&c);
        free_case(&cq);
    }
}

/* u_N really is X w - Xq q. */
static void test_final_error_is_output_error(void **state)
{
    layer_case c = make_case(12, 9, 1, 5), cq = make_case(12, 9, 1, 6);
    qt_alphabet a = {-1.0f, 0.25f, 9};
    qt_gpfq_data d = {c.xt, cq.xt, c.n, c.m};
    qt_gpfq_opts o = {0, 1};
    int32_t q[12];
    float u[9];
    qt_error err;
    assert_int_equal(qt_gpfq_layer(&d, c.w, 1, &a, &o, q, u, &err), QT_OK);
    for (int i = 0; i < c.m; i++) {
        double e = 0.0;
        for (int t = 0; t < c.n; t++)
            e += (double)c.xt[t * c.m + i] * c.w[t] - (double)cq.xt[t * c.m + i] * qt_alphabet_value(&a, q[t]);
        assert_float_equal(u[i], e, 1e-4);
    }
    free_case(&c);
    free_case(&cq);
}

/* Alphabets: levels, scales, membership, and the errors for bad arguments. */
static void test_alphabets(void **state)
{
    assert_int_equal(qt_alphabet_levels(QT_ALPHABET_MIDRISE, log2(3.0)), 3);
    assert_int_equal(qt_alphabet_levels(QT_ALPHABET_MIDRISE, 1.58), 3);
    assert_int_equal(qt_alphabet_levels(QT_ALPHABET_MIDRISE, 4), 16);
    assert_int_equal(qt_alphabet_levels(QT_ALPHABET_ZERO, 4), 17);
    float w[6] = {0.1f, -0.4f, 0.2f, 0.3f, -0.05f, 0.6f}; /* median |w| = 0.25 */
    qt_alphabet a;
    qt_error err;
    assert_int_equal(qt_alphabet_for_layer(&a, QT_ALPHABET_MIDRISE, 2, 2.0, w, 2, 3, &err), QT_OK);
    assert_float_equal(a.lo, -0.5f, 1e-7f);
    assert_float_equal(a.step, 1.0f / 3.0f, 1e-7f);     /* {-0.5, -1/6, 1/6, 0.5} */
    assert_int_equal(qt_alphabet_nearest(&a, 0.0f), 2);  /* no zero level: ties go up */
    assert_int_equal(qt_alphabet_nearest(&a, -9.0f), 0);
    /* with zero, 2 bits: K = 2, delta = (1/2) * mean(0.4, 0.6) = 0.25 */
    assert_int_equal(qt_alphabet_for_layer(&a, QT_ALPHABET_ZERO, 2, 1.0, w, 2, 3, &err), QT_OK);
    assert_float_equal(a.step, 0.25f, 1e-7f);
    assert_int_equal(a.levels, 5);
    assert_float_equal(qt_alphabet_value(&a, 2), 0.0f, 0.0f);
    assert_int_equal(qt_alphabet_for_layer(&a, QT_ALPHABET_MIDRISE, 0.5, 1.0, w, 2, 3, &err), QT_ERR);
    assert_string_equal(err.msg, "bits must give at least 2 levels (got 0.5)");
    assert_int_equal(qt_alphabet_for_layer(&a, QT_ALPHABET_MIDRISE, 2, -1.0, w, 2, 3, &err), QT_ERR);
    assert_string_equal(err.msg, "C_alpha must be positive (got -1)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpfq_beats_msq),
        cmocka_unit_test(test_gpfq_error_decreases_with_width),
        cmocka_unit_test(test_layer_equals_neuron_walk),
        cmocka_unit_test(test_final_error_is_output_error),
        cmocka_unit_test(test_alphabets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Every op run on 3 workers against the same op run serially, forward and backward, on
 * shapes that do not split evenly. Ops that only split independent elements, planes or
 * images must match bit for bit; those whose sums are split over workers (the weight
 * gradients of conv2d and linear) to 1e-5 relative to the largest magnitude. With a fixed
 * number of workers, every result must repeat bit for bit from run to run whichever thread
 * takes which task: exact resume of a multi-threaded training run depends on it. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/ops.h"
#include "qtrain/rng.h"
#include "qtrain/threads.h"
#include "test_tensor.h"

typedef qt_tensor *(*op_fn)(qt_ctx *c, qt_tensor *const *in);

enum { MAXIN = 3 };

typedef struct {
    float *y, *grad[MAXIN];
    size_t ny;
} op_result;

static op_result run(op_fn fn, qt_tensor *const *in, int nin, int threads)
{
    for (int i = 0; i < nin; i++) {
        free(in[i]->grad);
        in[i]->grad = malloc(in[i]->numel * sizeof(float));
        in[i]->grad_written = 0;
    }
    qt_ctx c;
    qt_ctx_init(&c);
    c.arena.poison = 1;
    qt_error err;
    assert_int_equal(qt_ctx_set_threads(&c, threads, &err), QT_OK);
    qt_tensor *y = fn(&c, in);
    assert_non_null(y);
    float *dy = malloc(y->numel * sizeof *dy);
    qt_rng r;
    qt_rng_seed(&r, 31);
    for (size_t k = 0; k < y->numel; k++)
        dy[k] = 2 * qt_rng_uniform(&r) - 1;
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    op_result res = {malloc(y->numel * sizeof(float)), {0}, y->numel};
    memcpy(res.y, y->data, y->numel * sizeof(float));
    for (int i = 0; i < nin; i++) {
        res.grad[i] = malloc(in[i]->numel * sizeof(float));
        memcpy(res.grad[i], in[i]->grad, in[i]->numel * sizeof(float));
    }
    free(dy);
    qt_ctx_free(&c);
    return res;
}

static void compare(const float *got, const float *want, size_t n, double rel, const char *what)
{
    double scale = 0.0;
    for (size_t k = 0; k < n; k++)
        scale = fmax(scale, fabs(want[k]));
    for (size_t k = 0; k < n; k++)
        if (rel == 0.0 ? got[k] != want[k] : !(fabs(got[k] - want[k]) <= rel * scale))
            fail_msg("%s[%zu]: %.9g, expected %.9g", what, k, (double)got[k], (double)want[k]);
}

static void check(const char *name, op_fn fn, qt_tensor **in, int nin, double rel)
{
    op_result a = run(fn, in, nin, 1), b = run(fn, in, nin, 3);
    char what[64];
    snprintf(what, sizeof what, "%s y", name);
    compare(b.y, a.y, a.ny, rel, what);
    for (int i = 0; i < nin; i++) {
        snprintf(what, sizeof what, "%s grad %d", name, i);
        compare(b.grad[i], a.grad[i], in[i]->numel, rel, what);
        free(a.grad[i]), free(b.grad[i]);
        free(in[i]->grad);
        tt_free(in[i]);
    }
    free(a.y), free(b.y);
}

#define SHAPE4 ((int[]){5, 7, 9, 11})

static qt_tensor *op_relu(qt_ctx *c, qt_tensor *const *in) { return qt_relu(c, in[0]); }
static qt_tensor *op_hardtanh(qt_ctx *c, qt_tensor *const *in) { return qt_hardtanh(c, in[0]); }
static qt_tensor *op_add(qt_ctx *c, qt_tensor *const *in) { return qt_add(c, in[0], in[1]); }
static qt_tensor *op_maxpool(qt_ctx *c, qt_tensor *const *in) { return qt_maxpool2d(c, in[0], 3, 2, 1); }
static qt_tensor *op_avgpool(qt_ctx *c, qt_tensor *const *in) { return qt_avgpool2d(c, in[0], 2, 2, 0); }
static qt_tensor *op_gap(qt_ctx *c, qt_tensor *const *in) { return qt_global_avgpool(c, in[0]); }
static qt_tensor *op_shortcut(qt_ctx *c, qt_tensor *const *in) { return qt_shortcut_pad(c, in[0], 12, 2); }
static qt_tensor *op_linear(qt_ctx *c, qt_tensor *const *in) { return qt_linear(c, in[0], in[1], in[2]); }
static qt_tensor *op_conv3(qt_ctx *c, qt_tensor *const *in)
{
    return qt_conv2d(c, in[0], in[1], in[2], (qt_conv_spec){1, 1, 1});
}
static qt_tensor *op_conv_s2(qt_ctx *c, qt_tensor *const *in)
{
    return qt_conv2d(c, in[0], in[1], in[2], (qt_conv_spec){2, 1, 1});
}
static qt_tensor *op_bn(qt_ctx *c, qt_tensor *const *in)
{
    static float m[7], v[7] = {1, 1, 1, 1, 1, 1, 1};
    qt_bn_stats st = {m, v, 0.1f, 1e-5f};
    return qt_batchnorm(c, in[0], in[1], in[2], &st);
}

static void test_pointwise_and_pooling(void **state)
{
    check("relu", op_relu, (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 1, 1)}, 1, 0.0);
    check("hardtanh", op_hardtanh, (qt_tensor *[]){tt_uniform(4, SHAPE4, -2, 2, 2, 1)}, 1, 0.0);
    check("add", op_add,
          (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 3, 1), tt_uniform(4, SHAPE4, -1, 1, 4, 1)}, 2, 0.0);
    check("maxpool", op_maxpool, (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 5, 1)}, 1, 0.0);
    check("avgpool", op_avgpool, (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 6, 1)}, 1, 0.0);
    check("global_avgpool", op_gap, (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 7, 1)}, 1, 0.0);
    check("shortcut_pad", op_shortcut, (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 8, 1)}, 1, 0.0);
    check("batchnorm", op_bn,
          (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 9, 1), tt_uniform(1, (int[]){7}, 0.5f, 1.5f, 10, 1),
                          tt_uniform(1, (int[]){7}, -1, 1, 11, 1)}, 3, 0.0);
}

static void test_products(void **state)
{
    check("linear", op_linear,
          (qt_tensor *[]){tt_uniform(2, (int[]){37, 29}, -1, 1, 12, 1),
                          tt_uniform(2, (int[]){13, 29}, -1, 1, 13, 1),
                          tt_uniform(1, (int[]){13}, -1, 1, 14, 1)}, 3, 1e-5);
    for (int s = 1; s <= 2; s++)
        check(s == 1 ? "conv3x3" : "conv3x3/2", s == 1 ? op_conv3 : op_conv_s2,
              (qt_tensor *[]){tt_uniform(4, SHAPE4, -1, 1, 15, 1),
                              tt_uniform(4, (int[]){6, 7, 3, 3}, -1, 1, 16, 1),
                              tt_uniform(1, (int[]){6}, -1, 1, 17, 1)}, 3, 1e-5);
}

/* conv3x3 on 3 workers, `runs` times: each result must equal `want` bit for bit. */
static void expect_repeats(qt_tensor **in, const op_result *want, int runs, const char *what)
{
    char label[96];
    for (int r = 0; r < runs; r++) {
        op_result again = run(op_conv3, in, 3, 3);
        snprintf(label, sizeof label, "conv3x3 y, %s", what);
        compare(again.y, want->y, want->ny, 0.0, label);
        for (int i = 0; i < 3; i++) {
            snprintf(label, sizeof label, "conv3x3 grad %d, %s", i, what);
            compare(again.grad[i], want->grad[i], in[i]->numel, 0.0, label);
            free(again.grad[i]);
        }
        free(again.y);
    }
}

static qt_tensor **conv_case(qt_tensor **in, uint64_t seed)
{
    in[0] = tt_uniform(4, (int[]){12, 7, 9, 11}, -1, 1, seed, 1);
    in[1] = tt_uniform(4, (int[]){6, 7, 3, 3}, -1, 1, seed + 1, 1);
    in[2] = tt_uniform(1, (int[]){6}, -1, 1, seed + 2, 1);
    return in;
}

static void free_case(qt_tensor **in, op_result *res)
{
    for (int i = 0; i < 3; i++) {
        free(res->grad[i]);
        free(in[i]->grad);
        tt_free(in[i]);
    }
    free(res->y);
}

/* 3 workers, 40 runs of conv2d backward on 12 images (12 tiles): with sums kept per thread
 * rather than per fixed slot, the tiles' assignment to threads varies and so do the low bits. */
static void test_products_repeat_bitwise(void **state)
{
    qt_tensor *in[3];
    op_result first = run(op_conv3, conv_case(in, 18), 3, 3);
    expect_repeats(in, &first, 40, "repeated");
    free_case(in, &first);
}

/* Threads that keep every core busy (half spinning, half yielding), so the pool's workers
 * are preempted in the middle of their tasks. */
typedef struct {
    atomic_int stop;
    int yield;
} competitor;

static void *compete(void *arg)
{
    competitor *c = arg;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed))
        if (c->yield)
            sched_yield();
    return NULL;
}

/* The same conv2d forward and backward on 3 workers while twice as many busy threads as
 * cores compete for the CPU: bit for bit the result of the run on a quiet machine. */
static void test_products_bitwise_on_a_busy_machine(void **state)
{
    qt_tensor *in[3];
    op_result quiet = run(op_conv3, conv_case(in, 21), 3, 3);
    enum { MAXC = 16 };
    int nc = 2 * qt_cpu_count() > MAXC ? MAXC : 2 * qt_cpu_count();
    pthread_t tid[MAXC];
    competitor comp[2] = {{0, 0}, {0, 1}};
    for (int k = 0; k < nc; k++)
        assert_int_equal(pthread_create(&tid[k], NULL, compete, &comp[k % 2]), 0);
    expect_repeats(in, &quiet, 10, "busy machine");
    atomic_store(&comp[0].stop, 1);
    atomic_store(&comp[1].stop, 1);
    for (int k = 0; k < nc; k++)
        pthread_join(tid[k], NULL);
    free_case(in, &quiet);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointwise_and_pooling),
        cmocka_unit_test(test_products),
        cmocka_unit_test(test_products_repeat_bitwise),
        cmocka_unit_test(test_products_bitwise_on_a_busy_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

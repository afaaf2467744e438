/* The kernels' worker pool: every task runs exactly once, on a worker index in range, the
 * helpers really take part, parallel loops cover their range once, and back-to-back jobs
 * (the spin-then-sleep hand-off) lose nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "qtrain/threads.h"

enum { TASKS = 1000, THREADS = 3 };

typedef struct {
    atomic_int runs[TASKS];
    atomic_int bad_worker;
    int threads;
} count_job;

static void count_task(void *arg, int task, int worker)
{
    count_job *j = arg;
    atomic_fetch_add(&j->runs[task], 1);
    if (worker < 0 || worker >= j->threads)
        atomic_store(&j->bad_worker, 1);
}

static void test_every_task_once(void **state)
{
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, THREADS, &err), QT_OK);
    assert_int_equal(qt_pool_threads(p), THREADS);
    static count_job j;
    for (int ntasks = 0; ntasks <= TASKS; ntasks += 97) {
        memset(&j, 0, sizeof j);
        j.threads = THREADS;
        qt_pool_run(p, ntasks, count_task, &j);
        for (int t = 0; t < TASKS; t++)
            assert_int_equal(atomic_load(&j.runs[t]), t < ntasks ? 1 : 0);
        assert_int_equal(atomic_load(&j.bad_worker), 0);
    }
    qt_pool_free(p);
}

/* Task 0 waits for task 1 to start: only a second worker can start it, so this finishes
 * only if the helpers take tasks while the caller is busy. The wait gives up after 20 s
 * (a hang would otherwise hide the failure). */
typedef struct {
    atomic_int started1, gave_up;
} rendezvous_job;

static void rendezvous_task(void *arg, int task, int worker)
{
    rendezvous_job *j = arg;
    if (task == 1) {
        atomic_store(&j->started1, 1);
        return;
    }
    time_t t0 = time(NULL);
    while (!atomic_load(&j->started1))
        if (time(NULL) - t0 > 20) {
            atomic_store(&j->gave_up, 1);
            return;
        }
}

static void test_helpers_take_part(void **state)
{
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, 2, &err), QT_OK);
    for (int round = 0; round < 50; round++) {
        rendezvous_job j = {0, 0};
        qt_pool_run(p, 2, rendezvous_task, &j);
        assert_int_equal(atomic_load(&j.started1), 1);
        assert_int_equal(atomic_load(&j.gave_up), 0);
    }
    qt_pool_free(p);
}

typedef struct {
    atomic_int hits[TASKS];
    atomic_int empty_ranges;
} range_job;

static void range_fn(void *arg, long lo, long hi, int worker)
{
    range_job *j = arg;
    if (hi <= lo)
        atomic_fetch_add(&j->empty_ranges, 1);
    for (long i = lo; i < hi; i++)
        atomic_fetch_add(&j->hits[i], 1);
}

static void test_pool_for_covers_range(void **state)
{
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, THREADS, &err), QT_OK);
    static range_job j;
    const long sizes[] = {0, 1, 5, 17, 999, 1000};
    const long chunks[] = {1, 3, 64, 5000};
    for (int si = 0; si < 6; si++)
        for (int ci = 0; ci < 4; ci++) {
            for (int use_pool = 0; use_pool < 2; use_pool++) {
                memset(&j, 0, sizeof j);
                qt_pool_for(use_pool ? p : NULL, sizes[si], chunks[ci], range_fn, &j);
                for (long i = 0; i < TASKS; i++)
                    assert_int_equal(atomic_load(&j.hits[i]), i < sizes[si] ? 1 : 0);
                assert_int_equal(atomic_load(&j.empty_ranges), 0);
            }
        }
    qt_pool_free(p);
}

/* A NULL pool runs the tasks in order on worker 0. */
typedef struct {
    int order[16], n, worker_sum;
} serial_job;

static void serial_task(void *arg, int task, int worker)
{
    serial_job *j = arg;
    j->order[j->n++] = task;
    j->worker_sum += worker;
}

static void test_null_pool_is_serial(void **state)
{
    serial_job j = {{0}, 0, 0};
    qt_pool_run(NULL, 16, serial_task, &j);
    assert_int_equal(j.n, 16);
    for (int t = 0; t < 16; t++)
        assert_int_equal(j.order[t], t);
    assert_int_equal(j.worker_sum, 0);
    assert_int_equal(qt_pool_threads(NULL), 1);
}

/* Many short jobs in a row: helpers go from spinning to sleeping and back between them;
 * a lost wake-up or a task run twice shows in the sum. */
static void add_task(void *arg, int task, int worker)
{
    atomic_fetch_add((atomic_long *)arg, task + 1);
}

static void test_back_to_back_jobs(void **state)
{
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, THREADS, &err), QT_OK);
    atomic_long sum = 0;
    long want = 0;
    for (int round = 0; round < 20000; round++) {
        int n = 1 + round % 7;
        qt_pool_run(p, n, add_task, &sum);
        want += (long)n * (n + 1) / 2;
        if (round % 5000 == 4999) {
            struct timespec ts = {0, 2000000}; /* let the helpers fall asleep */
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(atomic_load(&sum), want);
    qt_pool_free(p);
}

static void test_bad_thread_counts(void **state)
{
    qt_pool *p = (qt_pool *)&p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, 0, &err), QT_ERR);
    assert_null(p);
    assert_string_equal(err.msg, "thread pool: 0 threads (1..256 supported)");
    assert_int_equal(qt_pool_create(&p, 257, &err), QT_ERR);
    assert_string_equal(err.msg, "thread pool: 257 threads (1..256 supported)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_task_once),
        cmocka_unit_test(test_helpers_take_part),
        cmocka_unit_test(test_pool_for_covers_range),
        cmocka_unit_test(test_null_pool_is_serial),
        cmocka_unit_test(test_back_to_back_jobs),
        cmocka_unit_test(test_bad_thread_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

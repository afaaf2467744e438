/* The kernels' worker pool: every task runs exactly once, on a worker index in range, the
 * helpers really take part, parallel loops cover their range once, back-to-back jobs (the
 * spin-then-sleep hand-off) lose nothing, waiting threads go to sleep in the kernel rather
 * than spin, and sums kept per fixed slot come out bit for bit the same however the workers
 * are delayed. */
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtrain/rng.h"

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

/* Polls cond(arg) for up to 20 s (a hang would otherwise hide the failure). */
static int eventually(int (*cond)(void *), void *arg)
{
    time_t t0 = time(NULL);
    while (!cond(arg)) {
        if (time(NULL) - t0 > 20)
            return 0;
        sched_yield();
    }
    return 1;
}

static int helper_has_slept(void *arg)
{
    qt_pool_counts n;
    qt_pool_stats(arg, &n);
    return n.helper_sleeps > 0;
}

/* Whether every thread of this process but the calling one is sleeping (state S in
 * /proc/self/task/TID/stat): blocked in the kernel, using no CPU. */
static int others_sleeping(void *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int all = 1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == (int)gettid())
            continue;
        char path[300], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread has exited */
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *state = strrchr(buf, ')'); /* "tid (comm) S ...": comm may hold spaces */
        all &= state && state[1] == ' ' && state[2] == 'S';
    }
    closedir(d);
    return all;
}

/* After a job, an idle helper stops polling and blocks in the kernel: the pool counts a
 * helper sleep and the helper threads show as sleeping. Then a new job wakes them. */
static void test_idle_helpers_sleep(void **state)
{
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, THREADS, &err), QT_OK);
    atomic_long sum = 0;
    for (int round = 0; round < 3; round++) {
        qt_pool_run(p, 64, add_task, &sum);
        assert_true(eventually(helper_has_slept, p));
        assert_true(eventually(others_sleeping, NULL));
    }
    assert_int_equal(atomic_load(&sum), 3L * 64 * 65 / 2);
    qt_pool_counts n;
    qt_pool_stats(p, &n);
    assert_int_equal(n.jobs, 3);
    qt_pool_free(p);
}

/* The caller, done with its own task while a helper's is still running, sleeps too: the
 * helper's task returns only once the pool has counted a caller sleep (or gives up after
 * 20 s, which fails the test: a caller that only spins never sleeps). */
typedef struct {
    qt_pool *p;
    atomic_int started, gave_up;
} slow_helper_job;

static int caller_has_slept(void *arg)
{
    qt_pool_counts n;
    qt_pool_stats(((slow_helper_job *)arg)->p, &n);
    return n.caller_sleeps > 0;
}

static int both_started(void *arg) { return atomic_load(&((slow_helper_job *)arg)->started) == 2; }

static void slow_helper_task(void *arg, int task, int worker)
{
    slow_helper_job *j = arg;
    atomic_fetch_add(&j->started, 1);
    if (!eventually(both_started, j))
        atomic_store(&j->gave_up, 1); /* the two tasks must run on two workers */
    if (worker != 0 && !eventually(caller_has_slept, j))
        atomic_store(&j->gave_up, 1);
}

static void test_waiting_caller_sleeps(void **state)
{
    slow_helper_job j = {NULL, 0, 0};
    qt_error err;
    assert_int_equal(qt_pool_create(&j.p, 2, &err), QT_OK);
    qt_pool_run(j.p, 2, slow_helper_task, &j);
    assert_int_equal(atomic_load(&j.gave_up), 0);
    qt_pool_counts n;
    qt_pool_stats(j.p, &n);
    assert_true(n.caller_sleeps >= 1);
    qt_pool_free(j.p);
}

/* A sum over fixed slots, as the kernels keep their partial sums: slot k adds elements
 * k, k + SLOTS, ... in order, and the slots are added in slot order at the end. Tasks are
 * delayed (sleep or yield, a pattern that changes from run to run) to mimic workers the OS
 * preempts: the result must not change by a single bit, and must equal the serial one. */
enum { SLOTS = 8, VALUES = 4099 };

typedef struct {
    const float *x;
    float part[SLOTS];
    uint64_t pattern;
} slot_sum_job;

static void slot_sum_task(void *arg, int slot, int worker)
{
    slot_sum_job *j = arg;
    switch ((j->pattern >> (2 * slot)) & 3) {
    case 1: {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        break;
    }
    case 2:
        sched_yield();
        break;
    default:
        break;
    }
    float acc = 0.0f;
    for (int i = slot; i < VALUES; i += SLOTS)
        acc += j->x[i];
    j->part[slot] = acc;
}

static float slot_sum(qt_pool *p, const float *x, uint64_t pattern)
{
    slot_sum_job j = {x, {0}, pattern};
    qt_pool_run(p, SLOTS, slot_sum_task, &j);
    float total = 0.0f;
    for (int k = 0; k < SLOTS; k++)
        total += j.part[k];
    return total;
}

static void test_slot_sums_survive_delays(void **state)
{
    static float x[VALUES];
    qt_rng r;
    qt_rng_seed(&r, 5);
    for (int i = 0; i < VALUES; i++) /* magnitudes spread over 6 decades: order matters */
        x[i] = (2 * qt_rng_uniform(&r) - 1) * powf(10.0f, 3.0f * qt_rng_uniform(&r) - 3.0f);
    const float serial = slot_sum(NULL, x, 0);
    float naive = 0.0f;
    for (int i = 0; i < VALUES; i++)
        naive += x[i];
    assert_true(naive != serial); /* else the test could not tell orders apart */
    qt_pool *p;
    qt_error err;
    assert_int_equal(qt_pool_create(&p, THREADS, &err), QT_OK);
    for (int run = 0; run < 60; run++) {
        float got = slot_sum(p, x, qt_rng_u64(&r));
        assert_memory_equal(&got, &serial, sizeof got);
    }
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
        cmocka_unit_test(test_idle_helpers_sleep),
        cmocka_unit_test(test_waiting_caller_sleeps),
        cmocka_unit_test(test_slot_sums_survive_delays),
        cmocka_unit_test(test_bad_thread_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

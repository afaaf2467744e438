/* Fork-join worker pool for the kernels (see threads.h), on Linux futexes.
 *
 * A job is (fn, arg, ntasks). The caller writes it, sets `pending` and `unclaimed` to ntasks
 * and bumps `generation`; every worker (the caller too) then claims tasks one at a time by a
 * compare-and-swap on `unclaimed`. No lock is held while a task runs or while a thread waits,
 * so a worker that the OS preempts holds up only the task it is running, never the others'
 * claims or wake-ups. A worker reads the job only after claiming one of its tasks, and the
 * caller rewrites it only once every task has finished, so the job it reads is the one it
 * claimed from.
 *
 * Waiting: idle helpers poll `generation`, and the caller polls `pending`, for SPIN_SECONDS
 * (the gap between two kernels of a step is shorter), then sleep in futex_wait on that same
 * word. A futex rather than a condition variable: the kernel checks the word and sleeps
 * atomically, so neither side needs a mutex, and a waker never blocks on a lock whose holder
 * was preempted (on a busy machine that is what turns a short wait into a time slice). A
 * sleeping caller also leaves its core idle, so the scheduler can move a preempted helper
 * there instead of both waiting for its turn on a shared core.
 *
 * Sleepers announce themselves (`sleepers`, `caller_waiting`) before checking the word one
 * last time, and wakers change the word before reading the announcement; all four are
 * sequentially consistent, so one of the two always sees the other. */
#include "qtrain/threads.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "qtrain/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#else
static inline void cpu_relax(void) {}
#endif

/* Longer than the gap between two kernels of a step (a few microseconds), much shorter than
 * a scheduler time slice (milliseconds). Measured in time, not in pause instructions: a pause
 * lasts 5 ns on some CPUs and 60 ns on others (this project's VMs). */
#define SPIN_SECONDS 50e-6
#define POLLS_PER_CLOCK_READ 32

struct qt_pool {
    int threads;
    pthread_t *helpers;
    int started;
    qt_task_fn fn;            /* the job: see the comment at the top for who reads it when */
    void *arg;
    int ntasks;
    atomic_int unclaimed;     /* tasks of the job not yet taken */
    atomic_int pending;       /* tasks not yet finished; the caller sleeps on it */
    atomic_int generation;    /* bumped for every job and at stop; helpers sleep on it */
    atomic_int sleepers;      /* helpers sleeping (or about to) on generation */
    atomic_int caller_waiting;
    atomic_int stop;
    atomic_long jobs, helper_sleeps, caller_sleeps;
};

typedef struct {
    qt_pool *p;
    int worker;
} helper_arg;

static void futex_wait(atomic_int *word, int value)
{
    syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(atomic_int *word, int count)
{
    syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

/* Polls until (*word == value) == until_equal, or stop is set, or SPIN_SECONDS pass; returns
 * whether the wait is over. */
static int spin_until(const qt_pool *p, atomic_int *word, int value, int until_equal)
{
    double deadline = 0.0;
    for (int i = 1;; i++) {
        if ((atomic_load_explicit(word, memory_order_acquire) == value) == until_equal ||
            atomic_load_explicit(&p->stop, memory_order_relaxed))
            return 1;
        cpu_relax();
        if (i % POLLS_PER_CLOCK_READ == 0) {
            double now = qt_now_seconds();
            if (deadline == 0.0)
                deadline = now + SPIN_SECONDS;
            else if (now > deadline)
                return 0;
        }
    }
}

/* Index of a task of the current job now owned by the calling worker, or -1 if none is left. */
static int claim(qt_pool *p)
{
    int left = atomic_load_explicit(&p->unclaimed, memory_order_acquire);
    while (left > 0)
        if (atomic_compare_exchange_weak_explicit(&p->unclaimed, &left, left - 1,
                                                  memory_order_acq_rel, memory_order_acquire))
            return p->ntasks - left;
    return -1;
}

/* Runs tasks of the current job until none is left to claim. */
static void take_tasks(qt_pool *p, int worker)
{
    for (int t; (t = claim(p)) >= 0;) {
        p->fn(p->arg, t, worker);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_waiting))
            futex_wake(&p->pending, 1);
    }
}

/* Returns the generation that ended the wait (a new job, or stop). */
static int wait_for_job(qt_pool *p, int seen)
{
    if (!spin_until(p, &p->generation, seen, 0)) {
        atomic_fetch_add(&p->sleepers, 1);
        while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) {
            atomic_fetch_add_explicit(&p->helper_sleeps, 1, memory_order_relaxed);
            futex_wait(&p->generation, seen);
        }
        atomic_fetch_sub(&p->sleepers, 1);
    }
    return atomic_load(&p->generation);
}

static void *helper_main(void *varg)
{
    helper_arg *ha = varg;
    qt_pool *p = ha->p;
    int worker = ha->worker;
    free(ha);
    int seen = 0; /* the generation before the first job, even if it is already posted */
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        take_tasks(p, worker);
    }
}

/* The caller, its own tasks done, waits for the helpers' to finish. */
static void wait_for_helpers(qt_pool *p)
{
    if (spin_until(p, &p->pending, 0, 1))
        return;
    atomic_store(&p->caller_waiting, 1);
    for (int left; (left = atomic_load(&p->pending)) != 0;) {
        atomic_fetch_add_explicit(&p->caller_sleeps, 1, memory_order_relaxed);
        futex_wait(&p->pending, left);
    }
    atomic_store(&p->caller_waiting, 0);
}

int qt_pool_create(qt_pool **out, int threads, qt_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > QT_MAX_THREADS)
        return qt_errorf(err, "thread pool: %d threads (1..%d supported)", threads, QT_MAX_THREADS);
    qt_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->helpers = calloc((size_t)threads, sizeof *p->helpers))) {
        free(p);
        return qt_errorf(err, "thread pool: out of memory");
    }
    p->threads = threads;
    for (int t = 1; t < threads; t++) {
        helper_arg *a = malloc(sizeof *a);
        if (a)
            *a = (helper_arg){p, t};
        if (!a || pthread_create(&p->helpers[t - 1], NULL, helper_main, a) != 0) {
            free(a);
            qt_pool_free(p);
            return qt_errorf(err, "thread pool: cannot start thread %d of %d", t + 1, threads);
        }
        p->started++;
    }
    *out = p;
    return QT_OK;
}

void qt_pool_free(qt_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->generation, 1);
    futex_wake(&p->generation, INT_MAX);
    for (int t = 0; t < p->started; t++)
        pthread_join(p->helpers[t], NULL);
    free(p->helpers);
    free(p);
}

int qt_pool_threads(const qt_pool *p) { return p ? p->threads : 1; }

void qt_pool_stats(const qt_pool *p, qt_pool_counts *out)
{
    *out = (qt_pool_counts){0, 0, 0};
    if (!p)
        return;
    out->jobs = atomic_load(&p->jobs);
    out->helper_sleeps = atomic_load(&p->helper_sleeps);
    out->caller_sleeps = atomic_load(&p->caller_sleeps);
}

void qt_pool_run(qt_pool *p, int ntasks, qt_task_fn fn, void *arg)
{
    if (ntasks <= 0)
        return;
    if (!p || p->threads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_fetch_add_explicit(&p->jobs, 1, memory_order_relaxed);
    atomic_store(&p->pending, ntasks);
    atomic_store(&p->unclaimed, ntasks);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0)
        futex_wake(&p->generation, INT_MAX);
    take_tasks(p, 0);
    wait_for_helpers(p);
}

typedef struct {
    qt_range_fn fn;
    void *arg;
    long n, chunk;
} range_job;

static void range_task(void *varg, int task, int worker)
{
    const range_job *j = varg;
    long lo = (long)task * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
    j->fn(j->arg, lo, hi, worker);
}

void qt_pool_for(qt_pool *p, long n, long min_chunk, qt_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (min_chunk < 1)
        min_chunk = 1;
    long tasks = 4L * qt_pool_threads(p); /* a few per worker: a worker that is preempted
                                           * holds up only a short piece of the job */
    if (tasks > n / min_chunk)
        tasks = n / min_chunk;
    if (tasks <= 1) {
        fn(arg, 0, n, 0);
        return;
    }
    range_job j = {fn, arg, n, (n + tasks - 1) / tasks};
    qt_pool_run(p, (int)((n + j.chunk - 1) / j.chunk), range_task, &j);
}

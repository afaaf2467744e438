/* Fork-join worker pool for the kernels (see threads.h).
 *
 * The job (fn, arg, task counters) is guarded by mu; tasks are taken one at a time under mu,
 * so a helper that wakes late simply finds no task left. A new job is announced by bumping
 * `generation`, which idle helpers poll for a while (SPIN_ROUNDS) before sleeping on `wake`;
 * the caller likewise polls `pending` before sleeping on `done`. The sleeper counts and the
 * flags they guard are sequentially consistent atomics, so a thread about to sleep and a
 * thread about to signal always see each other. */
#include "qtrain/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#else
static inline void cpu_relax(void) {}
#endif

/* About 20-50 us of polling: longer than the gap between two kernels of a step, shorter
 * than anything worth keeping a core busy for. */
#define SPIN_ROUNDS 4000

struct qt_pool {
    int threads;
    pthread_t *helpers;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint generation;
    atomic_int pending;       /* tasks of the current job not yet finished */
    atomic_int sleepers;      /* helpers waiting on `wake` */
    atomic_int caller_sleeping;
    atomic_int stop;
    qt_task_fn fn;
    void *arg;
    int ntasks, next;
};

typedef struct {
    qt_pool *p;
    int worker;
} helper_arg;

/* Runs tasks of the current job until none is left to take. */
static void take_tasks(qt_pool *p, int worker)
{
    pthread_mutex_lock(&p->mu);
    while (p->next < p->ntasks) {
        int t = p->next++;
        qt_task_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, t, worker);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

static void wait_for_job(qt_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
            atomic_load_explicit(&p->stop, memory_order_relaxed))
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
}

static void *helper_main(void *varg)
{
    helper_arg *ha = varg;
    qt_pool *p = ha->p;
    int worker = ha->worker;
    free(ha);
    unsigned seen = 0; /* the generation before the first job, even if it is already posted */
    for (;;) {
        wait_for_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        seen = atomic_load(&p->generation);
        take_tasks(p, worker);
    }
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
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
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++)
        pthread_join(p->helpers[t], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->helpers);
    free(p);
}

int qt_pool_threads(const qt_pool *p) { return p ? p->threads : 1; }

void qt_pool_run(qt_pool *p, int ntasks, qt_task_fn fn, void *arg)
{
    if (ntasks <= 0)
        return;
    if (!p || p->threads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    p->next = 0;
    atomic_store(&p->pending, ntasks);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    take_tasks(p, 0);
    for (int i = 0; i < SPIN_ROUNDS && atomic_load_explicit(&p->pending, memory_order_acquire); i++)
        cpu_relax();
    if (atomic_load(&p->pending)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, 1);
        while (atomic_load(&p->pending))
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_sleeping, 0);
        pthread_mutex_unlock(&p->mu);
    }
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

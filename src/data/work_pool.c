#include "work_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct qt_work_pool {
    int threads;
    pthread_t *helpers;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    /* the current job; generation changes when a new one is posted */
    unsigned long generation;
    qt_work_fn fn;
    void *ctx;
    int items, next_item, finished, busy;
    int stop;
};

struct helper_arg {
    qt_work_pool *p;
    int worker;
};

/* Takes items until none are left; mu is held on entry and exit. */
static void work(qt_work_pool *p, int worker)
{
    while (p->next_item < p->items) {
        int item = p->next_item++;
        qt_work_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, worker, item);
        pthread_mutex_lock(&p->mu);
        p->finished++;
    }
}

static void *helper_main(void *arg)
{
    qt_work_pool *p = ((struct helper_arg *)arg)->p;
    int worker = ((struct helper_arg *)arg)->worker;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        p->busy++;
        work(p, worker);
        p->busy--;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int qt_work_pool_create(qt_work_pool **out, int threads, qt_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > 256)
        return qt_errorf(err, "threads %d out of range 1..256", threads);
    qt_work_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->helpers = calloc((size_t)threads, sizeof *p->helpers))) {
        free(p);
        return qt_errorf(err, "out of memory for the thread pool");
    }
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < threads; t++) {
        struct helper_arg *a = malloc(sizeof *a);
        if (a)
            *a = (struct helper_arg){p, t};
        if (!a || pthread_create(&p->helpers[t - 1], NULL, helper_main, a) != 0) {
            free(a);
            qt_work_pool_free(p);
            return qt_errorf(err, "cannot start thread %d of %d", t + 1, threads);
        }
        p->started++;
    }
    *out = p;
    return QT_OK;
}

void qt_work_pool_run(qt_work_pool *p, int items, qt_work_fn fn, void *ctx)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->items = items;
    p->next_item = 0;
    p->finished = 0;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    work(p, 0);
    /* every item is finished and no helper still holds this job */
    while (p->finished < p->items || p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void qt_work_pool_free(qt_work_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++)
        pthread_join(p->helpers[t], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->helpers);
    free(p);
}


/* fp32 FMA peak: independent chains of vector FMAs on every thread (see fma_peak.h). */
#include "qtrain/fma_peak.h"

#include <pthread.h>
#include <stdlib.h>

#include "qtrain/clock.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The compiler must not know the multiplier is 1 (it could turn a * 1 + 1 into an add). */
#define HIDE(v) __asm__("" : "+v"(v))

#define CHAIN_KERNEL(name, isa_attr, vec, set1, fmadd, store, lanes)                          \
    __attribute__((target(isa_attr))) static double name(long iters)                          \
    {                                                                                       \
        vec one = set1(1.0f), a[QT_FMA_CHAINS];                                             \
        HIDE(one);                                                                          \
        for (int k = 0; k < QT_FMA_CHAINS; k++)                                             \
            a[k] = set1(0.0f);                                                              \
        for (long i = 0; i < iters; i++) {                                                  \
            _Pragma("GCC unroll 16") for (int k = 0; k < QT_FMA_CHAINS; k++)                \
                a[k] = fmadd(a[k], one, one);                                               \
        }                                                                                   \
        float v[lanes];                                                                     \
        double sum = 0.0;                                                                   \
        for (int k = 0; k < QT_FMA_CHAINS; k++) {                                           \
            store(v, a[k]);                                                                 \
            for (int l = 0; l < (lanes); l++)                                               \
                sum += v[l];                                                                \
        }                                                                                   \
        return sum;                                                                         \
    }

CHAIN_KERNEL(chains_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps,
             _mm512_storeu_ps, 16)
CHAIN_KERNEL(chains_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps,
             8)
#endif

int qt_fma_lanes(qt_isa isa)
{
    qt_isa r = qt_isa_resolve(isa);
    return r == QT_ISA_AVX512 ? 16 : r == QT_ISA_AVX2 ? 8 : 0;
}

double qt_fma_chains(qt_isa isa, long iters)
{
    if (qt_fma_lanes(isa) == 0 || !qt_isa_supported(isa))
        return -1.0;
#if defined(__x86_64__) && defined(__GNUC__)
    return qt_isa_resolve(isa) == QT_ISA_AVX512 ? chains_avx512(iters) : chains_avx2(iters);
#else
    return -1.0;
#endif
}

/* Threads wait at the gate until all of them exist (go) or one failed to start (abort). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, abort;
} gate;

typedef struct {
    gate *gate;
    pthread_barrier_t *start;
    qt_isa isa;
    long iters;
    int rounds, threads, index;
    double *begin, *end;      /* rounds x threads */
    double sink;
} fma_worker;

static void *worker_main(void *arg)
{
    fma_worker *w = arg;
    pthread_mutex_lock(&w->gate->mu);
    while (!w->gate->go && !w->gate->abort)
        pthread_cond_wait(&w->gate->cv, &w->gate->mu);
    int abort = w->gate->abort;
    pthread_mutex_unlock(&w->gate->mu);
    for (int r = 0; !abort && r < w->rounds; r++) {
        pthread_barrier_wait(w->start);
        w->begin[r * w->threads + w->index] = qt_now_seconds();
        w->sink += qt_fma_chains(w->isa, w->iters);
        w->end[r * w->threads + w->index] = qt_now_seconds();
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Each round's GFLOP/s into rate[]: FLOPs of every thread over first start to last end. */
static void round_rates(const fma_worker *w, double flops_per_thread, double *rate)
{
    for (int r = 0; r < w->rounds; r++) {
        const double *b = w->begin + r * w->threads, *e = w->end + r * w->threads;
        double t0 = b[0], t1 = e[0];
        for (int t = 1; t < w->threads; t++) {
            t0 = b[t] < t0 ? b[t] : t0;
            t1 = e[t] > t1 ? e[t] : t1;
        }
        rate[r] = flops_per_thread * w->threads / (t1 - t0) * 1e-9;
    }
}

static void open_gate(gate *g, int abort)
{
    pthread_mutex_lock(&g->mu);
    g->go = !abort;
    g->abort = abort;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int qt_fma_peak_measure(qt_isa isa, int threads, int rounds, long iters, qt_fma_peak *out,
                        qt_error *err)
{
    const int lanes = qt_fma_lanes(isa);
    if (lanes == 0 || !qt_isa_supported(isa))
        return qt_errorf(err, "FMA peak: this CPU or build cannot run %s", qt_isa_name(isa));
    if (threads < 1 || rounds < 1 || iters < 1)
        return qt_errorf(err, "FMA peak: needs threads, rounds and iterations >= 1");
    fma_worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    double *times = calloc((size_t)rounds * threads * 2 + rounds, sizeof *times);
    if (!w || !tid || !times) {
        free(w);
        free(tid);
        free(times);
        return qt_errorf(err, "FMA peak: out of memory");
    }
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++)
        w[t] = (fma_worker){&g, &start, isa, iters, rounds, threads, t, times,
                            times + (size_t)rounds * threads, 0.0};
    int started = 1, rc = QT_OK;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker_main, &w[started]) != 0) {
            rc = qt_errorf(err, "FMA peak: cannot start thread %d of %d", started + 1, threads);
            break;
        }
    open_gate(&g, rc != QT_OK);
    if (rc == QT_OK)
        worker_main(&w[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    if (rc == QT_OK) {
        double *rate = times + (size_t)rounds * threads * 2;
        round_rates(&w[0], 2.0 * QT_FMA_CHAINS * lanes * (double)iters, rate);
        qsort(rate, (size_t)rounds, sizeof *rate, cmp_double);
        out->best_gflops = rate[rounds - 1];
        out->median_gflops = rate[rounds / 2];
    }
    pthread_barrier_destroy(&start);
    free(w);
    free(tid);
    free(times);
    return rc;
}

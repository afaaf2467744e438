/* This machine's fp32 arithmetic peak, measured: every worker runs QT_FMA_CHAINS independent
 * chains of vector FMAs (a <- a * 1 + 1), enough in flight to keep every FMA pipe busy
 * whatever its latency, so the rate is the cores' FMA throughput. Benchmarks report their
 * GFLOP/s as a fraction of it (tools/fma_peak, experiments/speed.py). */
#ifndef QTRAIN_FMA_PEAK_H
#define QTRAIN_FMA_PEAK_H

#include "qtrain/cpu.h"
#include "qtrain/error.h"

#define QT_FMA_CHAINS 16

/* Floats per vector of the level: 16 for AVX-512, 8 for AVX2 (0 for others). */
int qt_fma_lanes(qt_isa isa);

/* Runs `iters` FMAs on each of the QT_FMA_CHAINS chains (of qt_fma_lanes(isa) floats, each
 * starting at 0) and returns the sum of every lane: QT_FMA_CHAINS * lanes * iters exactly while
 * iters < 2^24, which is how a test knows each chain did iters dependent FMAs. isa must be
 * AVX2 or AVX512 and supported (qt_isa_supported); returns -1 otherwise. */
double qt_fma_chains(qt_isa isa, long iters);

typedef struct qt_fma_peak {
    double best_gflops;       /* the fastest round: all threads together */
    double median_gflops;
} qt_fma_peak;

/* `threads` threads run `iters` chain iterations each per round, starting together; a round's
 * rate is its FLOPs over the slowest thread's time. best and median over `rounds` rounds
 * (the best is the peak: on a busy machine a slow round is one where a thread was preempted). */
int qt_fma_peak_measure(qt_isa isa, int threads, int rounds, long iters, qt_fma_peak *out,
                        qt_error *err);

#endif

/* Model benchmark: training or inference steps of a zoo model on random data of its input
 * shape, timed one by one. Used by `qbench`. */
#ifndef QTRAIN_BENCH_H
#define QTRAIN_BENCH_H

#include "qtrain/error.h"
#include "qtrain/profile.h"
#include "qtrain/quant.h"

typedef struct qt_bench_config {
    const char *model;
    int batch;
    int threads;              /* kernel workers; 0 = one per core */
    int train;                /* 1: training steps (SGD with `momentum`), 0: inference */
    float momentum;           /* SGD's momentum (0: plain SGD, no optimizer state) */
    qt_quant_mode quant;
    int iters, warmup;
    int image_size;           /* 0: the model's usual input (28 for mlp, 64 for resnet18, else 32) */
    int classes;              /* 0: 10, or 1000 for resnet18 */
    int profile;              /* 1: profile the timed steps (qt_bench_result.profile) */
} qt_bench_config;

typedef struct qt_bench_result {
    double img_per_s;         /* median over the timed steps */
    double img_per_s_best;
    double gflop_per_img;     /* counted by qt_net_flops_per_image */
    double gflops;            /* achieved, at the median */
    double peak_rss_mb;       /* the process's peak resident memory (ru_maxrss) */
    size_t params, param_bytes;
    size_t state_bytes;       /* weights + optimizer state + flip snapshots (qt_quant_state_bytes) */
    size_t quantized_weights; /* qt_quant_weight_count */
    int in_c, in_h, in_w, classes;
    int threads;              /* workers used (cfg->threads, or the core count for 0) */
    qt_profile *profile;      /* with cfg->profile: the timed steps' profile, of net */
    qt_net *net;              /* the benchmarked net when profiled (the profile names its layers) */
} qt_bench_result;

/* Frees the profile and net of a profiled benchmark (nothing otherwise). */
void qt_bench_result_free(qt_bench_result *r);

/* progress(i, n, user) is called after each timed step when non-NULL. */
int qt_bench_model(const qt_bench_config *cfg, qt_bench_result *out,
                   void (*progress)(int i, int n, void *user), void *user, qt_error *err);

#endif

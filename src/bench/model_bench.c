#include "qtrain/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "qtrain/clock.h"
#include "qtrain/models.h"
#include "qtrain/threads.h"
#include "qtrain/train_step.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void input_shape(const qt_bench_config *cfg, qt_bench_result *r)
{
    int mlp = strcmp(cfg->model, "mlp") == 0, r18 = strcmp(cfg->model, "resnet18") == 0;
    r->in_c = mlp ? 1 : 3;
    r->in_h = r->in_w = cfg->image_size ? cfg->image_size : (mlp ? 28 : (r18 ? 64 : 32));
    r->classes = cfg->classes ? cfg->classes : (r18 ? 1000 : 10);
}

static qt_net *build(const qt_bench_config *cfg, qt_bench_result *r, qt_error *err)
{
    static const int widths[] = {500, 300};
    qt_model_spec spec = qt_model_spec_default(cfg->model, r->in_c, r->in_h, r->in_w, r->classes);
    spec.widths = widths;
    spec.nwidths = 2;
    qt_net *net = qt_model_build(&spec, err);
    if (!net)
        return NULL;
    qt_net_init_params(net, 1);
    qt_quant_config qc = {cfg->quant, QT_GRID_BINARY, 1, QT_SCALE_MEAN_ABS, 1.0f, 0, 0, 1, 1};
    if (qt_quant_attach(net, &qc, 1, err) != QT_OK) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

static int run_steps(const qt_bench_config *cfg, qt_net *net, qt_ctx *c, qt_optimizer *opt,
                     float *x, int32_t *y, double *times, int n, int first_step,
                     void (*progress)(int, int, void *), void *user, qt_error *err)
{
    for (int i = 0; i < n; i++) {
        qt_batch_result res;
        if (c->profile)
            qt_profile_step_begin(c->profile, c);
        double t0 = qt_now_seconds();
        int rc = cfg->train
                     ? qt_train_step(c, net, opt, 0.01f, QT_LOSS_CROSS_ENTROPY, x, y, cfg->batch, 1,
                                     (uint64_t)(first_step + i), &res, err)
                     : qt_eval_batch(c, net, QT_VIEW_EVAL, QT_LOSS_CROSS_ENTROPY, x, y, cfg->batch,
                                     &res, err);
        if (rc != QT_OK)
            return QT_ERR;
        if (times)
            times[i] = qt_now_seconds() - t0;
        if (c->profile)
            qt_profile_step_end(c->profile, c);
        if (times && progress)
            progress(i + 1, n, user);
    }
    return QT_OK;
}

int qt_bench_model(const qt_bench_config *cfg, qt_bench_result *out,
                   void (*progress)(int, int, void *), void *user, qt_error *err)
{
    memset(out, 0, sizeof *out);
    if (cfg->batch < 1 || cfg->iters < 1 || cfg->warmup < 0)
        return qt_errorf(err, "benchmark needs batch >= 1, iters >= 1, warmup >= 0");
    input_shape(cfg, out);
    qt_net *net = build(cfg, out, err);
    if (!net)
        return QT_ERR;
    qt_optimizer opt = qt_optimizer_sgd(cfg->momentum, 0, 0.0f);
    size_t xn = (size_t)cfg->batch * out->in_c * out->in_h * out->in_w;
    float *x = malloc(xn * sizeof(float));
    int32_t *y = malloc((size_t)cfg->batch * sizeof(int32_t));
    double *times = malloc((size_t)cfg->iters * sizeof(double));
    qt_ctx c;
    qt_ctx_init(&c);
    int rc = x && y && times ? QT_OK : qt_errorf(err, "out of memory");
    out->threads = cfg->threads > 0 ? cfg->threads : qt_cpu_count();
    if (rc == QT_OK)
        rc = qt_ctx_set_threads(&c, out->threads, err);
    for (int i = 0; rc == QT_OK && cfg->train && i < net->nparams; i++)
        rc = qt_optimizer_init_state(&opt, net->params[i], err);
    if (rc == QT_OK) {
        qt_rng r;
        qt_rng_seed(&r, 1);
        for (size_t i = 0; i < xn; i++)
            x[i] = qt_rng_normal(&r);
        for (int i = 0; i < cfg->batch; i++)
            y[i] = (int32_t)qt_rng_below(&r, (uint32_t)out->classes);
        rc = run_steps(cfg, net, &c, &opt, x, y, NULL, cfg->warmup, 0, NULL, NULL, err);
    }
    qt_profile *profile = NULL;
    if (rc == QT_OK && cfg->profile && !(profile = qt_profile_new(net, err)))
        rc = QT_ERR;
    qt_profile_attach(&c, profile);
    if (rc == QT_OK)
        rc = run_steps(cfg, net, &c, &opt, x, y, times, cfg->iters, cfg->warmup, progress, user, err);
    if (rc == QT_OK) {
        qsort(times, (size_t)cfg->iters, sizeof *times, cmp_double);
        double median = times[cfg->iters / 2], best = times[0];
        out->img_per_s = cfg->batch / median;
        out->img_per_s_best = cfg->batch / best;
        out->gflop_per_img = qt_net_flops_per_image(net, cfg->train) * 1e-9;
        out->gflops = out->gflop_per_img * out->img_per_s;
        out->params = qt_net_param_count(net);
        out->param_bytes = qt_quant_param_bytes(net);
        out->state_bytes = qt_quant_state_bytes(net);
        out->quantized_weights = qt_quant_weight_count(net);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        out->peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
    }
    if (rc == QT_OK && c.profile) {
        out->profile = c.profile;
        out->net = net;
    } else {
        qt_profile_free(c.profile);
        qt_net_free(net);
    }
    qt_ctx_free(&c);
    free(x);
    free(y);
    free(times);
    return rc;
}

void qt_bench_result_free(qt_bench_result *r)
{
    qt_profile_free(r->profile);
    qt_net_free(r->net);
    r->profile = NULL;
    r->net = NULL;
}

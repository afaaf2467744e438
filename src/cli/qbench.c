/* qbench: throughput benchmarks. Each mode parses its own options in a function of its
 * own and calls a library benchmark; this file only parses and prints. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "profile_report.h"
#include "qtrain/augment.h"
#include "qtrain/bench.h"
#include "qtrain/dataset.h"
#include "qtrain/loader.h"
#include "qtrain/quant_rule.h"

#define PROG "qbench"

static const char usage_text[] =
    "usage: qbench MODE [options]\n"
    "\n"
    "Modes:\n"
    "  --model NAME   training or inference steps of a model on random data\n"
    "  --loader       images per second delivered by the batch loader\n"
    "\n"
    "qbench --model NAME [options]\n"
    "  NAME             resnet56, resnet20, vgg9, vgg_bc, wrn56_2, resnet18, mlp (or any\n"
    "                   qtrain model name); input 3x32x32 with 10 classes, 1x28x28 for mlp,\n"
    "                   3x64x64 with 1000 classes for resnet18\n"
    "  --batch N        images per step (default 128)\n"
    "  --threads N      worker threads (default 2; 0 = all cores)\n"
    "  --mode M         train (forward, backward, SGD with momentum; default) or infer\n"
    "  --momentum M     SGD momentum in [0, 1) (default 0.9; 0: plain SGD, which keeps no\n"
    "                   optimizer state)\n"
    "  --quant Q        the weight update rule, a quant.mode (default fp; qtrain\n"
    "                   --help-config lists them), on binary weights\n"
    "  --iters N        timed steps (default 10)\n"
    "  --warmup N       untimed steps first (default 2)\n"
    "  --image-size N   input side instead of the model's default\n"
    "  --classes N      classes instead of the model's default\n"
    "  --profile        also time every layer and pass of the timed steps (forward, input\n"
    "                   gradient, weight gradient, batchnorm, other layers, loss, weight\n"
    "                   preparation, update) and the GFLOP/s of every conv shape (counting\n"
    "                   direct-convolution FLOPs: effective rates for Winograd layers), printed\n"
    "                   as tables sorted by time (a \"profile\" object with --json); a conv\n"
    "                   or linear layer's two gradients are then computed in two calls, which\n"
    "                   can cost a little time (the step time is printed with the profile)\n"
    "  --json           print one JSON object instead of a sentence\n"
    "Prints the median and best images/s over the timed steps, the FLOPs per image (2 per\n"
    "multiply-add of conv and linear layers; a training step counts forward, input-gradient\n"
    "and weight-gradient products), the achieved GFLOP/s, the peak resident memory of the\n"
    "process (getrusage's ru_maxrss) and the state bytes: weights, optimizer state and flip\n"
    "snapshots as allocated (summary.json's state_bytes).\n"
    "\n"
    "qbench --loader [--dataset KIND [--root DIR] | --synthetic] [options]\n"
    "  --dataset KIND   cifar10, cifar100, fashion_mnist, mnist, image_folder, imagenet or\n"
    "                   tiny_imagenet\n"
    "  --root DIR       folder holding the dataset's files (default: the dataset's standard\n"
    "                   location, see datasets/README.md)\n"
    "  --synthetic      50000 random 3x32x32 images in memory (CIFAR-10 shaped); the default\n"
    "  --split S        train (default) or test; train uses the training augmentation\n"
    "                   (CIFAR: pad-4 random crop + flip; image folders: random-resized\n"
    "                   crop + flip), test only resizes/normalises\n"
    "  --image-size N   image folders: side of the produced images (default 224)\n"
    "  --no-scaled-decode  decode every JPEG at full size (default: at 1/2, 1/4 or 1/8 when\n"
    "                   the crop stays at least --image-size; data.scaled_decode)\n"
    "  --batch N        images per batch (default 128)\n"
    "  --threads N      threads decoding and augmenting each batch (default 1)\n"
    "  --iters N        batches to time after one warm-up batch (default 200)\n"
    "  --no-prefetch    build each batch when asked instead of on a background thread\n"
    "  --seed N         shuffle and augmentation seed (default 1)\n"
    "  --json           print one JSON object instead of a sentence\n"
    "  --help           show this text\n"
    "\n"
    "images/s is wall-clock; images per cpu-second divides by the CPU time of all threads,\n"
    "the rate one core sustains.\n";

typedef struct loader_options {
    const char *dataset, *root;
    int synthetic, train, json, prefetch, scaled_decode;
    long image_size, batch, threads, iters, seed;
} loader_options;

/* Returns 0 when parsed, 1 on error, -1 when help was printed. */
static int parse_loader_options(int argc, char **argv, loader_options *o)
{
    *o = (loader_options){NULL, NULL, 0, 1, 0, 1, 1, 224, 128, 1, 200, 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--dataset") || !strcmp(a, "--root") || !strcmp(a, "--split") ||
                    !strcmp(a, "--image-size") || !strcmp(a, "--batch") ||
                    !strcmp(a, "--threads") || !strcmp(a, "--iters") || !strcmp(a, "--seed");
        if (takes && !v)
            return cli_fail(PROG, "%s needs a value", a);
        if (!strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--synthetic")) {
            o->synthetic = 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--no-prefetch")) {
            o->prefetch = 0;
        } else if (!strcmp(a, "--no-scaled-decode")) {
            o->scaled_decode = 0;
        } else if (!strcmp(a, "--dataset")) {
            o->dataset = v;
        } else if (!strcmp(a, "--root")) {
            o->root = v;
        } else if (!strcmp(a, "--split")) {
            if (strcmp(v, "train") && strcmp(v, "test"))
                return cli_fail(PROG, "--split: '%s' is not train or test", v);
            o->train = !strcmp(v, "train");
        } else if ((!strcmp(a, "--image-size") && cli_int(PROG, a, v, 1, 16384, &o->image_size)) ||
                   (!strcmp(a, "--batch") && cli_int(PROG, a, v, 1, 1 << 20, &o->batch)) ||
                   (!strcmp(a, "--threads") && cli_int(PROG, a, v, 1, 256, &o->threads)) ||
                   (!strcmp(a, "--iters") && cli_int(PROG, a, v, 1, 1L << 30, &o->iters)) ||
                   (!strcmp(a, "--seed") && cli_int(PROG, a, v, 0, 0x7fffffffL, &o->seed))) {
            return 1;
        } else if (!takes) {
            return cli_fail(PROG, "unknown option '%s' (see qbench --help)", a);
        }
        i += takes;
    }
    if (o->synthetic && (o->dataset || o->root))
        return cli_fail(PROG, "--synthetic excludes --dataset and --root");
    if (!o->synthetic && !o->dataset && !o->root)
        o->synthetic = 1;
    if (!o->synthetic && !o->dataset)
        return cli_fail(PROG, "--root needs --dataset");
    return 0;
}

static int open_bench_dataset(const loader_options *o, qt_dataset **ds, qt_error *err)
{
    if (o->synthetic)
        return qt_dataset_synthetic(ds, 50000, 3, 32, 32, 10, (uint64_t)o->seed, err);
    qt_dataset_config cfg;
    qt_dataset_config_init(&cfg);
    if (qt_dataset_kind_parse(o->dataset, &cfg.kind, err) != QT_OK)
        return QT_ERR;
    cfg.root = o->root;
    cfg.split = o->train ? QT_SPLIT_TRAIN : QT_SPLIT_TEST;
    cfg.image_size = (int)o->image_size;
    return qt_dataset_open(ds, &cfg, err);
}

static void print_loader_result(const loader_options *o, const qt_dataset *ds,
                                const qt_loader_bench *r)
{
    const char *name = qt_dataset_kind_name(qt_dataset_get_kind(ds));
    if (o->json) {
        printf("{\"mode\": \"loader\", \"dataset\": \"%s\", \"split\": \"%s\", \"dataset_images\": %d, "
               "\"channels\": %d, \"height\": %d, \"width\": %d, \"batch\": %ld, \"threads\": %ld, "
               "\"prefetch\": %s, \"scaled_decode\": %s, \"batches\": %lld, \"images\": %lld, "
               "\"seconds\": %.6f, "
               "\"cpu_seconds\": %.6f, \"images_per_second\": %.1f, "
               "\"images_per_cpu_second\": %.1f}\n",
               name, o->train ? "train" : "test", qt_dataset_count(ds), qt_dataset_channels(ds),
               qt_dataset_height(ds), qt_dataset_width(ds), o->batch, o->threads,
               o->prefetch ? "true" : "false", o->scaled_decode ? "true" : "false",
               (long long)r->batches, (long long)r->images,
               r->seconds, r->cpu_seconds, r->images_per_second, r->images_per_cpu_second);
        return;
    }
    printf("loader %s %s (%d images %dx%dx%d), batch %ld, threads %ld, prefetch %s%s: "
           "%lld images in %.3f s = %.0f images/s; cpu %.3f s = %.0f images per cpu-second\n",
           name, o->train ? "train" : "test", qt_dataset_count(ds), qt_dataset_channels(ds),
           qt_dataset_height(ds), qt_dataset_width(ds), o->batch, o->threads,
           o->prefetch ? "on" : "off",
           qt_dataset_decodes(ds) && !o->scaled_decode ? ", full-size decoding" : "",
           (long long)r->images, r->seconds, r->images_per_second,
           r->cpu_seconds, r->images_per_cpu_second);
}

static int run_loader_bench(int argc, char **argv)
{
    loader_options o;
    int rc = parse_loader_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : 2;
    qt_dataset *ds;
    qt_error err;
    if (open_bench_dataset(&o, &ds, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    qt_loader_config cfg;
    qt_loader_config_init(&cfg);
    cfg.batch_size = (int)o.batch;
    cfg.threads = (int)o.threads;
    cfg.prefetch = o.prefetch;
    cfg.seed = (uint64_t)o.seed;
    cfg.scaled_decode = o.scaled_decode;
    qt_augment_preset(&cfg.augment, qt_dataset_get_kind(ds), o.train, (int)o.image_size);
    qt_loader_bench r;
    rc = qt_loader_benchmark(ds, &cfg, (int)o.iters, &r, &err);
    if (rc == QT_OK)
        print_loader_result(&o, ds, &r);
    qt_dataset_free(ds);
    return rc == QT_OK ? 0 : cli_fail(PROG, "%s", err.msg);
}

typedef struct model_options {
    qt_bench_config cfg;
    int json;
} model_options;

static int parse_quant(const char *v, qt_quant_mode *q)
{
    char names[128];
    if ((*q = qt_quant_rule_find(v)) != QT_QUANT_RULES)
        return 0;
    qt_quant_rule_names(names, sizeof names);
    return cli_fail(PROG, "--quant: '%s' is not one of %s", v, names);
}

static int parse_momentum(const char *v, float *m)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0.0 && d < 1.0))
        return cli_fail(PROG, "--momentum: '%s' is not a number in [0, 1)", v);
    *m = (float)d;
    return 0;
}

/* Returns 0 when parsed, 1 on error, -1 when help was printed. */
static int parse_model_options(int argc, char **argv, model_options *o)
{
    o->cfg = (qt_bench_config){argv[0], 128, 2, 1, 0.9f, QT_QUANT_FP, 10, 2, 0, 0, 0};
    o->json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        int takes = strcmp(a, "--json") && strcmp(a, "--help") && strcmp(a, "--profile");
        if (takes && !v)
            return cli_fail(PROG, "%s needs a value", a);
        if (!strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--profile")) {
            o->cfg.profile = 1;
        } else if (!strcmp(a, "--mode")) {
            if (strcmp(v, "train") && strcmp(v, "infer"))
                return cli_fail(PROG, "--mode: '%s' is not train or infer", v);
            o->cfg.train = !strcmp(v, "train");
        } else if (!strcmp(a, "--momentum")) {
            if (parse_momentum(v, &o->cfg.momentum))
                return 1;
        } else if (!strcmp(a, "--quant")) {
            if (parse_quant(v, &o->cfg.quant))
                return 1;
        } else if (!strcmp(a, "--batch")) {
            if (cli_int(PROG, a, v, 1, 1 << 16, &n))
                return 1;
            o->cfg.batch = (int)n;
        } else if (!strcmp(a, "--threads")) {
            if (cli_int(PROG, a, v, 0, 256, &n))
                return 1;
            o->cfg.threads = (int)n;
        } else if (!strcmp(a, "--iters")) {
            if (cli_int(PROG, a, v, 1, 1 << 20, &n))
                return 1;
            o->cfg.iters = (int)n;
        } else if (!strcmp(a, "--warmup")) {
            if (cli_int(PROG, a, v, 0, 1 << 20, &n))
                return 1;
            o->cfg.warmup = (int)n;
        } else if (!strcmp(a, "--image-size")) {
            if (cli_int(PROG, a, v, 1, 4096, &n))
                return 1;
            o->cfg.image_size = (int)n;
        } else if (!strcmp(a, "--classes")) {
            if (cli_int(PROG, a, v, 2, 1 << 20, &n))
                return 1;
            o->cfg.classes = (int)n;
        } else {
            return cli_fail(PROG, "unknown option '%s' (see qbench --help)", a);
        }
        i += takes;
    }
    return 0;
}

static int print_model_json(const model_options *o, const qt_bench_result *r)
{
    const qt_bench_config *c = &o->cfg;
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    qt_json_field_string(w, "model", c->model);
    qt_json_field_string(w, "mode", c->train ? "train" : "infer");
    qt_json_field_string(w, "quant", qt_quant_mode_name(c->quant));
    qt_json_field_int(w, "batch", c->batch);
    qt_json_field_int(w, "threads", r->threads);
    qt_json_field_number(w, "img_per_s", r->img_per_s);
    qt_json_field_number(w, "img_per_s_best", r->img_per_s_best);
    qt_json_field_number(w, "gflop_per_img", r->gflop_per_img);
    qt_json_field_number(w, "gflops", r->gflops);
    qt_json_field_number(w, "peak_rss_mb", r->peak_rss_mb);
    qt_json_field_int(w, "params", (int64_t)r->params);
    qt_json_field_int(w, "param_bytes", (int64_t)r->param_bytes);
    qt_json_field_int(w, "state_bytes", (int64_t)r->state_bytes);
    qt_json_field_int(w, "quantized_weights", (int64_t)r->quantized_weights);
    qt_json_field_number(w, "momentum", c->momentum);
    qt_json_key(w, "input");
    qt_json_begin_array(w);
    qt_json_int(w, r->in_c);
    qt_json_int(w, r->in_h);
    qt_json_int(w, r->in_w);
    qt_json_end_array(w);
    qt_json_field_int(w, "classes", r->classes);
    qt_json_field_int(w, "iters", c->iters);
    qt_json_field_int(w, "warmup", c->warmup);
    if (r->profile) {
        qt_json_key(w, "profile");
        profile_write_json(w, r->profile);
    }
    qt_json_end_object(w);
    qt_error err;
    char *text = qt_json_writer_finish(w, NULL, &err);
    if (!text)
        return cli_fail(PROG, "%s", err.msg);
    puts(text);
    free(text);
    return 0;
}

static int print_model_result(const model_options *o, const qt_bench_result *r)
{
    const qt_bench_config *c = &o->cfg;
    if (o->json)
        return print_model_json(o, r);
    printf("%s %s, quant %s, batch %d, %d threads: %.1f img/s median (best %.1f); "
           "%.3f GFLOP/img, %.1f GFLOP/s; peak RSS %.0f MB; %zu params in %zu bytes, "
           "%zu state bytes\n",
           c->model, c->train ? "train" : "infer", qt_quant_mode_name(c->quant), c->batch, r->threads,
           r->img_per_s, r->img_per_s_best, r->gflop_per_img, r->gflops, r->peak_rss_mb,
           r->params, r->param_bytes, r->state_bytes);
    if (r->profile)
        profile_print_text(stdout, r->profile, c->batch);
    return 0;
}

static int run_model_bench(int argc, char **argv)
{
    model_options o;
    int rc = parse_model_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : 2;
    qt_bench_result r;
    qt_error err;
    if (qt_bench_model(&o.cfg, &r, NULL, NULL, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    rc = print_model_result(&o, &r);
    qt_bench_result_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--loader"))
        return run_loader_bench(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--model")) {
        if (argc < 3)
            return cli_fail(PROG, "--model needs a model name"), 2;
        return run_model_bench(argc - 2, argv + 2);
    }
    cli_fail(PROG, "unknown mode '%s' (see qbench --help)", argv[1]);
    return 2;
}

/* qquant: post-training quantization of a trained checkpoint. Parsing and printing only; the
 * work is in the library (qquant.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "qtrain/dir_lock.h"
#include "qtrain/file_io.h"
#include "qtrain/qquant.h"
#include "qtrain/run_dir.h"

#define PROG "qquant"

static const char usage_text[] =
    "usage: qquant --checkpoint FILE --method gpfq|msq|adaround|pq|admm-cp|admm-epc|cp-quant\n"
    "              --out DIR [options]\n"
    "\n"
    "Quantizes a trained net after training, layer by layer, first to last, and evaluates the\n"
    "float and the quantized net on the test split (and on --val-images held-out training\n"
    "images). DIR receives model.qtr (the quantized\n"
    "weights stored as level indices plus one alphabet per layer, which layers are\n"
    "factorised, and the --act-bits input grids; `qtrain eval --checkpoint DIR/model.qtr`\n"
    "evaluates it to the accuracy qquant reports) and summary.json\n"
    "(accuracies, BOPs, parameters, per-layer weight errors ||W - W^|| / ||W||). DIR is\n"
    "created with its parents; one that holds a training run (config.ini, logs,\n"
    "checkpoints) is refused, and while qquant runs, DIR/.lock keeps other processes out.\n"
    "\n"
    "  --checkpoint FILE     a qtrain checkpoint (RUN/checkpoints/step-*.qtr); BC runs start\n"
    "                        from their float buffer, SR/R runs from their grid values\n"
    "  --config FILE         config to build the net with (default: the checkpoint's own);\n"
    "                        given once: override single keys with --set\n"
    "  --set SEC.KEY=VALUE   config override, repeatable (e.g. --set data.root=DIR)\n"
    "  --method M            gpfq: greedy path-following (Lybrand and Saab 2021);\n"
    "                        msq: round every weight to the nearest level (the baseline);\n"
    "                        adaround: round each weight up or down as learnt per layer on\n"
    "                        the calibration images (Nagel et al. 2020), same alphabet;\n"
    "                        pq: product quantization (see below)\n"
    "                        admm-cp: quantization-aware CP factorization by ADMM (Cherniuk\n"
    "                        et al. 2024): each layer becomes 1x1 -> depthwise kxk -> 1x1\n"
    "                        convs whose weights lie on --bits grids; admm-epc: the same\n"
    "                        from a float CP corrected by EPC (the paper's Algorithm 2);\n"
    "                        cp-quant: the baseline, a float CP (ALS) whose factors are\n"
    "                        then rounded\n"
    "  --bits B              alphabet size: round(2^B) levels (1.58 = ternary, 2, 3, 4, ...);\n"
    "                        with --alphabet zero, 2 round(2^(B-1)) + 1 levels (default 1.58;\n"
    "                        4 for admm-cp, admm-epc and cp-quant)\n"
    "  --calpha C            alphabet scale: levels span +-C median|W| (midrise), or the\n"
    "                        step is (C / 2^(B-1)) mean max|W_row| (zero) (default 2)\n"
    "  --alphabet A          midrise: GPFQ's M equispaced levels on [-1, 1]; zero: the\n"
    "                        follow-up's 2^B + 1 levels including 0 (default midrise)\n"
    "  --sweep-calpha LIST   gpfq, msq, adaround: one quantization per value (e.g. 1,2,3,4)\n"
    "                        into DIR/calpha-C/ and DIR/sweep.csv, each scored on the\n"
    "                        validation images only (needs --val-images); the best value is\n"
    "                        quantized again into DIR, the only one tested on the test split\n"
    "  --val-images N        hold out the first N images of the seeded permutation of the\n"
    "                        training data as a validation split: never used to quantize,\n"
    "                        calibrate or finetune; summary.json gives val_acc (default 0)\n"
    "  --calib-images N      training images used to quantize (default 5000), the ones after\n"
    "                        the validation split\n"
    "  --patches-per-image N conv layers: distinct random patch positions per image, drawn\n"
    "                        without replacement (default 16; 0 = all positions)\n"
    "  --per-channel         conv layers: quantize each input channel's k x k kernel as a\n"
    "                        neuron (the original GPFQ code) instead of whole filters\n"
    "  --stochastic          round stochastically inside GPFQ (SPFQ), seeded by --seed\n"
    "  --layers L            'all' or a comma list of layer names to quantize or factorise\n"
    "                        (default: all for gpfq/msq; for admm-cp/cp-quant every kxk conv\n"
    "                        with k > 1 except the first layer, the paper's choice)\n"
    "  --seed N              the permutation of the training data (validation, calibration\n"
    "                        and finetuning images), patch positions (default 1)\n"
    "  --threads N           BLAS threads (0 = all cores)\n"
    "\n"
    "admm-cp and cp-quant (--bits: whole bits, 2 to 8, of the factor grids):\n"
    "  --rate R              parameter reduction rate; rank R = floor(C_out C_in k^2 /\n"
    "                        ((C_out + C_in + k^2) rate)), (C_out C_in / (C_out + C_in)\n"
    "                        / rate) for 1x1 convs and linear layers (default 2)\n"
    "  --init I              admm-cp's starting factors: cp (a float CP-ALS) or random\n"
    "                        (N(0,1)) (default cp); admm-epc always starts from CP-ALS + EPC\n"
    "  --sweeps N            ADMM: at most N alternating sweeps over the factors; stops\n"
    "                        earlier when the error changes by < 1e-5 (default 100; the\n"
    "                        reference allows 1000). The best sweep's factors are kept (the\n"
    "                        reference keeps the last)\n"
    "  --admm-iters N        ADMM: at most N iterations per factor update (default 30; the\n"
    "                        reference allows 1000, stopping at eps 1e-8)\n"
    "  --diverge-window N    ADMM: stop when the error rose by more than 1e-3 over the last\n"
    "                        N sweeps (default 5, the reference's)\n"
    "  --epc-sweeps N        admm-epc: sweeps of error preserving correction (default 50, the\n"
    "                        reference's)\n"
    "  --als-sweeps N        CP-ALS sweeps (cp-quant, and --init cp; the reference initialises\n"
    "                        with 50); more sweeps fit the float CP better but, at high ranks,\n"
    "                        drift to large cancelling terms that round badly (default 50)\n"
    "  --rest-bits B         round the conv/linear layers that are not factorised to B bits\n"
    "                        on their own MSE grid (the paper keeps them at 8) (default:\n"
    "                        keep them float)\n"
    "\n"
    "Every method:\n"
    "  --bn-calib N          after quantizing, re-estimate the batchnorm running statistics\n"
    "                        on N training images (the paper uses 2048); the summary also\n"
    "                        gives the accuracy before (default 0: off)\n"
    "  --act-bits A          2..8: the input of every quantized layer takes 2^A levels, one\n"
    "                        uniform grid per tensor calibrated on the training images after\n"
    "                        weight quantization (and batchnorm calibration); 32: inputs stay\n"
    "                        float (default 32). BOPs count MACs x weight bits x the input\n"
    "                        bits as applied (32 for float layers, batchnorm and float inputs).\n"
    "                        The grids are stored in model.qtr (`qtrain eval` applies them and\n"
    "                        reproduces the accuracy qquant reports) and listed in\n"
    "                        summary.json (act_grids); `qtrain export` refuses such a model:\n"
    "                        its formats hold no activation grids\n"
    "  --act-range R         mse: the [min, max] range shrunk by the factor in [0.2, 1] that\n"
    "                        minimises the squared quantization error (the reference's\n"
    "                        L2-optimal range; outliers clip instead of coarsening every\n"
    "                        step); minmax: [min, max] (default mse)\n"
    "  --act-images N        images the activation ranges are measured on (default 500, the\n"
    "                        reference's)\n"
    "  --act-per-channel     conv layers: one range (and grid of 2^A levels) per input\n"
    "                        channel instead of one per tensor; linear layers keep one\n"
    "  --quiet               print only the result\n"
    "  --help                this text\n"
    "\n"
    "AdaRound, --method adaround (the alphabet of --bits, --calpha, --alphabet):\n"
    "  --adaround-iters N    Adam steps per layer (default 1000; the reference, AIMET, 10000)\n"
    "  --adaround-batch N    calibration samples per step (default 256)\n"
    "  --adaround-lr LR      Adam learning rate (default 0.01)\n"
    "  --adaround-reg L      weight lambda of the rounding regulariser, annealed from\n"
    "                        beta 20 to 2 after a warm start of 20% of the steps (default 0.01)\n"
    "\n"
    "Product quantization, --method pq (Stock et al. 2020, \"And the Bit Goes Down\"): each\n"
    "output's weights are cut into blocks of d values (d = 9: one input channel's 3x3 kernel)\n"
    "and replaced by the nearest of k centroids, one codebook per layer, learnt by k-means\n"
    "weighted by the layer's inputs so that its outputs are kept. Layers go first to last, each\n"
    "seeing the inputs of the partly quantized net; with --layers all the first layer stays\n"
    "float, as do batchnorm and biases. model.qtr stores the indices and fp16 centroids;\n"
    "summary.json the paper's size accounting (log2(k)/d bits per weight, k*d*2 bytes of\n"
    "centroids per layer, 4 bytes per other parameter, MB = 2^20 bytes). --calib-images sets\n"
    "the images finetuning draws from; --seed the EM's starts and samples.\n"
    "  --block-size D        d for convs larger than 1x1 (default 9; 18 = the large blocks)\n"
    "  --centroids K         k for those convs (default 256)\n"
    "  --pw-block-size D     d for 1x1 convs (default 4)\n"
    "  --pw-centroids K      k for 1x1 convs (default 256)\n"
    "  --fc-block-size D     d for linear layers (default 4)\n"
    "  --fc-centroids K      k for linear layers (default 2048)\n"
    "                        every k is clamped to the largest power of 2 below the layer's\n"
    "                        subvectors / 4\n"
    "  --em-iters N          EM iterations per layer (default 100)\n"
    "  --em-sample N         input patches drawn afresh for each EM iteration (default 4096;\n"
    "                        0 = all of them every time)\n"
    "  --act-images N        calibration images whose layer inputs feed the EM (default 1024)\n"
    "  --finetune-steps N    distillation steps (KL to the float net's softmax) on each layer's\n"
    "                        centroids right after it is quantized, batchnorm statistics\n"
    "                        frozen (default 100; the reference runs 2500 on ImageNet)\n"
    "  --global-finetune-steps N  steps on all centroids at the end, batchnorm in training\n"
    "                        mode, learning rate /10 after each third (default 300; the\n"
    "                        reference runs 90000)\n"
    "  --finetune-images N   training images finetuning draws from (after the validation\n"
    "                        split; the EM uses the first --act-images of them) (default\n"
    "                        10000; 0 = all)\n"
    "  --finetune-batch N    images per finetuning step (default 128)\n"
    "  --finetune-lr LR      SGD learning rate of the layer stage (default 0.05; momentum 0.9,\n"
    "                        weight decay 1e-4 in both stages)\n"
    "  --global-finetune-lr LR  learning rate of the global stage (default 0.01)\n";

typedef struct args {
    qt_qquant_opts o;
    const char **sets;        /* room for argc entries */
    double *sweep;
    int nsweep, quiet, bits_set;
    int pq_global_steps;      /* -1: as --finetune-steps */
} args;

/* A comma list of positive numbers into a new array *out (count *n). */
static int parse_list(const char *s, double **out, int *n)
{
    size_t max = 1;
    for (const char *p = s; *p; p++)
        max += *p == ',';
    free(*out);
    double *v = *out = malloc(max * sizeof *v);
    *n = 0;
    if (!v)
        return cli_fail(PROG, "out of memory");
    while (*s) {
        char *end;
        v[(*n)++] = strtod(s, &end);
        if (end == s || !isfinite(v[*n - 1]) || v[*n - 1] <= 0 || (*end && *end != ','))
            return cli_fail(PROG, "--sweep-calpha: '%s' is not a list of positive numbers", s);
        s = *end ? end + 1 : end;
    }
    return *n > 0 ? 0 : cli_fail(PROG, "--sweep-calpha needs at least one value");
}

/* The numeric options that only set a field. Returns 0 when argv[*i] is not one of them, 1
 * when parsed, -1 on error (printed). */
static int parse_number(args *a, int argc, char **argv, int *i)
{
    qt_pq_opts *p = &a->o.pq;
    qt_cp_net_opts *cp = &a->o.cp;
    const struct { const char *opt; int *dst; long lo, hi; } ints[] = {
        {"--calib-images", &a->o.calib_images, 1, 10000000},
        {"--patches-per-image", &a->o.patches_per_image, 0, 1000000},
        {"--threads", &a->o.threads, 0, 1024},
        {"--bn-calib", &a->o.bn_calib, 0, 10000000},
        {"--val-images", &a->o.val_images, 0, 10000000},
        {"--act-bits", &a->o.act.bits, 2, 32},
        {"--act-images", &a->o.act.images, 1, 10000000},
        {"--diverge-window", &cp->diverge_window, 1, 100000},
        {"--epc-sweeps", &cp->epc_sweeps, 1, 100000},
        {"--finetune-images", &a->o.pq_finetune_images, 0, 100000000},
        {"--adaround-iters", &a->o.adaround.iters, 1, 10000000},
        {"--adaround-batch", &a->o.adaround.batch, 1, 10000000},
        {"--sweeps", &cp->max_sweeps, 1, 100000},
        {"--admm-iters", &cp->max_inner, 1, 100000},
        {"--als-sweeps", &cp->als_sweeps, 1, 100000},
        {"--rest-bits", &cp->rest_bits, 2, 8},
        {"--block-size", &p->blocks.conv_d, 1, QT_PQ_MAX_BLOCK},
        {"--centroids", &p->blocks.conv_k, 1, 65536},
        {"--pw-block-size", &p->blocks.pw_d, 1, QT_PQ_MAX_BLOCK},
        {"--pw-centroids", &p->blocks.pw_k, 1, 65536},
        {"--fc-block-size", &p->blocks.fc_d, 1, QT_PQ_MAX_BLOCK},
        {"--fc-centroids", &p->blocks.fc_k, 1, 65536},
        {"--em-iters", &p->em.iters, 1, 1000000},
        {"--em-sample", &p->em.sample, 0, 100000000},
        {"--act-images", &p->act_images, 1, 10000000},
        {"--finetune-steps", &p->layer_ft.steps, 0, 100000000},
        {"--global-finetune-steps", &a->pq_global_steps, 0, 100000000},
        {"--finetune-batch", &p->layer_ft.batch, 1, 100000},
    };
    const struct { const char *opt; double *dst, lo, hi; } reals[] = {
        {"--calpha", &a->o.c_alpha, 1e-6, 1e6},
        {"--rate", &cp->rate, 1e-3, 1e6},
        {"--adaround-lr", &a->o.adaround.lr, 1e-9, 1e3},
        {"--adaround-reg", &a->o.adaround.reg, 0.0, 1e6},
        {"--finetune-lr", &p->layer_ft.lr, 1e-9, 1e3},
        {"--global-finetune-lr", &p->global_ft.lr, 1e-9, 1e3},
    };
    const char *v;
    int missing;
    long n;
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if (!(v = cli_value(PROG, argc, argv, i, ints[k].opt, &missing)) && !missing)
            continue;
        if (missing || cli_int(PROG, ints[k].opt, v, ints[k].lo, ints[k].hi, &n))
            return -1;
        *ints[k].dst = (int)n;
        return 1;
    }
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) {
        if (!(v = cli_value(PROG, argc, argv, i, reals[k].opt, &missing)) && !missing)
            continue;
        return missing || cli_double(PROG, reals[k].opt, v, reals[k].lo, reals[k].hi, reals[k].dst)
                   ? -1 : 1;
    }
    return 0;
}

static int parse_method(const char *v, qt_qquant_method *m)
{
    for (int k = 0; k < QT_QQUANT_NMETHODS; k++)
        if (!strcmp(v, qt_qquant_method_name((qt_qquant_method)k))) {
            *m = (qt_qquant_method)k;
            return 0;
        }
    return 1;
}

/* Fills a from the command line: 0, 1 after an error (printed), -1 after printing --help. */
static int parse(args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v, *s = argv[i];
        int missing, num;
        long n;
#define VALUE(opt) ((v = cli_value(PROG, argc, argv, &i, opt, &missing)) || missing)
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (VALUE("--checkpoint")) {
            a->o.checkpoint = v;
        } else if (VALUE("--config")) {
            if (!missing && a->o.config)
                return cli_fail(PROG, "--config given twice (%s, then %s): give one file and "
                                "override single keys with --set", a->o.config, v);
            a->o.config = v;
        } else if (VALUE("--out")) {
            if (!missing && cli_out_path(PROG, "--out", v))
                return 1;
            a->o.out_dir = v;
        } else if (VALUE("--set")) {
            if (!missing)
                a->sets[a->o.nsets++] = v;
        } else if (VALUE("--method")) {
            if (missing)
                return 1;
            if (parse_method(v, &a->o.method))
                return cli_fail(PROG, "--method: '%s' is not one of gpfq, msq, adaround, pq, admm-cp, "
                                "admm-epc, cp-quant", v);
        } else if (VALUE("--bits")) {
            if (missing || cli_double(PROG, "--bits", v, 1.0, 8.0, &a->o.bits))
                return 1;
            a->bits_set = 1;
        } else if (VALUE("--alphabet")) {
            if (!missing && strcmp(v, "midrise") && strcmp(v, "zero"))
                return cli_fail(PROG, "--alphabet: '%s' is not one of midrise, zero", v);
            if (!missing)
                a->o.alphabet = strcmp(v, "zero") ? QT_ALPHABET_MIDRISE : QT_ALPHABET_ZERO;
        } else if (VALUE("--sweep-calpha")) {
            if (missing || parse_list(v, &a->sweep, &a->nsweep))
                return 1;
        } else if (VALUE("--layers")) {
            a->o.layers = v;
        } else if (VALUE("--seed")) {
            if (missing || cli_int(PROG, "--seed", v, 0, 2147483647L, &n))
                return 1;
            a->o.seed = (uint64_t)n;
        } else if (VALUE("--act-range")) {
            if (!missing && strcmp(v, "mse") && strcmp(v, "minmax"))
                return cli_fail(PROG, "--act-range: '%s' is not one of mse, minmax", v);
            if (!missing)
                a->o.act.range = strcmp(v, "mse") ? QT_ACT_RANGE_MINMAX : QT_ACT_RANGE_MSE;
        } else if (VALUE("--init")) {
            if (!missing && strcmp(v, "random") && strcmp(v, "cp"))
                return cli_fail(PROG, "--init: '%s' is not one of random, cp", v);
            if (!missing)
                a->o.cp.init = strcmp(v, "cp") ? QT_CP_INIT_RANDOM : QT_CP_INIT_CP;
        } else if ((num = parse_number(a, argc, argv, &i)) != 0) {
            if (num < 0)
                return 1;
        } else if (!strcmp(s, "--per-channel")) {
            a->o.per_channel = 1;
        } else if (!strcmp(s, "--stochastic")) {
            a->o.stochastic = 1;
        } else if (!strcmp(s, "--act-per-channel")) {
            a->o.act.per_channel = 1;
        } else if (!strcmp(s, "--quiet")) {
            a->quiet = 1;
        } else {
            return cli_fail(PROG, "unknown option '%s' (see qquant --help)", s);
        }
        if (missing)
            return 1;
#undef VALUE
    }
    a->o.sets = a->sets;
    if (a->pq_global_steps >= 0)
        a->o.pq.global_ft.steps = a->pq_global_steps;
    a->o.pq.global_ft.batch = a->o.pq.layer_ft.batch;
    if (a->nsweep && a->o.method != QT_QQUANT_GPFQ && a->o.method != QT_QQUANT_MSQ &&
        a->o.method != QT_QQUANT_ADAROUND)
        return cli_fail(PROG, "--sweep-calpha applies to gpfq, msq and adaround, not %s",
                        qt_qquant_method_name(a->o.method));
    if (a->nsweep && a->o.val_images < 1)
        return cli_fail(PROG, "--sweep-calpha chooses on validation images: give --val-images N");
    if (a->o.act.bits > 8 && a->o.act.bits != 32)
        return cli_fail(PROG, "--act-bits: %d is not 2 to 8, or 32 (float inputs)", a->o.act.bits);
    if (!a->o.checkpoint)
        return cli_fail(PROG, "--checkpoint FILE is required (see qquant --help)");
    if (!a->o.out_dir)
        return cli_fail(PROG, "--out DIR is required");
    int cp = a->o.method == QT_QQUANT_ADMM_CP || a->o.method == QT_QQUANT_CP_QUANT ||
             a->o.method == QT_QQUANT_ADMM_EPC;
    if (cp && !a->bits_set)
        a->o.bits = 4;
    return 0;
}

static void progress(const qt_ptq_layer_report *r, int done, int total, void *user)
{
    (void)user;
    printf("  layer %d/%d %-24s %4d x %-5d %2d levels  rel. error %.4f  (%d samples, %.1f s)\n",
           done, total, r->name, r->n_out, r->n_in, r->alphabet.levels, r->rel_error, r->samples,
           r->seconds);
    fflush(stdout);
}

static void pq_progress(const qt_pq_layer_report *r, int done, int total, void *user)
{
    (void)user;
    printf("  layer %d/%d %-24s d %2d k %5d %6d subvectors  rel. error %.4f", done, total, r->name,
           r->shape.d, r->shape.k, r->shape.rows * r->shape.n_blocks, r->rel_error_em);
    if (r->rel_error != r->rel_error_em || r->loss_first > 0)
        printf(" -> %.4f finetuned (KL %.4f -> %.4f)", r->rel_error, r->loss_first, r->loss_last);
    printf("  (%.1f s)\n", r->seconds);
    fflush(stdout);
}

static void pq_print_result(const qt_qquant_result *r)
{
    const qt_pq_size *z = &r->pq_size;
    printf("pq: float acc %.4f, quantized acc %.4f", r->float_acc, r->quant_acc);
    printf("; %.4f MB = index %.4f + centroids %.4f + other %.4f (float %.4f MB, %.1fx), "
           "%.3f index bits/weight, %.1f s\n",
           qt_pq_mb(z->total_bytes), qt_pq_mb(z->index_bytes), qt_pq_mb(z->centroid_bytes),
           qt_pq_mb(z->other_bytes), qt_pq_mb(z->float_bytes), z->ratio, r->bits_per_weight,
           r->seconds);
}

static void cp_progress(const qt_cp_layer_report *r, int done, int total, void *user)
{
    (void)user;
    if (r->rank)
        printf("  layer %d/%d %-24s %4d x %4d x %-2d rank %-4d rel. error %.4f (float CP %.4f), "
               "%d sweeps, %.1f s\n", done, total, r->name, r->c_out, r->c_in, r->kk, r->rank,
               r->rel_error, r->float_error, r->sweeps, r->seconds);
    else
        printf("  layer %d/%d %-24s rounded to %d levels, rel. error %.4f\n", done, total,
               r->name, r->grids[0].levels, r->rel_error);
    fflush(stdout);
}

static void print_result(const args *a, const qt_qquant_result *r)
{
    if (r->val_acc >= 0)
        printf("validation (%d images): float acc %.4f, quantized acc %.4f\n", a->o.val_images,
               r->float_val_acc, r->val_acc);
    if (a->o.method == QT_QQUANT_PQ) {
        pq_print_result(r);
        if (a->o.bn_calib > 0)
            printf("accuracy before batchnorm calibration %.4f\n", r->acc_before_bn_calib);
        return;
    }
    int cp = a->o.method == QT_QQUANT_ADMM_CP || a->o.method == QT_QQUANT_CP_QUANT ||
             a->o.method == QT_QQUANT_ADMM_EPC;
    printf("%s %.2f bits, %s %g: float acc %.4f, quantized acc %.4f; %.3f bits/weight, "
           "%.0f bytes (float %.0f), %.1f s\n",
           qt_qquant_method_name(a->o.method), a->o.bits, cp ? "rate" : "C_alpha",
           cp ? a->o.cp.rate : r->c_alpha, r->float_acc, r->quant_acc, r->bits_per_weight,
           r->model_bytes, r->float_model_bytes, r->seconds);
    printf("BOPs %.4g (%.3f%% of FP32; quantized inputs at %g bits), %zu parameters (float %zu)",
           r->cost.bops, r->cost.bops_percent, r->cost.act_bits, r->cost.params, r->cost.fp32_params);
    if (a->o.bn_calib > 0)
        printf(", accuracy before batchnorm calibration %.4f", r->acc_before_bn_calib);
    printf("\n");
}

/* Creates and locks the output folder for the run's life, refusing one that holds a
 * training run (whose summary.json would be replaced). */
static int claim_out_dir(const char *dir, qt_dir_lock *lock)
{
    qt_error err;
    char found[256];
    if (strlen(dir) > QT_RUN_DIR_MAX)  /* its files' paths must fit the library's buffers */
        return cli_fail(PROG, "--out: longer than %d characters", QT_RUN_DIR_MAX);
    if (qt_make_dirs(dir, &err) != QT_OK || qt_dir_lock_take(lock, dir, "output directory", &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    if (qt_run_dir_holds_training(dir, found, sizeof found))
        return cli_fail(PROG, "--out %s holds a training run (%s), whose summary.json qquant "
                        "would replace: give another --out", dir, found);
    return 0;
}

static int quantize(args *a)
{
    qt_error err;
    qt_qquant_result r;
    if (a->nsweep) {
        qt_qquant_result *res = calloc((size_t)a->nsweep, sizeof *res);
        if (!res)
            return cli_fail(PROG, "out of memory");
        int rc = qt_qquant_sweep(&a->o, a->sweep, a->nsweep, res, &r, &err);
        if (rc == QT_OK) {
            printf("\n| C_alpha | float val acc | %s val acc |\n|---|---|---|\n",
                   qt_qquant_method_name(a->o.method));
            for (int i = 0; i < a->nsweep; i++)
                printf("| %g | %.4f | %.4f |\n", res[i].c_alpha, res[i].float_val_acc, res[i].val_acc);
            printf("\nchosen on validation: C_alpha %g\n", r.c_alpha);
            print_result(a, &r);
        }
        free(res);
        return rc == QT_OK ? 0 : cli_fail(PROG, "%s", err.msg);
    }
    if (qt_qquant_run(&a->o, &r, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    print_result(a, &r);
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    a.o = qt_qquant_defaults();
    a.pq_global_steps = -1;
    if (argc == 1) {
        fputs(usage_text, stderr);
        return 1;
    }
    if (!(a.sets = calloc((size_t)argc, sizeof *a.sets)))
        return cli_fail(PROG, "out of memory");
    qt_dir_lock lock = QT_DIR_LOCK_INIT;
    int rc = parse(&a, argc, argv);   /* -1: --help was printed */
    if (!rc)
        rc = claim_out_dir(a.o.out_dir, &lock);
    if (!rc && !a.quiet) {
        a.o.progress = progress;
        a.o.pq.progress = pq_progress;
        a.o.cp_progress = cp_progress;
    }
    if (!rc)
        rc = quantize(&a);
    qt_dir_lock_release(&lock);
    free(a.sets);
    free(a.sweep);
    return rc < 0 ? 0 : rc;
}

/* qconvex: quantized least squares (include/qtrain/least_squares.h) over lists of rules,
 * grid steps, learning rates and seeds; one CSV row per run. The study is the library's
 * (the same code tests/quant/test_convex.c checks); this file parses arguments and writes rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "qtrain/csv_writer.h"
#include "qtrain/least_squares.h"
#include "qtrain/quant_rule.h"

static const char usage[] =
    "usage: qconvex --out FILE.csv [options]\n"
    "\n"
    "Trains least squares f(w) = 1/(2m) ||A w - b||^2 (A Gaussian, b = A w* + noise) by\n"
    "minibatch SGD with lr_t = lr0 / (1 + t / halflife) on the grid ΔZ, through qtrain's\n"
    "update rules, once per combination of --modes, --deltas, --lrs and seed, and writes one\n"
    "CSV row per run: mode, delta, lr0, seed, steps, loss (BC: of the float buffer) and\n"
    "quantized_loss (both averaged over the second half of training), averaged_loss (at the\n"
    "average iterate of the second half), final_loss, optimum_loss (float minimiser) and\n"
    "best_grid_loss (best point of ΔZ^d found by local search).\n"
    "\n"
    "  --out FILE        CSV to write\n"
    "  --modes LIST      training rules, quant.mode names (default bc,sr; qtrain\n"
    "                    --help-config lists them)\n"
    "  --deltas LIST     grid steps Δ (default 0.1)\n"
    "  --lrs LIST        initial learning rates lr0 (default 0.1)\n"
    "  --budget K        each run takes K / lr0 steps, so every rate travels the same\n"
    "                    distance (default 2000: 20000 steps at lr0 = 0.1)\n"
    "  --halflife T      steps until the rate halves (default 1000)\n"
    "  --batch N         rows per minibatch (default 10)\n"
    "  --seeds N         runs per setting, with seeds seed .. seed+N-1 (default 1)\n"
    "  --seed S          first sampling and rounding seed (default 99)\n"
    "  --rows M          rows of A (default 500)\n"
    "  --dims D          columns of A (default 10)\n"
    "  --w-scale X       std of the entries of w* (default 0.5)\n"
    "  --noise X         std of the noise added to b (default 0.1)\n"
    "  --problem-seed S  seed of A, w* and the noise (default 2017)\n"
    "  --quiet           no progress lines\n"
    "  -h, --help        show this help\n";

enum { MAX_LIST = 32 };

typedef struct options {
    const char *out;
    qt_quant_mode modes[MAX_LIST];
    double deltas[MAX_LIST], lrs[MAX_LIST];
    int nmodes, ndeltas, nlrs;
    double budget, halflife, w_scale, noise;
    long batch, seeds, seed, rows, dims, problem_seed;
    int quiet;
} options;

#define PROG "qconvex"

static int parse_number(const char *opt, const char *s, double *out)
{
    return cli_double(PROG, opt, s, 1e-9, 1e15, out);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    return cli_int(PROG, opt, s, lo, hi, out);
}

/* Splits a comma-separated list into its items, each checked by item(). */
static int parse_list(const char *opt, const char *s, int *n,
                      int (*item)(const char *opt, const char *text, int k, void *dst), void *dst)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return -cli_fail(PROG, "%s: list too long", opt);
    strcpy(buf, s);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST)
            return -cli_fail(PROG, "%s: more than %d items", opt, MAX_LIST);
        if (item(opt, tok, (*n)++, dst) != 0)
            return -1;
    }
    return *n > 0 ? 0 : -cli_fail(PROG, "%s: empty list", opt);
}

static int number_item(const char *opt, const char *text, int k, void *dst)
{
    return parse_number(opt, text, (double *)dst + k);
}

static int mode_item(const char *opt, const char *text, int k, void *dst)
{
    char names[128];
    if ((((qt_quant_mode *)dst)[k] = qt_quant_rule_find(text)) != QT_QUANT_RULES)
        return 0;
    qt_quant_rule_names(names, sizeof names);
    return -cli_fail(PROG, "%s: '%s' is not one of %s", opt, text, names);
}

static int set_option(options *o, const char *name, const char *v)
{
    if (!strcmp(name, "--out"))
        return cli_out_path(PROG, "--out", v) ? -1 : (o->out = v, 0);
    if (!strcmp(name, "--modes"))
        return parse_list(name, v, &o->nmodes, mode_item, o->modes);
    if (!strcmp(name, "--deltas"))
        return parse_list(name, v, &o->ndeltas, number_item, o->deltas);
    if (!strcmp(name, "--lrs"))
        return parse_list(name, v, &o->nlrs, number_item, o->lrs);
    if (!strcmp(name, "--budget"))
        return parse_number(name, v, &o->budget);
    if (!strcmp(name, "--halflife"))
        return parse_number(name, v, &o->halflife);
    if (!strcmp(name, "--w-scale"))
        return parse_number(name, v, &o->w_scale);
    if (!strcmp(name, "--noise"))
        return parse_number(name, v, &o->noise);
    if (!strcmp(name, "--batch"))
        return parse_int(name, v, 1, 1000000, &o->batch);
    if (!strcmp(name, "--seeds"))
        return parse_int(name, v, 1, 1000, &o->seeds);
    if (!strcmp(name, "--seed"))
        return parse_int(name, v, 0, 1000000000, &o->seed);
    if (!strcmp(name, "--rows"))
        return parse_int(name, v, 1, 10000000, &o->rows);
    if (!strcmp(name, "--dims"))
        return parse_int(name, v, 1, 1000, &o->dims);
    if (!strcmp(name, "--problem-seed"))
        return parse_int(name, v, 0, 1000000000, &o->problem_seed);
    return -cli_fail(PROG, "unknown option '%s' (see qconvex --help)", name);
}

/* Returns 0, 1 when help was printed, -1 on an error (already reported). */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            return -cli_fail(PROG, "unexpected argument '%s' (see qconvex --help)", argv[i]);
        if (i + 1 >= argc)
            return -cli_fail(PROG, "%s needs a value", argv[i]);
        if (set_option(o, argv[i], argv[i + 1]) != 0)
            return -1;
        i++;
    }
    return o->out ? 0 : -cli_fail(PROG, "no output: give --out FILE.csv");
}

static int write_row(qt_csv_writer *w, const qt_lsq_run *run, const qt_lsq_result *res,
                     double optimum, double best_grid, qt_error *err)
{
    char cells[10][32];
    const char *row[11] = {qt_quant_mode_name(run->mode)};
    double v[10] = {run->delta, run->lr0, (double)run->seed, run->steps, res->loss,
                    res->quantized_loss, res->averaged_loss, res->final_loss, optimum, best_grid};
    for (int k = 0; k < 10; k++) {  /* Δ and lr0 are floats: 7 digits print them as given */
        snprintf(cells[k], sizeof cells[k], k < 2 ? "%.7g" : "%.9g", v[k]);
        row[k + 1] = cells[k];
    }
    return qt_csv_write_text_row(w, row, err);
}

/* Checks what can fail before the output file is touched: the problem, its optimum (into
 * *optimum) and the step counts. */
static int prepare(const options *o, qt_lsq_problem *p, double *optimum, qt_error *err)
{
    for (int li = 0; li < o->nlrs; li++)
        if (ceil(o->budget / o->lrs[li]) > 1e9)
            return qt_errorf(err, "--budget %g / lr0 %g is over 1e9 steps", o->budget, o->lrs[li]);
    if (qt_lsq_make(p, (int)o->rows, (int)o->dims, o->w_scale, o->noise,
                    (uint64_t)o->problem_seed, err) != QT_OK)
        return QT_ERR;
    double *w = malloc((size_t)p->d * sizeof *w);
    int rc = w ? qt_lsq_solve(p, w, err) : qt_errorf(err, "out of memory");
    if (rc == QT_OK)
        *optimum = qt_lsq_loss(p, w);
    free(w);
    if (rc != QT_OK)
        qt_lsq_free(p);
    return rc;
}

static int run_all(const options *o, const qt_lsq_problem *p, double optimum, qt_csv_writer *w,
                   qt_error *err)
{
    for (int di = 0; di < o->ndeltas; di++) {
        double best;
        if (qt_lsq_best_grid_loss(p, o->deltas[di], &best, err) != QT_OK)
            return QT_ERR;
        for (int mi = 0; mi < o->nmodes; mi++)
            for (int li = 0; li < o->nlrs; li++)
                for (long s = 0; s < o->seeds; s++) {
                    qt_lsq_run run = {o->modes[mi], (float)o->deltas[di], (float)o->lrs[li],
                                      (float)o->halflife, (int)ceil(o->budget / o->lrs[li]),
                                      (int)o->batch, (uint64_t)(o->seed + s)};
                    qt_lsq_result res;
                    if (qt_lsq_train(p, &run, &res, err) != QT_OK ||
                        write_row(w, &run, &res, optimum, best, err) != QT_OK)
                        return QT_ERR;
                    if (!o->quiet)
                        printf("%s delta %g lr0 %g seed %ld: loss %.5f (quantized %.5f)\n",
                               qt_quant_mode_name(run.mode), o->deltas[di], o->lrs[li],
                               o->seed + s, res.loss, res.quantized_loss);
                }
    }
    return QT_OK;
}

int main(int argc, char **argv)
{
    options o = {.modes = {QT_QUANT_BC, QT_QUANT_SR}, .deltas = {0.1}, .lrs = {0.1},
                 .nmodes = 2, .ndeltas = 1, .nlrs = 1, .budget = 2000, .halflife = 1000,
                 .w_scale = 0.5, .noise = 0.1, .batch = 10, .seeds = 1, .seed = 99,
                 .rows = 500, .dims = 10, .problem_seed = 2017};
    int status = parse_args(argc, argv, &o);
    if (status != 0)
        return status < 0 ? 1 : 0;
    static const char *const columns[] = {"mode", "delta", "lr0", "seed", "steps", "loss",
                                          "quantized_loss", "averaged_loss", "final_loss",
                                          "optimum_loss", "best_grid_loss"};
    qt_error err;
    qt_lsq_problem p;
    double optimum = 0.0;
    if (prepare(&o, &p, &optimum, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    qt_csv_writer *w = NULL;
    int rc = qt_csv_writer_create(&w, o.out, columns, 11, &err);
    if (rc == QT_OK)
        rc = run_all(&o, &p, optimum, w, &err);
    qt_error close_err;
    if (w && qt_csv_writer_close(w, &close_err) != QT_OK && rc == QT_OK) {
        err = close_err;
        rc = QT_ERR;
    }
    qt_lsq_free(&p);
    return rc == QT_OK ? 0 : cli_fail(PROG, "%s", err.msg);
}

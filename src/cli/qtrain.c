/* qtrain: trains a net from an INI config, evaluates or exports a checkpoint.
 * Argument parsing and printing only; the work is in the library (trainer.h, export.h). */
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "qtrain/clock.h"
#include "qtrain/export.h"
#include "qtrain/net_table.h"
#include "qtrain/pq_coded.h"
#include "qtrain/run_dir.h"
#include "qtrain/run_setup.h"
#include "qtrain/trainer.h"
#ifdef QT_HAVE_MPI
#include "mpi_comm.h"
#endif

#define PROG "qtrain"

static const char usage_text[] =
    "usage: qtrain [train] --config FILE [options]     train a net\n"
    "       qtrain eval --checkpoint FILE [options]     test accuracy of a checkpoint\n"
    "       qtrain eval --weights FILE [options]        test accuracy of an exported file\n"
    "       qtrain export --checkpoint FILE --out FILE  weights as safetensors or ONNX\n"
    "\n"
    "Training options:\n"
    "  --config FILE        the run's INI config (configs/README.md documents every key);\n"
    "                       given once: override single keys with --set\n"
    "  --set SEC.KEY=VALUE  override one config key; repeatable (e.g. --set train.lr=0.01)\n"
    "  --out DIR            run directory (default runs/<config name>-<date>-<time>); it\n"
    "                       receives config.ini, classes.json, train.csv, eval.csv,\n"
    "                       summary.json and checkpoints/. A directory that already holds\n"
    "                       a run is refused: continue that run with --resume, or start\n"
    "                       over with another --out or with --overwrite. While a run\n"
    "                       trains, DIR/.lock keeps any other process out of DIR\n"
    "  --resume             continue the run in --out from its newest valid checkpoint\n"
    "                       (--config defaults to DIR/config.ini; --set still applies);\n"
    "                       nothing in DIR changes unless the checkpoint loads\n"
    "  --overwrite          a fresh run into a DIR holding a run first deletes that run's\n"
    "                       config.ini, classes.json, logs, summary.json and checkpoints\n"
    "  --seed N             same as --set train.seed=N\n"
    "  --threads N          same as --set train.threads=N (0 = all cores)\n"
    "  --quiet              print only errors and the final result\n"
    "  --print-config       print the resolved config and exit\n"
    "  --print-net          print the net (model.file or model.name, for the dataset's input\n"
    "                       and classes) as a table and exit: each layer's output shape,\n"
    "                       parameters, quantized weights (rule and grid) and FLOPs\n"
    "\n"
    "eval / export options:\n"
    "  --checkpoint FILE    a checkpoint (RUN/checkpoints/step-*.qtr) or a qquant output\n"
    "  --config FILE        config for the data and the quantization (default: the one\n"
    "                       stored in the checkpoint); --set overrides apply to either. The\n"
    "                       net is rebuilt from the checkpoint's own description of it\n"
    "  --float              eval: use BinaryConnect's float buffer instead of binary weights\n"
    "  --weights FILE       eval: a .safetensors file written by export (float or packed),\n"
    "                       rebuilt from its metadata alone; --set data.root=... and\n"
    "                       data.test_limit=... apply\n"
    "  --out FILE           export: the file to write\n"
    "  --format FMT         export: safetensors (default) or onnx\n"
    "  --packed             export (safetensors): quantized layers as bit-packed grid codes\n"
    "                       plus one float scale per layer (docs/export-format.md)\n"
    "  --float-buffer       export (safetensors): also BinaryConnect's float buffer\n"
    "  --onnx-float         export (onnx): quantized weights as float initializers instead\n"
    "                       of int8 codes through DequantizeLinear\n"
    "  --onnx-fold-bn       export (onnx): fold each batchnorm into the conv/linear before it\n"
    "\n"
    "Data-parallel training (builds with Open MPI): mpirun -np N qtrain --config FILE ...\n"
    "  trains one model on N processes, each on its share of every train.batch_size batch\n"
    "  (the global batch); rank 0 writes the run directory and prints. See README.md.\n"
    "\n"
    "Other:\n"
    "  --help               this text\n"
    "  --help-config        every config key with its type, default and meaning\n"
    "\n"
    "Progress goes to stdout: one updating line on a terminal, otherwise a line every\n"
    "log.print_every steps. Ctrl-C (SIGINT) or SIGTERM (what `timeout` and batch schedulers\n"
    "send) writes a checkpoint at the current step and stops; --resume continues, with the\n"
    "same train.csv and eval.csv as a run that was never stopped. A second signal kills at\n"
    "once.\n"
    "Under mpirun, which ends the job at once on SIGINT or SIGTERM, send SIGUSR1 to mpirun\n"
    "instead: every process stops after the same step, with a checkpoint.\n"
    "Exit status: 0 done, 1 error, 130 stopped by SIGINT, 143 stopped by SIGTERM, 138\n"
    "stopped by SIGUSR1 (mpirun).\n";

typedef struct args {
    const char *command;      /* train, eval, export */
    const char *config, *out, *checkpoint, *weights;
    qt_export_opts export;
    const char **sets;        /* room for argc entries */
    int nsets;
    char seed_set[40], threads_set[40];
    int resume, overwrite, quiet, print_config, print_net, float_view;
    qt_comm *comm;            /* started by mpirun: the processes of the run; else NULL */
} args;

/* The signal (SIGINT or SIGTERM) that asked the run to stop; 0 until one came. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    signal(sig, SIG_DFL); /* a second one kills at once */
}

static int add_set(args *a, const char *v)
{
    a->sets[a->nsets++] = v;
    return 0;
}

static int parse_option(args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v;
    int missing;
    long n;
#define VALUE(opt) ((v = cli_value(PROG, argc, argv, i, opt, &missing)) || missing)
    if (VALUE("--config")) {
        if (!missing && a->config)
            return cli_fail(PROG, "--config given twice (%s, then %s): give one file and "
                            "override single keys with --set", a->config, v);
        return missing ? 1 : (a->config = v, 0);
    }
    if (VALUE("--set"))
        return missing ? 1 : add_set(a, v);
    if (VALUE("--out"))
        return missing || cli_out_path(PROG, "--out", v) ? 1 : (a->out = v, 0);
    if (VALUE("--checkpoint"))
        return missing ? 1 : (a->checkpoint = v, 0);
    if (VALUE("--weights"))
        return missing ? 1 : (a->weights = v, 0);
    if (VALUE("--format")) {
        if (missing)
            return 1;
        if (strcmp(v, "safetensors") && strcmp(v, "onnx"))
            return cli_fail(PROG, "--format: expected safetensors or onnx, got '%s'", v);
        a->export.format = strcmp(v, "onnx") ? QT_EXPORT_SAFETENSORS : QT_EXPORT_ONNX;
        return 0;
    }
    if (VALUE("--seed")) {
        if (missing || cli_int(PROG, "--seed", v, 0, 2147483647L, &n))
            return 1;
        snprintf(a->seed_set, sizeof a->seed_set, "train.seed=%ld", n);
        return add_set(a, a->seed_set);
    }
    if (VALUE("--threads")) {
        if (missing || cli_int(PROG, "--threads", v, 0, 1024, &n))
            return 1;
        snprintf(a->threads_set, sizeof a->threads_set, "train.threads=%ld", n);
        return add_set(a, a->threads_set);
    }
#undef VALUE
    if (!strcmp(s, "--resume"))
        return a->resume = 1, 0;
    if (!strcmp(s, "--overwrite"))
        return a->overwrite = 1, 0;
    if (!strcmp(s, "--quiet"))
        return a->quiet = 1, 0;
    if (!strcmp(s, "--print-config"))
        return a->print_config = 1, 0;
    if (!strcmp(s, "--print-net"))
        return a->print_net = 1, 0;
    if (!strcmp(s, "--float"))
        return a->float_view = 1, 0;
    if (!strcmp(s, "--packed"))
        return a->export.packed = 1, 0;
    if (!strcmp(s, "--float-buffer"))
        return a->export.float_buffer = 1, 0;
    if (!strcmp(s, "--onnx-float"))
        return a->export.onnx_float = 1, 0;
    if (!strcmp(s, "--onnx-fold-bn"))
        return a->export.onnx_fold_bn = 1, 0;
    return cli_fail(PROG, "unknown option '%s' (see qtrain --help)", s);
}

static int print_text(char *text)
{
    if (!text)
        return cli_fail(PROG, "out of memory");
    fputs(text, stdout);
    free(text);
    return 0;
}

/* ---- progress ---- */

typedef struct printer {
    int tty, quiet, every, procs;
    double last;
    int line_open;
} printer;

static void duration(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

static void end_line(printer *p)
{
    if (p->line_open)
        fputc('\n', stdout);
    p->line_open = 0;
}

static void print_step(printer *p, const qt_train_event *e)
{
    char eta[32];
    duration(e->eta_seconds, eta, sizeof eta);
    char procs[32] = "";
    if (p->procs > 1)
        snprintf(procs, sizeof procs, " (%d processes)", p->procs);
    printf("%sepoch %lld/%d  step %lld/%lld  loss %.4f  acc %.3f  lr %.2e  %.0f img/s%s  ETA %s%s",
           p->tty ? "\r" : "", (long long)e->epoch + 1, e->epochs, (long long)e->step,
           (long long)e->total_steps, e->loss, e->acc, e->lr, e->images_per_s, procs, eta,
           p->tty ? "\033[K" : "\n");
    p->line_open = p->tty;
    fflush(stdout);
}

static void observe(const qt_train_event *e, void *user)
{
    printer *p = user;
    if (p->quiet && e->kind != QT_TRAIN_EV_NOTE)
        return;
    switch (e->kind) {
    case QT_TRAIN_EV_STEP: {
        double t = qt_now_seconds();
        int due = p->tty ? t - p->last >= 0.25 || e->step == e->total_steps
                         : e->step % p->every == 0 || e->step == 1;
        if (due) {
            p->last = t;
            print_step(p, e);
        }
        break;
    }
    case QT_TRAIN_EV_EVAL:
        end_line(p);
        printf("epoch %lld/%d  step %lld  test acc %.4f", (long long)e->epoch + 1, e->epochs,
               (long long)e->step, e->test_acc);
        if (!isnan(e->test_top5))
            printf("  top-5 %.4f", e->test_top5);
        printf("  test loss %.4f", e->test_loss);
        if (!isnan(e->float_test_acc))
            printf("  float-buffer acc %.4f", e->float_test_acc);
        printf("  flips %.4f (step flips summed %.4f)\n", e->flips, e->step_flips_sum);
        break;
    case QT_TRAIN_EV_CHECKPOINT:
        if (!p->tty) {
            end_line(p);
            printf("checkpoint %s\n", e->text);
        }
        break;
    case QT_TRAIN_EV_NOTE:
        end_line(p);
        printf("note: %s\n", e->text);
        break;
    }
    fflush(stdout);
}

/* ---- commands ---- */

static int load_config(const args *a, qt_config *c)
{
    qt_error err;
    qt_config_defaults(c);
    char resumed[QT_RUN_DIR_MAX + 16];
    const char *path = a->config;
    if (!path && a->resume && a->out) {
        if (strlen(a->out) > QT_RUN_DIR_MAX)
            return cli_fail(PROG, "--out: longer than %d characters", QT_RUN_DIR_MAX);
        snprintf(resumed, sizeof resumed, "%s/config.ini", a->out);
        path = resumed;
    }
    if (!path)
        return cli_fail(PROG, "--config FILE is required (see qtrain --help)");
    if (qt_config_load(c, path, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    for (int i = 0; i < a->nsets; i++)
        if (qt_config_set_arg(c, a->sets[i], &err) != QT_OK)
            return cli_fail(PROG, "%s", err.msg);
    if (qt_run_validate(c, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    return 0;
}

/* runs/<config name>-<date>-<time>, with -2, -3, ... when that exists already. */
static void default_run_dir(const char *config, char *out, size_t n)
{
    char base[256];
    snprintf(base, sizeof base, "%s", config);
    char *name = basename(base), *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".ini"))
        *dot = '\0';
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, n, "runs/%s-%s", name, stamp);
    for (int k = 2; access(out, F_OK) == 0 && k < 1000; k++)
        snprintf(out, n, "runs/%s-%s-%d", name, stamp, k);
}

static int cmd_train(const args *a)
{
    qt_config c;
    if (load_config(a, &c))
        return 1;
    if (a->print_config) {
        return print_text(qt_config_to_ini(&c));
    }
    if (a->print_net) {
        char *table;
        qt_error err;
        if (qt_config_net_table(&c, &table, &err) != QT_OK)
            return cli_fail(PROG, "%s", err.msg);
        return print_text(table);
    }
    if (a->resume && !a->out)
        return cli_fail(PROG, "--resume needs --out RUN_DIR (the run to continue)");
    if (a->resume && a->overwrite)
        return cli_fail(PROG, "--resume continues the run in --out, --overwrite deletes it: "
                        "give one of them");
    char default_dir[1100];
    const char *dir = a->out;
    if (!dir) {
        default_run_dir(a->config, default_dir, sizeof default_dir);
        dir = default_dir;
    }
    int procs = a->comm ? a->comm->size : 1, rank0 = !a->comm || a->comm->rank == 0;
    printer p = {isatty(STDOUT_FILENO), a->quiet || !rank0, c.log.print_every, procs, 0.0, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* mpirun ends the job on SIGTERM or SIGINT but forwards SIGUSR1 to every process */
    if (a->comm)
        sigaction(SIGUSR1, &sa, NULL);
    char mode[16], dataset[32];
    qt_config_value_text(&c, "quant.mode", mode, sizeof mode);
    qt_config_value_text(&c, "data.dataset", dataset, sizeof dataset);
    if (!p.quiet)
        printf("run %s: model %s, quant %s, dataset %s, %d process%s\n", dir,
               c.model.file[0] ? c.model.file : c.model.name, mode, dataset, procs,
               procs == 1 ? "" : "es");
    qt_train_opts o = {.run_dir = dir, .resume = a->resume, .stop = &stop_signal,
                       .observer = observe, .user = &p, .overwrite = a->overwrite,
                       .comm = a->comm};
    qt_train_summary s;
    qt_error err;
    int rc = qt_train(&c, &o, &s, &err);
    end_line(&p);
    if (rc != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    if (!rank0)
        return s.interrupted ? 128 + stop_signal : 0;
    if (s.interrupted) {
        printf("stopped by %s at step %lld (%.0f s): checkpoint %s; continue with: qtrain "
               "--resume --out %s\n", stop_signal == SIGTERM   ? "SIGTERM"
                                         : stop_signal == SIGUSR1 ? "SIGUSR1"
                                                                  : "SIGINT",
               (long long)s.steps, s.seconds, s.checkpoint, dir);
        return 128 + stop_signal;
    }
    printf("test accuracy %.4f (best %.4f", s.test_acc, s.best_test_acc);
    if (!isnan(s.test_top5))
        printf("; top-5 %.4f", s.test_top5);
    printf(") after %lld steps, %.0f s; run %s\n", (long long)s.steps, s.seconds, dir);
    return 0;
}

static int checkpoint_config(const args *a, qt_config *c)
{
    qt_error err;
    if (!a->checkpoint)
        return cli_fail(PROG, "%s needs --checkpoint FILE", a->command);
    if (a->config)
        return load_config(a, c);
    if (qt_checkpoint_config(a->checkpoint, a->sets, a->nsets, c, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    return 0;
}

static int cmd_eval(const args *a)
{
    /* a qquant output may hold product-quantized weights */
    const qt_checkpoint_extra codecs = qt_pq_checkpoint_reader();
    qt_config c;
    qt_eval_result r;
    qt_error err;
    if (a->weights && a->checkpoint)
        return cli_fail(PROG, "eval takes --checkpoint or --weights, not both");
    if (a->weights) {
        if (a->config)
            return cli_fail(PROG, "--weights: the file records its net; use --set for data.* keys");
        if (qt_eval_weights(a->weights, a->sets, a->nsets, a->float_view, &r, &err) != QT_OK)
            return cli_fail(PROG, "%s", err.msg);
    } else {
        if (checkpoint_config(a, &c))
            return 1;
        if (qt_eval_checkpoint(&c, a->checkpoint, &codecs, a->float_view, &r, &err) != QT_OK)
            return cli_fail(PROG, "%s", err.msg);
    }
    printf("test_acc %.4f  ", r.acc);
    if (r.classes > 5)
        printf("test_top5 %.4f  ", r.top5);
    printf("test_loss %.4f  images %lld  weights %s\n", r.loss, (long long)r.images,
           a->float_view ? "float buffer" : "as stored (quantized)");
    return 0;
}

static int cmd_export(const args *a)
{
    const qt_checkpoint_extra codecs = qt_pq_checkpoint_reader();
    qt_config c;
    qt_error err;
    const qt_export_opts *o = &a->export;
    if (checkpoint_config(a, &c))
        return 1;
    if (!a->out)
        return cli_fail(PROG, "export needs --out FILE");
    if (o->format == QT_EXPORT_ONNX && (o->packed || o->float_buffer))
        return cli_fail(PROG, "--packed and --float-buffer are for --format safetensors");
    if (o->format == QT_EXPORT_SAFETENSORS && (o->onnx_float || o->onnx_fold_bn))
        return cli_fail(PROG, "--onnx-float and --onnx-fold-bn are for --format onnx");
    if (qt_export_checkpoint(&c, a->checkpoint, &codecs, o, a->out, &err) != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    printf("wrote %s\n", a->out);
    return 0;
}

/* Parses the command line and runs its command; a->sets has room for argc entries. */
static int run(args *a, int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "eval") || !strcmp(argv[1], "export")))
        a->command = argv[first++];
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--help-config"))
            return print_text(qt_config_help_text(qt_run_config_names));
        if (parse_option(a, argc, argv, &i))
            return 1;
    }
    if (argc == 1) {
        fputs(usage_text, stderr);
        return 1;
    }
    if (a->comm && a->comm->size > 1 && strcmp(a->command, "train"))
        return cli_fail(PROG, "%s runs in one process: start it without mpirun", a->command);
    if (!strcmp(a->command, "eval"))
        return cmd_eval(a);
    if (!strcmp(a->command, "export"))
        return cmd_export(a);
    return cmd_train(a);
}

int main(int argc, char **argv)
{
    args a = {.command = "train", .sets = calloc((size_t)argc + 1, sizeof *a.sets)};
    if (!a.sets)
        return cli_fail(PROG, "out of memory");
#ifdef QT_HAVE_MPI
    qt_comm comm;
    qt_error err;
    if (qt_mpi_launched()) {
        if (qt_mpi_comm_init(&comm, &argc, &argv, &err) != QT_OK)
            return cli_fail(PROG, "%s", err.msg);
        a.comm = &comm;
    }
#endif
    int rc = run(&a, argc, argv);
    free(a.sets);
#ifdef QT_HAVE_MPI
    /* A failed process exits at once, without MPI_Finalize: mpirun then ends the whole job
     * (the others may be waiting for it in a collective). */
    if (a.comm && !(rc == 1 && a.comm->size > 1))
        qt_mpi_comm_finalize(a.comm);
#endif
    return rc;
}

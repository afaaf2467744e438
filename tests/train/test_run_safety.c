/* The programs against misuse and bad input (issue 15): empty output paths, a fresh run into
 * a directory holding a run, two processes on one run directory, SIGTERM, a failed resume,
 * --config twice, qquant's --set and --sweep-calpha lists, train and test splits (or a net
 * and its evaluation data) of different image sizes, and mkdata's size bounds. Each case
 * checks the exit status, the exact error line and what is on disk afterwards.
 * The training cases skip (with a message) without Debian's dataset-fashion-mnist. */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "fmnist_subset.h"
#include "run_program.h"
#include "tmpdir.h"

static char dir[512];
static char fmnist[700];      /* the first 1000 training and 200 test images */
static pid_t background;      /* a qtrain started by a test, killed if the test fails */

static int setup(void **state)
{
    if (tmpdir_make(dir, sizeof dir) != 0)
        return -1;
    snprintf(fmnist, sizeof fmnist, "%s/fmnist", dir);
    if (fmnist_installed() && fmnist_subset(fmnist, 1000, 200) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    if (background > 0 && kill(background, SIGKILL) == 0)
        waitpid(background, NULL, 0);
    tmpdir_remove(dir);
    return 0;
}

static int have_fmnist(void) { return fmnist_installed(); }

static void write_file(const char *name, const char *text)
{
    assert_int_equal(tmpdir_write(dir, name, text, strlen(text)), 0);
}

/* tiny.ini: 1000 training and 200 test images, batch 50: 20 steps an epoch of a small MLP. */
static void write_tiny_ini(void)
{
    char text[1200];
    snprintf(text, sizeof text, "[model]\nname = mlp\nwidths = 32\n[data]\nroot = %s\n"
             "train_limit = 1000\ntest_limit = 200\naugment = false\n[train]\nepochs = 1\n"
             "batch_size = 50\nthreads = 1\n[quant]\nmode = bc\n", fmnist);
    write_file("tiny.ini", text);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Runs program with args, expecting exit status `status` and exactly `err` on stderr. */
static run_result expect_run(const char *program, const char *args, int status, const char *err)
{
    run_result r = run_program(program, args, dir);
    if (r.status != status || (err && strcmp(r.err ? r.err : "", err) != 0))
        fail_msg("%s %s: status %d, stderr \"%s\"; expected %d, \"%s\"", program, args, r.status,
                 r.err ? r.err : "", status, err ? err : "(any)");
    return r;
}

static void expect_run_free(const char *program, const char *args, int status, const char *err)
{
    run_result r = expect_run(program, args, status, err);
    run_result_free(&r);
}

/* Trains tiny.ini (plus extra options) into run. */
static void train_tiny(const char *run, const char *extra)
{
    char args[2000];
    write_tiny_ini();
    snprintf(args, sizeof args, "--config '%s/tiny.ini' --out '%s' --quiet %s", dir, run, extra);
    expect_run_free("src/cli/qtrain", args, 0, "");
}

/* ---- a directory's contents, to show that nothing changed ---- */

static char *snapshot_text;
static size_t snapshot_len;
static const char *snapshot_root;

static int snapshot_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || !strcmp(path + strlen(path) - 6, "/.lock")) /* the lock holds a pid */
        return 0;
    char *data = read_whole_file(path);
    unsigned long crc = crc32(0, (const Bytef *)data, (uInt)st->st_size);
    free(data);
    char line[1200];
    int n = snprintf(line, sizeof line, "%s %lld %08lx\n", path + strlen(snapshot_root),
                     (long long)st->st_size, crc);
    snapshot_text = realloc(snapshot_text, snapshot_len + (size_t)n + 1);
    memcpy(snapshot_text + snapshot_len, line, (size_t)n + 1);
    snapshot_len += (size_t)n;
    return 0;
}

/* Every file below root (but .lock) with its size and CRC, in walk order (malloc'd). */
static char *snapshot(const char *root)
{
    snapshot_text = calloc(1, 1);
    snapshot_len = 0;
    snapshot_root = root;
    assert_int_equal(nftw(root, snapshot_entry, 16, FTW_PHYS), 0);
    return snapshot_text;
}

/* ---- the cases ---- */

/* Defect 1: an empty output path is an error naming the option, in every program that
 * writes one; nothing is written (qtrain used to write its run into /). The dataset here is
 * missing, so that a build without the check fails with another message, not by writing. */
static void test_empty_output_path(void **state)
{
    char args[1200];
    write_file("nodata.ini", "[data]\ndataset = cifar10\nroot = /no/such/dir\n");
    snprintf(args, sizeof args, "--config '%s/nodata.ini' --out ''", dir);
    expect_run_free("src/cli/qtrain", args, 1, "qtrain: error: --out: the path is empty\n");
    snprintf(args, sizeof args, "--config '%s/nodata.ini' --out=", dir);
    expect_run_free("src/cli/qtrain", args, 1, "qtrain: error: --out: the path is empty\n");
    expect_run_free("src/cli/qtrain", "export --checkpoint /no/such.qtr --out ''", 1,
                    "qtrain: error: --out: the path is empty\n");
    expect_run_free("src/cli/qtrain", "export --checkpoint /no/such.qtr --format onnx --out ''", 1,
                    "qtrain: error: --out: the path is empty\n");
    expect_run_free("src/cli/qtrain", "export --checkpoint /no/such.qtr --packed --out=", 1,
                    "qtrain: error: --out: the path is empty\n");
    expect_run_free("src/cli/qquant", "--checkpoint /no/such.qtr --method msq --out ''", 1,
                    "qquant: error: --out: the path is empty\n");
    expect_run_free("tools/qconvex", "--out '' --budget 1", 1,
                    "qconvex: error: --out: the path is empty\n");
    expect_run_free("tools/qplot", "-o '' /no/such.csv", 1,
                    "qplot: error: --output: the path is empty (see qplot --help)\n");
    expect_run_free("tools/mkdata", "idx '' --size 0", 2, "mkdata: error: DIR: the path is empty\n");
}

/* Defect 2: a fresh run into a directory that holds a run is refused and changes nothing;
 * --overwrite deletes the old run first, so no checkpoint of it survives to be resumed. */
static void test_fresh_run_into_run_dir(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700], args[2000], want[2400], ck[800];
    snprintf(run, sizeof run, "%s/x", dir);
    train_tiny(run, "--set train.epochs=2");        /* checkpoints at steps 20 and 40 */
    char *before = snapshot(run);
    snprintf(args, sizeof args, "--config '%s/tiny.ini' --set train.lr=0.01 --out '%s'", dir, run);
    snprintf(want, sizeof want, "qtrain: error: run directory %s already holds a run (config.ini, "
             "classes.json, train.csv, eval.csv, summary.json, checkpoints/): continue it with "
             "--resume --out %s, or start over with another --out or with --overwrite (which "
             "deletes its checkpoints and logs)\n", run, run);
    expect_run_free("src/cli/qtrain", args, 1, want);
    char *after = snapshot(run);
    assert_string_equal(before, after);
    free(after);
    free(before);
    snprintf(args, sizeof args, "--config '%s/tiny.ini' --set train.lr=0.01 --out '%s' "
             "--overwrite", dir, run);
    run_result r = expect_run("src/cli/qtrain", args, 0, "");
    snprintf(want, sizeof want, "note: deleted the run that was in %s (--overwrite)\n", run);
    assert_non_null(strstr(r.out, want));
    run_result_free(&r);
    snprintf(ck, sizeof ck, "%s/checkpoints/step-000000040.qtr", run);
    assert_false(exists(ck));                       /* the old run's last checkpoint */
    snprintf(ck, sizeof ck, "%s/checkpoints/step-000000020.qtr", run);
    assert_true(exists(ck));                        /* the new run's only one */
    snprintf(ck, sizeof ck, "%s/config.ini", run);
    char *cfg = read_whole_file(ck);
    assert_non_null(strstr(cfg, "lr = 0.01\n"));
    free(cfg);
    snprintf(ck, sizeof ck, "%s/train.csv", run);
    assert_int_equal(count_lines(ck), 21);
    snprintf(args, sizeof args, "--resume --out '%s' --overwrite", run);
    expect_run_free("src/cli/qtrain", args, 1, "qtrain: error: --resume continues the run in --out, "
                    "--overwrite deletes it: give one of them\n");
}

/* Starts qtrain with argv (NULL-terminated) in the background, stdout to out_path. */
static pid_t start_qtrain(const char *out_path, char *const argv[])
{
    char exe[1024];
    snprintf(exe, sizeof exe, "%s/src/cli/qtrain", getenv("QTRAIN_BUILD_ROOT"));
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

static int any_tmp_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    return flag == FTW_F && n > 4 && !strcmp(path + n - 4, ".tmp");
}

/* Defects 3 and 9: while a run trains, a second process on its directory fails at once
 * naming the first one's pid; SIGTERM stops the run like Ctrl-C (a checkpoint at the step
 * reached, exit status 143, no temporary file left); --resume removes the temporary files a
 * kill -9 leaves (only qtrain's own) and finishes with every step and epoch logged once. */
static void test_lock_sigterm_and_stale_temps(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700], cfg[700], out[700], csv[800], args[2000], want[1200], path[900];
    snprintf(run, sizeof run, "%s/locked", dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", dir);
    snprintf(out, sizeof out, "%s/first.txt", dir);
    snprintf(csv, sizeof csv, "%s/train.csv", run);
    write_tiny_ini();
    char *argv[] = {"qtrain", "--config", cfg, "--out", run, "--set", "train.epochs=100000",
                    "--set", "log.print_every=1", NULL};
    pid_t first = background = start_qtrain(out, argv);
    for (int i = 0; i < 1200 && count_lines(csv) < 4; i++)
        usleep(25000);
    assert_true(count_lines(csv) >= 4);
    snprintf(args, sizeof args, "--config '%s' --out '%s'", cfg, run);
    snprintf(want, sizeof want, "qtrain: error: run directory %s is in use by process %d\n", run,
             (int)first);
    run_result r = expect_run("src/cli/qtrain", args, 1, want);
    assert_null(strstr(r.out, "step"));
    run_result_free(&r);
    snprintf(args, sizeof args, "--resume --out '%s'", run);
    expect_run_free("src/cli/qtrain", args, 1, want);
    assert_int_equal(kill(first, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(first, &status, 0), first);
    background = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 143);
    char *text = read_whole_file(out);
    const char *stop = strstr(text, "stopped by SIGTERM at step ");
    assert_non_null(stop);
    long step = atol(stop + strlen("stopped by SIGTERM at step "));
    free(text);
    assert_int_equal(count_lines(csv), step + 1);  /* header and one row per step */
    snprintf(path, sizeof path, "%s/checkpoints/step-%09ld.qtr", run, step);
    assert_true(exists(path));
    assert_int_equal(nftw(run, any_tmp_file, 16, FTW_PHYS), 0);
    /* what a kill -9 during writes leaves, and a file that is not qtrain's */
    const char *stale[] = {"checkpoints/step-000099999.qtr.tmp", "config.ini.tmp", "notes.tmp"};
    char rel[200];
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof rel, "locked/%s", stale[i]);
        write_file(rel, "partial");
    }
    long epochs = step / 20 + 1;
    snprintf(args, sizeof args, "--resume --out '%s' --set train.epochs=%ld", run, epochs);
    r = expect_run("src/cli/qtrain", args, 0, "");
    snprintf(want, sizeof want, "note: removed 2 temporary files that a killed process left in %s\n", run);
    assert_non_null(strstr(r.out, want));
    run_result_free(&r);
    snprintf(path, sizeof path, "%s/notes.tmp", run);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/config.ini.tmp", run);
    assert_false(exists(path));
    /* every step once, in order; one eval row per epoch */
    char *rows = read_whole_file(csv);
    char *line = strchr(rows, '\n') + 1;
    for (long s = 1; s <= epochs * 20; s++) {
        assert_int_equal(atol(line), s);
        line = strchr(line, '\n') + 1;
    }
    assert_int_equal(*line, '\0');
    free(rows);
    snprintf(path, sizeof path, "%s/eval.csv", run);
    char *evals = read_whole_file(path);
    line = strchr(evals, '\n') + 1;
    for (long e = 1; e <= epochs; e++) {
        char head[64];
        snprintf(head, sizeof head, "%ld,%ld,", e, e * 20);
        assert_true(strncmp(line, head, strlen(head)) == 0);
        line = strchr(line, '\n') + 1;
    }
    assert_int_equal(*line, '\0');
    free(evals);
}

/* Defect 7: a resume that fails (a checkpoint that does not fit the net, logs whose columns
 * differ) changes nothing in the run directory, config.ini included; a plain --resume still
 * works afterwards. */
static void test_failed_resume_changes_nothing(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700], args[2000], want[2000], ck[800];
    snprintf(run, sizeof run, "%s/r", dir);
    train_tiny(run, "--set train.epochs=2 --set train.max_steps=30");
    /* without the newest checkpoint (step 30) train.csv has rows past the one resumed (20) */
    snprintf(ck, sizeof ck, "%s/checkpoints/step-000000030.qtr", run);
    assert_int_equal(unlink(ck), 0);
    char *before = snapshot(run);
    /* the net is rebuilt from the checkpoint's description, with the config's quantization:
     * SR's weights have index records that a BC checkpoint lacks */
    snprintf(args, sizeof args, "--resume --out '%s' --set quant.mode=sr", run);
    snprintf(want, sizeof want, "qtrain: error: %s/checkpoints/step-000000020.qtr: no record "
             "\"param/fc1.weight.index\"\n", run);
    expect_run_free("src/cli/qtrain", args, 1, want);
    char *after = snapshot(run);
    assert_string_equal(before, after);
    free(after);
    snprintf(args, sizeof args, "--resume --out '%s' --set log.flips=false", run);
    run_result r = expect_run("src/cli/qtrain", args, 1, NULL);
    assert_non_null(strstr(r.err, "train.csv: the header differs from this run's columns"));
    run_result_free(&r);
    after = snapshot(run);
    assert_string_equal(before, after);
    free(after);
    free(before);
    snprintf(args, sizeof args, "--resume --out '%s' --quiet", run);
    r = expect_run("src/cli/qtrain", args, 0, "");
    assert_non_null(strstr(r.out, "after 30 steps"));
    run_result_free(&r);
    /* a resume of a directory that does not exist creates nothing */
    snprintf(args, sizeof args, "--resume --out '%s/nothing-here' --config '%s/tiny.ini'", dir, dir);
    snprintf(want, sizeof want, "qtrain: error: --resume: run directory %s/nothing-here does not "
             "exist\n", dir);
    expect_run_free("src/cli/qtrain", args, 1, want);
    snprintf(ck, sizeof ck, "%s/nothing-here", dir);
    assert_false(exists(ck));
}

/* Defect 11: a second --config is refused (it used to replace the first silently). */
static void test_config_given_twice(void **state)
{
    char args[1600], want[1600];
    write_file("a.ini", "[train]\nlr = 0.5\n");
    write_file("b.ini", "[train]\nepochs = 3\n");
    snprintf(args, sizeof args, "--config '%s/a.ini' --config '%s/b.ini' --print-config", dir, dir);
    snprintf(want, sizeof want, "qtrain: error: --config given twice (%s/a.ini, then %s/b.ini): "
             "give one file and override single keys with --set\n", dir, dir);
    expect_run_free("src/cli/qtrain", args, 1, want);
    snprintf(args, sizeof args, "--checkpoint x.qtr --method msq --out q --config '%s/a.ini' "
             "--config '%s/b.ini'", dir, dir);
    snprintf(want, sizeof want, "qquant: error: --config given twice (%s/a.ini, then %s/b.ini): "
             "give one file and override single keys with --set\n", dir, dir);
    expect_run_free("src/cli/qquant", args, 1, want);
}

/* Defect 12: qquant keeps every --set (the 65th used to be dropped without a word) and every
 * --sweep-calpha value; it refuses to write into a training run's directory. */
static void test_qquant_keeps_every_option(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700], q[700], args[8000], want[2000];
    snprintf(run, sizeof run, "%s/trained", dir);
    snprintf(q, sizeof q, "%s/q", dir);
    train_tiny(run, "");
    int n = snprintf(args, sizeof args, "--checkpoint '%s/checkpoints/step-000000020.qtr' "
                     "--method msq --calib-images 50 --quiet --out '%s'", run, q);
    for (int i = 0; i < 64; i++)
        n += snprintf(args + n, sizeof args - (size_t)n, " --set train.seed=%d", i);
    snprintf(args + n, sizeof args - (size_t)n, " --set data.root=/no/such/dir");
    run_result r = expect_run("src/cli/qquant", args, 1, NULL);
    assert_non_null(strstr(r.err, "data.root: dataset directory /no/such/dir does not exist"));
    run_result_free(&r);
    n = snprintf(args, sizeof args, "--checkpoint '%s/checkpoints/step-000000020.qtr' --method "
                 "msq --calib-images 50 --val-images 50 --quiet --out '%s' --sweep-calpha ", run, q);
    for (int i = 0; i < 65; i++)
        n += snprintf(args + n, sizeof args - (size_t)n, "%s%g", i ? "," : "", 1.0 + 0.01 * i);
    r = expect_run("src/cli/qquant", args, 0, "");
    int rows = 0;
    for (const char *p = r.out; (p = strstr(p, "\n| ")); p++)
        rows++;
    assert_int_equal(rows, 1 + 65);                 /* the header row and one per value */
    run_result_free(&r);
    char csv[800];
    snprintf(csv, sizeof csv, "%s/sweep.csv", q);
    assert_int_equal(count_lines(csv), 66);
    char *before = snapshot(run);
    snprintf(args, sizeof args, "--checkpoint '%s/checkpoints/step-000000020.qtr' --method msq "
             "--calib-images 50 --quiet --out '%s'", run, run);
    snprintf(want, sizeof want, "qquant: error: --out %s holds a training run (config.ini, "
             "train.csv, eval.csv, checkpoints/), whose summary.json qquant would replace: give "
             "another --out\n", run);
    expect_run_free("src/cli/qquant", args, 1, want);
    char *after = snapshot(run);
    assert_string_equal(before, after);
    free(after);
    free(before);
}

/* Defect 4: train images 32x32 and test images 28x28 fail before training, naming both
 * files (the evaluation used to read past the end of each test batch). */
static void test_splits_of_different_sizes(void **state)
{
    char a[700], b[700], args[2400], want[2400];
    snprintf(a, sizeof a, "%s/big", dir);
    snprintf(b, sizeof b, "%s/small", dir);
    snprintf(args, sizeof args, "idx '%s' --size 32 --train 60 --test 20", a);
    expect_run_free("tools/mkdata", args, 0, "");
    snprintf(args, sizeof args, "idx '%s' --size 28 --train 60 --test 20", b);
    expect_run_free("tools/mkdata", args, 0, "");
    const char *files[] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 2; i++) {
        char from[800], to[800];
        snprintf(from, sizeof from, "%s/%s", b, files[i]);
        snprintf(to, sizeof to, "%s/%s", a, files[i]);
        assert_int_equal(rename(from, to), 0);
    }
    snprintf(args, sizeof args, "--set model.name=mlp --set data.dataset=mnist --set "
             "data.root='%s' --set train.epochs=1 --set train.batch_size=20 --out '%s/run'", a, dir);
    write_file("empty.ini", "");
    char full[3000];
    snprintf(full, sizeof full, "--config '%s/empty.ini' %s", dir, args);
    snprintf(want, sizeof want, "qtrain: error: the splits differ: the train split "
             "(%s/train-images-idx3-ubyte) has 1x32x32 images and 10 classes, the test split "
             "(%s/t10k-images-idx3-ubyte) 1x28x28 images and 10 classes; a net needs both the "
             "same\n", a, a);
    expect_run_free("src/cli/qtrain", full, 1, want);
}

/* Defect 4 for the nets rebuilt from a file: eval of a checkpoint or of exported weights on
 * data of another image size fails, naming the file (eval --weights used to report an
 * accuracy computed from misread images). */
static void test_eval_data_of_another_size(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700], data[700], ck[800], args[2400], want[2400];
    snprintf(run, sizeof run, "%s/ev", dir);
    snprintf(data, sizeof data, "%s/big32", dir);
    train_tiny(run, "");
    snprintf(ck, sizeof ck, "%s/checkpoints/step-000000020.qtr", run);
    snprintf(args, sizeof args, "export --checkpoint '%s' --out '%s/w.st'", ck, run);
    run_result r = expect_run("src/cli/qtrain", args, 0, "");
    run_result_free(&r);
    snprintf(args, sizeof args, "idx '%s' --size 32 --train 20 --test 10", data);
    expect_run_free("tools/mkdata", args, 0, "");
    const char *sources[] = {"--checkpoint", "--weights"};
    for (int i = 0; i < 2; i++) {
        char file[800];
        snprintf(file, sizeof file, i ? "%s/w.st" : "%s/checkpoints/step-000000020.qtr", run);
        snprintf(args, sizeof args, "eval %s '%s' --set data.dataset=mnist --set data.root='%s'",
                 sources[i], file, data);
        snprintf(want, sizeof want, "qtrain: error: %s: the net was built for 1x28x28 images "
                 "and 10 classes, the data has 1x32x32 images and 10 classes\n", file);
        expect_run_free("src/cli/qtrain", args, 1, want);
    }
}

/* Defect 14: mkdata's sizes are bounded, so no option writes gigabytes; an option without
 * its value is an error, not a crash. Nothing is written. */
static void test_mkdata_bounds(void **state)
{
    char out[700], args[1200];
    snprintf(out, sizeof out, "%s/mk", dir);
    snprintf(args, sizeof args, "idx '%s' --size", out);
    expect_run_free("tools/mkdata", args, 2, "mkdata: error: --size needs a value\n");
    snprintf(args, sizeof args, "idx '%s' --size 100000 --train 1", out);
    expect_run_free("tools/mkdata", args, 2,
                    "mkdata: error: --size: '100000' is not an integer in 1..4096\n");
    snprintf(args, sizeof args, "idx '%s' --size 4096 --train 100", out);
    expect_run_free("tools/mkdata", args, 2, "mkdata: error: idx: 120 images would take 2.0 GB, "
                    "more than mkdata's 1 GiB (lower --train, --test or --size)\n");
    snprintf(args, sizeof args, "png '%s' --classes 1000 --train 100 --max-side 400", out);
    expect_run_free("tools/mkdata", args, 2, "mkdata: error: png: 102000 images would take 130.6 GB, "
                    "more than mkdata's 1 GiB (lower --train, --test, --classes or --max-side)\n");
    snprintf(args, sizeof args, "imagenet '%s' --classes 10 --train 100 --test 0 --width 4096 "
             "--height 4096 --photo", out);
    expect_run_free("tools/mkdata", args, 2, "mkdata: error: imagenet: 1000 images would take "
                    "67.1 GB, more than mkdata's 1 GiB (lower --train, --test, --classes, "
                    "--max-side or --width and --height)\n");
    snprintf(args, sizeof args, "tiny_imagenet '%s' --width 5000 --height 64", out);
    expect_run_free("tools/mkdata", args, 2,
                    "mkdata: error: --width: '5000' is not an integer in 1..4096\n");
    snprintf(args, sizeof args, "cifar10 '%s' --train 1000000", out);
    expect_run_free("tools/mkdata", args, 2,
                    "mkdata: error: --train: '1000000' is not an integer in 1..100000\n");
    assert_false(exists(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_output_path),
        cmocka_unit_test(test_fresh_run_into_run_dir),
        cmocka_unit_test(test_lock_sigterm_and_stale_temps),
        cmocka_unit_test(test_failed_resume_changes_nothing),
        cmocka_unit_test(test_config_given_twice),
        cmocka_unit_test(test_qquant_keeps_every_option),
        cmocka_unit_test(test_splits_of_different_sizes),
        cmocka_unit_test(test_eval_data_of_another_size),
        cmocka_unit_test(test_mkdata_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

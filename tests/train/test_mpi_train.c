/* Data-parallel training over MPI (issue 19), through mpirun and the qtrain program:
 * - 2 processes with train.sync_bn train the same loss curve as 1 process and hold the same
 *   weights at every step: within 1e-5 relative over the first 10 steps, where only the
 *   order of float sums differs (a batch statistic or gradient taken over half the batch is
 *   off by 1e-3 or more), and within 2e-3 over 50 steps, as training amplifies those
 *   rounding differences (what was measured: test_two_processes_equal_one);
 * - 4 processes on this machine's cores (--oversubscribe) complete a run, and a resume with
 *   3 processes continues it (the global batch does not depend on the process count);
 * - processes given different learning rates (an MPMD launch) are caught by the weight
 *   checksum with a clear error;
 * - a killed process ends the job non-zero within seconds, and --resume completes the run.
 * Skips without MPI in the build or without Debian's dataset-fashion-mnist. Every mpirun runs
 * under `timeout`, so a hang fails the test instead of stalling the suite. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fmnist_subset.h"
#include "run_program.h"
#include "tmpdir.h"

static char dir[512];
static char fmnist[700];      /* the first 1000 training and 200 test images */
static char qtrain[1024];
static pid_t background;      /* an mpirun started by a test, killed if the test fails */

enum { TIMEOUT_S = 120 };     /* per mpirun, for a loaded 2-core machine */

#ifndef MPIRUN
#define MPIRUN "mpirun"       /* not used: the tests skip in builds without MPI */
#endif

/* Under AddressSanitizer (.ci/run), LeakSanitizer reports Open MPI's own allocations at exit
 * (ompi_op_base_op_select and components it has already unloaded, so no suppression by
 * library name can match them) and fails every run. Leak checking is turned off for the
 * mpirun children only; ASan's memory-error checks still apply to them, and qtrain's own
 * leaks are checked by the single-process tests of the same code. */
static void no_leak_check_for_mpi_children(void)
{
    const char *asan = getenv("ASAN_OPTIONS");
    if (!asan)
        return;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s:detect_leaks=0", asan);
    setenv("ASAN_OPTIONS", opts, 1);
}

static int setup(void **state)
{
    no_leak_check_for_mpi_children();
    if (tmpdir_make(dir, sizeof dir) != 0)
        return -1;
    snprintf(fmnist, sizeof fmnist, "%s/fmnist", dir);
    snprintf(qtrain, sizeof qtrain, "%s/src/cli/qtrain", getenv("QTRAIN_BUILD_ROOT"));
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

static int runnable(void)
{
#ifndef QT_HAVE_MPI
    return 0;
#else
    return fmnist_installed();
#endif
}

#define SKIP_UNLESS_RUNNABLE()                                                              \
    do {                                                                                    \
        if (!runnable()) {                                                                  \
            print_message("skipped: built without MPI or without dataset-fashion-mnist\n"); \
            skip();                                                                         \
        }                                                                                   \
    } while (0)

/* A small net on 1000 images, batch 50: 20 steps an epoch. 1 and 2 processes sum their
 * weight gradients in different orders (a process's images fall into different tiles and
 * Winograd rounds), so their losses differ by about 1e-7 at first; after some steps one of
 * those differences tips a max-pool or ReLU decision (a discontinuity of the net, not of the
 * reduction), and from there the curves part. Measured at lr 0.002 (0ca9a42): within 5e-7
 * over steps 1-10, above 1e-6 from step 13, 1e-5 from 21, at most 5.4e-4 (step 47). Where
 * the curves tip moves with any change to a kernel's rounding (step 9 or 12 in earlier
 * builds, up to 6e-4 by step 50). A wrong reduction (an unsynced batchnorm, a gradient not
 * averaged) shows from the first steps, which are held to 1e-5; the rest to 2e-3. */
static void write_ini(const char *name, const char *model, int epochs, const char *extra)
{
    char text[1500];
    snprintf(text, sizeof text, "[model]\n%s\n[data]\nroot = %s\ntrain_limit = 1000\n"
             "test_limit = 200\naugment = false\n[train]\nepochs = %d\nbatch_size = 50\n"
             "threads = 1\noptimizer = sgd\nlr = 0.002\n%s\n[log]\nevery = 1\n", model, fmnist,
             epochs, extra);
    assert_int_equal(tmpdir_write(dir, name, text, strlen(text)), 0);
}

/* The mpirun command for np processes of `qtrain <args>` (as root Open MPI needs
 * --allow-run-as-root; --oversubscribe allows more processes than cores). */
static void mpirun_cmd(char *cmd, size_t n, int np, const char *args)
{
    snprintf(cmd, n, "timeout -s KILL %d %s %s--oversubscribe -np %d '%s' %s", TIMEOUT_S,
             MPIRUN, geteuid() == 0 ? "--allow-run-as-root " : "", np, qtrain, args);
}

/* Runs a shell command with stdout and stderr into dir/out.txt and dir/err.txt; returns the
 * exit status (-1 when killed). */
static int shell(const char *cmd)
{
    char full[4000];
    snprintf(full, sizeof full, "cd '%s' && %s >out.txt 2>err.txt", dir, cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int mpirun(int np, const char *args)
{
    char cmd[3000];
    mpirun_cmd(cmd, sizeof cmd, np, args);
    return shell(cmd);
}

static char *dir_file(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_whole_file(path);
}

static void expect_status(int got, int want, const char *what)
{
    if (got != want) {
        char *err = dir_file("err.txt");
        fail_msg("%s: exit status %d, expected %d; stderr: %s", what, got, want, err ? err : "");
    }
}

/* train.csv's loss column (the 4th), at most max rows; returns the rows read. */
static int read_losses(const char *run, double *loss, int max)
{
    char name[600];
    snprintf(name, sizeof name, "%s/train.csv", run);
    char *text = dir_file(name);
    assert_non_null(text);
    int n = 0;
    char *line = strchr(text, '\n');
    while (line && line[1] && n < max) {
        line++;
        const char *f = line;
        for (int col = 0; col < 3 && f; col++)
            f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        assert_non_null(f);
        loss[n++] = strtod(f, NULL);
        line = strchr(line, '\n');
    }
    free(text);
    return n;
}

static void test_two_processes_equal_one(void **state)
{
    SKIP_UNLESS_RUNNABLE();
    write_ini("sync.ini", "name = convnet", 3,
              "max_steps = 50\nsync_bn = true\nsync_check_every = 1");
    char args[1500];
    snprintf(args, sizeof args, "'%s' --config sync.ini --out one --quiet", qtrain);
    expect_status(shell(args), 0, "1 process");
    /* sync_check_every = 1: the processes compare their weights after every step */
    expect_status(mpirun(2, "--config sync.ini --out two --quiet"), 0, "2 processes");
    double a[64], b[64];
    assert_int_equal(read_losses("one", a, 64), 50);
    assert_int_equal(read_losses("two", b, 64), 50);
    for (int i = 0; i < 50; i++)
        if (fabs(a[i] - b[i]) > (i < 10 ? 1e-5 : 2e-3) * fabs(a[i]))
            fail_msg("step %d: loss %.9g with 1 process, %.9g with 2", i + 1, a[i], b[i]);
    char *out = dir_file("out.txt");
    assert_non_null(strstr(out, "after 50 steps"));
    free(out);
}

static void test_four_processes_complete_and_resume(void **state)
{
    SKIP_UNLESS_RUNNABLE();
    /* SR's draws are keyed by (seed, step, weight), so the processes stay identical */
    write_ini("four.ini", "name = convnet", 2, "max_steps = 15\nsync_check_every = 1\n"
              "[quant]\nmode = sr\ngrid = uniform\nbits = 4");
    expect_status(mpirun(4, "--config four.ini --out four --quiet"), 0, "4 processes");
    expect_status(mpirun(3, "--resume --out four --set train.max_steps=30 --quiet"), 0,
                  "resume with 3 processes");
    char *out = dir_file("out.txt");
    assert_non_null(strstr(out, "resumed from"));
    assert_non_null(strstr(out, "after 30 steps"));
    free(out);
    double loss[64];
    assert_int_equal(read_losses("four", loss, 64), 30);
}

static void test_diverged_processes_stop(void **state)
{
    SKIP_UNLESS_RUNNABLE();
    write_ini("div.ini", "name = mlp\nwidths = 32", 1, "max_steps = 10\nsync_check_every = 3");
    char args[1500], cmd[3000];
    /* MPMD: rank 0 and rank 1 get different learning rates */
    snprintf(args, sizeof args, "--config div.ini --out div --quiet : --oversubscribe -np 1 "
             "'%s' --config div.ini --out div --quiet --set train.lr=0.02", qtrain);
    mpirun_cmd(cmd, sizeof cmd, 1, args);
    int st = shell(cmd);
    assert_true(st != 0 && st != -1);
    char *err = dir_file("err.txt");
    assert_non_null(err);
    if (!strstr(err, "qtrain: error: the 2 processes hold different weights after step 3 "
                "(train.sync_check_every = 3): stopped."))
        fail_msg("stderr: %s", err);
    free(err);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Starts cmd in the background (in dir, output to files); returns its pid. */
static pid_t start(const char *cmd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char full[4000];
        snprintf(full, sizeof full, "cd '%s' && exec %s >out.txt 2>err.txt", dir, cmd);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int exists(const char *name)
{
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static void test_killed_process_ends_job(void **state)
{
    SKIP_UNLESS_RUNNABLE();
    write_ini("kill.ini", "name = mlp\nwidths = 32", 60, "");
    /* each rank records its pid, then becomes qtrain */
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "timeout -s KILL %d %s %s--oversubscribe -np 2 sh -c 'echo $$ "
             ">pid.$OMPI_COMM_WORLD_RANK; exec \"%s\" --config kill.ini --out kill --quiet'",
             TIMEOUT_S, MPIRUN, geteuid() == 0 ? "--allow-run-as-root " : "", qtrain);
    background = start(cmd);
    double t0 = now();
    while (!(exists("kill/checkpoints/step-000000020.qtr") && exists("pid.1")) && now() - t0 < 60)
        usleep(5000);
    char *pid_text = dir_file("pid.1");
    assert_non_null(pid_text);
    pid_t rank1 = (pid_t)atol(pid_text);
    free(pid_text);
    assert_true(rank1 > 0);
    assert_int_equal(kill(rank1, SIGKILL), 0);
    double killed = now();
    int st = 0;
    pid_t done = 0;
    while ((done = waitpid(background, &st, WNOHANG)) == 0 && now() - killed < 60)
        usleep(10000);
    assert_int_equal(done, background);
    background = 0;
    double took = now() - killed;
    if (!(WIFEXITED(st) && WEXITSTATUS(st) != 0) || took > 20)
        fail_msg("after the kill: status 0x%x after %.1f s; expected a non-zero exit within "
                 "20 s", st, took);
    assert_false(exists("kill/summary.json"));
    expect_status(mpirun(2, "--resume --out kill --quiet"), 0, "resume after the kill");
    char *out = dir_file("out.txt");
    assert_non_null(strstr(out, "after 1200 steps"));
    free(out);
    double loss[1300];
    assert_int_equal(read_losses("kill", loss, 1300), 1200);
}

int main(void)
{
    if (!runnable()) {
        printf("skipped: built without MPI or without dataset-fashion-mnist\n");
        return 77; /* meson's "skipped" */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_processes_equal_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_processes_complete_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diverged_processes_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_process_ends_job, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

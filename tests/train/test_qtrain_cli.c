/* The qtrain program: help, config errors with file:line, --print-config, a short run on
 * Fashion-MNIST, Ctrl-C writing a checkpoint that --resume continues, eval and export. */
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fmnist_subset.h"
#include "run_program.h"
#include "tmpdir.h"

static char dir[512];
static char fmnist[700];      /* the first 4000 training and 1000 test images */

static int setup(void **state)
{
    if (tmpdir_make(dir, sizeof dir) != 0)
        return -1;
    snprintf(fmnist, sizeof fmnist, "%s/fmnist", dir);
    if (fmnist_installed() && fmnist_subset(fmnist, 4000, 1000) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    tmpdir_remove(dir);
    return 0;
}

static int have_fmnist(void) { return fmnist_installed(); }

static void write_config(const char *name, const char *text)
{
    assert_int_equal(tmpdir_write(dir, name, text, strlen(text)), 0);
}

static void test_help_lists_every_option(void **state)
{
    run_result r = run_program("src/cli/qtrain", "--help", dir);
    assert_int_equal(r.status, 0);
    const char *opts[] = {"--config", "--set", "--out", "--resume", "--overwrite", "--seed",
                          "--threads", "--quiet", "--print-config", "--print-net", "--checkpoint",
                          "--float", "--help-config", "eval", "export", "--weights", "--format",
                          "--packed", "--float-buffer", "--onnx-float", "--onnx-fold-bn",
                          "SIGTERM", "143"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        if (!strstr(r.out, opts[i]))
            fail_msg("--help does not mention %s", opts[i]);
    run_result_free(&r);
    r = run_program("src/cli/qtrain", "--help-config", dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "[quant]"));
    assert_non_null(strstr(r.out, "mode = fp"));
    assert_non_null(strstr(r.out, "max_steps = 0"));
    run_result_free(&r);
}

/* Each config error is one stderr line naming file:line and the key, exit status 1. */
static void test_config_errors(void **state)
{
    char args[1200], want[1200];
    write_config("bad.ini", "[train]\nepochs = 3\nlr = fast\n");
    snprintf(args, sizeof args, "--config '%s/bad.ini'", dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "qtrain: error: %s/bad.ini:3: train.lr: expected a number, got \"fast\"\n", dir);
    assert_string_equal(r.err, want);
    run_result_free(&r);

    write_config("unknown.ini", "[train]\nepoch = 3\n");
    snprintf(args, sizeof args, "--config '%s/unknown.ini'", dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "qtrain: error: %s/unknown.ini:2: train.epoch: unknown key (did you mean train.epochs?)\n", dir);
    assert_string_equal(r.err, want);
    run_result_free(&r);

    write_config("range.ini", "[quant]\nmode = bc\nbits = 9\n");
    snprintf(args, sizeof args, "--config '%s/range.ini'", dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "range.ini:3: quant.bits"));
    run_result_free(&r);

    write_config("ok.ini", "[model]\nname = mlp\n");
    snprintf(args, sizeof args, "--config '%s/ok.ini' --set train.batch_size=0", dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "qtrain: error: --set: train.batch_size:"));
    run_result_free(&r);

    write_config("missing.ini", "[data]\ndataset = cifar10\nroot = /no/such/cifar\n");
    snprintf(args, sizeof args, "--config '%s/missing.ini' --out '%s/r0'", dir, dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "%s/missing.ini:3: data.root: dataset directory /no/such/cifar does not exist", dir);
    assert_non_null(strstr(r.err, want));
    run_result_free(&r);
}

static void test_print_config(void **state)
{
    char args[1200];
    write_config("p.ini", "[model]\nname = resnet20\n");
    snprintf(args, sizeof args, "--config '%s/p.ini' --seed 7 --print-config", dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "name = resnet20"));
    assert_non_null(strstr(r.out, "seed = 7"));
    run_result_free(&r);
}

/* --print-net: the table of a net file for Fashion-MNIST's 1x28x28 images and 10 classes,
 * exactly; a missing or broken net file is one error line naming it. */
static void test_print_net(void **state)
{
    if (!have_fmnist())
        skip();
    char args[2000], want[4096];
    write_config("small.net", "[net]\nname = small\n"
                              "[conv]\nname = conv1\nout = 4\nk = 3\nstride = 2\npad = 1\n"
                              "bias = false\nbits = 4\n[bn]\nname = bn1\n[relu]\n"
                              "[global_avgpool]\n[linear]\nname = fc\nout = classes\n");
    snprintf(args, sizeof args, "[model]\nfile = %s/small.net\n[data]\nroot = %s\n[quant]\n"
             "mode = sr\nquantize_last = false\n", dir, fmnist);
    write_config("net.ini", args);
    snprintf(args, sizeof args, "--config '%s/net.ini' --print-net", dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "small: input 1x28x28, 10 classes; built from file input=1x28x28 classes=10 "
             "bn_momentum=0.1 bn_eps=1e-05 path=%s/small.net\n"
             "#  layer  kind            in  output   params  weights   FLOPs\n"
             "0  conv1  conv 3x3 s2     x   4x14x14      36  sr 4-bit  14112\n"
             "1  bn1    bn              0   4x14x14       8  -             -\n"
             "2         relu            1   4x14x14       -  -             -\n"
             "3         global_avgpool  2   4             -  -             -\n"
             "4  fc     linear          3   10           50  float        80\n"
             "total: 94 parameters, 36 of them quantized weights; 14192 FLOPs per image "
             "(forward, 2 per multiply-add of conv and linear layers)\n", dir);
    assert_string_equal(r.out, want);
    run_result_free(&r);

    snprintf(args, sizeof args, "--config '%s/net.ini' --set model.file=%s/none.net --print-net",
             dir, dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "qtrain: error: --set: model.file: %s/none.net: cannot open: No "
             "such file or directory\n", dir);
    assert_string_equal(r.err, want);
    run_result_free(&r);

    write_config("small.net", "[conv]\nname = c\nout = 3\nk = 3\n[linear]\nname = fc\n"
                              "out = classes\n");
    snprintf(args, sizeof args, "--config '%s/net.ini' --out '%s/never'", dir, dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "qtrain: error: %s/small.net:5: linear fc: needs a flat input "
             "(F), got (3,26,26); put [flatten] or [global_avgpool] before it\n", dir);
    assert_string_equal(r.err, want);
    run_result_free(&r);
}

/* Ctrl-C during training: exit status 130, a checkpoint at the step reached, and --resume
 * finishes the run with the full number of steps (3 epochs of 4000 images, batch 20). */
static void test_sigint_checkpoint_and_resume(void **state)
{
    if (!have_fmnist())
        skip();
    char run_dir[700], cfg[700], csv[800];
    snprintf(run_dir, sizeof run_dir, "%s/int", dir);
    snprintf(cfg, sizeof cfg, "%s/int.ini", dir);
    snprintf(csv, sizeof csv, "%s/train.csv", run_dir);
    char ini[1200];
    snprintf(ini, sizeof ini, "[model]\nname = mlp\nwidths = 256\n[data]\naugment = false\n"
             "root = %s\n[train]\nepochs = 3\nbatch_size = 20\nthreads = 1\n", fmnist);
    write_config("int.ini", ini);
    pid_t pid = fork();
    if (pid == 0) {
        char exe[1024];
        snprintf(exe, sizeof exe, "%s/src/cli/qtrain", getenv("QTRAIN_BUILD_ROOT"));
        freopen("/dev/null", "w", stdout);
        execl(exe, exe, "--config", cfg, "--out", run_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 3000 && count_lines(csv) < 100; i++)
        usleep(10000);
    assert_true(count_lines(csv) >= 100);
    kill(pid, SIGINT);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    char args[2000];
    snprintf(args, sizeof args, "--resume --out '%s' --quiet", run_dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "after 600 steps"));    /* 3 epochs of 200 */
    run_result_free(&r);
    assert_int_equal(count_lines(csv), 601);               /* header + one row per step */
}

/* A short run reaches a stated accuracy; eval re-measures it from the checkpoint; export
 * writes safetensors. 1 epoch of the BC MLP on 3000 images: measured 0.772 on 1000 test images. */
static void test_train_eval_export(void **state)
{
    if (!have_fmnist())
        skip();
    char args[2000], ck[900];
    char ini[1200];
    snprintf(ini, sizeof ini, "[model]\nname = mlp\nwidths = 128\n[data]\naugment = false\n"
             "root = %s\ntrain_limit = 3000\ntest_limit = 1000\n[train]\nepochs = 1\n"
             "batch_size = 50\nlr = 0.003\nthreads = 1\n[quant]\nmode = bc\n", fmnist);
    write_config("short.ini", ini);
    snprintf(args, sizeof args, "--config '%s/short.ini' --out '%s/short'", dir, dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    double acc = 0.0;
    char *p = strstr(r.out, "test accuracy ");
    assert_non_null(p);
    acc = atof(p + 14);
    print_message("BC MLP, 1 epoch of 3000 images: test accuracy %.4f\n", acc);
    assert_true(acc > 0.70);
    run_result_free(&r);
    snprintf(ck, sizeof ck, "%s/short/checkpoints/step-000000060.qtr", dir);
    snprintf(args, sizeof args, "eval --checkpoint '%s'", ck);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, "test_acc ", 9) == 0);
    assert_float_equal(atof(r.out + 9), acc, 5e-5);
    p = strstr(r.out, "test_top5 "); /* 10 classes */
    assert_non_null(p);
    assert_true(atof(p + 10) >= acc && atof(p + 10) <= 1.0);
    run_result_free(&r);
    snprintf(args, sizeof args, "export --checkpoint '%s' --out '%s/w.safetensors'", ck, dir);
    r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    run_result_free(&r);
    struct stat sb;
    char path[700];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 128 * 784 * 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_print_config),
        cmocka_unit_test(test_print_net),
        cmocka_unit_test(test_sigint_checkpoint_and_resume),
        cmocka_unit_test(test_train_eval_export),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

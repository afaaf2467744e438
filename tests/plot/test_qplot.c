/* The qplot program: help text, exit codes, one-line errors on stderr, and the PNG it
 * writes. Runs the built binary from QTRAIN_BUILD_ROOT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "plot_test_util.h"

typedef struct run_result {
    int status;
    char *out, *err;
} run_result;

static char dir[256];

/* Runs qplot with args (already shell-quoted where needed), capturing stdout and stderr. */
static run_result run(const char *args)
{
    const char *root = getenv("QTRAIN_BUILD_ROOT");
    assert_non_null(root);
    char out[512], err[512], cmd[4096];
    join(out, sizeof out, dir, "stdout.txt");
    join(err, sizeof err, dir, "stderr.txt");
    snprintf(cmd, sizeof cmd, "'%s/tools/qplot' %s >'%s' 2>'%s'", root, args, out, err);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    return (run_result){WEXITSTATUS(rc), read_text(out), read_text(err)};
}

static void release(run_result *r)
{
    free(r->out);
    free(r->err);
}

static int setup(void **state)
{
    scratch_dir(dir, sizeof dir);
    char path[512];
    write_text(join(path, sizeof path, dir, "good.csv"),
               "step,loss,test_err\n0,2.3,90\n10,1.2,\n20,0.8,50\n30,0.6,\n40,0.5,30\n");
    write_text(join(path, sizeof path, dir, "bad.csv"), "step,loss\n0,2.3\n10,x\n");
    return 0;
}

static int teardown(void **state)
{
    remove_tree(dir);
    return 0;
}

static void test_help_explains_every_option(void **state)
{
    run_result r = run("--help");
    assert_int_equal(r.status, 0);
    const char *options[] = {"-o, --output", "--svg", "--width", "--height", "-x, --x",
                             "-y, --y", "--y2 ", "--smooth ", "--smooth2", "--logy ",
                             "--logy2", "--label", "--title", "--xlabel", "--ylabel",
                             "--y2label", "--vline", "-h, --help"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (!strstr(r.out, options[i]))
            fail_msg("--help does not mention %s", options[i]);
    assert_string_equal(r.err, "");
    release(&r);
}

static void test_malformed_csv_error_names_file_and_line(void **state)
{
    char args[1024], want[1024];
    snprintf(args, sizeof args, "-o '%s/x.png' '%s/good.csv' '%s/bad.csv'", dir, dir, dir);
    run_result r = run(args);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "qplot: error: %s/bad.csv:3: column 'loss': 'x' is not a number\n",
             dir);
    assert_string_equal(r.err, want);
    char png[512];
    assert_int_equal(access(join(png, sizeof png, dir, "x.png"), F_OK), -1);
    release(&r);
}

static void test_usage_errors(void **state)
{
    run_result r = run("--bogus x.csv");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "qplot: error: unknown option '--bogus' (see qplot --help)\n");
    release(&r);
    r = run("-o x.png --width=12 x.csv");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "qplot: error: --width needs a whole number from 160 to 10000, "
                               "not '12' (see qplot --help)\n");
    release(&r);
    r = run("-o x.png --vline 3x x.csv");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "qplot: error: --vline needs a number, not '3x' (see qplot --help)\n");
    release(&r);
    r = run("x.csv");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "qplot: error: no output: give -o FILE.png and/or --svg "
                               "FILE.svg (see qplot --help)\n");
    release(&r);
}

static void test_writes_png_of_requested_size(void **state)
{
    char args[1024], png[512];
    join(png, sizeof png, dir, "chart.png");
    snprintf(args, sizeof args,
             "-o '%s' --y2 test_err --width=640 --height 480 --label run --title 'A title' "
             "--smooth 2 '%s/good.csv'", png, dir);
    run_result r = run(args);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    int w, h;
    uint8_t *rgb = decode_png(png, &w, &h);
    assert_non_null(rgb);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    free(rgb);
    release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_explains_every_option),
        cmocka_unit_test(test_malformed_csv_error_names_file_and_line),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_writes_png_of_requested_size),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

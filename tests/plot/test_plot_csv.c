/* Plotting CSV files: legend names, files with different rows sharing the axes, missing
 * columns and cells, error messages, and outputs that never damage existing files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "qtrain/plot_csv.h"
#include "plot_test_util.h"

typedef struct fixture {
    char dir[256];
    char a[512], b[512], bad[512], out[512];
} fixture;

/* runs/a/train.csv: steps 0..100; runs/b/train.csv: steps 50..300 with a test_err column
 * and some empty loss cells; bad.csv: a short row on line 3. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    scratch_dir(f->dir, sizeof f->dir);
    char path[512];
    mkdir(join(path, sizeof path, f->dir, "runs"), 0777);
    mkdir(join(path, sizeof path, f->dir, "runs/a"), 0777);
    mkdir(join(path, sizeof path, f->dir, "runs/b"), 0777);
    join(f->a, sizeof f->a, f->dir, "runs/a/train.csv");
    join(f->b, sizeof f->b, f->dir, "runs/b/train.csv");
    join(f->bad, sizeof f->bad, f->dir, "bad.csv");
    join(f->out, sizeof f->out, f->dir, "out.png");
    write_text(f->a, "step,loss\n0,2.0\n50,1.0\n100,0.5\n");
    write_text(f->b, "step,epoch,loss,test_err\n50,0,3.0,90\n100,0,,\n200,1,1.5,60\n"
                     "250,1,nan,\n300,2,0.75,40\n");
    write_text(f->bad, "step,loss\n0,1\n1\n");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

static qt_plot_request request(const char *out, const char *const *files, int nfiles)
{
    return (qt_plot_request){.png_path = out, .x = "step", .y = "loss", .width = 500,
                             .height = 400, .smooth = 1, .smooth2 = 1, .nfiles = nfiles,
                             .files = files};
}

static void test_run_names(void **state)
{
    char name[64];
    qt_plot_run_name("runs/foo/train.csv", name, sizeof name);
    assert_string_equal(name, "foo");
    qt_plot_run_name("/abs/runs/bar//eval.csv", name, sizeof name);
    assert_string_equal(name, "bar");
    qt_plot_run_name("train.csv", name, sizeof name);
    assert_string_equal(name, "train");
    qt_plot_run_name("./log.txt", name, sizeof name);
    assert_string_equal(name, "log.txt");
    qt_plot_run_name("../x.csv", name, sizeof name);
    assert_string_equal(name, "x");
}

static void test_files_share_axes(void **state)
{
    fixture *f = *state;
    const char *files[] = {f->a, f->b};
    qt_plot_request r = request(f->out, files, 2);
    r.y2 = "test_err";
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_plot_csv_chart(&r, &c, &err), QT_OK);
    assert_string_equal(c.names[0], "a");
    assert_string_equal(c.names[1], "b");
    assert_true(c.xaxis.lo <= 0 && c.xaxis.hi >= 300);
    /* Empty and NaN cells drop just their point. */
    assert_int_equal(c.panels[0].series[0].n, 3);
    assert_int_equal(c.panels[0].series[1].n, 3);
    assert_true(c.panels[0].series[1].x[1] == 200 && c.panels[0].series[1].y[1] == 1.5);
    /* File a has no test_err column: no line in the second panel. */
    assert_int_equal(c.panels[1].series[0].n, 0);
    assert_int_equal(c.panels[1].series[1].n, 3);
    assert_string_equal(c.panels[1].ylabel, "test_err");
    assert_string_equal(c.xlabel, "step");
    qt_chart_free(&c);
}

static void test_labels_and_name_clashes(void **state)
{
    fixture *f = *state;
    char eval[512];
    join(eval, sizeof eval, f->dir, "runs/b/eval.csv");
    write_text(eval, "step,loss\n0,1\n");
    const char *files[] = {f->a, f->b, eval};
    const char *labels[] = {"first"};
    qt_plot_request r = request(f->out, files, 3);
    r.labels = labels;
    r.nlabels = 1;
    qt_chart c;
    qt_error err;
    assert_int_equal(qt_plot_csv_chart(&r, &c, &err), QT_OK);
    assert_string_equal(c.names[0], "first");
    assert_string_equal(c.names[1], "b/train");
    assert_string_equal(c.names[2], "b/eval");
    qt_chart_free(&c);
}

static void test_missing_columns(void **state)
{
    fixture *f = *state;
    const char *files[] = {f->a, f->b};
    qt_plot_request r = request(f->out, files, 1);
    qt_chart c;
    qt_error err;
    r.y = "acc";
    assert_int_equal(qt_plot_csv_chart(&r, &c, &err), QT_ERR);
    char want[1024];
    snprintf(want, sizeof want, "%s: no column 'acc' (columns: step, loss)", f->a);
    assert_string_equal(err.msg, want);
    r.nfiles = 2;
    assert_int_equal(qt_plot_csv_chart(&r, &c, &err), QT_ERR);
    snprintf(want, sizeof want, "no input has a column 'acc' (%s has: step, loss)", f->a);
    assert_string_equal(err.msg, want);
    r.y = "loss";
    r.x = "epoch";
    assert_int_equal(qt_plot_csv_chart(&r, &c, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: no column 'epoch' (columns: step, loss)", f->a);
    assert_string_equal(err.msg, want);
}

/* A malformed CSV is reported by file and line, and the existing output stays as it was. */
static void test_malformed_csv_keeps_old_output(void **state)
{
    fixture *f = *state;
    write_text(f->out, "old picture");
    const char *files[] = {f->a, f->bad};
    qt_plot_request r = request(f->out, files, 2);
    qt_error err;
    assert_int_equal(qt_plot_csv(&r, &err), QT_ERR);
    char want[1024];
    snprintf(want, sizeof want, "%s:3: 1 field, but the header has 2", f->bad);
    assert_string_equal(err.msg, want);
    char *text = read_text(f->out);
    assert_string_equal(text, "old picture");
    free(text);
}

static void test_output_may_not_be_an_input(void **state)
{
    fixture *f = *state;
    const char *files[] = {f->a};
    qt_plot_request r = request(f->a, files, 1);
    qt_error err;
    assert_int_equal(qt_plot_csv(&r, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "output would overwrite the input"));
    char *text = read_text(f->a);
    assert_string_equal(text, "step,loss\n0,2.0\n50,1.0\n100,0.5\n");
    free(text);
}

static void test_writes_png_and_svg(void **state)
{
    fixture *f = *state;
    char svg[512];
    join(svg, sizeof svg, f->dir, "out.svg");
    const char *files[] = {f->a, f->b};
    qt_plot_request r = request(f->out, files, 2);
    r.svg_path = svg;
    r.logy = 1;
    r.smooth = 2;
    qt_error err;
    assert_int_equal(qt_plot_csv(&r, &err), QT_OK);
    int w, h;
    uint8_t *rgb = decode_png(f->out, &w, &h);
    assert_non_null(rgb);
    assert_int_equal(w, 500);
    assert_int_equal(h, 400);
    free(rgb);
    char *text = read_text(svg);
    assert_non_null(text);
    assert_non_null(strstr(text, "</svg>"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_names),
        cmocka_unit_test_setup_teardown(test_files_share_axes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_and_name_clashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_csv_keeps_old_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_may_not_be_an_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_png_and_svg, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

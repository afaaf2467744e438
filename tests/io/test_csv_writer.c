/* CSV logs: exact text, quoting, rows on disk as soon as they are written, and resuming
 * (rows after the checkpoint and a partial last line are cut). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io_test_util.h"
#include "qtrain/csv_writer.h"

static const char *const columns[] = {"step", "epoch", "lr", "loss"};

static void assert_file(const char *path, const char *text)
{
    char *got = (char *)io_read(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, text);
    free(got);
}

static void test_rows_are_on_disk_after_each_write(void **state)
{
    const char *path = io_path("train.csv");
    qt_csv_writer *w;
    qt_error err = {{0}};
    assert_int_equal(qt_csv_writer_create(&w, path, columns, 4, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n");
    assert_int_equal(qt_csv_write_row(w, (double[]){1, 0, 0.001, 2.302585092994046}, &err), QT_OK);
    /* Read while the writer is still open: a killed run would leave exactly this. */
    assert_file(path, "step,epoch,lr,loss\n1,0,0.001,2.302585092994046\n");
    assert_int_equal(qt_csv_write_row(w, (double[]){2, 0.5, 1e-5, NAN}, &err), QT_OK);
    assert_int_equal(qt_csv_write_row(w, (double[]){3, 1, INFINITY, -0.1}, &err), QT_OK);
    assert_int_equal(qt_csv_writer_close(w, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n1,0,0.001,2.302585092994046\n2,0.5,1e-05,nan\n3,1,inf,-0.1\n");
}

static void test_text_rows_are_quoted_when_needed(void **state)
{
    const char *path = io_path("text.csv");
    const char *const cols[] = {"name", "note"};
    qt_csv_writer *w;
    qt_error err = {{0}};
    assert_int_equal(qt_csv_writer_create(&w, path, cols, 2, &err), QT_OK);
    assert_int_equal(qt_csv_write_text_row(w, (const char *[]){"plain", "a,b"}, &err), QT_OK);
    assert_int_equal(qt_csv_write_text_row(w, (const char *[]){"say \"hi\"", " lead"}, &err), QT_OK);
    assert_int_equal(qt_csv_write_text_row(w, (const char *[]){"two\nlines", ""}, &err), QT_OK);
    assert_int_equal(qt_csv_writer_close(w, &err), QT_OK);
    assert_file(path, "name,note\nplain,\"a,b\"\n\"say \"\"hi\"\"\",\" lead\"\n\"two\nlines\",\n");
}

static void test_resume_cuts_rows_after_the_checkpoint(void **state)
{
    const char *path = io_path("resume.csv");
    qt_csv_writer *w;
    qt_error err = {{0}};
    io_write_text(path, "step,epoch,lr,loss\n"
                        "1,0,0.1,2\n2,0,0.1,1.9\n3,0,0.1,1.8\n4,1,0.1,1.7\n5,1,0.1,1.6\n"
                        "6,1,0.1,1.5\n7,2,0.1,1.4\n8,2,0.1,1.3\n9,2,0.1,1.2\n10,3,0.1,1.1\n11,3,0.");
    assert_int_equal(qt_csv_writer_resume(&w, path, columns, 4, 6, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n"
                      "1,0,0.1,2\n2,0,0.1,1.9\n3,0,0.1,1.8\n4,1,0.1,1.7\n5,1,0.1,1.6\n6,1,0.1,1.5\n");
    assert_int_equal(qt_csv_write_row(w, (double[]){7, 2, 0.1, 1.4}, &err), QT_OK);
    assert_int_equal(qt_csv_writer_close(w, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n"
                      "1,0,0.1,2\n2,0,0.1,1.9\n3,0,0.1,1.8\n4,1,0.1,1.7\n5,1,0.1,1.6\n6,1,0.1,1.5\n"
                      "7,2,0.1,1.4\n");

    /* Only a partial last line to drop. */
    io_write_text(path, "step,epoch,lr,loss\n1,0,0.1,2\n2,0,0.1");
    assert_int_equal(qt_csv_writer_resume(&w, path, columns, 4, 100, &err), QT_OK);
    assert_int_equal(qt_csv_writer_close(w, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n1,0,0.1,2\n");
}

static void test_resume_creates_a_missing_log(void **state)
{
    const char *path = io_path("fresh.csv");
    qt_csv_writer *w;
    qt_error err = {{0}};
    assert_int_equal(qt_csv_writer_resume(&w, path, columns, 4, 0, &err), QT_OK);
    assert_int_equal(qt_csv_writer_close(w, &err), QT_OK);
    assert_file(path, "step,epoch,lr,loss\n");
}

static void test_errors(void **state)
{
    const char *path = io_path("other.csv");
    qt_csv_writer *w;
    qt_error err = {{0}};
    char want[1200];
    io_write_text(path, "step,epoch,lr\n1,0,0.1\n");
    assert_int_equal(qt_csv_writer_resume(&w, path, columns, 4, 5, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: the header differs from this run's columns: step,epoch,lr,loss", path);
    assert_string_equal(err.msg, want);
    assert_file(path, "step,epoch,lr\n1,0,0.1\n");     /* untouched */

    io_write_text(path, "step,epoch,lr,loss\n1,0,0.1,2\nx,0,0.1,2\n");
    assert_int_equal(qt_csv_writer_resume(&w, path, columns, 4, 5, &err), QT_ERR);
    snprintf(want, sizeof want, "%s:3: first field \"x\" is not a number", path);
    assert_string_equal(err.msg, want);

    assert_int_equal(qt_csv_writer_create(&w, "/nonexistent-dir/t.csv", columns, 4, &err), QT_ERR);
    assert_string_equal(err.msg, "/nonexistent-dir/t.csv: cannot open for writing: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_on_disk_after_each_write),
        cmocka_unit_test(test_text_rows_are_quoted_when_needed),
        cmocka_unit_test(test_resume_cuts_rows_after_the_checkpoint),
        cmocka_unit_test(test_resume_creates_a_missing_log),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}

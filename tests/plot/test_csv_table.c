/* CSV tables: values, missing cells, quoting, column selection, and error messages that
 * name the file and line. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/csv_table.h"
#include "plot_test_util.h"

static int parse(qt_csv_table *t, const char *text, qt_error *err)
{
    return qt_csv_table_parse(t, "t.csv", text, strlen(text), NULL, 0, err);
}

static void test_values_by_column(void **state)
{
    qt_csv_table t;
    qt_error err;
    assert_int_equal(parse(&t, "step,loss,acc\n0,2.5,0.1\n10,1.25,-3e-2\n", &err), QT_OK);
    assert_int_equal(t.ncols, 3);
    assert_int_equal(t.nrows, 2);
    int loss = qt_csv_table_column(&t, "loss");
    assert_int_equal(loss, 1);
    assert_int_equal(qt_csv_table_column(&t, "nope"), -1);
    assert_true(t.values[0][1] == 10.0);
    assert_true(t.values[loss][0] == 2.5 && t.values[loss][1] == 1.25);
    assert_true(t.values[2][1] == -3e-2);
    qt_csv_table_free(&t);
}

/* Empty cells are NaN (missing); nan and inf parse; CRLF, a BOM, spaces around fields and
 * blank lines are accepted. */
static void test_missing_cells_and_leniency(void **state)
{
    qt_csv_table t;
    qt_error err;
    const char *text = "\xEF\xBB\xBF" "step , loss,test_err\r\n"
                       "1, 0.5 ,\r\n"
                       "\r\n"
                       "2,nan,inf\r\n"
                       "3,,7";
    assert_int_equal(parse(&t, text, &err), QT_OK);
    assert_string_equal(t.names[0], "step");
    assert_string_equal(t.names[1], "loss");
    assert_int_equal(t.nrows, 3);
    assert_true(t.values[1][0] == 0.5);
    assert_true(isnan(t.values[2][0]));
    assert_true(isnan(t.values[1][1]) && isinf(t.values[2][1]));
    assert_true(isnan(t.values[1][2]) && t.values[2][2] == 7.0);
    qt_csv_table_free(&t);
}

static void test_quoted_fields(void **state)
{
    qt_csv_table t;
    qt_error err;
    assert_int_equal(parse(&t, "\"step\",\"a,b\",\"say \"\"hi\"\"\"\n\"4\", 5 ,\"6\"\n", &err),
                     QT_OK);
    assert_string_equal(t.names[1], "a,b");
    assert_string_equal(t.names[2], "say \"hi\"");
    assert_true(t.values[0][0] == 4 && t.values[1][0] == 5 && t.values[2][0] == 6);
    qt_csv_table_free(&t);
}

/* Columns not asked for are neither parsed nor stored, so text in them is fine. */
static void test_selected_columns_only(void **state)
{
    qt_csv_table t;
    qt_error err;
    const char *want[] = {"loss", "absent"};
    const char *text = "run,step,loss\nbc,1,0.5\nsr,2,0.25\n";
    assert_int_equal(qt_csv_table_parse(&t, "t.csv", text, strlen(text), want, 2, &err), QT_OK);
    assert_null(t.values[0]);
    assert_null(t.values[1]);
    assert_true(t.values[2][1] == 0.25);
    assert_int_equal(qt_csv_table_column(&t, "absent"), -1);
    char cols[64];
    qt_csv_table_describe_columns(&t, cols, sizeof cols);
    assert_string_equal(cols, "run, step, loss");
    qt_csv_table_free(&t);
}

static void expect_error(const char *text, const char *message)
{
    qt_csv_table t;
    qt_error err;
    assert_int_equal(parse(&t, text, &err), QT_ERR);
    assert_string_equal(err.msg, message);
    assert_null(t.names);
}

static void test_errors_name_file_and_line(void **state)
{
    expect_error("step,loss\n1,2\n\n3,4,5\n", "t.csv:4: 3 fields, but the header has 2");
    expect_error("step,loss\n1,2\n3\n", "t.csv:3: 1 field, but the header has 2");
    expect_error("step,loss\n1,2\n2,abc\n", "t.csv:3: column 'loss': 'abc' is not a number");
    expect_error("step,loss\n1,2x\n", "t.csv:2: column 'loss': '2x' is not a number");
    expect_error("step,loss,step\n", "t.csv:1: column 'step' appears twice in the header");
    expect_error("step,,loss\n", "t.csv:1: header column 2 has no name");
    expect_error("step,loss\n1,\"2\n", "t.csv:2: unterminated quoted field");
    expect_error("step,loss\n1,\"2\"x\n", "t.csv:2: text after a closing quote");
    expect_error("\n  \n", "t.csv: empty file (expected a header line)");
}

static void test_nul_byte_is_an_error(void **state)
{
    qt_csv_table t;
    qt_error err;
    const char text[] = "step,loss\n1,2\0\n";
    assert_int_equal(qt_csv_table_parse(&t, "t.csv", text, sizeof text - 1, NULL, 0, &err),
                     QT_ERR);
    assert_string_equal(err.msg, "t.csv:2: NUL byte (not a text file?)");
}

static void test_read_file(void **state)
{
    char dir[256], path[512];
    scratch_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "train.csv");
    write_text(path, "step,loss\n0,1.5\n1,0.75\n");
    qt_csv_table t;
    qt_error err;
    assert_int_equal(qt_csv_table_read(&t, path, NULL, 0, &err), QT_OK);
    assert_int_equal(t.nrows, 2);
    assert_true(t.values[1][1] == 0.75);
    assert_string_equal(t.path, path);
    qt_csv_table_free(&t);

    join(path, sizeof path, dir, "missing.csv");
    assert_int_equal(qt_csv_table_read(&t, path, NULL, 0, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "missing.csv: cannot open: No such file or directory"));
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_by_column),
        cmocka_unit_test(test_missing_cells_and_leniency),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_selected_columns_only),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

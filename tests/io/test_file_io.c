/* Whole-file reads and atomic replacement: a failed or abandoned write never changes the
 * file under the final name and leaves no temporary file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "io_test_util.h"
#include "qtrain/file_io.h"

static void assert_file(const char *path, const char *text)
{
    char *got = (char *)io_read(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, text);
    free(got);
}

static void test_read_file(void **state)
{
    uint8_t *data;
    size_t len;
    qt_error err = {{0}};
    char want[1200];
    /* Longer than the first read buffer, with a NUL inside. */
    char text[10000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    text[5000] = '\0';
    io_write(io_path("r.bin"), text, sizeof text);
    assert_int_equal(qt_read_file(io_path("r.bin"), &data, &len, &err), QT_OK);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(data, text, sizeof text);
    assert_int_equal(data[len], 0);
    free(data);

    assert_int_equal(qt_read_file(io_path("none"), &data, &len, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", io_path("none"));
    assert_string_equal(err.msg, want);
    mkdir(io_path("d"), 0755);
    assert_int_equal(qt_read_file(io_path("d"), &data, &len, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", io_path("d"));
    assert_string_equal(err.msg, want);
}

static void test_atomic_write_replaces(void **state)
{
    const char *path = io_path("a.txt");
    qt_error err = {{0}};
    assert_int_equal(qt_write_file_atomic(path, "first", 5, &err), QT_OK);
    assert_file(path, "first");
    assert_int_equal(qt_write_file_atomic(path, "second!", 7, &err), QT_OK);
    assert_file(path, "second!");
    assert_int_equal(access(io_path("a.txt.tmp"), F_OK), -1);
}

static void test_pwrite_fills_a_header_later(void **state)
{
    const char *path = io_path("p.bin");
    qt_atomic_file f;
    qt_error err = {{0}};
    assert_int_equal(qt_atomic_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_atomic_write(&f, "....body", 8, &err), QT_OK);
    assert_int_equal(qt_atomic_pwrite(&f, "HEAD", 4, 0, &err), QT_OK);
    assert_int_equal(qt_atomic_write(&f, "!", 1, &err), QT_OK);
    assert_int_equal(qt_atomic_commit(&f, &err), QT_OK);
    assert_file(path, "HEADbody!");
}

static void test_abort_keeps_the_old_file(void **state)
{
    const char *path = io_path("keep.txt");
    qt_atomic_file f;
    qt_error err = {{0}};
    io_write_text(path, "old");
    assert_int_equal(qt_atomic_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_atomic_write(&f, "new, half written", 17, &err), QT_OK);
    assert_file(path, "old");
    qt_atomic_abort(&f);
    assert_file(path, "old");
    assert_int_equal(access(io_path("keep.txt.tmp"), F_OK), -1);
}

/* rename cannot replace a directory: the commit fails, and nothing is lost or left over. */
static void test_failed_commit_cleans_up(void **state)
{
    const char *dir = io_path("target");
    qt_error err = {{0}};
    char want[1200];
    mkdir(dir, 0755);
    io_write_text(io_path("target/inside"), "x");
    assert_int_equal(qt_write_file_atomic(dir, "data", 4, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: cannot rename %s.tmp over it: Is a directory", dir, dir);
    assert_string_equal(err.msg, want);
    assert_file(io_path("target/inside"), "x");
    assert_int_equal(access(io_path("target.tmp"), F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_atomic_write_replaces),
        cmocka_unit_test(test_pwrite_fills_a_header_later),
        cmocka_unit_test(test_abort_keeps_the_old_file),
        cmocka_unit_test(test_failed_commit_cleans_up),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}

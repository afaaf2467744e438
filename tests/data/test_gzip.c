/* Whole-file reading and writing, gzip in memory, and the gzip failure messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "tmpdir.h"

static const char text[] = "qtrain gzip round trip: the quick brown fox jumps over the lazy dog";

static void test_gzip_round_trip(void **state)
{
    uint8_t *gz, *back;
    size_t gz_len, back_len;
    qt_error err;
    assert_int_equal(qt_gzip((const uint8_t *)text, sizeof text, &gz, &gz_len, &err), QT_OK);
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    assert_int_equal(qt_gunzip("mem", gz, gz_len, 1 << 20, &back, &back_len, &err), QT_OK);
    assert_int_equal(back_len, sizeof text);
    assert_memory_equal(back, text, sizeof text);
    free(back);
    free(gz);
}

/* Two gzip members back to back decode as their concatenation (as gzip -d does). */
static void test_gunzip_concatenated_members(void **state)
{
    uint8_t *a, *b, *back;
    size_t al, bl, back_len;
    qt_error err;
    assert_int_equal(qt_gzip((const uint8_t *)"abc", 3, &a, &al, &err), QT_OK);
    assert_int_equal(qt_gzip((const uint8_t *)"defg", 4, &b, &bl, &err), QT_OK);
    uint8_t *both = malloc(al + bl);
    memcpy(both, a, al);
    memcpy(both + al, b, bl);
    assert_int_equal(qt_gunzip("two", both, al + bl, 100, &back, &back_len, &err), QT_OK);
    assert_int_equal(back_len, 7);
    assert_memory_equal(back, "abcdefg", 7);
    free(back);
    free(both);
    free(a);
    free(b);
}

static void test_gunzip_errors(void **state)
{
    uint8_t *gz, *out = NULL;
    size_t gz_len, out_len;
    qt_error err;
    assert_int_equal(qt_gzip((const uint8_t *)text, sizeof text, &gz, &gz_len, &err), QT_OK);
    assert_int_equal(qt_gunzip("cut.gz", gz, gz_len - 12, 1 << 20, &out, &out_len, &err), QT_ERR);
    assert_string_equal(err.msg, "cut.gz: truncated gzip stream");
    gz[12] ^= 0xff; /* inside the deflate data */
    gz[13] ^= 0xff;
    assert_int_equal(qt_gunzip("bad.gz", gz, gz_len, 1 << 20, &out, &out_len, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "bad.gz: corrupt gzip data ("));
    free(gz);
    /* a stream that inflates past the cap is refused */
    uint8_t zeros[4096] = {0};
    assert_int_equal(qt_gzip(zeros, sizeof zeros, &gz, &gz_len, &err), QT_OK);
    assert_int_equal(qt_gunzip("bomb.gz", gz, gz_len, 1000, &out, &out_len, &err), QT_ERR);
    assert_string_equal(err.msg, "bomb.gz: decompressed data exceeds 1000 bytes");
    assert_null(out);
    free(gz);
}

/* Bytes after the last member that start no other member (padding, garbage, a second file
 * appended by mistake) are an error that says how many, not silently dropped. */
static void test_gunzip_trailing_bytes(void **state)
{
    uint8_t *gz, *out = NULL;
    size_t gz_len, out_len;
    qt_error err;
    assert_int_equal(qt_gzip((const uint8_t *)"abc", 3, &gz, &gz_len, &err), QT_OK);
    uint8_t *padded = malloc(gz_len + 7);
    memcpy(padded, gz, gz_len);
    memset(padded + gz_len, 0, 7);
    assert_int_equal(qt_gunzip("pad.gz", padded, gz_len + 7, 100, &out, &out_len, &err), QT_ERR);
    assert_string_equal(err.msg, "pad.gz: 7 bytes follow the end of the gzip data (a damaged or "
                                 "padded file: `gzip -t` tests it)");
    assert_null(out);
    memcpy(padded + gz_len, "garbage", 7);
    assert_int_equal(qt_gunzip("junk.gz", padded, gz_len + 7, 100, &out, &out_len, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "junk.gz: 7 bytes follow the end of the gzip data"));
    free(padded);
    free(gz);
}

static void test_file_write_read(void **state)
{
    char dir[256], path[512], tmp[600];
    qt_error err;
    uint8_t *buf;
    size_t len;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/data.bin", dir);
    assert_int_equal(qt_write_file_atomic(path, "old contents", 12, &err), QT_OK);
    assert_int_equal(qt_write_file_atomic(path, text, sizeof text, &err), QT_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* the temporary was renamed away */
    assert_int_equal(qt_read_file_maybe_gz(path, 1 << 20, &buf, &len, &err), QT_OK);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(buf, text, len);
    free(buf);
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    assert_int_equal(qt_read_file(path, &buf, &len, &err), QT_ERR);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err.msg, want);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gunzip_concatenated_members),
        cmocka_unit_test(test_gunzip_errors),
        cmocka_unit_test(test_gunzip_trailing_bytes),
        cmocka_unit_test(test_file_write_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

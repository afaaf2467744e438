/* Record files (checkpoints): exact round trip, lookups with dtype/shape checks, atomic
 * replacement, and rejection of every corrupted or truncated variant of a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "io_test_util.h"
#include "qtrain/half.h"
#include "qtrain/record_file.h"
#include "qtrain/rng.h"

static void write_sample(const char *path)
{
    qt_record_writer *w;
    qt_error err = {{0}};
    float weights[2 * 3] = {1.5f, -2.25f, 0.0f, 3e-8f, -0.0f, 1e30f};
    int8_t codes[5] = {-128, -1, 0, 1, 127};
    uint64_t rng_state[4] = {1, UINT64_MAX, 0x0123456789abcdefULL, 42};
    double lr = 0.001;
    assert_int_equal(qt_record_writer_open(&w, path, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "conv1.weight", QT_REC_F32, 2, (int64_t[]){2, 3}, weights, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "codes", QT_REC_I8, 1, (int64_t[]){5}, codes, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "rng", QT_REC_U64, 1, (int64_t[]){4}, rng_state, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "lr", QT_REC_F64, 0, NULL, &lr, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "empty", QT_REC_I32, 2, (int64_t[]){0, 7}, NULL, &err), QT_OK);
    assert_int_equal(qt_record_writer_commit(w, &err), QT_OK);
}

static void test_round_trip(void **state)
{
    const char *path = io_path("sample.qtr");
    qt_record_file *f;
    qt_error err = {{0}};
    write_sample(path);
    assert_int_equal(access(io_path("sample.qtr.tmp"), F_OK), -1);
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_record_file_count(f), 5);
    assert_string_equal(qt_record_file_at(f, 0)->name, "conv1.weight");
    assert_string_equal(qt_record_file_at(f, 4)->name, "empty");
    assert_null(qt_record_file_at(f, 5));

    const qt_record *r;
    assert_int_equal(qt_record_file_get(f, "conv1.weight", QT_REC_F32, 2, (int64_t[]){2, 3}, &r, &err), QT_OK);
    assert_int_equal(r->nbytes, 24);
    assert_memory_equal(r->data, ((float[]){1.5f, -2.25f, 0.0f, 3e-8f, -0.0f, 1e30f}), 24);
    assert_int_equal((uintptr_t)r->data % 8, 0);
    uint64_t rng_state[4];
    assert_int_equal(qt_record_file_read(f, "rng", QT_REC_U64, 1, (int64_t[]){4}, rng_state, &err), QT_OK);
    assert_true(rng_state[1] == UINT64_MAX && rng_state[2] == 0x0123456789abcdefULL);
    double lr;
    assert_int_equal(qt_record_file_read(f, "lr", QT_REC_F64, 0, NULL, &lr, &err), QT_OK);
    assert_true(lr == 0.001);
    r = qt_record_file_find(f, "codes");
    assert_non_null(r);
    assert_int_equal((uintptr_t)r->data % 8, 0);
    assert_memory_equal(r->data, ((int8_t[]){-128, -1, 0, 1, 127}), 5);
    r = qt_record_file_find(f, "empty");
    assert_int_equal(r->nbytes, 0);
    assert_int_equal(r->shape[1], 7);
    assert_null(qt_record_file_find(f, "nope"));
    qt_record_file_close(f);
}

/* f16 records hold half bit patterns and u16 records 16-bit integers, 2 bytes each; both come
 * back bit for bit, and the lookup checks their dtype by name. */
static void test_f16_and_u16_records(void **state)
{
    const char *path = io_path("half.qtr");
    const float values[6] = {1.5f, -2.25f, 65504.0f, 0x1p-24f, -0.0f, 0.1f};
    uint16_t half[6], idx[4] = {0, 1, 2047, UINT16_MAX};
    for (int i = 0; i < 6; i++)
        half[i] = qt_f32_to_f16(values[i]);
    qt_record_writer *w;
    qt_error err = {{0}};
    assert_int_equal(qt_record_writer_open(&w, path, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "centroids", QT_REC_F16, 2, (int64_t[]){3, 2}, half, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "index", QT_REC_U16, 1, (int64_t[]){4}, idx, &err), QT_OK);
    assert_int_equal(qt_record_writer_commit(w, &err), QT_OK);

    qt_record_file *f;
    const qt_record *r;
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_record_file_get(f, "centroids", QT_REC_F16, 2, (int64_t[]){3, 2}, &r, &err), QT_OK);
    assert_int_equal(r->nbytes, 12);
    assert_memory_equal(r->data, half, 12);
    /* every value above is a half, so it converts back exactly (0.1 rounds to 0x2e66) */
    const uint16_t *h = r->data;
    for (int i = 0; i < 5; i++)
        assert_true(qt_f16_to_f32(h[i]) == values[i]);
    assert_int_equal(h[5], 0x2e66);
    uint16_t back[4];
    assert_int_equal(qt_record_file_read(f, "index", QT_REC_U16, 1, (int64_t[]){4}, back, &err), QT_OK);
    assert_memory_equal(back, idx, sizeof idx);
    assert_int_equal(qt_record_file_get(f, "index", QT_REC_U8, 1, (int64_t[]){4}, &r, &err), QT_ERR);
    char want[1200];
    snprintf(want, sizeof want, "%s: record \"index\" is u16, expected u8", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_file_get(f, "centroids", QT_REC_F32, 2, (int64_t[]){3, 2}, &r, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"centroids\" is f16, expected f32", path);
    assert_string_equal(err.msg, want);
    qt_record_file_close(f);
    assert_string_equal(qt_record_dtype_name(QT_REC_F16), "f16");
    assert_int_equal(qt_record_dtype_size(QT_REC_U16), 2);
}

static void test_lookup_errors(void **state)
{
    const char *path = io_path("lookup.qtr");
    qt_record_file *f;
    qt_error err = {{0}};
    char want[1200];
    const qt_record *r;
    write_sample(path);
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_record_file_get(f, "fc.weight", QT_REC_F32, 1, (int64_t[]){1}, &r, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: no record \"fc.weight\"", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_file_get(f, "codes", QT_REC_F32, 1, (int64_t[]){5}, &r, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"codes\" is i8, expected f32", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_file_get(f, "conv1.weight", QT_REC_F32, 2, (int64_t[]){3, 2}, &r, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"conv1.weight\" has shape [2, 3], expected [3, 2]", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_file_get(f, "lr", QT_REC_F64, 1, (int64_t[]){1}, &r, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"lr\" has shape [], expected [1]", path);
    assert_string_equal(err.msg, want);
    qt_record_file_close(f);
}

static void test_writer_rejects_bad_records(void **state)
{
    qt_record_writer *w;
    qt_error err = {{0}};
    char want[1200], long_name[300];
    const char *path = io_path("bad_records.qtr");
    float x[4] = {0};
    assert_int_equal(qt_record_writer_open(&w, path, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "a", QT_REC_F32, 1, (int64_t[]){4}, x, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "a", QT_REC_F32, 1, (int64_t[]){4}, x, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"a\" written twice", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_write(w, "", QT_REC_F32, 1, (int64_t[]){4}, x, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record name \"\" must be 1 to 255 bytes long", path);
    assert_string_equal(err.msg, want);
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    assert_int_equal(qt_record_write(w, long_name, QT_REC_F32, 1, (int64_t[]){4}, x, &err), QT_ERR);
    assert_int_equal(qt_record_write(w, "b", QT_REC_F32, 5, (int64_t[]){1, 1, 1, 1, 4}, x, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"b\": 5 dims, at most 4", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_write(w, "c", 99, 1, (int64_t[]){4}, x, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"c\": unknown dtype 99", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_record_write(w, "d", QT_REC_F32, 1, (int64_t[]){-4}, x, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: record \"d\": bad shape", path);
    assert_string_equal(err.msg, want);
    /* Rejected records leave the file usable. */
    assert_int_equal(qt_record_writer_commit(w, &err), QT_OK);
    qt_record_file *f;
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_record_file_count(f), 1);
    qt_record_file_close(f);
}

/* Aborting, or failing to create, never touches the file already under the name. */
static void test_atomic_replacement(void **state)
{
    const char *path = io_path("atomic.qtr");
    qt_record_writer *w;
    qt_record_file *f;
    qt_error err = {{0}};
    float x = 7;
    write_sample(path);
    assert_int_equal(qt_record_writer_open(&w, path, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "x", QT_REC_F32, 0, NULL, &x, &err), QT_OK);
    assert_int_equal(access(io_path("atomic.qtr.tmp"), F_OK), 0);
    qt_record_writer_abort(w);
    assert_int_equal(access(io_path("atomic.qtr.tmp"), F_OK), -1);
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_int_equal(qt_record_file_count(f), 5);
    qt_record_file_close(f);

    assert_int_equal(qt_record_writer_open(&w, "/nonexistent-dir/x.qtr", &err), QT_ERR);
    assert_string_equal(err.msg, "/nonexistent-dir/x.qtr.tmp: cannot create: No such file or directory");
}

/* A big record crosses many zlib output buffers; the bytes come back exactly. */
static void test_large_record(void **state)
{
    const char *path = io_path("large.qtr");
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x);
    qt_rng r;
    qt_rng_seed(&r, 1);
    for (int i = 0; i < N; i++)
        x[i] = qt_rng_normal(&r);
    qt_record_writer *w;
    qt_record_file *f;
    qt_error err = {{0}};
    assert_int_equal(qt_record_writer_open(&w, path, &err), QT_OK);
    assert_int_equal(qt_record_write(w, "w", QT_REC_F32, 4, (int64_t[]){16, 16, 64, 64}, x, &err), QT_OK);
    assert_int_equal(qt_record_writer_commit(w, &err), QT_OK);
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    const qt_record *rec;
    assert_int_equal(qt_record_file_get(f, "w", QT_REC_F32, 4, (int64_t[]){16, 16, 64, 64}, &rec, &err), QT_OK);
    assert_memory_equal(rec->data, x, N * sizeof *x);
    qt_record_file_close(f);
    free(x);
}

/* ---- corruption ---- */

static void expect_rejected(const char *path, const uint8_t *bytes, size_t len, const char *what)
{
    qt_record_file *f;
    qt_error err = {{0}};
    io_write(path, bytes, len);
    if (qt_record_file_open(&f, path, &err) == QT_OK)
        fail_msg("%s was accepted", what);
    assert_null(f);
    /* The message names the file and says something more. */
    assert_memory_equal(err.msg, path, strlen(path));
    assert_true(strlen(err.msg) > strlen(path) + 5);
}

static void test_every_byte_flip_and_truncation_is_rejected(void **state)
{
    const char *good = io_path("good.qtr"), *bad = io_path("bad.qtr");
    size_t len;
    write_sample(good);
    uint8_t *bytes = io_read(good, &len);
    assert_true(len > 60);
    char what[64];
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (uint8_t)(1u << bit);
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, i);
            expect_rejected(bad, bytes, len, what);
            bytes[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t n = 0; n < len; n++) {
        snprintf(what, sizeof what, "truncation to %zu bytes", n);
        expect_rejected(bad, bytes, n, what);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    expect_rejected(bad, longer, len + 1, "a byte appended");
    free(longer);
    free(bytes);
}

static void expect_message(const uint8_t *bytes, size_t len, const char *message)
{
    const char *path = io_path("msg.qtr");
    qt_record_file *f;
    qt_error err = {{0}};
    char want[1200];
    io_write(path, bytes, len);
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: %s", path, message);
    assert_string_equal(err.msg, want);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

/* A file built by hand from content bytes, with correct checksums (see record_file.h). */
static uint8_t *craft(const uint8_t *content, size_t clen, uint32_t version, size_t *len)
{
    uLongf zlen = compressBound(clen);
    uint8_t *file = malloc(40 + zlen);
    assert_int_equal(compress(file + 40, &zlen, content, clen), Z_OK);
    memcpy(file, "QTRECORD", 8);
    put32(file + 8, version);
    put32(file + 12, (uint32_t)crc32(0, content, (uInt)clen));
    put64(file + 16, clen);
    put64(file + 24, zlen);
    put32(file + 32, (uint32_t)crc32(0, file + 40, (uInt)zlen));
    put32(file + 36, (uint32_t)crc32(0, file, 36));
    *len = 40 + zlen;
    return file;
}

static void expect_crafted(const uint8_t *content, size_t clen, const char *message)
{
    size_t len;
    uint8_t *file = craft(content, clen, 1, &len);
    expect_message(file, len, message);
    free(file);
}

static void test_messages(void **state)
{
    size_t len;
    write_sample(io_path("m.qtr"));
    uint8_t *bytes = io_read(io_path("m.qtr"), &len);
    char want[128];

    expect_message(bytes, 0, "empty file");
    expect_message((const uint8_t *)"PK\3\4 not ours", 14, "not a qtrain record file (bad magic)");
    expect_message(bytes, 20, "truncated: 20 bytes, the header alone is 40");
    snprintf(want, sizeof want, "truncated: %zu of %zu stored bytes present", len - 41, len - 40);
    expect_message(bytes, len - 1, want);
    bytes[len - 1] ^= 1;
    expect_message(bytes, len, "checksum mismatch in the stored data (corrupt file)");
    bytes[len - 1] ^= 1;
    bytes[20] ^= 1;
    expect_message(bytes, len, "header checksum mismatch (corrupt file)");
    bytes[20] ^= 1;

    size_t clen;
    uint8_t *v2 = craft((const uint8_t *)"", 0, 2, &clen);
    expect_message(v2, clen, "format version 2, this build reads version 1");
    free(v2);
    free(bytes);

}

/* One record "a": f32 [2], 8 bytes. Header 21 bytes, 3 bytes of padding, then the data. */
static void valid_record(uint8_t rec[32])
{
    memset(rec, 0, 32);
    rec[0] = 1;
    rec[2] = 'a';
    rec[3] = 1;     /* f32 */
    rec[4] = 1;     /* ndim */
    put64(rec + 5, 2);
    put64(rec + 13, 8);
    memcpy(rec + 24, (float[]){1.0f, 2.0f}, 8);
}

/* Content that passes every checksum but is not well formed is still rejected. */
static void test_malformed_content(void **state)
{
    uint8_t rec[64];
    size_t len;
    valid_record(rec);
    uint8_t *file = craft(rec, 32, 1, &len);
    io_write(io_path("crafted.qtr"), file, len);
    free(file);
    qt_record_file *f;
    qt_error err = {{0}};
    float back[2];
    assert_int_equal(qt_record_file_open(&f, io_path("crafted.qtr"), &err), QT_OK);
    assert_int_equal(qt_record_file_read(f, "a", QT_REC_F32, 1, (int64_t[]){2}, back, &err), QT_OK);
    assert_true(back[0] == 1.0f && back[1] == 2.0f);
    qt_record_file_close(f);

    expect_crafted(rec, 28, "record 0: truncated data at content byte 24");
    expect_crafted(rec, 1, "record 0: truncated name length at content byte 0");
    memcpy(rec + 32, rec, 32);
    expect_crafted(rec, 64, "record \"a\" appears twice");
    put64(rec + 13, 12);
    expect_crafted(rec, 32, "record 0: 12 bytes do not match its shape");
    valid_record(rec);
    rec[3] = 9;
    expect_crafted(rec, 32, "record 0: unknown dtype 9");
    valid_record(rec);
    rec[4] = 5;
    expect_crafted(rec, 32, "record 0: 5 dims, at most 4");
    valid_record(rec);
    rec[0] = 0;
    expect_crafted(rec, 32, "record 0: name length 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_f16_and_u16_records),
        cmocka_unit_test(test_lookup_errors),
        cmocka_unit_test(test_writer_rejects_bad_records),
        cmocka_unit_test(test_atomic_replacement),
        cmocka_unit_test(test_large_record),
        cmocka_unit_test(test_every_byte_flip_and_truncation_is_rejected),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_malformed_content),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}

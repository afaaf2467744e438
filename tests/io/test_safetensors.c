/* safetensors: the written header parses as JSON and its byte ranges match the shapes;
 * the reader round-trips our files and rejects malformed ones with messages. Also the
 * half-precision conversions used for F16 tensors. */
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
#include "qtrain/half.h"
#include "qtrain/json.h"
#include "qtrain/safetensors.h"

static const float weights[6] = {1.5f, -2.0f, 0.25f, 3e-3f, -0.0f, 7.0f};
static const int8_t codes[5] = {-1, 1, 1, -1, 0};
static const float scalar = 0.5f;
static uint16_t halves[3];

static int sample_tensors(qt_st_tensor t[5])
{
    for (int i = 0; i < 3; i++)
        halves[i] = qt_f32_to_f16(weights[i]);
    t[0] = (qt_st_tensor){.name = "conv1.weight", .dtype = QT_ST_F32, .ndim = 2, .shape = {2, 3}, .data = weights};
    t[1] = (qt_st_tensor){.name = "conv1.half", .dtype = QT_ST_F16, .ndim = 1, .shape = {3}, .data = halves};
    t[2] = (qt_st_tensor){.name = "fc.codes", .dtype = QT_ST_I8, .ndim = 1, .shape = {5}, .data = codes};
    t[3] = (qt_st_tensor){.name = "fc.scale", .dtype = QT_ST_F32, .ndim = 0, .data = &scalar};
    t[4] = (qt_st_tensor){.name = "empty", .dtype = QT_ST_F32, .ndim = 2, .shape = {0, 4}, .data = NULL};
    return 5;
}

static void write_sample(const char *path)
{
    qt_st_tensor t[5];
    qt_error err = {{0}};
    const char *meta[] = {"format", "pt", "quant_mode", "bc \"binary\""};
    int n = sample_tensors(t);
    if (qt_safetensors_write(path, t, n, meta, 2, &err) != QT_OK)
        fail_msg("%s", err.msg);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Checks the file against the format with only the JSON parser: header length, padding,
 * and that every tensor's byte range has the size its shape says and holds its bytes. */
static void test_written_file_matches_the_format(void **state)
{
    const char *path = io_path("w.safetensors");
    size_t len;
    qt_st_tensor t[5];
    int n = sample_tensors(t);
    write_sample(path);
    uint8_t *file = io_read(path, &len);
    uint64_t hlen = le64(file);
    assert_true(8 + hlen <= len);
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(file[8], '{');
    size_t json_len = (size_t)hlen;
    while (json_len > 0 && file[8 + json_len - 1] == ' ')
        json_len--;
    assert_true(hlen - json_len < 8);

    qt_json *h;
    qt_error err = {{0}};
    if (qt_json_parse((const char *)file + 8, (size_t)hlen, &h, &err) != QT_OK)
        fail_msg("header is not JSON: %s", err.msg);
    assert_int_equal(h->type, QT_JSON_OBJECT);
    assert_int_equal(h->count, 6);
    const qt_json *meta = qt_json_get(h, "__metadata__");
    assert_string_equal(qt_json_get(meta, "format")->string, "pt");
    assert_string_equal(qt_json_get(meta, "quant_mode")->string, "bc \"binary\"");

    static const char *const names[] = {"F32", "F16", "I8", "F32", "F32"};
    static const size_t sizes[] = {4, 2, 1, 4, 4};
    const uint8_t *data = file + 8 + hlen;
    double expected_begin = 0;
    for (int i = 0; i < n; i++) {
        const qt_json *e = qt_json_get(h, t[i].name);
        assert_non_null(e);
        assert_string_equal(qt_json_get(e, "dtype")->string, names[i]);
        const qt_json *shape = qt_json_get(e, "shape"), *off = qt_json_get(e, "data_offsets");
        assert_int_equal(shape->count, t[i].ndim);
        double elems = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            assert_true(shape->items[d].number == (double)t[i].shape[d]);
            elems *= shape->items[d].number;
        }
        assert_int_equal(off->count, 2);
        assert_true(off->items[0].number == expected_begin);
        assert_true(off->items[1].number - off->items[0].number == elems * (double)sizes[i]);
        if (elems > 0)
            assert_memory_equal(data + (size_t)off->items[0].number, t[i].data, (size_t)elems * sizes[i]);
        expected_begin = off->items[1].number;
    }
    assert_true(expected_begin == (double)(len - 8 - hlen));
    qt_json_free(h);
    free(file);
}

static void test_reader_round_trip(void **state)
{
    const char *path = io_path("r.safetensors");
    qt_safetensors *st;
    qt_error err = {{0}};
    write_sample(path);
    assert_int_equal(qt_safetensors_open(&st, path, &err), QT_OK);
    assert_int_equal(qt_safetensors_count(st), 5);
    assert_string_equal(qt_safetensors_at(st, 0)->name, "conv1.weight");
    assert_string_equal(qt_safetensors_metadata(st, "format"), "pt");
    assert_null(qt_safetensors_metadata(st, "nope"));
    const qt_st_tensor *w = qt_safetensors_find(st, "conv1.weight");
    assert_int_equal(w->dtype, QT_ST_F32);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[1], 3);
    assert_int_equal(w->nbytes, 24);
    assert_memory_equal(w->data, weights, 24);
    const qt_st_tensor *h = qt_safetensors_find(st, "conv1.half");
    uint16_t back[3];
    memcpy(back, h->data, sizeof back);
    for (int i = 0; i < 3; i++)
        assert_true(qt_f16_to_f32(back[i]) == weights[i]);  /* these are exact in half */
    const qt_st_tensor *s = qt_safetensors_find(st, "fc.scale");
    assert_int_equal(s->ndim, 0);
    assert_int_equal(s->nbytes, 4);
    assert_int_equal(qt_safetensors_find(st, "empty")->nbytes, 0);
    assert_null(qt_safetensors_find(st, "missing"));
    qt_safetensors_close(st);
}

static void test_writer_errors(void **state)
{
    qt_st_tensor t[5];
    qt_error err = {{0}};
    char want[1200];
    const char *path = io_path("e.safetensors");
    sample_tensors(t);
    t[1].name = "conv1.weight";
    assert_int_equal(qt_safetensors_write(path, t, 2, NULL, 0, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: tensor \"conv1.weight\" appears twice", path);
    assert_string_equal(err.msg, want);
    t[1].name = "__metadata__";
    assert_int_equal(qt_safetensors_write(path, t, 2, NULL, 0, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: tensor 1: bad name \"__metadata__\"", path);
    assert_string_equal(err.msg, want);
    sample_tensors(t);
    t[0].ndim = 9;
    assert_int_equal(qt_safetensors_write(path, t, 1, NULL, 0, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: tensor \"conv1.weight\": 9 dims, at most 8", path);
    assert_string_equal(err.msg, want);
    sample_tensors(t);
    const char *meta[] = {"k", "a", "k", "b"};
    assert_int_equal(qt_safetensors_write(path, t, 1, meta, 2, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: metadata key \"k\" appears twice", path);
    assert_string_equal(err.msg, want);
    assert_null(io_read(path, NULL));
}

/* A file with this header text (padded to 8) and data_len zero bytes of data. */
static void write_crafted(const char *path, const char *header, size_t data_len)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    uint8_t *file = calloc(1, 8 + padded + data_len);
    for (int i = 0; i < 8; i++)
        file[i] = (uint8_t)((uint64_t)padded >> 8 * i);
    memset(file + 8, ' ', padded);
    memcpy(file + 8, header, h);
    io_write(path, file, 8 + padded + data_len);
    free(file);
}

static void expect_open_error(const char *message)
{
    const char *path = io_path("bad.safetensors");
    qt_safetensors *st;
    qt_error err = {{0}};
    char want[1200];
    assert_int_equal(qt_safetensors_open(&st, path, &err), QT_ERR);
    assert_null(st);
    snprintf(want, sizeof want, "%s: %s", path, message);
    assert_string_equal(err.msg, want);
}

static void expect_crafted(const char *header, size_t data_len, const char *message)
{
    write_crafted(io_path("bad.safetensors"), header, data_len);
    expect_open_error(message);
}

static void test_reader_errors(void **state)
{
    const char *path = io_path("bad.safetensors");
    io_write(path, "\x10\0\0", 3);
    expect_open_error("too short for a safetensors file (3 bytes)");
    io_write(path, "\xff\xff\xff\xff\0\0\0\0{}", 10);
    expect_open_error("header length 4294967295 is over the 104857600 byte limit");
    io_write(path, "\x10\0\0\0\0\0\0\0{}", 10);
    expect_open_error("header length 16 runs past the end of the file (10 bytes)");
    io_write(path, "\x02\0\0\0\0\0\0\0[]", 10);
    expect_open_error("header does not start with '{'");

    expect_crafted("{\"a\": }", 0, "header: line 1, column 7: unexpected character '}'");
    expect_crafted("{\"a\": 1}", 0, "tensor \"a\": entry is not an object");
    expect_crafted("{\"a\": {\"dtype\": \"F8\", \"shape\": [], \"data_offsets\": [0, 1]}}", 1,
                   "tensor \"a\": unsupported dtype \"F8\"");
    expect_crafted("{\"a\": {\"shape\": [], \"data_offsets\": [0, 4]}}", 4,
                   "tensor \"a\": \"dtype\" missing or not a string");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4,
                   "tensor \"a\": shape item 0 is not a size");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4,
                   "tensor \"a\": shape item 0 is not a size");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
                   4, "tensor \"a\": 9 dims, at most 8");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4,
                   "tensor \"a\": \"data_offsets\" must be [begin, end] with begin <= end");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4,
                   "tensor \"a\": data_offsets end 8 is past the 4 data bytes");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4,
                   "tensor \"a\": data_offsets hold 4 bytes, its shape needs 8");
    expect_crafted("{\"a\": {\"dtype\": \"F32\", \"shape\": [3037000500, 3037000500, 3037000500], "
                   "\"data_offsets\": [0, 4]}}", 4,
                   "tensor \"a\": shape too large");
    expect_crafted("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]},"
                   " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [1, 3]}}", 3,
                   "tensor \"b\" starts at data byte 1, expected 2 (gap or overlap)");
    expect_crafted("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [2, 4]}}", 4,
                   "tensor \"a\" starts at data byte 2, expected 0 (gap or overlap)");
    expect_crafted("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 4,
                   "tensors cover 2 of the 4 data bytes");
    expect_crafted("{\"__metadata__\": {\"k\": 1}}", 0, "__metadata__ value of \"k\" is not a string");
    expect_crafted("{\"__metadata__\": []}", 0, "__metadata__ is not an object");
}

/* Every truncation of a valid file is rejected; byte flips never crash the reader and
 * flips in the 8 length bytes are always rejected. */
static void test_truncations_and_flips(void **state)
{
    const char *good = io_path("good.safetensors"), *bad = io_path("mut.safetensors");
    size_t len;
    write_sample(good);
    uint8_t *bytes = io_read(good, &len);
    qt_safetensors *st;
    qt_error err = {{0}};
    for (size_t n = 0; n < len; n++) {
        io_write(bad, bytes, n);
        if (qt_safetensors_open(&st, bad, &err) == QT_OK)
            fail_msg("truncation to %zu bytes accepted", n);
    }
    for (size_t i = 0; i < len; i++) {
        bytes[i] ^= 0x41;
        io_write(bad, bytes, len);
        int rc = qt_safetensors_open(&st, bad, &err);
        if (rc == QT_OK)
            qt_safetensors_close(st);
        else
            assert_memory_equal(err.msg, bad, strlen(bad));
        if (i < 8)
            assert_int_equal(rc, QT_ERR);
        bytes[i] ^= 0x41;
    }
    free(bytes);
}

/* ---- half precision ---- */

static float f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Every half converts to a float and back to itself (NaNs stay NaN). */
static void test_half_round_trip_exhaustive(void **state)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qt_f16_to_f32((uint16_t)h);
        uint16_t back = qt_f32_to_f16(f);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            assert_true(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff));
        else
            assert_int_equal(back, h);
    }
}

static void test_half_rounding(void **state)
{
    assert_int_equal(qt_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(qt_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(qt_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);          /* tie: to even */
    assert_int_equal(qt_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);      /* tie: to even, up */
    assert_int_equal(qt_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(qt_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(qt_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(qt_f32_to_f16(65520.0f), 0x7c00);                 /* rounds to infinity */
    assert_int_equal(qt_f32_to_f16(-1e10f), 0xfc00);
    assert_int_equal(qt_f32_to_f16(0x1p-24f), 0x0001);                 /* smallest subnormal */
    assert_int_equal(qt_f32_to_f16(0x1p-25f), 0x0000);                 /* tie: to even (0) */
    assert_int_equal(qt_f32_to_f16(0x1.8p-25f), 0x0001);
    assert_int_equal(qt_f32_to_f16(3 * 0x1p-25f), 0x0002);             /* tie: to even (2) */
    assert_int_equal(qt_f32_to_f16(0x1p-14f), 0x0400);                 /* smallest normal */
    assert_int_equal(qt_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);      /* rounds up into normal */
    assert_int_equal(qt_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(qt_f32_to_f16(f32(0x7f800000)), 0x7c00);
    assert_true(isnan(qt_f16_to_f32(qt_f32_to_f16(f32(0x7fc00001)))));
    assert_true(qt_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(qt_f16_to_f32(0xfbff) == -65504.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_file_matches_the_format),
        cmocka_unit_test(test_reader_round_trip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_half_round_trip_exhaustive),
        cmocka_unit_test(test_half_rounding),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}

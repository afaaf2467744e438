/* JSON writer and parser: exact text, number round trips (shortest digits), escapes,
 * misuse, and every parse error with its line and column. */
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
#include "qtrain/json.h"
#include "qtrain/rng.h"

static char *finish_ok(qt_json_writer *w)
{
    qt_error err = {{0}};
    char *text = qt_json_writer_finish(w, NULL, &err);
    if (!text)
        fail_msg("%s", err.msg);
    return text;
}

static void write_summary(qt_json_writer *w)
{
    qt_json_begin_object(w);
    qt_json_key(w, "model");
    qt_json_string(w, "resnet56");
    qt_json_key(w, "test_acc");
    qt_json_number(w, 0.9132);
    qt_json_key(w, "steps");
    qt_json_int(w, -9007199254740993LL);
    qt_json_key(w, "curve");
    qt_json_begin_array(w);
    qt_json_float(w, 0.1f);
    qt_json_number(w, NAN);
    qt_json_bool(w, true);
    qt_json_null(w);
    qt_json_end_array(w);
    qt_json_key(w, "empty");
    qt_json_begin_object(w);
    qt_json_end_object(w);
    qt_json_key(w, "none");
    qt_json_begin_array(w);
    qt_json_end_array(w);
    qt_json_end_object(w);
}

static void test_writer_compact_and_indented(void **state)
{
    qt_json_writer *w = qt_json_writer_new(0);
    write_summary(w);
    char *text = finish_ok(w);
    assert_string_equal(text, "{\"model\":\"resnet56\",\"test_acc\":0.9132,\"steps\":-9007199254740993,"
                              "\"curve\":[0.1,null,true,null],\"empty\":{},\"none\":[]}");
    free(text);
    w = qt_json_writer_new(2);
    write_summary(w);
    text = finish_ok(w);
    assert_string_equal(text, "{\n"
                              "  \"model\": \"resnet56\",\n"
                              "  \"test_acc\": 0.9132,\n"
                              "  \"steps\": -9007199254740993,\n"
                              "  \"curve\": [\n"
                              "    0.1,\n"
                              "    null,\n"
                              "    true,\n"
                              "    null\n"
                              "  ],\n"
                              "  \"empty\": {},\n"
                              "  \"none\": []\n"
                              "}\n");
    free(text);
}

static void test_writer_numbers_and_escapes(void **state)
{
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_array(w);
    qt_json_number(w, 1.0 / 3.0);
    qt_json_number(w, 20);
    qt_json_number(w, 1e300);
    qt_json_number(w, -0.0);
    qt_json_number(w, INFINITY);
    qt_json_float(w, 1.0f / 3.0f);
    qt_json_float(w, 16777216.0f);
    qt_json_string(w, "q\"b\\s/\n\t\r\b\f\x01 é");
    qt_json_end_array(w);
    char *text = finish_ok(w);
    assert_string_equal(text, "[0.3333333333333333,20,1e+300,-0,null,0.33333334,16777216,"
                              "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001 é\"]");
    free(text);
}

static void expect_misuse(qt_json_writer *w, const char *message)
{
    qt_error err = {{0}};
    assert_null(qt_json_writer_finish(w, NULL, &err));
    assert_string_equal(err.msg, message);
}

static void test_writer_misuse(void **state)
{
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    qt_json_number(w, 1);
    qt_json_end_object(w);
    expect_misuse(w, "json writer: a value inside an object needs a key first");

    w = qt_json_writer_new(0);
    qt_json_begin_array(w);
    expect_misuse(w, "json writer: the document is incomplete (1 unclosed)");

    w = qt_json_writer_new(0);
    qt_json_null(w);
    qt_json_null(w);
    expect_misuse(w, "json writer: more than one top-level value");

    w = qt_json_writer_new(0);
    qt_json_begin_array(w);
    qt_json_end_object(w);
    expect_misuse(w, "json writer: end_object without a matching begin_object");

    w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    qt_json_key(w, "a");
    qt_json_key(w, "b");
    expect_misuse(w, "json writer: a key outside an object, or two keys in a row");

    w = qt_json_writer_new(0);
    expect_misuse(w, "json writer: the document is incomplete (0 unclosed)");
}

static qt_json *parse_ok(const char *text)
{
    qt_json *v;
    qt_error err = {{0}};
    if (qt_json_parse(text, strlen(text), &v, &err) != QT_OK)
        fail_msg("%s", err.msg);
    return v;
}

static void test_parse_values(void **state)
{
    qt_json *v = parse_ok(" {\"a\": [1, -2.5e3, 0, 1E-2, true, false, null],\n"
                          "  \"s\": \"x\\u00e9\\ud83d\\ude00\\/\\\"\",\n"
                          "  \"o\": {\"k\": {}} } \n");
    assert_int_equal(v->type, QT_JSON_OBJECT);
    assert_int_equal(v->count, 3);
    const qt_json *a = qt_json_get(v, "a");
    assert_int_equal(a->type, QT_JSON_ARRAY);
    assert_int_equal(a->count, 7);
    assert_true(a->items[0].number == 1 && a->items[1].number == -2500 && a->items[3].number == 0.01);
    assert_true(a->items[4].type == QT_JSON_BOOL && a->items[4].boolean);
    assert_true(a->items[5].type == QT_JSON_BOOL && !a->items[5].boolean);
    assert_int_equal(a->items[6].type, QT_JSON_NULL);
    assert_string_equal(qt_json_get(v, "s")->string, "x\xc3\xa9\xf0\x9f\x98\x80/\"");
    assert_int_equal(qt_json_get(qt_json_get(v, "o"), "k")->type, QT_JSON_OBJECT);
    assert_null(qt_json_get(v, "missing"));
    assert_null(qt_json_get(a, "a"));
    qt_json_free(v);
}

/* What the writer writes, the parser reads back to the same doubles and strings. */
static void test_writer_parser_round_trip(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 3);
    double values[200];
    qt_json_writer *w = qt_json_writer_new(1);
    qt_json_begin_object(w);
    qt_json_key(w, "text \"with\" \\ escapes\n");
    qt_json_string(w, "\x7f\x1f tab\t");
    qt_json_key(w, "values");
    qt_json_begin_array(w);
    for (int i = 0; i < 200; i++) {
        uint64_t bits = qt_rng_u64(&r);
        memcpy(&values[i], &bits, sizeof bits);
        if (!isfinite(values[i]))
            values[i] = (double)i;
        qt_json_number(w, values[i]);
    }
    qt_json_end_array(w);
    qt_json_end_object(w);
    char *text = finish_ok(w);
    qt_json *v = parse_ok(text);
    assert_string_equal(v->keys[0], "text \"with\" \\ escapes\n");
    assert_string_equal(v->items[0].string, "\x7f\x1f tab\t");
    const qt_json *a = qt_json_get(v, "values");
    for (int i = 0; i < 200; i++)
        assert_memory_equal(&a->items[i].number, &values[i], sizeof(double));
    qt_json_free(v);
    free(text);
}

static void expect_parse_error(const char *text, size_t len, const char *message)
{
    qt_json *v;
    qt_error err = {{0}};
    assert_int_equal(qt_json_parse(text, len, &v, &err), QT_ERR);
    assert_null(v);
    assert_string_equal(err.msg, message);
}

static void test_parse_errors(void **state)
{
#define E(text, msg) expect_parse_error(text, strlen(text), msg)
    E("", "line 1, column 1: unexpected end of text");
    E("{\"a\": 1,}", "line 1, column 9: expected a string key in an object");
    E("{\"a\" 1}", "line 1, column 6: expected ':' after a key");
    E("{\"a\": 1 \"b\": 2}", "line 1, column 9: expected ',' or '}' in an object");
    E("[1\n 2]", "line 2, column 2: expected ',' or ']' in an array");
    E("[01]", "line 1, column 2: numbers may not have leading zeros");
    E("[1.]", "line 1, column 2: expected a digit after '.'");
    E("[1e]", "line 1, column 2: expected a digit in the exponent");
    E("[-]", "line 1, column 2: expected a digit");
    E("1e999", "line 1, column 1: number 1e999 is too large for a double");
    E("\"abc", "line 1, column 1: string has no closing '\"'");
    E("\"a\tb\"", "line 1, column 3: control character in string (escape it)");
    E("\"\\q\"", "line 1, column 3: unknown escape '\\q'");
    E("\"\\u12g4\"", "line 1, column 4: bad hex digit 'g' in \\u escape");
    E("\"\\u0000\"", "line 1, column 8: \\u0000 is not supported in strings");
    E("\"\\ud800x\"", "line 1, column 8: unpaired high surrogate in \\u escape");
    E("\"\\udc00\"", "line 1, column 8: unpaired low surrogate in \\u escape");
    E("{\"a\": 1, \"b\": 2, \"a\": 3}", "line 1, column 1: duplicate key \"a\" in an object");
    E("tru", "line 1, column 1: unexpected character 't'");
    E("nul", "line 1, column 1: unexpected character 'n'");
    E("{} x", "line 1, column 4: unexpected text after the value");
    E("'a'", "line 1, column 1: unexpected character '''");
    E("\x80", "line 1, column 1: unexpected byte 0x80");
#undef E
    expect_parse_error("[1, \0]", 6, "line 1, column 5: unexpected byte 0x00");
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    expect_parse_error(deep, 130, "line 1, column 65: nesting deeper than 64");
    deep[129] = '\0';
    qt_json_free(parse_ok(deep + 1));    /* 64 levels are fine */
}

/* Random edits of a valid document: every outcome is a tree or a message, never a crash
 * (run under ASan in CI). Both outcomes occur. */
static void test_parse_mutations(void **state)
{
    static const char doc[] = "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],"
                              "\"s\":\"\\u00e9\\n\",\"x\":[true,false,null,-1.5e-3]}";
    const char alphabet[] = "{}[]\",:\\u0123456789eE.-+ tfn\x80\x01";
    qt_rng r;
    qt_rng_seed(&r, 11);
    int ok = 0, rejected = 0;
    for (int i = 0; i < 20000; i++) {
        char text[sizeof doc];
        size_t len = sizeof doc - 1;
        memcpy(text, doc, sizeof doc);
        for (int k = 0, edits = 1 + (int)qt_rng_below(&r, 3); k < edits; k++)
            text[qt_rng_below(&r, (uint32_t)len)] = alphabet[qt_rng_below(&r, sizeof alphabet - 1)];
        len = qt_rng_below(&r, 4) == 0 ? qt_rng_below(&r, (uint32_t)len + 1) : len;
        qt_json *v;
        qt_error err = {{0}};
        if (qt_json_parse(text, len, &v, &err) == QT_OK) {
            ok++;
            qt_json_free(v);
        } else {
            rejected++;
            assert_true(strncmp(err.msg, "line ", 5) == 0);
        }
    }
    assert_true(ok > 100 && rejected > 100);
}

static void test_save_and_parse_file(void **state)
{
    qt_json_writer *w = qt_json_writer_new(2);
    qt_error err = {{0}};
    write_summary(w);
    assert_int_equal(qt_json_writer_save(w, io_path("summary.json"), &err), QT_OK);
    qt_json *v;
    assert_int_equal(qt_json_parse_file(io_path("summary.json"), &v, &err), QT_OK);
    assert_true(qt_json_get(v, "test_acc")->number == 0.9132);
    qt_json_free(v);

    io_write_text(io_path("broken.json"), "{\n  \"a\": [1,\n");
    assert_int_equal(qt_json_parse_file(io_path("broken.json"), &v, &err), QT_ERR);
    char want[1200];
    snprintf(want, sizeof want, "%s: line 3, column 1: unexpected end of text", io_path("broken.json"));
    assert_string_equal(err.msg, want);

    w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    assert_int_equal(qt_json_writer_save(w, io_path("never.json"), &err), QT_ERR);
    snprintf(want, sizeof want, "%s: json writer: the document is incomplete (1 unclosed)",
             io_path("never.json"));
    assert_string_equal(err.msg, want);
    assert_null(io_read(io_path("never.json"), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_compact_and_indented),
        cmocka_unit_test(test_writer_numbers_and_escapes),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_writer_parser_round_trip),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_mutations),
        cmocka_unit_test(test_save_and_parse_file),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}

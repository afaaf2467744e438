/* INI parser: syntax, line numbers, quoting, and every error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/ini.h"

static qt_ini *parse_ok(const char *text)
{
    qt_ini *ini;
    qt_error err = {{0}};
    if (qt_ini_parse(&ini, "t.ini", text, strlen(text), &err) != QT_OK)
        fail_msg("%s", err.msg);
    return ini;
}

static void expect_error(const char *text, size_t len, const char *message)
{
    qt_ini *ini;
    qt_error err = {{0}};
    assert_int_equal(qt_ini_parse(&ini, "t.ini", text, len, &err), QT_ERR);
    assert_null(ini);
    assert_string_equal(err.msg, message);
}

static void assert_entry(const qt_ini *ini, int i, int line, const char *section, const char *key,
                         const char *value)
{
    assert_true(i < ini->n_entries);
    assert_string_equal(ini->entries[i].file, "t.ini");
    assert_int_equal(ini->entries[i].line, line);
    assert_string_equal(ini->entries[i].section, section);
    assert_string_equal(ini->entries[i].key, key);
    assert_string_equal(ini->entries[i].value, value);
}

static void test_sections_keys_comments(void **state)
{
    qt_ini *ini = parse_ok("# comment\n"
                           "; another\n"
                           "[model]\n"
                           "  name   =  resnet56  \n"
                           "\n"
                           "[empty]\n"
                           "[train]\n"
                           "lr=0.1 # tuned\n"
                           "url = a#b;c\n"
                           "eq = a = b\n"
                           "blank =\n"
                           "hash = # all comment\n"
                           "lr_decay-epochs.x = 82, 122 ; decay\n");
    assert_int_equal(ini->n_sections, 3);
    assert_string_equal(ini->sections[1].name, "empty");
    assert_int_equal(ini->sections[1].line, 6);
    assert_int_equal(ini->n_entries, 7);
    assert_entry(ini, 0, 4, "model", "name", "resnet56");
    assert_entry(ini, 1, 8, "train", "lr", "0.1");
    assert_entry(ini, 2, 9, "train", "url", "a#b;c");
    assert_entry(ini, 3, 10, "train", "eq", "a = b");
    assert_entry(ini, 4, 11, "train", "blank", "");
    assert_entry(ini, 5, 12, "train", "hash", "");
    assert_entry(ini, 6, 13, "train", "lr_decay-epochs.x", "82, 122");
    qt_ini_free(ini);
}

/* A repeated header is a section of its own, holding exactly the entries under it, in order
 * (net files list layers this way). */
static void test_repeated_sections_keep_their_entries(void **state)
{
    qt_ini *ini = parse_ok("[conv]\nout = 16\nk = 3\n[relu]\n[conv]\nout = 32\n# c\nk = 1\n");
    assert_int_equal(ini->n_sections, 3);
    const int first[] = {0, 2, 2}, count[] = {2, 0, 2}, line[] = {1, 4, 5};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ini->sections[i].first_entry, first[i]);
        assert_int_equal(ini->sections[i].n_entries, count[i]);
        assert_int_equal(ini->sections[i].line, line[i]);
    }
    assert_entry(ini, 2, 6, "conv", "out", "32");
    assert_entry(ini, 3, 8, "conv", "k", "1");
    qt_ini_free(ini);
}

static void test_crlf_bom_and_no_final_newline(void **state)
{
    qt_ini *ini = parse_ok("\xEF\xBB\xBF[a]\r\nk = v\r\n\r\nz = last");
    assert_int_equal(ini->n_entries, 2);
    assert_entry(ini, 0, 2, "a", "k", "v");
    assert_entry(ini, 1, 4, "a", "z", "last");
    qt_ini_free(ini);
}

static void test_quoted_values(void **state)
{
    qt_ini *ini = parse_ok("[s]\n"
                           "a = \"  spaced  \"\n"
                           "b = \"x # not a comment ; nor this\"  # but this is\n"
                           "c = \"say \\\"hi\\\" \\\\ there\"\n"
                           "d = \"\"\n"
                           "e = \"trailing backslash \\\\\"\n");
    assert_entry(ini, 0, 2, "s", "a", "  spaced  ");
    assert_entry(ini, 1, 3, "s", "b", "x # not a comment ; nor this");
    assert_entry(ini, 2, 4, "s", "c", "say \"hi\" \\ there");
    assert_entry(ini, 3, 5, "s", "d", "");
    assert_entry(ini, 4, 6, "s", "e", "trailing backslash \\");
    qt_ini_free(ini);
}

static void test_errors(void **state)
{
#define E(text, msg) expect_error(text, strlen(text), msg)
    E("[model\n", "t.ini:1: section header \"[model\" has no closing ']'");
    E("[a b]\n", "t.ini:1: bad section name [a b] (use letters, digits, '_', '-', '.')");
    E("[]\n", "t.ini:1: bad section name [] (use letters, digits, '_', '-', '.')");
    E("[a] x\n", "t.ini:1: unexpected text \"x\" after [a]");
    E("[a]\n= v\n", "t.ini:2: bad key \"\" (use letters, digits, '_', '-', '.')");
    E("[a]\nmy key = v\n", "t.ini:2: bad key \"my key\" (use letters, digits, '_', '-', '.')");
    E("[a]\n\nk v\n", "t.ini:3: expected \"key = value\" or \"[section]\", got \"k v\"");
    E("k = v\n", "t.ini:1: key \"k\" comes before any [section]");
    E("[a]\nk = \"open\n", "t.ini:2: quoted value has no closing '\"'");
    E("[a]\nk = \"ends in backslash\\\n", "t.ini:2: quoted value has no closing '\"'");
    E("[a]\nk = \"a\\nb\"\n", "t.ini:2: unknown escape '\\n' in quoted value (only \\\" and \\\\ are allowed)");
    E("[a]\nk = \"a\" b\n", "t.ini:2: unexpected text \"b\" after quoted value");
#undef E
    expect_error("[a]\nk = v\nx\0y\n", 12, "t.ini:3: NUL byte in file (not a text file?)");
}

static void test_load_missing_file(void **state)
{
    qt_ini *ini;
    qt_error err = {{0}};
    assert_int_equal(qt_ini_load(&ini, "/nonexistent/x.ini", &err), QT_ERR);
    assert_string_equal(err.msg, "/nonexistent/x.ini: cannot open: No such file or directory");
}

/* Any value without line breaks reads back unchanged after qt_ini_format_value. */
static void test_format_value_round_trips(void **state)
{
    static const char *const values[] = {
        "", "plain", "a b", " lead", "trail ", "\"quoted\"", "#start", ";start", "x #y", "x ;y",
        "x#y", "back\\slash", "\"", "\\", "tab\there", "\tlead-tab", "= eq", "mid \" quote",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char formatted[128], line[160];
        size_t n = qt_ini_format_value(formatted, sizeof formatted, values[i]);
        assert_int_equal(n, strlen(formatted));
        snprintf(line, sizeof line, "[s]\nk = %s\n", formatted);
        qt_ini *ini = parse_ok(line);
        assert_int_equal(ini->n_entries, 1);
        if (strcmp(ini->entries[0].value, values[i]) != 0)
            fail_msg("value [%s] came back as [%s] via [%s]", values[i], ini->entries[0].value,
                     formatted);
        qt_ini_free(ini);
    }
}

static void test_format_value_quotes_only_when_needed(void **state)
{
    char out[64];
    qt_ini_format_value(out, sizeof out, "a#b");
    assert_string_equal(out, "a#b");
    qt_ini_format_value(out, sizeof out, "a #b");
    assert_string_equal(out, "\"a #b\"");
    qt_ini_format_value(out, sizeof out, " \"x\\ ");
    assert_string_equal(out, "\" \\\"x\\\\ \"");
    /* snprintf semantics */
    assert_int_equal(qt_ini_format_value(out, 4, " abcdef"), 9);
    assert_string_equal(out, "\" a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_keys_comments),
        cmocka_unit_test(test_repeated_sections_keep_their_entries),
        cmocka_unit_test(test_crlf_bom_and_no_final_newline),
        cmocka_unit_test(test_quoted_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_format_value_round_trips),
        cmocka_unit_test(test_format_value_quotes_only_when_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The config docs cannot drift: configs/README.md must equal what the schema generates,
 * and the generated docs (README and --help-config) cover every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/config.h"
#include "qtrain/file_io.h"
#include "qtrain/run_setup.h"

static void test_readme_matches_the_schema(void **state)
{
    const char *root = getenv("QTRAIN_SOURCE_ROOT");
    char path[1024];
    uint8_t *file;
    size_t len;
    qt_error err = {{0}};
    assert_non_null(root);
    snprintf(path, sizeof path, "%s/configs/README.md", root);
    char *want = qt_config_readme(qt_run_config_names);
    assert_non_null(want);
    if (qt_read_file(path, &file, &len, &err) != QT_OK)
        fail_msg("%s\nGenerate it with: ninja -C <builddir> config-readme", err.msg);
    if (strcmp((const char *)file, want) != 0) {
        size_t i = 0, line = 1;
        for (; file[i] && file[i] == (uint8_t)want[i]; i++)
            line += file[i] == '\n';
        fail_msg("%s differs from the schema at line %zu; regenerate it with: "
                 "ninja -C <builddir> config-readme", path, line);
    }
    free(file);
    free(want);
}

/* Each key has a table row under its own section's heading. */
static void test_readme_lists_every_key_in_its_section(void **state)
{
    int n;
    const qt_config_key *keys = qt_config_schema(&n);
    char *text = qt_config_readme(qt_run_config_names);
    char heading[64], row[96];
    assert_non_null(text);
    for (int i = 0; i < n; i++) {
        snprintf(heading, sizeof heading, "\n## [%s]\n", keys[i].section);
        snprintf(row, sizeof row, "\n| `%s` | ", keys[i].key);
        const char *start = strstr(text, heading);
        assert_non_null(start);
        const char *next = strstr(start + 1, "\n## ");
        const char *hit = strstr(start, row);
        if (!hit || (next && hit > next))
            fail_msg("no row for %s.%s in its section", keys[i].section, keys[i].key);
    }
    free(text);
}

static void test_help_text_shows_every_key_with_its_default(void **state)
{
    int n;
    const qt_config_key *keys = qt_config_schema(&n);
    char *text = qt_config_help_text(qt_run_config_names);
    char line[128];
    assert_non_null(text);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "\n  %s = %s ", keys[i].key, keys[i].default_text);
        if (!strstr(text, line))
            fail_msg("help text lacks \"%s\"", line + 1);
    }
    assert_non_null(strstr(text, "\n  lr = 0.001                     (float, > 0)\n"
                                 "      Learning rate at the start (after warm-up).\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_matches_the_schema),
        cmocka_unit_test(test_readme_lists_every_key_in_its_section),
        cmocka_unit_test(test_help_text_shows_every_key_with_its_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

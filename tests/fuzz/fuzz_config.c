/* libFuzzer harness: the INI parser under the config key schema. A config that loads must
 * validate or fail cleanly, and one that validates must survive the round trip through the
 * resolved INI text (qt_config_to_ini) unchanged. Each input line is also tried as a --set
 * override. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/config.h"
#include "qtrain/ini.h"

static void round_trip(const qt_config *c)
{
    qt_error err;
    char *ini = qt_config_to_ini(c);
    if (!ini)
        abort();
    qt_config back;
    qt_config_defaults(&back);
    if (qt_config_load_text(&back, "resolved.ini", ini, &err) != QT_OK || !qt_config_equal(c, &back))
        abort();
    free(ini);
}

static void try_sets(qt_config *c, char *text)
{
    qt_error err;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        qt_config_set_arg(c, line, &err);
    if (qt_config_validate(c, &err) == QT_OK)
        round_trip(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    qt_error err;
    qt_ini *ini;
    if (qt_ini_parse(&ini, "fuzz.ini", text, size, &err) == QT_OK)
        qt_ini_free(ini);
    qt_config c;
    qt_config_defaults(&c);
    if (qt_config_load_text(&c, "fuzz.ini", text, &err) == QT_OK &&
        qt_config_validate(&c, &err) == QT_OK)
        round_trip(&c);
    qt_config_defaults(&c);
    try_sets(&c, text);
    free(text);
    return 0;
}

/* Writes configs/README.md from the config schema (`ninja -C <builddir> config-readme`).
 * Usage: config_readme OUTPUT.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/config.h"
#include "qtrain/file_io.h"
#include "qtrain/run_setup.h"

int main(int argc, char **argv)
{
    qt_error err;
    if (argc != 2) {
        fprintf(stderr, "usage: config_readme OUTPUT.md\n");
        return 2;
    }
    char *text = qt_config_readme(qt_run_config_names);
    if (!text) {
        fprintf(stderr, "config_readme: error: out of memory\n");
        return 1;
    }
    int rc = qt_write_file_atomic(argv[1], text, strlen(text), &err);
    free(text);
    if (rc != QT_OK) {
        fprintf(stderr, "config_readme: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}

#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *prog, const char *fmt, ...)
{
    /* one write, so that the lines of processes sharing stderr (mpirun) do not interleave */
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(line, sizeof line, "%s: error: ", prog);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    fputs(line, stderr);
    return 1;
}

int cli_int(const char *prog, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_fail(prog, "%s: '%s' is not an integer in %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *prog, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_fail(prog, "%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *prog, int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    *missing = 0;
    if (strncmp(a, opt, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        cli_fail(prog, "%s needs a value", opt);
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int cli_out_path(const char *prog, const char *opt, const char *path)
{
    return path[0] ? 0 : cli_fail(prog, "%s: the path is empty", opt);
}

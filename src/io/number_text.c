#include "number_text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qt_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    /* strtoll accepts leading spaces and a '+'; a config value should not need either. */
    if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0')
        return -1;
    if (errno == ERANGE || v < lo || v > hi)
        return -2;
    *out = v;
    return 0;
}

int qt_parse_double(const char *s, double *out)
{
    if (!(isdigit((unsigned char)s[0]) || s[0] == '.' ||
          ((s[0] == '-' || s[0] == '+') && (isdigit((unsigned char)s[1]) || s[1] == '.'))))
        return -1;
    /* Hex floats are C-only and would surprise users; reject them. */
    if (strchr(s, 'x') || strchr(s, 'X'))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Writes the shortest text of x (a float's value when is_float) that reads back equal. */
static void format_shortest(char buf[QT_NUMBER_TEXT_MAX], double x, bool is_float)
{
    /* Built in a local buffer: GCC's sanitizer builds warn on snprintf into a parameter. */
    char t[QT_NUMBER_TEXT_MAX];
    if (!isfinite(x))
        strcpy(t, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    else if (x == floor(x) && fabs(x) < (is_float ? 1e7 : 1e16))
        snprintf(t, sizeof t, "%.0f", x);   /* 20, not %.1g's "2e+01" */
    else
        for (int prec = 1; prec <= (is_float ? 9 : 17); prec++) {
            snprintf(t, sizeof t, "%.*g", prec, x);
            if (is_float ? strtof(t, NULL) == (float)x : strtod(t, NULL) == x)
                break;
        }
    memcpy(buf, t, sizeof t);
}

void qt_format_double(char buf[QT_NUMBER_TEXT_MAX], double x)
{
    format_shortest(buf, x, false);
}

void qt_format_float(char buf[QT_NUMBER_TEXT_MAX], float x)
{
    format_shortest(buf, x, true);
}

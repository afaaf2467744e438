/* Small helpers shared by the programs' main()s: error lines and option values. */
#ifndef QTRAIN_CLI_UTIL_H
#define QTRAIN_CLI_UTIL_H

/* Prints "<prog>: error: <message>" on stderr; returns 1 (the exit status). */
int cli_fail(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a whole decimal integer in [lo, hi]; on failure prints an error and returns -1. */
int cli_int(const char *prog, const char *opt, const char *s, long lo, long hi, long *out);
/* Parses a finite number in [lo, hi]. */
int cli_double(const char *prog, const char *opt, const char *s, double lo, double hi, double *out);
/* Checks a path given to an output option (--out DIR, -o FILE, ...): an empty one is an
 * error ("<opt>: the path is empty"), never a write to "/" or the current directory.
 * Returns 0 or 1 (the exit status, after printing the error). */
int cli_out_path(const char *prog, const char *opt, const char *path);
/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), advancing *i; NULL (after
 * printing an error) when it is missing. Returns NULL without error if argv[*i] is not opt. */
const char *cli_value(const char *prog, int argc, char **argv, int *i, const char *opt, int *missing);

#endif

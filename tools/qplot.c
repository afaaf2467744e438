/* qplot: line charts (PNG, optionally SVG) of CSV run logs. Argument parsing only; the
 * work is qt_plot_csv in the library. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/plot_csv.h"

static const char usage[] =
    "usage: qplot -o OUT.png [options] FILE.csv [FILE.csv ...]\n"
    "\n"
    "Draws one line per CSV file (any CSV with a header row, e.g. train.csv or eval.csv\n"
    "of a run directory) on shared axes, with a legend, and writes a PNG and/or an SVG.\n"
    "Empty cells and NaN/Inf values are skipped point by point; files may have different\n"
    "rows and x ranges.\n"
    "\n"
    "output:\n"
    "  -o, --output FILE   PNG to write\n"
    "      --svg FILE      SVG to write (same chart, vector form); -o, --svg or both\n"
    "      --width N       image width in pixels (default 900)\n"
    "      --height N      image height in pixels (default 600)\n"
    "\n"
    "data:\n"
    "  -x, --x COL         column on the x axis (default step)\n"
    "  -y, --y COL         column on the y axis of the chart (default loss)\n"
    "      --y2 COL        add a second panel below, sharing x, plotting COL (e.g. loss\n"
    "                      above, acc below); a file lacking a panel's column has\n"
    "                      no line there, but at least one file must have it\n"
    "      --smooth N      plot the trailing moving average over N points in the first\n"
    "                      panel, the raw values faintly behind it (default 1: none)\n"
    "      --smooth2 N     the same for the second panel\n"
    "      --logy          log10 scale for the first panel's y (values <= 0 are skipped)\n"
    "      --logy2         log10 scale for the second panel's y\n"
    "      --vline X       a dashed vertical line at x = X across the panels, e.g. where\n"
    "                      the learning rate decays (repeat for more lines)\n"
    "\n"
    "text:\n"
    "      --label NAME    legend name of the next file, in order (repeat per file);\n"
    "                      files without one are named after their directory\n"
    "                      (runs/foo/train.csv -> foo)\n"
    "      --title TEXT    title above the chart (default none)\n"
    "      --xlabel TEXT   x axis label (default the x column name)\n"
    "      --ylabel TEXT   y axis label of the first panel (default the y column name)\n"
    "      --y2label TEXT  y axis label of the second panel (default the y2 column name)\n"
    "  -h, --help          show this help\n"
    "\n"
    "example:\n"
    "  qplot -o loss.png --y loss --y2 acc --smooth 20 --logy \\\n"
    "        runs/bc/train.csv runs/sr/train.csv\n";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qplot: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see qplot --help)\n", stderr);
    va_end(ap);
    return -1;
}

/* An option that takes a value: a string, or an integer in [min, max]. */
typedef struct value_option {
    const char *name, *short_name;
    const char **text;
    int *number;
    int min, max;
} value_option;

static int set_value(const value_option *o, const char *value)
{
    if (o->text) {
        *o->text = value;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno || v < o->min || v > o->max)
        return fail("%s needs a whole number from %d to %d, not '%s'", o->name, o->min, o->max,
                    value);
    *o->number = (int)v;
    return 0;
}

/* Matches "--name", "--name=value" or the short form "-n". */
static const value_option *find_option(const value_option *options, int n, const char *arg,
                                       size_t name_len, int has_eq)
{
    for (int k = 0; k < n; k++) {
        if (strlen(options[k].name) == name_len && !strncmp(arg, options[k].name, name_len))
            return &options[k];
        if (options[k].short_name && !has_eq && !strcmp(arg, options[k].short_name))
            return &options[k];
    }
    return NULL;
}

/* --vline's value: a finite number. */
static int add_mark(const char *value, double *marks, int *nmarks)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || errno || !isfinite(v))
        return fail("--vline needs a number, not '%s'", value);
    marks[(*nmarks)++] = v;
    return 0;
}

/* Fills r from the command line. Returns 0, 1 when help was printed, -1 on an error
 * (already reported). files, labels and marks have room for argc entries. */
static int parse_args(int argc, char **argv, qt_plot_request *r, const char **files,
                      const char **labels, double *marks)
{
    const value_option options[] = {
        {"--output", "-o", &r->png_path, NULL, 0, 0},
        {"--svg", NULL, &r->svg_path, NULL, 0, 0},
        {"--x", "-x", &r->x, NULL, 0, 0},
        {"--y", "-y", &r->y, NULL, 0, 0},
        {"--y2", NULL, &r->y2, NULL, 0, 0},
        {"--title", NULL, &r->title, NULL, 0, 0},
        {"--xlabel", NULL, &r->xlabel, NULL, 0, 0},
        {"--ylabel", NULL, &r->ylabel, NULL, 0, 0},
        {"--y2label", NULL, &r->y2label, NULL, 0, 0},
        {"--label", NULL, NULL, NULL, 0, 0},
        {"--vline", NULL, NULL, NULL, 0, 0},
        {"--smooth", NULL, NULL, &r->smooth, 1, 1000000},
        {"--smooth2", NULL, NULL, &r->smooth2, 1, 1000000},
        {"--width", NULL, NULL, &r->width, 160, 10000},
        {"--height", NULL, NULL, &r->height, 120, 10000},
    };
    const int noptions = (int)(sizeof options / sizeof options[0]);
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_files || arg[0] != '-' || arg[1] == '\0') {
            files[r->nfiles++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_files = 1;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        } else if (strcmp(arg, "--logy") == 0) {
            r->logy = 1;
        } else if (strcmp(arg, "--logy2") == 0) {
            r->logy2 = 1;
        } else {
            const char *eq = strchr(arg, '=');
            size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
            const value_option *o = find_option(options, noptions, arg, name_len, eq != NULL);
            if (!o)
                return fail("unknown option '%s'", arg);
            const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!value)
                return fail("%s needs a value", arg);
            if ((o->text == &r->png_path || o->text == &r->svg_path) && !value[0])
                return fail("%s: the path is empty", o->name);
            if (strcmp(o->name, "--vline") == 0) {
                if (add_mark(value, marks, &r->nmarks) != 0)
                    return -1;
            } else if (!o->text && !o->number) {
                labels[r->nlabels++] = value; /* --label: names the next unlabelled file */
            } else if (set_value(o, value) != 0)
                return -1;
        }
    }
    r->files = files;
    r->labels = labels;
    r->marks = marks;
    if (r->nfiles == 0)
        return fail("no CSV file given");
    if (!r->png_path && !r->svg_path)
        return fail("no output: give -o FILE.png and/or --svg FILE.svg");
    return 0;
}

int main(int argc, char **argv)
{
    qt_plot_request r = {.x = "step", .y = "loss", .width = 900, .height = 600,
                         .smooth = 1, .smooth2 = 1};
    const char **files = calloc((size_t)argc, sizeof *files);
    const char **labels = calloc((size_t)argc, sizeof *labels);
    double *marks = calloc((size_t)argc, sizeof *marks);
    int status = files && labels && marks ? parse_args(argc, argv, &r, files, labels, marks)
                                          : fail("out of memory");
    if (status == 0) {
        qt_error err;
        if (qt_plot_csv(&r, &err) != QT_OK) {
            fprintf(stderr, "qplot: error: %s\n", err.msg);
            status = -1;
        }
    }
    free(files);
    free(labels);
    free(marks);
    return status < 0 ? 1 : 0;
}

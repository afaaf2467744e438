/* fma_peak: this machine's fp32 FMA peak, per vector width and thread count (fma_peak.h).
 * experiments/speed.py divides the benchmarks' GFLOP/s by it. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "qtrain/fma_peak.h"
#include "qtrain/threads.h"

#define PROG "fma_peak"

static const char usage_text[] =
    "usage: fma_peak [--threads N] [--rounds N] [--iters N] [--json]\n"
    "\n"
    "Measures the fp32 FMA peak: each thread runs 16 independent chains of vector FMAs\n"
    "(AVX-512 when the CPU has it, and AVX2), for 1 thread and for N threads. A round is\n"
    "ITERS FMAs per chain on every thread, started together; the peak is the fastest round\n"
    "(on a busy machine, slow rounds are those in which a thread was preempted).\n"
    "  --threads N   the larger thread count (default: the number of cores)\n"
    "  --rounds N    rounds per measurement (default 200)\n"
    "  --iters N     FMAs per chain per round (default 1000000, about 2.5 ms with AVX-512)\n"
    "  --json        print one JSON object instead of a table\n"
    "  --help        show this text\n";

typedef struct {
    long threads, rounds, iters;
    int json;
} options;

/* Returns 0 when parsed, 1 on error, -1 when help was printed. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){qt_cpu_count(), 200, 1000000, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--json") && strcmp(a, "--help");
        if (!strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (takes && !v) {
            return cli_fail(PROG, "%s needs a value", a);
        } else if ((!strcmp(a, "--threads") && cli_int(PROG, a, v, 1, 256, &o->threads)) ||
                   (!strcmp(a, "--rounds") && cli_int(PROG, a, v, 1, 100000, &o->rounds)) ||
                   (!strcmp(a, "--iters") && cli_int(PROG, a, v, 1, 1L << 23, &o->iters))) {
            return 1;
        } else if (strcmp(a, "--threads") && strcmp(a, "--rounds") && strcmp(a, "--iters")) {
            return cli_fail(PROG, "unknown option '%s' (see fma_peak --help)", a);
        }
        i += takes;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : 2;
    const qt_isa isas[] = {QT_ISA_AVX512, QT_ISA_AVX2};
    const long counts[] = {1, o.threads};
    int first = 1;
    if (o.json)
        printf("{\"rounds\": %ld, \"iters\": %ld, \"chains\": %d, \"peaks\": [", o.rounds, o.iters,
               QT_FMA_CHAINS);
    else
        printf("fp32 FMA peak, fastest of %ld rounds (median in brackets):\n", o.rounds);
    for (int k = 0; k < 2; k++) {
        if (!qt_isa_supported(isas[k]))
            continue;
        for (int c = 0; c < (o.threads > 1 ? 2 : 1); c++) {
            qt_fma_peak p;
            qt_error err;
            if (qt_fma_peak_measure(isas[k], (int)counts[c], (int)o.rounds, o.iters, &p, &err))
                return cli_fail(PROG, "%s", err.msg);
            if (o.json)
                printf("%s{\"isa\": \"%s\", \"threads\": %ld, \"gflops\": %.1f, "
                       "\"gflops_median\": %.1f}", first ? "" : ", ", qt_isa_name(isas[k]),
                       counts[c], p.best_gflops, p.median_gflops);
            else
                printf("  %-6s %3ld thread%s %7.1f GFLOP/s (%.1f), %.1f per thread\n",
                       qt_isa_name(isas[k]), counts[c], counts[c] > 1 ? "s:" : ": ",
                       p.best_gflops, p.median_gflops, p.best_gflops / (double)counts[c]);
            first = 0;
            fflush(stdout);
        }
    }
    if (o.json)
        printf("]}\n");
    if (first)
        return cli_fail(PROG, "this CPU or build has neither AVX-512 nor AVX2 FMAs");
    return 0;
}

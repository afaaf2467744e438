/* mkdata: writes small datasets with known contents in the official formats (CIFAR-10,
 * CIFAR-100, IDX, PNG folder trees), for trying the readers without the real data. The
 * contents come from include/qtrain/synthetic_data.h, the same generator the tests use. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "qtrain/synthetic_data.h"

#define PROG "mkdata"

static const char usage_text[] =
    "usage: mkdata KIND DIR [options]\n"
    "\n"
    "KIND:\n"
    "  cifar10    DIR/data_batch_1..5.bin and DIR/test_batch.bin\n"
    "  cifar100   DIR/train.bin and DIR/test.bin (coarse and fine labels)\n"
    "  idx        DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (MNIST layout)\n"
    "  png        DIR/train/class_KK/img_JJJJ.png and DIR/val/..., every PNG colour type and\n"
    "             bit depth in turn, plain and interlaced, with and without tRNS\n"
    "\n"
    "Options:\n"
    "  --train N      training images (png: per class; default 100, png 4), 1..100000\n"
    "  --test N       test images (png: per class in val/; default 20, png 2), 1..100000\n"
    "  --classes K    png: class folders (default 3), 1..1000\n"
    "  --min-side N   png: smallest image side (default 8), 1..4096\n"
    "  --max-side N   png: largest image side (default 40), 1..4096\n"
    "  --size N       idx: images are N x N (default 28), 1..4096\n"
    "  --gzip         idx: write gzip-compressed .gz files\n"
    "  --seed S       content seed (default 1)\n"
    "  --help         show this text\n"
    "The data written (before compression) may not exceed 1 GiB: these are small datasets.\n";

typedef struct options {
    long train, test, classes, min_side, max_side, size, seed;
    int gzip;
} options;

/* The most a dataset may hold before compression. */
#define MAX_BYTES (1LL << 30)

static int parse_options(int argc, char **argv, int png, options *o)
{
    *o = (options){png ? 4 : 100, png ? 2 : 20, 3, 8, 40, 28, 1, 0};
    const struct { const char *name; long *dst, lo, hi; } opts[] = {
        {"--train", &o->train, 1, 100000},      {"--test", &o->test, 1, 100000},
        {"--classes", &o->classes, 1, 1000},    {"--min-side", &o->min_side, 1, 4096},
        {"--max-side", &o->max_side, 1, 4096},  {"--size", &o->size, 1, 4096},
        {"--seed", &o->seed, 0, 0x7fffffffL},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        if (!strcmp(a, "--gzip")) {
            o->gzip = 1;
            continue;
        }
        while (k < sizeof opts / sizeof *opts && strcmp(a, opts[k].name))
            k++;
        if (k == sizeof opts / sizeof *opts)
            return cli_fail(PROG, "unknown option '%s' (see mkdata --help)", a);
        if (i + 1 == argc)
            return cli_fail(PROG, "%s needs a value", a);
        if (cli_int(PROG, a, argv[++i], opts[k].lo, opts[k].hi, opts[k].dst))
            return 2;
    }
    return 0;
}

/* Images a kind would write, and their bytes (png: at the largest side, 8 bytes a pixel). */
static long long data_bytes(const char *kind, const options *o, long long *images)
{
    *images = o->train + o->test;
    if (!strcmp(kind, "idx"))
        return *images * o->size * o->size;
    if (!strcmp(kind, "png")) {
        *images *= o->classes;
        return *images * o->max_side * o->max_side * 8;
    }
    return *images * 3074;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 3) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *kind = argv[1], *dir = argv[2];
    options o;
    if (cli_out_path(PROG, "DIR", dir) || parse_options(argc - 3, argv + 3, !strcmp(kind, "png"), &o))
        return 2;
    long long images, bytes = data_bytes(kind, &o, &images);
    if (bytes > MAX_BYTES)
        return 2 * cli_fail(PROG, "%s: %lld images would take %.1f GB, more than mkdata's 1 GiB "
                            "(lower --train, --test%s)", kind, images,
                            (double)bytes / 1e9, !strcmp(kind, "idx") ? " or --size"
                            : !strcmp(kind, "png") ? ", --classes or --max-side" : "");
    qt_error err;
    int rc;
    uint64_t seed = (uint64_t)o.seed;
    if (!strcmp(kind, "cifar10") || !strcmp(kind, "cifar100")) {
        qt_cifar_labels layout = strcmp(kind, "cifar10") ? QT_CIFAR100_FINE : QT_CIFAR10_LABELS;
        rc = qt_synth_cifar(dir, layout, (int)o.train, (int)o.test, seed, &err);
    } else if (!strcmp(kind, "idx")) {
        rc = qt_synth_idx(dir, (int)o.train, (int)o.test, (int)o.size, (int)o.size, o.gzip, seed,
                          &err);
    } else if (!strcmp(kind, "png")) {
        qt_synth_tree t = {(int)o.classes, (int)o.train, (int)o.test, (int)o.min_side,
                           (int)o.max_side, seed};
        rc = qt_synth_tree_write(dir, &t, &err);
    } else {
        return cli_fail(PROG, "unknown kind '%s' (cifar10, cifar100, idx or png)", kind);
    }
    if (rc != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    printf("mkdata: wrote %s to %s\n", kind, dir);
    return 0;
}

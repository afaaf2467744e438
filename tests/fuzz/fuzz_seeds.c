/* Writes the seed corpora of the checkpoint and safetensors harnesses: valid files saved
 * from the nets of fuzz_support.h, each net kind as a stored file and as its content.
 *
 *   fuzz_seeds DIR     writes DIR/checkpoint/ and DIR/safetensors/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_support.h"
#include "qtrain/checkpoint.h"
#include "qtrain/export.h"
#include "qtrain/file_io.h"
#include "record_format.h"

static void check(int rc, const qt_error *err)
{
    if (rc != QT_OK) {
        fprintf(stderr, "fuzz_seeds: %s\n", err->msg);
        exit(1);
    }
}

static void write_seed(const char *path, uint8_t first, const uint8_t *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputc(first, f) == EOF || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* The checkpoint of net kind `kind` as a stored file (mode byte even) and as the content
 * inside it (odd). */
static void checkpoint_seeds(const char *dir, int kind)
{
    qt_error err;
    qt_optimizer opt;
    qt_train_state st = {12, 1, 3, 600, 0.5, 2.5, 1.25, 40, 50, 1};
    qt_net *net = fuzz_net(kind, &opt);
    if (kind == 3)
        check(qt_net_cp_factorize(net, qt_net_find_layer(net, "c1"), 2, &err), &err);
    char path[1200], tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/kind%d.qtr", dir, kind);
    const char *config = "[quant]\nmode = fp\n[model]\nname = mlp\n";
    check(qt_checkpoint_save(tmp, net, kind == 3 ? NULL : &opt, kind == 3 ? NULL : &st, config,
                             NULL, &err), &err);
    qt_net_free(net);
    uint8_t *file;
    size_t len;
    check(qt_read_file(tmp, &file, &len, &err), &err);
    snprintf(path, sizeof path, "%s/stored-%d", dir, kind);
    write_seed(path, (uint8_t)(2 * kind), file, len);
    qt_record_header h;
    qt_record_header_decode(file, &h);
    uLongf content_len = (uLongf)h.content_len;
    uint8_t *content = malloc(content_len + 1);
    if (!content || uncompress(content, &content_len, file + QT_RECORD_HEADER_LEN,
                               (uLong)(len - QT_RECORD_HEADER_LEN)) != Z_OK)
        exit(1);
    snprintf(path, sizeof path, "%s/content-%d", dir, kind);
    write_seed(path, (uint8_t)(2 * kind + 1), content, content_len);
    free(content);
    free(file);
    remove(tmp);
}

/* Net kind `kind` exported as float values, or packed (quantized layers as grid codes and
 * a scale; BC also with its float buffer). */
static void safetensors_seed(const char *dir, int kind, const char *name, int packed)
{
    qt_error err;
    qt_optimizer opt;
    qt_net *net = fuzz_net(kind, &opt);
    qt_export_opts o = {QT_EXPORT_SAFETENSORS, packed, packed && kind == 1, 0, 0};
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    check(qt_export_safetensors(net, NULL, &o, path, &err), &err);
    qt_net_free(net);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    char ck[1100], st[1100];
    qt_error err;
    snprintf(ck, sizeof ck, "%s/checkpoint", argv[1]);
    snprintf(st, sizeof st, "%s/safetensors", argv[1]);
    check(qt_make_dirs(ck, &err), &err);
    check(qt_make_dirs(st, &err), &err);
    for (int kind = 0; kind < FUZZ_NET_KINDS; kind++)
        checkpoint_seeds(ck, kind);
    safetensors_seed(st, 0, "fp", 0);
    safetensors_seed(st, 1, "bc", 0);
    safetensors_seed(st, 2, "sr", 0);
    safetensors_seed(st, 1, "bc-packed", 1);
    safetensors_seed(st, 2, "sr-packed", 1);
    return 0;
}

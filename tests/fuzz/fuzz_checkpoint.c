/* libFuzzer harness: the checkpoint reader (record_file.h container, then checkpoint.h's
 * checks of every record against a net).
 *
 * Input byte 0 picks the net (fuzz_support.h: kind = byte0 / 2 % FUZZ_NET_KINDS) and the
 * mode: even = the rest is the file as stored; odd = the rest is the uncompressed content,
 * wrapped here in a valid header with correct checksums, so that mutations reach the record
 * parser and the loader instead of stopping at a checksum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_support.h"
#include "qtrain/checkpoint.h"
#include "record_format.h"

/* The container qt_record_writer would write around content. */
static uint8_t *wrap(const uint8_t *content, size_t len, size_t *out_len)
{
    uLongf stored = compressBound((uLong)len);
    uint8_t *file = malloc(QT_RECORD_HEADER_LEN + stored);
    if (!file || compress2(file + QT_RECORD_HEADER_LEN, &stored, content, (uLong)len, 1) != Z_OK)
        abort();
    qt_record_header h = {QT_RECORD_VERSION, (uint32_t)crc32(0, content, (uInt)len), len, stored,
                          (uint32_t)crc32(0, file + QT_RECORD_HEADER_LEN, (uInt)stored)};
    qt_record_header_encode(&h, file);
    *out_len = QT_RECORD_HEADER_LEN + stored;
    return file;
}

/* Everything a program does with a checkpoint: its config text, its structure records, then
 * a full load (weights, optimizer, training state) and a weights-only load into a float net. */
static void read_checkpoint(const char *path, int kind)
{
    qt_error err;
    char *text;
    if (qt_checkpoint_config_text(path, &text, &err) == QT_OK) {
        qt_config c;
        qt_config_defaults(&c);
        qt_config_load_text(&c, "fuzz.ini", text, &err);
        free(text);
    }
    qt_optimizer opt;
    qt_train_state st;
    qt_net *net = fuzz_net(kind, &opt);
    if (qt_checkpoint_apply_arch(path, net, &err) == QT_OK)
        qt_checkpoint_load(path, net, &opt, &st, &err);
    qt_net_free(net);
    net = fuzz_net(0, &opt);
    if (qt_checkpoint_apply_arch(path, net, &err) == QT_OK)
        qt_checkpoint_load(path, net, NULL, NULL, &err);
    qt_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] / 2 % FUZZ_NET_KINDS;
    size_t len = size - 1;
    uint8_t *file = NULL;
    const uint8_t *bytes = data + 1;
    if (data[0] & 1)
        bytes = file = wrap(data + 1, size - 1, &len);
    read_checkpoint(fuzz_file(bytes, len), kind);
    free(file);
    return 0;
}

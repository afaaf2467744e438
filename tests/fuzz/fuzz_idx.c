/* libFuzzer harness: the IDX reader (with the gzip layer the dataset opener puts first). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/idx.h"

/* Reads every data byte, so a wrong count or pointer shows up under ASan. */
static unsigned touch(const qt_idx *idx)
{
    unsigned sum = 0;
    for (size_t i = 0; i < idx->count; i++)
        sum += idx->data[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *buf = data;
    uint8_t *inflated = NULL;
    size_t len = size;
    qt_error err;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (qt_gunzip("fuzz", data, size, 1 << 20, &inflated, &len, &err) != QT_OK)
            return 0;
        buf = inflated;
    }
    volatile unsigned sink = 0;
    for (int ndims = 1; ndims <= QT_IDX_MAX_DIMS; ndims++) {
        qt_idx idx;
        if (qt_idx_parse("fuzz", buf, len, ndims, &idx, &err) == QT_OK)
            sink += touch(&idx);
    }
    (void)sink;
    free(inflated);
    return 0;
}

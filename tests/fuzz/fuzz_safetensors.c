/* libFuzzer harness: the safetensors reader. Every tensor it accepts must lie inside the
 * file, with as many bytes as its dtype and shape say. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "qtrain/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qt_safetensors *st;
    qt_error err;
    if (qt_safetensors_open(&st, fuzz_file(data, size), &err) != QT_OK)
        return 0;
    volatile unsigned sum = 0;
    size_t total = 0;
    for (int i = 0; i < qt_safetensors_count(st); i++) {
        const qt_st_tensor *t = qt_safetensors_at(st, i);
        size_t n = qt_st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++)
            n *= (size_t)t->shape[d];
        if (n != t->nbytes || qt_safetensors_find(st, t->name) == NULL)
            abort();
        for (size_t b = 0; b < t->nbytes; b++)
            sum += ((const uint8_t *)t->data)[b];
        total += t->nbytes;
    }
    if (total > size)
        abort();
    (void)qt_safetensors_metadata(st, "format");
    (void)sum;
    qt_safetensors_close(st);
    return 0;
}

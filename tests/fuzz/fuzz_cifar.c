/* libFuzzer harness: the CIFAR binary reader. The first input byte picks the layout and
 * skip_bad; the rest is the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qtrain/cifar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    qt_cifar_labels layout = (qt_cifar_labels)(data[0] % 3);
    int skip_bad = (data[0] >> 2) & 1;
    const uint8_t *buf = data + 1;
    size_t len = size - 1, count, kept, skipped;
    qt_error err;
    if (qt_cifar_record_count("fuzz", len, layout, &count, &err) != QT_OK)
        return 0;
    uint8_t *pixels = malloc(count * QT_CIFAR_IMAGE_BYTES);
    int32_t *labels = malloc(count * sizeof *labels);
    if (pixels && labels &&
        qt_cifar_decode("fuzz", buf, len, layout, skip_bad, pixels, labels, &kept, &skipped,
                        &err) == QT_OK) {
        /* every kept label is in range and the counts add up */
        if (kept + skipped != count)
            abort();
        for (size_t i = 0; i < kept; i++)
            if (labels[i] < 0 || labels[i] >= qt_cifar_num_classes(layout))
                abort();
    }
    free(pixels);
    free(labels);
    return 0;
}

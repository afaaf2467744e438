#include "qtrain/cifar.h"

#include <string.h>

size_t qt_cifar_record_bytes(qt_cifar_labels labels)
{
    return (labels == QT_CIFAR10_LABELS ? 1 : 2) + (size_t)QT_CIFAR_IMAGE_BYTES;
}

int qt_cifar_num_classes(qt_cifar_labels labels)
{
    return labels == QT_CIFAR10_LABELS ? 10 : labels == QT_CIFAR100_FINE ? 100 : 20;
}

int qt_cifar_record_count(const char *name, size_t len, qt_cifar_labels labels, size_t *count,
                          qt_error *err)
{
    size_t rec = qt_cifar_record_bytes(labels);
    size_t other = labels == QT_CIFAR10_LABELS ? rec + 1 : rec - 1;
    if (len == 0)
        return qt_errorf(err, "%s: empty file", name);
    if (len % rec != 0) {
        if (len % other == 0)
            return qt_errorf(err, "%s: wrong record size: %zu bytes is a whole number of "
                             "%zu-byte records, not of the %zu-byte %s records expected",
                             name, len, other, rec,
                             labels == QT_CIFAR10_LABELS ? "CIFAR-10" : "CIFAR-100");
        return qt_errorf(err, "%s: truncated: %zu bytes is not a whole number of %zu-byte "
                         "records (last record has %zu bytes)", name, len, rec, len % rec);
    }
    *count = len / rec;
    return QT_OK;
}

int qt_cifar_decode(const char *name, const uint8_t *buf, size_t len, qt_cifar_labels labels,
                    int skip_bad, uint8_t *pixels, int32_t *out_labels, size_t *kept,
                    size_t *skipped, qt_error *err)
{
    size_t n, rec = qt_cifar_record_bytes(labels);
    if (qt_cifar_record_count(name, len, labels, &n, err) != QT_OK)
        return QT_ERR;
    size_t k = 0, bad = 0;
    for (size_t r = 0; r < n; r++) {
        const uint8_t *p = buf + r * rec;
        int label, ok;
        if (labels == QT_CIFAR10_LABELS) {
            label = p[0];
            ok = label < 10;
        } else {
            ok = p[0] < 20 && p[1] < 100;
            label = labels == QT_CIFAR100_COARSE ? p[0] : p[1];
        }
        if (!ok) {
            if (!skip_bad) {
                if (labels == QT_CIFAR10_LABELS)
                    return qt_errorf(err, "%s: record %zu: label %d out of range 0..9",
                                     name, r, p[0]);
                return qt_errorf(err, "%s: record %zu: %s label %d out of range 0..%d", name,
                                 r, p[0] < 20 ? "fine" : "coarse", p[0] < 20 ? p[1] : p[0],
                                 p[0] < 20 ? 99 : 19);
            }
            bad++;
            continue;
        }
        memcpy(pixels + k * QT_CIFAR_IMAGE_BYTES, p + rec - QT_CIFAR_IMAGE_BYTES,
               QT_CIFAR_IMAGE_BYTES);
        out_labels[k++] = label;
    }
    *kept = k;
    *skipped = bad;
    return QT_OK;
}

void qt_cifar_encode_record(uint8_t *rec, qt_cifar_labels layout, int label, int coarse,
                            const uint8_t *pixels)
{
    size_t head = qt_cifar_record_bytes(layout) - QT_CIFAR_IMAGE_BYTES;
    if (head == 1) {
        rec[0] = (uint8_t)label;
    } else {
        rec[0] = (uint8_t)coarse;
        rec[1] = (uint8_t)label;
    }
    memcpy(rec + head, pixels, QT_CIFAR_IMAGE_BYTES);
}

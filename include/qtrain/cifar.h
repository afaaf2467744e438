/* The CIFAR binary formats. A CIFAR-10 record is 1 label byte then 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue; rows top to bottom): 3073 bytes. A CIFAR-100 record is
 * a coarse label byte, a fine label byte, then the same 3072 pixel bytes: 3074 bytes.
 * Files are plain concatenations of records. */
#ifndef QTRAIN_CIFAR_H
#define QTRAIN_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_CIFAR_SIDE = 32, QT_CIFAR_IMAGE_BYTES = 3 * 32 * 32 };

/* Which file layout and which label to return. */
typedef enum qt_cifar_labels {
    QT_CIFAR10_LABELS,       /* 3073-byte records, labels 0..9 */
    QT_CIFAR100_FINE,        /* 3074-byte records, fine labels 0..99 */
    QT_CIFAR100_COARSE,      /* 3074-byte records, coarse labels 0..19 */
} qt_cifar_labels;

size_t qt_cifar_record_bytes(qt_cifar_labels labels);
int qt_cifar_num_classes(qt_cifar_labels labels);

/* Number of records in a file of len bytes; an error when len is not a whole number of
 * records (a truncated file, or the other CIFAR layout). */
int qt_cifar_record_count(const char *name, size_t len, qt_cifar_labels labels, size_t *count,
                          qt_error *err);

/* Copies each record's pixels (CHW, 3072 bytes) and chosen label to pixels/labels, which
 * have room for qt_cifar_record_count records. A label out of range (either label of a
 * CIFAR-100 record) is an error, or, with skip_bad, leaves the record out and counts it
 * in *skipped. *kept receives the number of records stored. */
int qt_cifar_decode(const char *name, const uint8_t *buf, size_t len, qt_cifar_labels labels,
                    int skip_bad, uint8_t *pixels, int32_t *out_labels, size_t *kept,
                    size_t *skipped, qt_error *err);

/* Writes one record in layout's format: label is the CIFAR-10 label or the CIFAR-100 fine
 * label; coarse is used by the CIFAR-100 layout only. */
void qt_cifar_encode_record(uint8_t *rec, qt_cifar_labels layout, int label, int coarse,
                            const uint8_t *pixels);

#ifdef __cplusplus
}
#endif

#endif

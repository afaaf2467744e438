/* Learning-rate schedules, as a function of training progress in epochs. */
#ifndef QTRAIN_SCHEDULE_H
#define QTRAIN_SCHEDULE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kinds; each has a row in schedule.c's table (its name and its curve).
 * QT_SCHED_KINDS counts them. */
typedef enum {
    QT_SCHED_CONSTANT, QT_SCHED_STEP, QT_SCHED_EXP, QT_SCHED_COSINE, QT_SCHED_KINDS
} qt_sched_kind;

#define QT_SCHED_MAX_DECAYS 16

typedef struct qt_schedule {
    qt_sched_kind kind;
    float lr;                 /* initial learning rate */
    int epochs;               /* length of training */
    int decay_epochs[QT_SCHED_MAX_DECAYS]; /* step: multiply by factor when these epochs start */
    int ndecay;
    float factor;
    float lr_final;           /* exp: BinaryConnect's decay (lr_final/lr)^(1/epochs) per epoch */
    float warmup_epochs;      /* linear warm-up from 0 over this many epochs (any kind) */
} qt_schedule;

/* lr at `progress` epochs into training (progress = epoch + fraction of it done; epoch 0 is
 * the first). Step and exponential decay change at epoch boundaries; cosine and warm-up
 * change every step. */
float qt_schedule_lr(const qt_schedule *s, double progress);

/* The kind's name ("step", ...; "?" for a value that names no kind), the kind named name
 * (QT_SCHED_KINDS for none), and every name joined by '|' (snprintf semantics). */
const char *qt_sched_kind_name(qt_sched_kind kind);
qt_sched_kind qt_sched_kind_find(const char *name);
size_t qt_sched_kind_names(char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif

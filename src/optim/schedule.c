#include "qtrain/schedule.h"

#include <math.h>

#include "qtrain/name_table.h"

static double constant_lr(const qt_schedule *s, double progress)
{
    (void)progress;
    return s->lr;
}

static double step_lr(const qt_schedule *s, double progress)
{
    int epoch = (int)floor(progress);
    double lr = s->lr;
    for (int i = 0; i < s->ndecay; i++)
        if (epoch >= s->decay_epochs[i])
            lr *= s->factor;
    return lr;
}

static double exp_lr(const qt_schedule *s, double progress)
{
    int epoch = (int)floor(progress);
    return s->lr * pow((double)s->lr_final / s->lr, (double)epoch / (s->epochs > 0 ? s->epochs : 1));
}

static double cosine_lr(const qt_schedule *s, double progress)
{
    double t = s->epochs > 0 ? progress / s->epochs : 1.0;
    return 0.5 * s->lr * (1.0 + cos(M_PI * (t < 1.0 ? t : 1.0)));
}

typedef struct sched_row {
    const char *name;
    double (*lr)(const qt_schedule *s, double progress);   /* before warm-up */
} sched_row;

static const sched_row rows[] = {
    [QT_SCHED_CONSTANT] = {"constant", constant_lr},
    [QT_SCHED_STEP] = {"step", step_lr},
    [QT_SCHED_EXP] = {"exp", exp_lr},
    [QT_SCHED_COSINE] = {"cosine", cosine_lr},
};

float qt_schedule_lr(const qt_schedule *s, double progress)
{
    double lr = (unsigned)s->kind < QT_SCHED_KINDS ? rows[s->kind].lr(s, progress) : s->lr;
    if (s->warmup_epochs > 0.0f && progress < s->warmup_epochs)
        lr *= progress / s->warmup_epochs;
    return (float)lr;
}

QT_NAME_TABLE_LOOKUPS(qt_sched_kind, QT_SCHED_KINDS, rows, qt_sched_kind_name, qt_sched_kind_find,
                      qt_sched_kind_names)

#include "qtrain/schedule.h"

#include <math.h>

static double base_lr(const qt_schedule *s, double progress)
{
    int epoch = (int)floor(progress);
    switch (s->kind) {
    case QT_SCHED_CONSTANT:
        return s->lr;
    case QT_SCHED_STEP: {
        double lr = s->lr;
        for (int i = 0; i < s->ndecay; i++)
            if (epoch >= s->decay_epochs[i])
                lr *= s->factor;
        return lr;
    }
    case QT_SCHED_EXP:
        return s->lr * pow((double)s->lr_final / s->lr, (double)epoch / (s->epochs > 0 ? s->epochs : 1));
    case QT_SCHED_COSINE: {
        double t = s->epochs > 0 ? progress / s->epochs : 1.0;
        return 0.5 * s->lr * (1.0 + cos(M_PI * (t < 1.0 ? t : 1.0)));
    }
    }
    return s->lr;
}

float qt_schedule_lr(const qt_schedule *s, double progress)
{
    double lr = base_lr(s, progress);
    if (s->warmup_epochs > 0.0f && progress < s->warmup_epochs)
        lr *= progress / s->warmup_epochs;
    return (float)lr;
}

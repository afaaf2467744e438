#include "qtrain/error.h"

#include <stdio.h>
#include <string.h>

int qt_verrorf(qt_error *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return QT_ERR;
}

int qt_errorf(qt_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qt_verrorf(err, fmt, ap);
    va_end(ap);
    return QT_ERR;
}

int qt_error_prefix(qt_error *err, const char *fmt, ...)
{
    if (!err)
        return QT_ERR;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return QT_ERR;
}

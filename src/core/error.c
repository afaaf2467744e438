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
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* append ": <old message>" after the prefix, truncating the old message if need be */
    size_t used = n < 0 ? 0 : ((size_t)n < sizeof err->msg ? (size_t)n : sizeof err->msg - 1);
    size_t room = sizeof err->msg - used;
    if (room > 2) {
        memcpy(err->msg + used, ": ", 2);
        size_t len = strnlen(old, room - 3);
        memcpy(err->msg + used + 2, old, len);
        err->msg[used + 2 + len] = '\0';
    }
    return QT_ERR;
}

/* Error reporting: library functions return QT_OK or QT_ERR and fill a qt_error.
 * They never print and never exit; programs turn the message into one stderr line. */
#ifndef QTRAIN_ERROR_H
#define QTRAIN_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_OK = 0, QT_ERR = -1 };

typedef struct qt_error {
    char msg[1024];
} qt_error;

/* Sets err->msg (when err is non-NULL) and returns QT_ERR, so callers can write
 * `return qt_errorf(err, "...")`. */
int qt_errorf(qt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qt_verrorf(qt_error *err, const char *fmt, va_list ap);

/* Prepends "<prefix>: " to an existing message (adds context as errors travel up). */
int qt_error_prefix(qt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif

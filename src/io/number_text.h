/* Numbers as text: strict parsing (the whole string must be the number) and the shortest
 * decimal text that reads back to the same value, shared by the INI, JSON and CSV writers. */
#ifndef QTRAIN_IO_NUMBER_TEXT_H
#define QTRAIN_IO_NUMBER_TEXT_H

enum { QT_NUMBER_TEXT_MAX = 32 };

/* 0 on success, -1 when s is not a decimal integer, -2 when it lies outside [lo, hi]. */
int qt_parse_int(const char *s, long long lo, long long hi, long long *out);
/* 0 on success, -1 when s is not a finite number (nan and inf are rejected). */
int qt_parse_double(const char *s, double *out);
/* Shortest %.Ng text (N <= 17) with strtod(text) == x bit for bit; "nan"/"inf"/"-inf" if not finite. */
void qt_format_double(char buf[QT_NUMBER_TEXT_MAX], double x);
/* The same for a float (N <= 9). */
void qt_format_float(char buf[QT_NUMBER_TEXT_MAX], float x);

#endif

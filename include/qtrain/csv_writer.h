/* CSV run logs (train.csv, eval.csv): a header row, then rows flushed one at a time, so a
 * run that is killed keeps every row it wrote.
 *
 * Numbers are written with the fewest digits that read back to the same double (integers
 * as integers: 100, not 100.0); NaN and infinities as nan, inf, -inf. Text cells are
 * quoted as RFC 4180 says when they hold a comma, a quote, a line break or edge spaces. */
#ifndef QTRAIN_CSV_WRITER_H
#define QTRAIN_CSV_WRITER_H

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_csv_writer qt_csv_writer;

/* Creates (or empties) path and writes the header row. */
int qt_csv_writer_create(qt_csv_writer **w, const char *path, const char *const *columns,
                         int ncols, qt_error *err);
/* Continues the log of a resumed run: the file's header must equal columns; rows whose
 * first field is greater than keep_upto (written after the checkpoint being resumed) and a
 * partial last line are cut off, and new rows are appended. A missing file is created. */
int qt_csv_writer_resume(qt_csv_writer **w, const char *path, const char *const *columns,
                         int ncols, double keep_upto, qt_error *err);
/* Checks, without changing anything, that qt_csv_writer_resume would succeed up to the
 * point of cutting the file (header and rows readable). */
int qt_csv_writer_check_resume(const char *path, const char *const *columns, int ncols,
                               double keep_upto, qt_error *err);
/* One row of ncols numbers. */
int qt_csv_write_row(qt_csv_writer *w, const double *values, qt_error *err);
/* One row of ncols text cells. */
int qt_csv_write_text_row(qt_csv_writer *w, const char *const *cells, qt_error *err);
/* Closes the file and frees w (also after an error). */
int qt_csv_writer_close(qt_csv_writer *w, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif

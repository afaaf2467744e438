/* A CSV file with a header row, read into named columns of doubles. Used by the plotting
 * tool on run logs (train.csv, eval.csv) and on any other numeric CSV. */
#ifndef QTRAIN_CSV_TABLE_H
#define QTRAIN_CSV_TABLE_H

#include <stddef.h>

#include "qtrain/error.h"

typedef struct qt_csv_table {
    char *path;
    int ncols;
    char **names;       /* header, ncols entries */
    double **values;    /* values[c][row]; NULL for a column that was not loaded */
    size_t nrows;
} qt_csv_table;

/* Reads path. Only the columns named in want[0..nwant) are parsed (want == NULL: all
 * of them); names not in the header are ignored, so check with qt_csv_table_column.
 * Fields may be quoted ("a,b" and "" as in RFC 4180); surrounding spaces are trimmed.
 * An empty cell is stored as NaN (missing); "nan" and "inf" are accepted as such.
 * Errors name the file and line: a row whose field count differs from the header's,
 * a non-numeric cell in a loaded column, an empty or duplicated column name. */
int qt_csv_table_read(qt_csv_table *t, const char *path, const char *const *want, int nwant,
                      qt_error *err);

/* Same, from text in memory; `path` only names the source in messages. */
int qt_csv_table_parse(qt_csv_table *t, const char *path, const char *text, size_t len,
                       const char *const *want, int nwant, qt_error *err);

/* Index of the column called name, or -1. */
int qt_csv_table_column(const qt_csv_table *t, const char *name);

/* Comma-separated header names, for messages ("no column 'x' (has: a, b, c)"). */
void qt_csv_table_describe_columns(const qt_csv_table *t, char *buf, size_t size);

void qt_csv_table_free(qt_csv_table *t);

#endif

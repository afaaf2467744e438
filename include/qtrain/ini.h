/* INI files: [section] headers, `key = value` lines, comments, blank lines.
 *
 * Syntax, one item per line (surrounding spaces and tabs are ignored):
 *   [section]        names and keys use letters, digits, '_', '-' and '.'
 *   key = value      the value is the rest of the line, trimmed; it may be empty
 *   key = "value"    quotes keep leading/trailing spaces, '#' and ';'; \" and \\ escape
 *   # comment        also "; comment"; after a value, a '#' or ';' preceded by a space
 *                    starts a comment too (so "lr = 0.1  # tuned" is 0.1)
 * A UTF-8 byte order mark and CRLF line ends are accepted. Every entry keeps the file
 * name and its line number, so later checks can point at it. */
#ifndef QTRAIN_INI_H
#define QTRAIN_INI_H

#include <stddef.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_ini_entry {
    const char *file;
    int line;
    const char *section;
    const char *key;
    const char *value;
} qt_ini_entry;

typedef struct qt_ini_section {
    const char *file;
    int line;
    const char *name;
    int first_entry;            /* its entries: entries[first_entry .. first_entry + n_entries) */
    int n_entries;
} qt_ini_section;

typedef struct qt_ini {
    char *file;
    int n_entries;
    qt_ini_entry *entries;      /* in file order; a repeated key appears twice */
    int n_sections;
    qt_ini_section *sections;   /* every [section] header in file order; a repeated header
                                 * appears once per occurrence, with its own entries */
    char *storage;              /* the strings the entries point into */
} qt_ini;

/* Parses text (len bytes, may contain no NUL). file names the source in messages.
 * Errors read "<file>:<line>: <what>". */
int qt_ini_parse(qt_ini **out, const char *file, const char *text, size_t len, qt_error *err);
/* Reads and parses a file. */
int qt_ini_load(qt_ini **out, const char *path, qt_error *err);
void qt_ini_free(qt_ini *ini);

/* Writes value as it must appear after "key = " to read back unchanged: as is, or quoted
 * when it has leading/trailing blanks, a comment character or a leading quote. snprintf
 * semantics: returns the length needed, writes at most outsize bytes including the NUL.
 * Line breaks cannot be represented; callers reject them earlier. */
size_t qt_ini_format_value(char *out, size_t outsize, const char *value);

#ifdef __cplusplus
}
#endif

#endif

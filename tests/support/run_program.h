/* Test helper: runs a built program through the shell and captures what it printed. */
#ifndef QTRAIN_RUN_PROGRAM_H
#define QTRAIN_RUN_PROGRAM_H

typedef struct run_result {
    int status;               /* exit status, or -1 when it did not exit normally */
    char *out, *err;          /* everything written to stdout and stderr (malloc'd) */
} run_result;

/* Runs "$QTRAIN_BUILD_ROOT/<program> <args>" (args already shell-quoted) with its output
 * captured through files in scratch_dir. */
run_result run_program(const char *program, const char *args, const char *scratch_dir);
void run_result_free(run_result *r);
/* A file's whole contents (malloc'd, NUL-terminated) or NULL. */
char *read_whole_file(const char *path);
/* Lines (newline characters) in a file; 0 when it cannot be read. */
int count_lines(const char *path);

#endif

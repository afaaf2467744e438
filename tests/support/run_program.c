#include "run_program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = buf ? fread(buf, 1, (size_t)(n > 0 ? n : 0), f) : 0;
    if (buf)
        buf[got] = '\0';
    fclose(f);
    return buf;
}

int count_lines(const char *path)
{
    char *t = read_whole_file(path);
    int n = 0;
    for (char *p = t; p && *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

run_result run_program(const char *program, const char *args, const char *scratch_dir)
{
    const char *root = getenv("QTRAIN_BUILD_ROOT");
    char out[1024], err[1024], cmd[8192];
    snprintf(out, sizeof out, "%s/stdout.txt", scratch_dir);
    snprintf(err, sizeof err, "%s/stderr.txt", scratch_dir);
    snprintf(cmd, sizeof cmd, "'%s/%s' %s >'%s' 2>'%s'", root ? root : ".", program, args, out, err);
    int rc = system(cmd);
    run_result r = {rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_whole_file(out),
                    read_whole_file(err)};
    return r;
}

void run_result_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

#include "name_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/file_io.h"
#include "qtrain/image_decode.h"

void qt_name_list_free(qt_name_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

int qt_name_list_add(qt_name_list *l, const char *name, size_t len, qt_error *err)
{
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **nn = realloc(l->names, sizeof *nn * (size_t)cap);
        if (!nn)
            return qt_errorf(err, "out of memory listing names");
        l->names = nn;
        l->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return qt_errorf(err, "out of memory listing names");
    memcpy(s, name, len);
    s[len] = '\0';
    l->names[l->count++] = s;
    return QT_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void qt_name_list_sort(qt_name_list *l)
{
    if (l->count > 1)
        qsort(l->names, (size_t)l->count, sizeof *l->names, by_name);
}

int qt_name_list_find(const qt_name_list *l, const char *name)
{
    if (l->count == 0)
        return -1;
    char *const *hit = bsearch(&name, l->names, (size_t)l->count, sizeof *l->names, by_name);
    return hit ? (int)(hit - l->names) : -1;
}

int qt_name_list_dir(const char *dir, qt_dir_entries want, qt_name_list *out, qt_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return qt_errorf(err, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = QT_OK;
    while (rc == QT_OK && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.' || (want == QT_DIR_IMAGES && !qt_image_file_name(e->d_name)))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) {
            rc = qt_errorf(err, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        if (stat(path, &st) != 0 ||
            (want == QT_DIR_FOLDERS ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        rc = qt_name_list_add(out, e->d_name, strlen(e->d_name), err);
    }
    closedir(d);
    if (rc != QT_OK)
        return qt_error_prefix(err, "%s", dir);
    qt_name_list_sort(out);
    return QT_OK;
}

int qt_name_list_read(const char *path, qt_name_list *out, qt_error *err)
{
    uint8_t *text;
    size_t len;
    if (qt_read_file(path, &text, &len, err) != QT_OK)
        return QT_ERR;
    int rc = QT_OK;
    for (char *line = (char *)text; rc == QT_OK && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        size_t start = strspn(line, " \t\r");
        size_t word = start < n ? strcspn(line + start, " \t\r\n") : 0;
        if (word > 0 && line[start] != '#')
            rc = qt_name_list_add(out, line + start, word, err);
        line += n + (end != NULL);
    }
    free(text);
    if (rc != QT_OK)
        return qt_error_prefix(err, "%s", path);
    qt_name_list_sort(out);
    for (int i = 1; i < out->count; i++)
        if (strcmp(out->names[i - 1], out->names[i]) == 0)
            return qt_errorf(err, "%s: class '%s' is listed twice", path, out->names[i]);
    if (out->count == 0)
        return qt_errorf(err, "%s: no class names in the file", path);
    return QT_OK;
}

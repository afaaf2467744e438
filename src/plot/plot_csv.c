#include "qtrain/plot_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/csv_table.h"

enum { NAME_SIZE = 256 };

/* The last directory component before the file name ("" for none, ".", "..") and the
 * file name without a ".csv" ending, as pointer and length into path. */
typedef struct path_parts {
    const char *dir, *stem;
    size_t dir_len, stem_len;
} path_parts;

static path_parts split_path(const char *path)
{
    path_parts pp;
    size_t n = strlen(path), f = n;
    while (f > 0 && path[f - 1] != '/')
        f--;
    pp.stem = path + f;
    pp.stem_len = n - f;
    if (pp.stem_len > 4 && strcmp(path + n - 4, ".csv") == 0)
        pp.stem_len -= 4;
    size_t d = f;
    while (d > 0 && path[d - 1] == '/')
        d--;
    size_t ds = d;
    while (ds > 0 && path[ds - 1] != '/')
        ds--;
    pp.dir = path + ds;
    pp.dir_len = d - ds;
    if ((pp.dir_len == 1 && pp.dir[0] == '.') || (pp.dir_len == 2 && !strncmp(pp.dir, "..", 2)))
        pp.dir_len = 0;
    return pp;
}

void qt_plot_run_name(const char *path, char *buf, size_t size)
{
    path_parts pp = split_path(path);
    if (pp.dir_len)
        snprintf(buf, size, "%.*s", (int)pp.dir_len, pp.dir);
    else
        snprintf(buf, size, "%.*s", (int)pp.stem_len, pp.stem);
}

/* Legend names: the given labels first, then run names; files whose run names collide
 * (runs/a/train.csv and runs/a/eval.csv) are told apart as "a/train" and "a/eval". */
static void legend_names(const qt_plot_request *r, char (*names)[NAME_SIZE])
{
    for (int i = 0; i < r->nfiles; i++) {
        if (i < r->nlabels)
            snprintf(names[i], NAME_SIZE, "%s", r->labels[i]);
        else
            qt_plot_run_name(r->files[i], names[i], NAME_SIZE);
    }
    /* Decide every clash before renaming any, so all members of a clash are renamed. */
    int *clash = calloc((size_t)r->nfiles, sizeof *clash);
    for (int i = r->nlabels; clash && i < r->nfiles; i++)
        for (int j = r->nlabels; j < r->nfiles; j++)
            clash[i] |= j != i && strcmp(names[i], names[j]) == 0;
    for (int i = r->nlabels; clash && i < r->nfiles; i++) {
        path_parts pp = split_path(r->files[i]);
        if (clash[i] && pp.dir_len)
            snprintf(names[i], NAME_SIZE, "%.*s/%.*s", (int)pp.dir_len, pp.dir,
                     (int)pp.stem_len, pp.stem);
    }
    free(clash);
}

static int check_request(const qt_plot_request *r, qt_error *err)
{
    if (r->nfiles < 1)
        return qt_errorf(err, "no CSV file to plot");
    if (r->nlabels > r->nfiles)
        return qt_errorf(err, "%d labels for %d file%s", r->nlabels, r->nfiles,
                         r->nfiles == 1 ? "" : "s");
    if (!r->png_path && !r->svg_path)
        return qt_errorf(err, "no output file (PNG or SVG) given");
    if (!r->x || !r->y)
        return qt_errorf(err, "x and y columns must be named");
    return QT_OK;
}

/* Refuses an output that is one of the inputs: writing it would destroy the data. */
static int check_outputs(const qt_plot_request *r, qt_error *err)
{
    const char *outs[2] = {r->png_path, r->svg_path};
    for (int o = 0; o < 2; o++) {
        struct stat so, si;
        if (!outs[o] || stat(outs[o], &so) != 0)
            continue;
        for (int i = 0; i < r->nfiles; i++)
            if (stat(r->files[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
                return qt_errorf(err, "%s: output would overwrite the input %s", outs[o],
                                 r->files[i]);
    }
    return QT_OK;
}

static int load_tables(const qt_plot_request *r, qt_csv_table *tables, qt_error *err)
{
    const char *want[3] = {r->x, r->y, r->y2};
    int nwant = r->y2 ? 3 : 2;
    for (int i = 0; i < r->nfiles; i++) {
        if (qt_csv_table_read(&tables[i], r->files[i], want, nwant, err) != QT_OK)
            return QT_ERR;
        if (qt_csv_table_column(&tables[i], r->x) < 0) {
            char cols[512];
            qt_csv_table_describe_columns(&tables[i], cols, sizeof cols);
            return qt_errorf(err, "%s: no column '%s' (columns: %s)", r->files[i], r->x, cols);
        }
    }
    return QT_OK;
}

/* Lines of one panel; a file without the column contributes an empty line. */
static int panel_lines(const qt_plot_request *r, const qt_csv_table *tables, const char *col,
                       qt_chart_line *lines, qt_error *err)
{
    int found = 0;
    for (int i = 0; i < r->nfiles; i++) {
        int cx = qt_csv_table_column(&tables[i], r->x);
        int cy = qt_csv_table_column(&tables[i], col);
        lines[i] = (qt_chart_line){NULL, NULL, 0};
        if (cy < 0)
            continue;
        lines[i] = (qt_chart_line){tables[i].values[cx], tables[i].values[cy], tables[i].nrows};
        found = 1;
    }
    if (found)
        return QT_OK;
    char cols[512];
    qt_csv_table_describe_columns(&tables[0], cols, sizeof cols);
    if (r->nfiles == 1)
        return qt_errorf(err, "%s: no column '%s' (columns: %s)", r->files[0], col, cols);
    return qt_errorf(err, "no input has a column '%s' (%s has: %s)", col, r->files[0], cols);
}

static int build_chart(const qt_plot_request *r, const qt_csv_table *tables,
                       qt_chart_line *lines, char (*names)[NAME_SIZE], qt_chart *chart,
                       qt_error *err)
{
    const char *cols[QT_CHART_MAX_PANELS] = {r->y, r->y2};
    const char *ylabels[QT_CHART_MAX_PANELS] = {r->ylabel ? r->ylabel : r->y,
                                                r->y2label ? r->y2label : r->y2};
    int logs[QT_CHART_MAX_PANELS] = {r->logy, r->logy2};
    int smooths[QT_CHART_MAX_PANELS] = {r->smooth, r->smooth2};
    const char **name_ptrs = malloc((size_t)r->nfiles * sizeof *name_ptrs);
    if (!name_ptrs)
        return qt_errorf(err, "out of memory");
    for (int i = 0; i < r->nfiles; i++)
        name_ptrs[i] = names[i];
    qt_chart_spec spec = {
        .width = r->width, .height = r->height, .title = r->title,
        .xlabel = r->xlabel ? r->xlabel : r->x, .nseries = r->nfiles, .names = name_ptrs,
        .npanels = r->y2 ? 2 : 1, .nmarks = r->nmarks, .marks = r->marks,
    };
    int status = QT_OK;
    for (int p = 0; p < spec.npanels && status == QT_OK; p++) {
        qt_chart_line *pl = lines + (size_t)p * (size_t)r->nfiles;
        status = panel_lines(r, tables, cols[p], pl, err);
        spec.panels[p] = (qt_chart_panel_spec){ylabels[p], logs[p], smooths[p], pl};
    }
    if (status == QT_OK)
        status = qt_chart_layout(chart, &spec, err);
    free(name_ptrs);
    return status;
}

int qt_plot_csv_chart(const qt_plot_request *r, qt_chart *chart, qt_error *err)
{
    memset(chart, 0, sizeof *chart);
    if (check_request(r, err) != QT_OK)
        return QT_ERR;
    size_t n = (size_t)r->nfiles;
    qt_csv_table *tables = calloc(n, sizeof *tables);
    qt_chart_line *lines = calloc(n * QT_CHART_MAX_PANELS, sizeof *lines);
    char (*names)[NAME_SIZE] = calloc(n, sizeof *names);
    int status = tables && lines && names ? QT_OK : qt_errorf(err, "out of memory");
    if (status == QT_OK)
        status = load_tables(r, tables, err);
    if (status == QT_OK) {
        legend_names(r, names);
        status = build_chart(r, tables, lines, names, chart, err);
    }
    for (size_t i = 0; tables && i < n; i++)
        qt_csv_table_free(&tables[i]);
    free(tables);
    free(lines);
    free(names);
    return status;
}

int qt_plot_csv(const qt_plot_request *r, qt_error *err)
{
    qt_chart chart;
    if (check_request(r, err) != QT_OK || check_outputs(r, err) != QT_OK ||
        qt_plot_csv_chart(r, &chart, err) != QT_OK)
        return QT_ERR;
    int status = QT_OK;
    if (r->png_path)
        status = qt_chart_write_png(&chart, r->png_path, err);
    if (status == QT_OK && r->svg_path)
        status = qt_chart_write_svg(&chart, r->svg_path, err);
    qt_chart_free(&chart);
    return status;
}

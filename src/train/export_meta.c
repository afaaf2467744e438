/* The metadata of an export (export_meta.h): written from a config, read back into one. */
#include "qtrain/export_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/json.h"
#include "qtrain/net_desc.h"
#include "qtrain/net_cp.h"
#include "qtrain/run_setup.h"

/* The config keys each JSON object records; the keys that decide the net, its quantizers
 * and the test split it is evaluated on. */
static const char *const model_keys[] = {"name", "widths", "shortcut", "dropout", "bn_momentum",
                                         "bn_eps", NULL};
static const char *const quant_keys[] = {"mode", "grid", "bits", "scale", "scale_value",
                                         "binarize", "step_scale", "quantize_first",
                                         "quantize_last", NULL};
static const char *const data_keys[] = {"dataset", "image_size", "classes", "labels",
                                        "normalize", NULL};

/* ---- writing ---- */

static int add(qt_export_meta *m, const char *key, char *value, qt_error *err)
{
    if (!value)
        return qt_errorf(err, "export metadata \"%s\": out of memory", key);
    if (m->n == QT_EXPORT_META_MAX) {
        free(value);
        return qt_errorf(err, "export metadata: more than %d keys", QT_EXPORT_META_MAX);
    }
    m->owned[m->n] = value;
    m->pairs[2 * m->n] = key;
    m->pairs[2 * m->n + 1] = value;
    m->n++;
    return QT_OK;
}

static void number_list(qt_json_writer *w, const char *text)
{
    qt_json_begin_array(w);
    for (const char *p = text; *p;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            break;
        qt_json_number(w, v);
        p = end + strspn(end, ", ");
    }
    qt_json_end_array(w);
}

/* {"key": value, ...} for section.key of each key, typed as the schema says. */
static void config_object(qt_json_writer *w, const qt_config *c, const char *section,
                          const char *const *keys)
{
    qt_json_begin_object(w);
    for (int i = 0; keys[i]; i++) {
        char dotted[64], text[256];
        const qt_config_key *k = qt_config_find_key(section, keys[i], NULL);
        snprintf(dotted, sizeof dotted, "%s.%s", section, keys[i]);
        qt_config_value_text(c, dotted, text, sizeof text);
        qt_json_key(w, keys[i]);
        switch (k->type) {
        case QT_KEY_INT:
        case QT_KEY_FLOAT: qt_json_number(w, strtod(text, NULL)); break;
        case QT_KEY_BOOL: qt_json_bool(w, strcmp(text, "true") == 0); break;
        case QT_KEY_INT_LIST:
        case QT_KEY_FLOAT_LIST: number_list(w, text); break;
        default: qt_json_string(w, text); break;
        }
    }
    qt_json_end_object(w);
}

static char *architecture(const qt_config *c, const qt_net *net, qt_error *err)
{
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    qt_json_key(w, "model");
    config_object(w, c, "model", model_keys);
    qt_json_key(w, "input_shape");
    qt_json_begin_array(w);
    qt_json_int(w, net->in_c);
    qt_json_int(w, net->in_h);
    qt_json_int(w, net->in_w);
    qt_json_end_array(w);
    qt_json_field_int(w, "num_classes", net->num_classes);
    if (qt_net_description(net)) {
        qt_json_key(w, "description");
        qt_json_string(w, qt_net_description(net));
    }
    qt_json_key(w, "cp_ranks");
    qt_json_begin_object(w);
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *l = &net->layers[i];
        if (l->cp_part != 1)
            continue;
        char name[sizeof l->name];
        snprintf(name, sizeof name, "%.*s", (int)strlen(l->name) - 4, l->name); /* "<layer>.cp1" */
        qt_json_field_int(w, name, l->out_c);
    }
    qt_json_end_object(w);
    qt_json_end_object(w);
    return qt_json_writer_finish(w, NULL, err);
}

static char *section_json(const qt_config *c, const char *section, const char *const *keys,
                          qt_error *err)
{
    qt_json_writer *w = qt_json_writer_new(0);
    config_object(w, c, section, keys);
    return qt_json_writer_finish(w, NULL, err);
}

static char *normalization(const qt_config *c, const qt_net *net, const qt_dataset *ds,
                           qt_error *err)
{
    qt_loader_config lc;
    qt_run_loader_config(c, ds, QT_SPLIT_TEST, &lc);
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_object(w);
    for (int k = 0; k < 2; k++) {
        qt_json_key(w, k ? "std" : "mean");
        qt_json_begin_array(w);
        for (int ch = 0; ch < net->in_c && ch < 3; ch++)
            qt_json_float(w, k ? lc.augment.std[ch] : lc.augment.mean[ch]);
        qt_json_end_array(w);
    }
    qt_json_end_object(w);
    return qt_json_writer_finish(w, NULL, err);
}

static char *class_names(const qt_dataset *ds, qt_error *err)
{
    qt_json_writer *w = qt_json_writer_new(0);
    qt_json_begin_array(w);
    for (int i = 0; i < qt_dataset_num_classes(ds); i++)
        qt_json_string(w, qt_dataset_class_name(ds, i));
    qt_json_end_array(w);
    return qt_json_writer_finish(w, NULL, err);
}

int qt_export_meta_make(const qt_config *c, const qt_net *net, const qt_dataset *ds,
                        qt_export_meta *m, qt_error *err)
{
    char mode[16];
    memset(m, 0, sizeof *m);
    qt_config_value_text(c, "quant.mode", mode, sizeof mode);
    if (net->in_c > 3) {
        return qt_errorf(err, "export: %d input channels; the normalization records at most 3",
                         net->in_c);
    }
    /* A file without the grids would be a different net, evaluating to another accuracy
     * than the one qquant reported: refused rather than dropped silently. */
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].act.levels > 0)
            return qt_errorf(err, "export: %s puts its input on a %d-level grid (qquant "
                             "--act-bits); the export formats hold no activation grids, so the "
                             "exported net would compute with float inputs (evaluate this model "
                             "with `qtrain eval --checkpoint`)", net->layers[i].name,
                             net->layers[i].act.levels);
    int rc = add(m, "format", strdup("qtrain"), err);
    if (rc == QT_OK)
        rc = add(m, "format_version", strdup("2"), err);
    if (rc == QT_OK)
        rc = add(m, "model", strdup(c->model.name), err);
    if (rc == QT_OK)
        rc = add(m, "quant_mode", strdup(mode), err);
    if (rc == QT_OK)
        rc = add(m, "architecture", architecture(c, net, err), err);
    if (rc == QT_OK)
        rc = add(m, "quantization", section_json(c, "quant", quant_keys, err), err);
    if (rc == QT_OK)
        rc = add(m, "data", section_json(c, "data", data_keys, err), err);
    if (rc == QT_OK)
        rc = add(m, "input_normalization", normalization(c, net, ds, err), err);
    if (rc == QT_OK)
        rc = add(m, "class_names", class_names(ds, err), err);
    if (rc != QT_OK)
        qt_export_meta_free(m);
    return rc;
}

const char *qt_export_meta_get(const qt_export_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->pairs[2 * i], key) == 0)
            return m->pairs[2 * i + 1];
    return NULL;
}

void qt_export_meta_free(qt_export_meta *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->owned[i]);
    memset(m, 0, sizeof *m);
}

/* ---- reading ---- */

/* The JSON value of metadata key (parsed; free with qt_json_free), checked to be of type. */
static int meta_json(qt_meta_get_fn get, const void *src, const char *path, const char *key,
                     qt_json_type type, qt_json **out, qt_error *err)
{
    const char *text = get(src, key);
    *out = NULL;
    if (!text)
        return qt_errorf(err, "%s: no \"%s\" in the metadata (not a qtrain export of format "
                         "version 2?)", path, key);
    if (qt_json_parse(text, strlen(text), out, err) != QT_OK)
        return qt_error_prefix(err, "%s: metadata \"%s\"", path, key);
    if ((*out)->type != type) {
        qt_json_free(*out);
        *out = NULL;
        return qt_errorf(err, "%s: metadata \"%s\" is not a JSON %s", path, key,
                         type == QT_JSON_OBJECT ? "object" : "array");
    }
    return QT_OK;
}

/* A JSON value as config text: numbers exactly, lists comma-separated. */
static int value_text(const qt_json *v, char *out, size_t n)
{
    size_t used = 0;
    switch (v->type) {
    case QT_JSON_NUMBER: snprintf(out, n, "%.17g", v->number); return 0;
    case QT_JSON_BOOL: snprintf(out, n, "%s", v->boolean ? "true" : "false"); return 0;
    case QT_JSON_STRING: snprintf(out, n, "%s", v->string); return 0;
    case QT_JSON_ARRAY:
        out[0] = '\0';
        for (size_t i = 0; i < v->count; i++) {
            if (v->items[i].type != QT_JSON_NUMBER)
                return -1;
            used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%.17g", i ? "," : "",
                                     v->items[i].number);
        }
        return used < n ? 0 : -1;
    default: return -1;
    }
}

/* Sets section.key from each member of the object (only the keys this file writes). */
static int apply_object(qt_config *c, const qt_json *o, const char *section,
                        const char *const *keys, const char *path, const char *where,
                        qt_error *err)
{
    for (int i = 0; keys[i]; i++) {
        const qt_json *v = qt_json_get(o, keys[i]);
        char text[512], arg[600];
        if (!v)
            return qt_errorf(err, "%s: metadata %s has no \"%s\"", path, where, keys[i]);
        if (v->type == QT_JSON_ARRAY && v->count == 0)
            continue;         /* an empty list: the key's default applies (it has no use) */
        if (value_text(v, text, sizeof text) != 0)
            return qt_errorf(err, "%s: metadata %s: \"%s\" has a value of the wrong type", path,
                             where, keys[i]);
        snprintf(arg, sizeof arg, "%s.%s=%s", section, keys[i], text);
        if (qt_config_set_arg(c, arg, err) != QT_OK)
            return qt_error_prefix(err, "%s: metadata %s", path, where);
    }
    return QT_OK;
}

int qt_export_meta_config(qt_meta_get_fn get, const void *src, const char *path,
                          const char *const *overrides, int n_overrides, qt_config *c,
                          qt_error *err)
{
    qt_json *arch = NULL, *quant = NULL, *data = NULL;
    qt_config_defaults(c);
    int rc = meta_json(get, src, path, "architecture", QT_JSON_OBJECT, &arch, err);
    if (rc == QT_OK)
        rc = meta_json(get, src, path, "quantization", QT_JSON_OBJECT, &quant, err);
    if (rc == QT_OK)
        rc = meta_json(get, src, path, "data", QT_JSON_OBJECT, &data, err);
    const qt_json *model = rc == QT_OK ? qt_json_get(arch, "model") : NULL;
    if (rc == QT_OK && (!model || model->type != QT_JSON_OBJECT))
        rc = qt_errorf(err, "%s: metadata \"architecture\" has no \"model\" object", path);
    if (rc == QT_OK)
        rc = apply_object(c, model, "model", model_keys, path, "architecture.model", err);
    if (rc == QT_OK)
        rc = apply_object(c, quant, "quant", quant_keys, path, "quantization", err);
    if (rc == QT_OK)
        rc = apply_object(c, data, "data", data_keys, path, "data", err);
    for (int i = 0; rc == QT_OK && i < n_overrides; i++)
        rc = qt_config_set_arg(c, overrides[i], err);
    if (rc == QT_OK)
        rc = qt_run_validate(c, err);
    qt_json_free(arch);
    qt_json_free(quant);
    qt_json_free(data);
    return rc;
}

static int int_item(const qt_json *a, size_t i, int lo, int *out)
{
    if (!a || a->type != QT_JSON_ARRAY || i >= a->count || a->items[i].type != QT_JSON_NUMBER ||
        a->items[i].number < lo || a->items[i].number > 1 << 20 ||
        a->items[i].number != (int)a->items[i].number)
        return -1;
    *out = (int)a->items[i].number;
    return 0;
}

static int apply_cp_ranks(qt_net *net, const qt_json *ranks, const char *path, qt_error *err)
{
    if (!ranks)
        return QT_OK;
    if (ranks->type != QT_JSON_OBJECT)
        return qt_errorf(err, "%s: metadata architecture.cp_ranks is not an object", path);
    for (size_t i = 0; i < ranks->count; i++) {
        const qt_json *r = &ranks->items[i];
        int layer = qt_net_find_layer(net, ranks->keys[i]);
        if (layer < 0 || r->type != QT_JSON_NUMBER || r->number < 1 || r->number != (int)r->number)
            return qt_errorf(err, "%s: metadata architecture.cp_ranks: \"%s\": no such layer or "
                             "not a rank", path, ranks->keys[i]);
        if (qt_net_cp_factorize(net, layer, (int)r->number, err) != QT_OK)
            return qt_error_prefix(err, "%s", path);
    }
    return QT_OK;
}

static int in_shape_differs(const qt_net *net, const int shape[3], int classes)
{
    return net->in_c != shape[0] || net->in_h != shape[1] || net->in_w != shape[2] ||
           net->num_classes != classes;
}

int qt_export_meta_build_net(qt_meta_get_fn get, const void *src, const char *path,
                             const qt_config *c, qt_net **net, qt_error *err)
{
    qt_json *arch;
    int shape[3], classes;
    *net = NULL;
    if (meta_json(get, src, path, "architecture", QT_JSON_OBJECT, &arch, err) != QT_OK)
        return QT_ERR;
    const qt_json *in = qt_json_get(arch, "input_shape"), *k = qt_json_get(arch, "num_classes");
    int rc = QT_OK;
    for (int i = 0; i < 3 && rc == QT_OK; i++)
        if (int_item(in, (size_t)i, 1, &shape[i]) != 0 || in->count != 3)
            rc = qt_errorf(err, "%s: metadata architecture.input_shape is not [C, H, W]", path);
    if (rc == QT_OK && (!k || k->type != QT_JSON_NUMBER || k->number < 2 ||
                        k->number > 1 << 20 || k->number != (int)k->number))
        rc = qt_errorf(err, "%s: metadata architecture.num_classes is not a class count", path);
    if (rc == QT_OK) {
        classes = (int)k->number;
        const qt_json *desc = qt_json_get(arch, "description");
        if (desc && desc->type != QT_JSON_STRING)
            rc = qt_errorf(err, "%s: metadata architecture.description is not a string", path);
        else if (desc)
            *net = qt_run_build_described_net(c, desc->string, err);
        else
            *net = qt_run_build_net_shape(c, shape[0], shape[1], shape[2], classes, err);
        if (*net && (in_shape_differs(*net, shape, classes)))
            rc = qt_errorf(err, "%s: metadata architecture.description builds a net for %dx%dx%d "
                           "images and %d classes, input_shape and num_classes say %dx%dx%d and %d",
                           path, (*net)->in_c, (*net)->in_h, (*net)->in_w, (*net)->num_classes,
                           shape[0], shape[1], shape[2], classes);
        if (rc == QT_OK)
            rc = *net ? apply_cp_ranks(*net, qt_json_get(arch, "cp_ranks"), path, err) : QT_ERR;
    }
    if (rc != QT_OK) {
        qt_net_free(*net);
        *net = NULL;
    }
    qt_json_free(arch);
    return rc;
}

static int float_items(const qt_json *a, float *out, int n)
{
    if (!a || a->type != QT_JSON_ARRAY || (int)a->count != n)
        return -1;
    for (int i = 0; i < n; i++) {
        if (a->items[i].type != QT_JSON_NUMBER)
            return -1;
        out[i] = (float)a->items[i].number;
    }
    return 0;
}

int qt_export_meta_normalization(qt_meta_get_fn get, const void *src, const char *path,
                                 float mean[3], float std[3], qt_error *err)
{
    qt_json *norm, *arch;
    int channels = 0;
    if (meta_json(get, src, path, "architecture", QT_JSON_OBJECT, &arch, err) != QT_OK)
        return QT_ERR;
    int bad_shape = int_item(qt_json_get(arch, "input_shape"), 0, 1, &channels) != 0 || channels > 3;
    qt_json_free(arch);
    if (bad_shape)
        return qt_errorf(err, "%s: metadata architecture.input_shape: 1 to 3 channels expected",
                         path);
    if (meta_json(get, src, path, "input_normalization", QT_JSON_OBJECT, &norm, err) != QT_OK)
        return QT_ERR;
    int rc = float_items(qt_json_get(norm, "mean"), mean, channels) == 0 &&
                     float_items(qt_json_get(norm, "std"), std, channels) == 0
                 ? QT_OK
                 : qt_errorf(err, "%s: metadata input_normalization needs \"mean\" and \"std\" "
                             "with %d numbers each", path, channels);
    for (int ch = channels; rc == QT_OK && ch < 3; ch++) {
        mean[ch] = mean[0];
        std[ch] = std[0];
    }
    qt_json_free(norm);
    return rc;
}

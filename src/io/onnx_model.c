/* ONNX models built as protobuf-c messages and serialized (onnx_model.h). Every piece of
 * memory the messages point to is recorded in one list and freed with the model. */
#include "qtrain/onnx_model.h"

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "qtrain/file_io.h"

enum { IR_VERSION = 7 };

struct qt_onnx {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    void **allocs;
    size_t nallocs, cap_allocs;
    size_t cap_node, cap_init, cap_meta;
    int failed;
};

/* Records p for freeing; NULL (and the model failed) when p is NULL or the list cannot grow. */
static void *keep(qt_onnx *m, void *p)
{
    if (!p || m->failed) {
        free(p);
        m->failed = 1;
        return NULL;
    }
    if (m->nallocs == m->cap_allocs) {
        size_t cap = m->cap_allocs ? 2 * m->cap_allocs : 256;
        void **a = realloc(m->allocs, cap * sizeof *a);
        if (!a) {
            free(p);
            m->failed = 1;
            return NULL;
        }
        m->allocs = a;
        m->cap_allocs = cap;
    }
    return m->allocs[m->nallocs++] = p;
}

static void *alloc(qt_onnx *m, size_t n)
{
    return keep(m, calloc(1, n ? n : 1));
}

static char *str(qt_onnx *m, const char *s)
{
    return keep(m, strdup(s));
}

/* Appends item to a repeated field (items, n) whose capacity is *cap. */
static int push(qt_onnx *m, void ***items, size_t *n, size_t *cap, void *item)
{
    if (!item || m->failed)
        return m->failed = 1, -1;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = realloc(*items, c * sizeof *a);
        if (!a)
            return m->failed = 1, -1;
        *items = a;
        *cap = c;
    }
    (*items)[(*n)++] = item;
    return 0;
}

qt_onnx *qt_onnx_new(const char *graph_name, int opset)
{
    qt_onnx *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset);
    m->opset.domain = "";
    m->opset.has_version = 1;
    m->opset.version = opset;
    m->opsets[0] = &m->opset;
    m->model.has_ir_version = 1;
    m->model.ir_version = IR_VERSION;
    m->model.n_opset_import = 1;
    m->model.opset_import = m->opsets;
    m->model.producer_name = "qtrain";
    m->model.graph = &m->graph;
    m->graph.name = str(m, graph_name);
    return m;
}

void qt_onnx_free(qt_onnx *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nallocs; i++)
        free(m->allocs[i]);
    free(m->allocs);
    free(m->graph.node);
    free(m->graph.initializer);
    free(m->graph.input);
    free(m->graph.output);
    free(m->model.metadata_props);
    free(m);
}

static size_t dtype_size(qt_onnx_dtype t)
{
    return t == QT_ONNX_FLOAT ? 4 : t == QT_ONNX_INT64 ? 8 : 1;
}

void qt_onnx_initializer(qt_onnx *m, const char *name, qt_onnx_dtype dtype, int ndim,
                         const int64_t *dims, const void *data)
{
    Onnx__TensorProto *t = alloc(m, sizeof *t);
    if (!t)
        return;
    onnx__tensor_proto__init(t);
    size_t n = 1;
    t->n_dims = (size_t)ndim;
    t->dims = alloc(m, (size_t)ndim * sizeof *t->dims);
    for (int i = 0; t->dims && i < ndim; i++)
        n *= (size_t)(t->dims[i] = dims[i]);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->name = str(m, name);
    t->has_raw_data = 1;
    t->raw_data.len = n * dtype_size(dtype);
    t->raw_data.data = alloc(m, t->raw_data.len);
    if (t->raw_data.data)
        memcpy(t->raw_data.data, data, t->raw_data.len);
    push(m, (void ***)&m->graph.initializer, &m->graph.n_initializer, &m->cap_init, t);
}

void qt_onnx_node(qt_onnx *m, const char *op, const char *name, int nin, const char *const *in,
                  const char *out)
{
    Onnx__NodeProto *nd = alloc(m, sizeof *nd);
    if (!nd)
        return;
    onnx__node_proto__init(nd);
    nd->op_type = str(m, op);
    nd->name = str(m, name);
    nd->n_input = (size_t)nin;
    nd->input = alloc(m, (size_t)nin * sizeof *nd->input);
    for (int i = 0; nd->input && i < nin; i++)
        nd->input[i] = str(m, in[i]);
    nd->n_output = 1;
    nd->output = alloc(m, sizeof *nd->output);
    if (nd->output)
        nd->output[0] = str(m, out);
    push(m, (void ***)&m->graph.node, &m->graph.n_node, &m->cap_node, nd);
}

static Onnx__AttributeProto *attr(qt_onnx *m, const char *name, Onnx__AttributeProto__AttributeType type)
{
    if (m->failed || m->graph.n_node == 0)
        return m->failed = 1, NULL;
    Onnx__NodeProto *nd = m->graph.node[m->graph.n_node - 1];
    Onnx__AttributeProto *a = alloc(m, sizeof *a);
    Onnx__AttributeProto **all = alloc(m, (nd->n_attribute + 1) * sizeof *all);
    if (!a || !all)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(m, name);
    a->has_type = 1;
    a->type = type;
    if (nd->n_attribute)
        memcpy(all, nd->attribute, nd->n_attribute * sizeof *all);
    all[nd->n_attribute++] = a;
    nd->attribute = all;   /* the old array stays recorded and is freed with the model */
    return a;
}

void qt_onnx_attr_int(qt_onnx *m, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void qt_onnx_attr_float(qt_onnx *m, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

void qt_onnx_attr_ints(qt_onnx *m, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (a && (a->ints = alloc(m, (size_t)n * sizeof *a->ints))) {
        a->n_ints = (size_t)n;
        memcpy(a->ints, v, (size_t)n * sizeof *v);
    }
}

static Onnx__ValueInfoProto *float_value(qt_onnx *m, const char *name, int ndim,
                                         const int64_t *dims)
{
    Onnx__ValueInfoProto *v = alloc(m, sizeof *v);
    Onnx__TypeProto *type = alloc(m, sizeof *type);
    Onnx__TypeProto__Tensor *tt = alloc(m, sizeof *tt);
    Onnx__TensorShapeProto *shape = alloc(m, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = alloc(m, (size_t)ndim * sizeof *dim);
    if (!v || !type || !tt || !shape || !dim)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    for (int i = 0; i < ndim; i++) {
        if (!(dim[i] = alloc(m, sizeof **dim)))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = "N";
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    shape->n_dim = (size_t)ndim;
    shape->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    v->name = str(m, name);
    v->type = type;
    return v;
}

void qt_onnx_input(qt_onnx *m, const char *name, int ndim, const int64_t *dims)
{
    size_t cap = m->graph.n_input;
    push(m, (void ***)&m->graph.input, &m->graph.n_input, &cap, float_value(m, name, ndim, dims));
}

void qt_onnx_output(qt_onnx *m, const char *name, int ndim, const int64_t *dims)
{
    size_t cap = m->graph.n_output;
    push(m, (void ***)&m->graph.output, &m->graph.n_output, &cap, float_value(m, name, ndim, dims));
}

void qt_onnx_metadata(qt_onnx *m, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = alloc(m, sizeof *e);
    if (!e)
        return;
    onnx__string_string_entry_proto__init(e);
    e->key = str(m, key);
    e->value = str(m, value);
    push(m, (void ***)&m->model.metadata_props, &m->model.n_metadata_props, &m->cap_meta, e);
}

int qt_onnx_save(qt_onnx *m, const char *path, qt_error *err)
{
    if (m->failed)
        return qt_errorf(err, "%s: out of memory building the ONNX model", path);
    size_t n = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return qt_errorf(err, "%s: out of memory (%zu bytes) serializing the ONNX model", path, n);
    onnx__model_proto__pack(&m->model, buf);
    int rc = qt_write_file_atomic(path, buf, n, err);
    free(buf);
    return rc;
}

/* IR -> ONNX ModelProto (protobuf-c). Builds the message tree in a scratch arena, then packs. */
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"
#include "odrt_onnx.pb-c.h"

typedef struct {
    odrt_arena_t *a;
    int oom;
} exp_ctx;

static void *al(exp_ctx *c, size_t n) {
    void *p = odrt_arena_alloc(c->a, n);
    if (!p) c->oom = 1;
    return p;
}

static char *s(exp_ctx *c, const char *x) { return x ? odrt_arena_strdup(c->a, x) : NULL; }

static Onnx__StringStringEntryProto **kvs(exp_ctx *c, const ir_kv *kv, int n, size_t *n_out) {
    *n_out = (size_t)n;
    if (!n) return NULL;
    Onnx__StringStringEntryProto **r = al(c, sizeof(*r) * (size_t)n);
    for (int i = 0; r && i < n; i++) {
        r[i] = al(c, sizeof **r);
        if (!r[i]) return NULL;
        onnx__string_string_entry_proto__init(r[i]);
        r[i]->key = s(c, kv[i].key);
        r[i]->value = s(c, kv[i].value);
    }
    return r;
}

static Onnx__TensorProto *tensor(exp_ctx *c, const ir_tensor *t) {
    Onnx__TensorProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__tensor_proto__init(p);
    p->n_dims = (size_t)t->rank;
    p->dims = t->dims;
    p->has_data_type = 1;
    p->data_type = t->dtype;
    p->name = s(c, t->name);
    p->doc_string = s(c, t->doc);
    if (t->dtype == ODRT_DT_STRING) {
        p->n_string_data = (size_t)t->numel;
        p->string_data = al(c, sizeof(ProtobufCBinaryData) * (size_t)(t->numel + 1));
        for (int64_t i = 0; p->string_data && i < t->numel; i++)
            p->string_data[i] = (ProtobufCBinaryData){t->str_lens[i], (uint8_t *)((const char **)t->data)[i]};
    } else {
        p->has_raw_data = 1;
        p->raw_data = (ProtobufCBinaryData){t->nbytes, t->data};
    }
    return p;
}

static Onnx__TypeProto *type(exp_ctx *c, const ir_type *t) {
    if (!t || t->kind == IR_TYPE_NONE) return NULL;
    Onnx__TypeProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__type_proto__init(p);
    p->denotation = s(c, t->denotation);
    Onnx__TensorShapeProto *sh = NULL;
    if (t->rank >= 0 && (t->kind == IR_TYPE_TENSOR || t->kind == IR_TYPE_SPARSE_TENSOR)) {
        sh = al(c, sizeof *sh);
        if (!sh) return NULL;
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)t->rank;
        sh->dim = al(c, sizeof(*sh->dim) * (size_t)(t->rank + 1));
        for (int i = 0; sh->dim && i < t->rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = al(c, sizeof *d);
            if (!d) return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            d->denotation = s(c, t->dims[i].denotation);
            if (t->dims[i].value >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = t->dims[i].value;
            } else if (t->dims[i].param) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = s(c, t->dims[i].param);
            }
            sh->dim[i] = d;
        }
    }
    switch (t->kind) {
    case IR_TYPE_TENSOR: {
        Onnx__TypeProto__Tensor *x = al(c, sizeof *x);
        if (!x) return NULL;
        onnx__type_proto__tensor__init(x);
        x->has_elem_type = 1;
        x->elem_type = t->dtype;
        x->shape = sh;
        p->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        p->tensor_type = x;
        break;
    }
    case IR_TYPE_SPARSE_TENSOR: {
        Onnx__TypeProto__SparseTensor *x = al(c, sizeof *x);
        if (!x) return NULL;
        onnx__type_proto__sparse_tensor__init(x);
        x->has_elem_type = 1;
        x->elem_type = t->dtype;
        x->shape = sh;
        p->value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE;
        p->sparse_tensor_type = x;
        break;
    }
    case IR_TYPE_SEQUENCE: {
        Onnx__TypeProto__Sequence *x = al(c, sizeof *x);
        if (!x) return NULL;
        onnx__type_proto__sequence__init(x);
        x->elem_type = type(c, t->elem);
        p->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        p->sequence_type = x;
        break;
    }
    case IR_TYPE_OPTIONAL: {
        Onnx__TypeProto__Optional *x = al(c, sizeof *x);
        if (!x) return NULL;
        onnx__type_proto__optional__init(x);
        x->elem_type = type(c, t->elem);
        p->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
        p->optional_type = x;
        break;
    }
    case IR_TYPE_MAP: {
        Onnx__TypeProto__Map *x = al(c, sizeof *x);
        if (!x) return NULL;
        onnx__type_proto__map__init(x);
        x->has_key_type = 1;
        x->key_type = t->dtype;
        x->value_type = type(c, t->elem);
        p->value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE;
        p->map_type = x;
        break;
    }
    default: break;
    }
    return p;
}

static Onnx__ValueInfoProto *vinfo(exp_ctx *c, const ir_value *v) {
    Onnx__ValueInfoProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__value_info_proto__init(p);
    p->name = s(c, v->name);
    p->type = type(c, &v->type);
    p->doc_string = s(c, v->doc);
    return p;
}

static Onnx__GraphProto *graph(exp_ctx *c, const ir_graph *g);

static Onnx__AttributeProto *attr(exp_ctx *c, const ir_attr *a) {
    Onnx__AttributeProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__attribute_proto__init(p);
    p->name = s(c, a->name);
    p->ref_attr_name = s(c, a->ref_attr_name);
    p->doc_string = s(c, a->doc);
    p->has_type = 1;
    p->type = (Onnx__AttributeProto__AttributeType)a->type;
    size_t n = (size_t)a->n;
    switch (a->type) {
    case IR_ATTR_FLOAT: p->has_f = 1; p->f = a->f; break;
    case IR_ATTR_INT: p->has_i = 1; p->i = a->i; break;
    case IR_ATTR_STRING: p->has_s = 1; p->s = (ProtobufCBinaryData){a->s_len, (uint8_t *)a->s}; break;
    case IR_ATTR_TENSOR: p->t = tensor(c, a->t); break;
    case IR_ATTR_GRAPH: p->g = graph(c, a->g); break;
    case IR_ATTR_FLOATS: p->n_floats = n; p->floats = a->floats; break;
    case IR_ATTR_INTS: p->n_ints = n; p->ints = a->ints; break;
    case IR_ATTR_STRINGS:
        p->n_strings = n;
        p->strings = al(c, sizeof(ProtobufCBinaryData) * (n + 1));
        for (size_t i = 0; p->strings && i < n; i++)
            p->strings[i] = (ProtobufCBinaryData){a->str_lens[i], (uint8_t *)a->strings[i]};
        break;
    case IR_ATTR_TENSORS:
        p->n_tensors = n;
        p->tensors = al(c, sizeof(*p->tensors) * (n + 1));
        for (size_t i = 0; p->tensors && i < n; i++) p->tensors[i] = tensor(c, a->tensors[i]);
        break;
    case IR_ATTR_GRAPHS:
        p->n_graphs = n;
        p->graphs = al(c, sizeof(*p->graphs) * (n + 1));
        for (size_t i = 0; p->graphs && i < n; i++) p->graphs[i] = graph(c, a->graphs[i]);
        break;
    case IR_ATTR_TYPE_PROTO: p->tp = type(c, a->tp); break;
    case IR_ATTR_TYPE_PROTOS:
        p->n_type_protos = n;
        p->type_protos = al(c, sizeof(*p->type_protos) * (n + 1));
        for (size_t i = 0; p->type_protos && i < n; i++) p->type_protos[i] = type(c, a->tps[i]);
        break;
    default: break;
    }
    return p;
}

static Onnx__NodeProto *node(exp_ctx *c, const ir_node *n) {
    Onnx__NodeProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__node_proto__init(p);
    /* trailing omitted inputs/outputs are dropped, inner ones written as "" */
    int ni = n->n_in, no = n->n_out;
    while (ni > 0 && !n->in[ni - 1]) ni--;
    while (no > 0 && !n->out[no - 1]) no--;
    p->n_input = (size_t)ni;
    p->input = al(c, sizeof(char *) * (size_t)(ni + 1));
    for (int k = 0; p->input && k < ni; k++) p->input[k] = s(c, n->in[k] ? n->in[k]->name : "");
    p->n_output = (size_t)no;
    p->output = al(c, sizeof(char *) * (size_t)(no + 1));
    for (int k = 0; p->output && k < no; k++) p->output[k] = s(c, n->out[k] ? n->out[k]->name : "");
    p->name = s(c, n->name);
    p->op_type = s(c, n->op);
    p->domain = s(c, n->domain);
    p->overload = s(c, n->overload);
    p->doc_string = s(c, n->doc);
    p->n_attribute = (size_t)n->n_attrs;
    p->attribute = al(c, sizeof(*p->attribute) * (size_t)(n->n_attrs + 1));
    for (int k = 0; p->attribute && k < n->n_attrs; k++) p->attribute[k] = attr(c, &n->attrs[k]);
    p->metadata_props = kvs(c, n->meta, n->n_meta, &p->n_metadata_props);
    return p;
}

static Onnx__GraphProto *graph(exp_ctx *c, const ir_graph *g) {
    Onnx__GraphProto *p = al(c, sizeof *p);
    if (!p) return NULL;
    onnx__graph_proto__init(p);
    p->name = s(c, g->name);
    p->doc_string = s(c, g->doc);
    size_t live = 0;
    for (size_t i = 0; i < g->n_nodes; i++) live += !g->nodes[i]->dead;
    p->node = al(c, sizeof(*p->node) * (live + 1));
    for (size_t i = 0; p->node && i < g->n_nodes; i++)
        if (!g->nodes[i]->dead) p->node[p->n_node++] = node(c, g->nodes[i]);
    p->initializer = al(c, sizeof(*p->initializer) * (g->n_inits + 1));
    for (size_t i = 0; p->initializer && i < g->n_inits; i++)
        if (g->inits[i]->init) p->initializer[p->n_initializer++] = tensor(c, g->inits[i]->init);
    p->n_input = (size_t)g->n_inputs;
    p->input = al(c, sizeof(*p->input) * (size_t)(g->n_inputs + 1));
    for (int i = 0; p->input && i < g->n_inputs; i++) p->input[i] = vinfo(c, g->inputs[i]);
    p->n_output = (size_t)g->n_outputs;
    p->output = al(c, sizeof(*p->output) * (size_t)(g->n_outputs + 1));
    for (int i = 0; p->output && i < g->n_outputs; i++) p->output[i] = vinfo(c, g->outputs[i]);
    p->value_info = al(c, sizeof(*p->value_info) * (g->n_vinfo + 1));
    for (size_t i = 0; p->value_info && i < g->n_vinfo; i++) p->value_info[p->n_value_info++] = vinfo(c, g->vinfo[i]);
    p->metadata_props = kvs(c, g->meta, g->n_meta, &p->n_metadata_props);
    return p;
}

odrt_status_t ir_export_onnx(const ir_model *m, uint8_t **buf, size_t *len) {
    exp_ctx c = {odrt_arena_init(), 0};
    if (!c.a) return odrt_fail(ODRT_ERR_NOMEM, "out of memory exporting model");
    Onnx__ModelProto mp;
    onnx__model_proto__init(&mp);
    mp.has_ir_version = 1;
    mp.ir_version = m->ir_version;
    mp.producer_name = s(&c, m->producer_name);
    mp.producer_version = s(&c, m->producer_version);
    mp.domain = s(&c, m->domain);
    mp.has_model_version = m->model_version != 0;
    mp.model_version = m->model_version;
    mp.doc_string = s(&c, m->doc);
    mp.n_opset_import = (size_t)m->n_opsets;
    mp.opset_import = al(&c, sizeof(*mp.opset_import) * (size_t)(m->n_opsets + 1));
    for (int i = 0; mp.opset_import && i < m->n_opsets; i++) {
        Onnx__OperatorSetIdProto *o = al(&c, sizeof *o);
        if (!o) break;
        onnx__operator_set_id_proto__init(o);
        o->domain = s(&c, m->opsets[i].domain);
        o->has_version = 1;
        o->version = m->opsets[i].version;
        mp.opset_import[i] = o;
    }
    mp.metadata_props = kvs(&c, m->meta, m->n_meta, &mp.n_metadata_props);
    mp.graph = graph(&c, m->graph);
    if (c.oom) {
        odrt_arena_free(c.a);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory exporting model");
    }
    size_t n = onnx__model_proto__get_packed_size(&mp);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        odrt_arena_free(c.a);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory exporting model (%zu bytes)", n);
    }
    onnx__model_proto__pack(&mp, b);
    odrt_arena_free(c.a);
    *buf = b;
    *len = n;
    return ODRT_OK;
}

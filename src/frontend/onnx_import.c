/* ONNX ModelProto (protobuf-c) -> IR. The only file besides onnx_export.c that sees protobuf. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"
#include "frontend/model.h"
#include "odrt_onnx.pb-c.h"
#include "frontend/pb_depth.h"

#define MAX_MODEL_BYTES ((size_t)4 << 30)
#define MAX_NUMEL ((int64_t)1 << 62)

/* ---- import context ---- */
typedef struct {
    ir_model *m;
    const char *dir; /* external data folder or NULL */
} imp;

static const char *sdup(imp *c, const char *s) { return odrt_arena_strdup(c->m->arena, s ? s : ""); }

#define NOMEM() odrt_fail(ODRT_ERR_NOMEM, "out of memory while importing")

static odrt_status_t import_kv(imp *c, Onnx__StringStringEntryProto **src, size_t n, ir_kv **out, int *n_out) {
    if (!n) return ODRT_OK;
    ir_kv *kv = odrt_arena_alloc(c->m->arena, sizeof(ir_kv) * n);
    if (!kv) return NOMEM();
    for (size_t i = 0; i < n; i++) kv[i] = (ir_kv){sdup(c, src[i]->key), sdup(c, src[i]->value)};
    *out = kv;
    *n_out = (int)n;
    return ODRT_OK;
}

static int dtype_known(int dt) {
    return (dt >= 1 && dt <= 13) || dt == 16;
}

/* external data: path relative to the model folder, no "..", no absolute path, no symlinks */
static odrt_status_t read_external(imp *c, const Onnx__TensorProto *tp, void *dst, size_t nbytes) {
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key ? tp->external_data[i]->key : "";
        const char *v = tp->external_data[i]->value ? tp->external_data[i]->value : "";
        char *e = NULL;
        if (!strcmp(k, "location")) loc = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            errno = 0;
            long long x = strtoll(v, &e, 10);
            if (errno || e == v || *e || x < 0)
                return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': bad external data %s '%s'", tp->name, k, v);
            if (!strcmp(k, "offset")) off = x;
            else len = x;
        }
    }
    if (!c->dir) return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data without a model folder", tp->name);
    if (!loc || !*loc) return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data has no location", tp->name);
    if (loc[0] == '/' || loc[0] == '\\')
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data path '%s' is absolute", tp->name, loc);
    for (const char *p = loc; *p;) {
        const char *q = p;
        while (*q && *q != '/' && *q != '\\') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.')
            return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data path '%s' contains '..'", tp->name, loc);
        p = *q ? q + 1 : q;
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", c->dir, loc) >= sizeof path)
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data path too long", tp->name);
    /* every component below the model folder must be a plain directory/file, not a link */
    size_t base = strlen(c->dir) + 1;
    for (size_t i = base; ; i++) {
        if (path[i] == '/' || path[i] == 0) {
            char save = path[i];
            path[i] = 0;
            struct stat st;
            if (lstat(path, &st) != 0) {
                path[i] = save;
                return odrt_fail(ODRT_ERR_IO, "tensor '%s': external data file '%s' not found", tp->name, loc);
            }
            path[i] = save;
            if (S_ISLNK(st.st_mode))
                return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data path '%s' goes through a symlink",
                                 tp->name, loc);
            if (!save) break;
        }
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) return odrt_fail(ODRT_ERR_IO, "tensor '%s': cannot open external data '%s'", tp->name, loc);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data '%s' is not a regular file", tp->name, loc);
    }
    if (len < 0) len = (int64_t)nbytes;
    if ((uint64_t)len != nbytes) {
        close(fd);
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data length %lld, expected %zu bytes", tp->name,
                         (long long)len, nbytes);
    }
    if (off > st.st_size || len > st.st_size - off) {
        close(fd);
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': external data [%lld, +%lld) beyond end of '%s' (%lld bytes)",
                         tp->name, (long long)off, (long long)len, loc, (long long)st.st_size);
    }
    size_t done = 0;
    while (done < nbytes) {
        ssize_t r = pread(fd, (char *)dst + done, nbytes - done, (off_t)(off + (int64_t)done));
        if (r <= 0) {
            close(fd);
            return odrt_fail(ODRT_ERR_IO, "tensor '%s': short read of external data '%s'", tp->name, loc);
        }
        done += (size_t)r;
    }
    close(fd);
    return ODRT_OK;
}

static odrt_status_t import_tensor(imp *c, const Onnx__TensorProto *tp, ir_tensor **out) {
    const char *name = tp->name ? tp->name : "";
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (!dtype_known(dt))
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "tensor '%s' has unsupported data type %d", name, dt);
    if (tp->segment) return odrt_fail(ODRT_ERR_UNSUPPORTED, "tensor '%s' is segmented", name);
    if (tp->n_dims > ODRT_MAX_RANK * 4)
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s' has rank %zu", name, tp->n_dims);
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        int64_t d = tp->dims[i];
        if (d < 0) return odrt_fail(ODRT_ERR_INVALID, "tensor '%s' has negative dim %lld", name, (long long)d);
        if (d && numel > MAX_NUMEL / d)
            return odrt_fail(ODRT_ERR_INVALID, "tensor '%s' has more than 2^62 elements", name);
        numel *= d;
    }
    size_t es = ir_dtype_size(dt);
    if (dt != ODRT_DT_STRING && (uint64_t)numel > MAX_MODEL_BYTES / es)
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s' is larger than 4 GiB (%lld elements)", name, (long long)numel);
    int ext = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* check counts before allocating */
    size_t nbytes = (size_t)numel * es;
    if (dt != ODRT_DT_STRING && !ext) {
        size_t have = 0;
        const char *field = "raw_data";
        if (tp->has_raw_data) have = tp->raw_data.len == nbytes ? (size_t)numel : (size_t)-1;
        else switch (dt) {
            case ODRT_DT_FLOAT: have = tp->n_float_data; field = "float_data"; break;
            case ODRT_DT_INT64: have = tp->n_int64_data; field = "int64_data"; break;
            case ODRT_DT_DOUBLE: have = tp->n_double_data; field = "double_data"; break;
            case ODRT_DT_UINT32: case ODRT_DT_UINT64: have = tp->n_uint64_data; field = "uint64_data"; break;
            default: have = tp->n_int32_data; field = "int32_data"; break;
            }
        if (have != (size_t)numel) {
            if (tp->has_raw_data)
                return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': raw_data has %zu bytes, dims need %zu", name,
                                 tp->raw_data.len, nbytes);
            return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': %s has %zu values, dims need %lld", name, field, have,
                             (long long)numel);
        }
    }
    if (dt == ODRT_DT_STRING && !ext && tp->n_string_data != (size_t)numel)
        return odrt_fail(ODRT_ERR_INVALID, "tensor '%s': string_data has %zu values, dims need %lld", name,
                         tp->n_string_data, (long long)numel);
    ir_tensor *t = ir_tensor_new(c->m, dt, (int)tp->n_dims, tp->dims);
    if (!t) return NOMEM();
    t->name = sdup(c, name);
    t->doc = tp->doc_string ? sdup(c, tp->doc_string) : NULL;
    if (ext) {
        if (dt == ODRT_DT_STRING) return odrt_fail(ODRT_ERR_UNSUPPORTED, "tensor '%s': external string data", name);
        ODRT_TRY(read_external(c, tp, t->data, nbytes));
    } else if (dt == ODRT_DT_STRING) {
        const char **s = t->data;
        for (int64_t i = 0; i < numel; i++) {
            s[i] = odrt_arena_strndup(c->m->arena, (const char *)tp->string_data[i].data, tp->string_data[i].len);
            if (!s[i]) return NOMEM();
            t->str_lens[i] = tp->string_data[i].len;
        }
    } else if (tp->has_raw_data) {
        if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
    } else {
        for (int64_t i = 0; i < numel; i++) {
            switch (dt) {
            case ODRT_DT_FLOAT: ((float *)t->data)[i] = tp->float_data[i]; break;
            case ODRT_DT_INT64: ((int64_t *)t->data)[i] = tp->int64_data[i]; break;
            case ODRT_DT_DOUBLE: ((double *)t->data)[i] = tp->double_data[i]; break;
            case ODRT_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i]; break;
            case ODRT_DT_UINT64: ((uint64_t *)t->data)[i] = tp->uint64_data[i]; break;
            case ODRT_DT_INT32: ((int32_t *)t->data)[i] = tp->int32_data[i]; break;
            case ODRT_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i]; break;
            case ODRT_DT_UINT16: case ODRT_DT_FLOAT16: case ODRT_DT_BFLOAT16:
                ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i]; break;
            case ODRT_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i]; break;
            default: ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i]; break; /* uint8, bool */
            }
        }
    }
    *out = t;
    return ODRT_OK;
}

static odrt_status_t import_type(imp *c, const Onnx__TypeProto *tp, ir_type *t, const char *what) {
    memset(t, 0, sizeof *t);
    t->rank = -1;
    if (!tp) return ODRT_OK;
    t->denotation = tp->denotation ? sdup(c, tp->denotation) : NULL;
    const Onnx__TensorShapeProto *sh = NULL;
    switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE__NOT_SET: return ODRT_OK;
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        t->kind = IR_TYPE_TENSOR;
        t->dtype = tp->tensor_type->has_elem_type ? tp->tensor_type->elem_type : 0;
        sh = tp->tensor_type->shape;
        break;
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
        t->kind = IR_TYPE_SPARSE_TENSOR;
        t->dtype = tp->sparse_tensor_type->has_elem_type ? tp->sparse_tensor_type->elem_type : 0;
        sh = tp->sparse_tensor_type->shape;
        break;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
        t->kind = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? IR_TYPE_SEQUENCE : IR_TYPE_OPTIONAL;
        const Onnx__TypeProto *e = t->kind == IR_TYPE_SEQUENCE ? tp->sequence_type->elem_type
                                                              : tp->optional_type->elem_type;
        t->elem = odrt_arena_alloc(c->m->arena, sizeof(ir_type));
        if (!t->elem) return NOMEM();
        return import_type(c, e, t->elem, what);
    }
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
        t->kind = IR_TYPE_MAP;
        t->dtype = tp->map_type->has_key_type ? tp->map_type->key_type : 0;
        t->elem = odrt_arena_alloc(c->m->arena, sizeof(ir_type));
        if (!t->elem) return NOMEM();
        return import_type(c, tp->map_type->value_type, t->elem, what);
    default:
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s' has an unsupported type kind %d", what, (int)tp->value_case);
    }
    if (sh) {
        if (sh->n_dim > 64) return odrt_fail(ODRT_ERR_INVALID, "'%s' has rank %zu", what, sh->n_dim);
        t->rank = (int)sh->n_dim;
        t->dims = odrt_arena_alloc(c->m->arena, sizeof(ir_dim) * (sh->n_dim + 1));
        if (!t->dims) return NOMEM();
        for (size_t i = 0; i < sh->n_dim; i++) {
            const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
            t->dims[i].value = -1;
            t->dims[i].denotation = d->denotation ? sdup(c, d->denotation) : NULL;
            if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                if (d->dim_value < 0)
                    return odrt_fail(ODRT_ERR_INVALID, "'%s' has negative dim %lld", what, (long long)d->dim_value);
                t->dims[i].value = d->dim_value;
            } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
                t->dims[i].param = sdup(c, d->dim_param);
            }
        }
    }
    return ODRT_OK;
}

static odrt_status_t import_graph(imp *c, const Onnx__GraphProto *gp, ir_graph *g);

static odrt_status_t import_attr(imp *c, ir_node *n, const Onnx__AttributeProto *ap, ir_attr *a) {
    odrt_arena_t *ar = c->m->arena;
    a->name = sdup(c, ap->name);
    a->ref_attr_name = ap->ref_attr_name ? sdup(c, ap->ref_attr_name) : NULL;
    a->doc = ap->doc_string ? sdup(c, ap->doc_string) : NULL;
    int ty = ap->has_type ? (int)ap->type : 0;
    a->type = (ir_attr_type)ty;
    switch (ty) {
    case IR_ATTR_FLOAT: a->f = ap->f; break;
    case IR_ATTR_INT: a->i = ap->i; break;
    case IR_ATTR_STRING:
        a->s = odrt_arena_strndup(ar, (const char *)ap->s.data, ap->s.len);
        a->s_len = ap->s.len;
        if (!a->s) return NOMEM();
        break;
    case IR_ATTR_TENSOR:
        if (!ap->t) return odrt_fail(ODRT_ERR_INVALID, "node '%s' attribute '%s' has no tensor", n->name, a->name);
        ODRT_TRY(import_tensor(c, ap->t, &a->t));
        break;
    case IR_ATTR_GRAPH:
        if (!ap->g) return odrt_fail(ODRT_ERR_INVALID, "node '%s' attribute '%s' has no graph", n->name, a->name);
        a->g = ir_graph_new(c->m, n->graph, n);
        if (!a->g) return NOMEM();
        ODRT_TRY(import_graph(c, ap->g, a->g));
        break;
    case IR_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = odrt_arena_memdup(ar, ap->floats, sizeof(float) * ap->n_floats);
        if (!a->floats) return NOMEM();
        break;
    case IR_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = odrt_arena_memdup(ar, ap->ints, sizeof(int64_t) * ap->n_ints);
        if (!a->ints) return NOMEM();
        break;
    case IR_ATTR_STRINGS:
        a->n = (int)ap->n_strings;
        a->strings = odrt_arena_alloc(ar, sizeof(char *) * (ap->n_strings + 1));
        a->str_lens = odrt_arena_alloc(ar, sizeof(size_t) * (ap->n_strings + 1));
        if (!a->strings || !a->str_lens) return NOMEM();
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->strings[i] = odrt_arena_strndup(ar, (const char *)ap->strings[i].data, ap->strings[i].len);
            a->str_lens[i] = ap->strings[i].len;
            if (!a->strings[i]) return NOMEM();
        }
        break;
    case IR_ATTR_TENSORS:
        a->n = (int)ap->n_tensors;
        a->tensors = odrt_arena_alloc(ar, sizeof(ir_tensor *) * (ap->n_tensors + 1));
        if (!a->tensors) return NOMEM();
        for (size_t i = 0; i < ap->n_tensors; i++) ODRT_TRY(import_tensor(c, ap->tensors[i], &a->tensors[i]));
        break;
    case IR_ATTR_GRAPHS:
        a->n = (int)ap->n_graphs;
        a->graphs = odrt_arena_alloc(ar, sizeof(ir_graph *) * (ap->n_graphs + 1));
        if (!a->graphs) return NOMEM();
        for (size_t i = 0; i < ap->n_graphs; i++) {
            a->graphs[i] = ir_graph_new(c->m, n->graph, n);
            if (!a->graphs[i]) return NOMEM();
            ODRT_TRY(import_graph(c, ap->graphs[i], a->graphs[i]));
        }
        break;
    case IR_ATTR_TYPE_PROTO:
        a->tp = odrt_arena_alloc(ar, sizeof(ir_type));
        if (!a->tp) return NOMEM();
        ODRT_TRY(import_type(c, ap->tp, a->tp, a->name));
        break;
    case IR_ATTR_TYPE_PROTOS:
        a->n = (int)ap->n_type_protos;
        a->tps = odrt_arena_alloc(ar, sizeof(ir_type *) * (ap->n_type_protos + 1));
        if (!a->tps) return NOMEM();
        for (size_t i = 0; i < ap->n_type_protos; i++) {
            a->tps[i] = odrt_arena_alloc(ar, sizeof(ir_type));
            if (!a->tps[i]) return NOMEM();
            ODRT_TRY(import_type(c, ap->type_protos[i], a->tps[i], a->name));
        }
        break;
    case IR_ATTR_SPARSE_TENSOR:
    case IR_ATTR_SPARSE_TENSORS:
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "node '%s' attribute '%s': sparse tensors are not supported", n->name,
                         a->name);
    default:
        return odrt_fail(ODRT_ERR_INVALID, "node '%s' attribute '%s' has unknown attribute type %d", n->name, a->name,
                         ty);
    }
    return ODRT_OK;
}

static odrt_status_t import_value_info(imp *c, const Onnx__ValueInfoProto *vp, ir_value *v) {
    ODRT_TRY(import_type(c, vp->type, &v->type, v->name));
    v->doc = vp->doc_string ? sdup(c, vp->doc_string) : NULL;
    return ODRT_OK;
}

static odrt_status_t import_graph(imp *c, const Onnx__GraphProto *gp, ir_graph *g) {
    g->name = sdup(c, gp->name);
    g->doc = gp->doc_string ? sdup(c, gp->doc_string) : NULL;
    ODRT_TRY(import_kv(c, gp->metadata_props, gp->n_metadata_props, &g->meta, &g->n_meta));
    if (gp->n_sparse_initializer)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "graph '%s': sparse initializers are not supported", g->name);
    /* initializers, then inputs (an input may name an initializer: a default value) */
    for (size_t i = 0; i < gp->n_initializer; i++) {
        ir_tensor *t;
        ODRT_TRY(import_tensor(c, gp->initializer[i], &t));
        if (!*t->name) return odrt_fail(ODRT_ERR_INVALID, "graph '%s': initializer %zu has no name", g->name, i);
        if (!ir_graph_add_const(g, t->name, t))
            return odrt_fail_ctx(ODRT_ERR_INVALID, "graph '%s': initializer", g->name);
    }
    g->inputs = odrt_arena_alloc(c->m->arena, sizeof(ir_value *) * (gp->n_input + 1));
    g->outputs = odrt_arena_alloc(c->m->arena, sizeof(ir_value *) * (gp->n_output + 1));
    if (!g->inputs || !g->outputs) return NOMEM();
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = gp->input[i]->name ? gp->input[i]->name : "";
        if (!*name) return odrt_fail(ODRT_ERR_INVALID, "graph '%s': input %zu has no name", g->name, i);
        ir_value *v = odrt_smap_get(&g->names, name);
        if (v && (!v->init || (v->flags & IR_VAL_INPUT)))
            return odrt_fail(ODRT_ERR_INVALID, "graph '%s': input '%s' listed twice", g->name, name);
        if (!v && !(v = ir_value_new(g, name))) return ODRT_ERR_INVALID;
        ir_type init_type = v->type;
        ODRT_TRY(import_value_info(c, gp->input[i], v));
        if (v->init && v->type.kind == IR_TYPE_NONE) v->type = init_type;
        v->flags |= IR_VAL_INPUT;
        g->inputs[g->n_inputs++] = v;
    }
    /* phase 1: every node output exists before any input is wired (files may be unsorted) */
    ir_node **nodes = malloc(sizeof(ir_node *) * (gp->n_node + 1));
    if (!nodes) return NOMEM();
    odrt_status_t rc = ODRT_OK;
    for (size_t i = 0; i < gp->n_node && rc == ODRT_OK; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (np->n_input > 1 << 16 || np->n_output > 1 << 16) {
            rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' has too many inputs/outputs", np->name ? np->name : "");
            break;
        }
        ir_node *n = ir_node_new(g, np->op_type ? np->op_type : "", np->domain, np->name, (int)np->n_input,
                                 (int)np->n_output);
        if (!n) {
            rc = NOMEM();
            break;
        }
        if (!*n->op) rc = odrt_fail(ODRT_ERR_INVALID, "node %zu ('%s') has no op_type", i, n->name);
        n->doc = np->doc_string ? sdup(c, np->doc_string) : NULL;
        n->overload = np->overload ? sdup(c, np->overload) : NULL;
        nodes[i] = n;
        for (size_t k = 0; k < np->n_output && rc == ODRT_OK; k++) {
            const char *on = np->output[k] ? np->output[k] : "";
            if (!*on) continue;
            ir_value *v = ir_value_new(g, on);
            if (!v) {
                rc = odrt_fail(ODRT_ERR_INVALID, "duplicate output name '%s' (node '%s' %s)", on, n->name, n->op);
                break;
            }
            ir_node_set_output(n, (int)k, v);
        }
        if (rc == ODRT_OK) rc = import_kv(c, np->metadata_props, np->n_metadata_props, &n->meta, &n->n_meta);
    }
    /* phase 2: wire inputs (outer scopes included), then attributes (sub-graphs see all names) */
    for (size_t i = 0; i < gp->n_node && rc == ODRT_OK; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        ir_node *n = nodes[i];
        for (size_t k = 0; k < np->n_input && rc == ODRT_OK; k++) {
            const char *in = np->input[k] ? np->input[k] : "";
            if (!*in) continue;
            ir_value *v = ir_graph_lookup(g, in);
            if (!v)
                rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' (%s) input '%s' has no producer", n->name, n->op, in);
            else if (!ir_node_set_input(n, (int)k, v))
                rc = NOMEM();
        }
        if (rc != ODRT_OK) break;
        if (np->n_attribute > 4096) {
            rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' has %zu attributes", n->name, np->n_attribute);
            break;
        }
        n->attrs = odrt_arena_alloc(c->m->arena, sizeof(ir_attr) * (np->n_attribute + 1));
        if (!n->attrs) rc = NOMEM();
        for (size_t k = 0; k < np->n_attribute && rc == ODRT_OK; k++) {
            rc = import_attr(c, n, np->attribute[k], &n->attrs[k]);
            n->n_attrs = (int)k + 1;
        }
    }
    free(nodes);
    ODRT_TRY(rc);
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        ir_value *v = ir_graph_lookup(g, name);
        if (!v) return odrt_fail(ODRT_ERR_INVALID, "graph '%s': output '%s' has no producer", g->name, name);
        ir_type keep = v->type;
        ODRT_TRY(import_value_info(c, gp->output[i], v));
        if (v->type.kind == IR_TYPE_NONE) v->type = keep;
        v->flags |= IR_VAL_OUTPUT;
        g->outputs[g->n_outputs++] = v;
    }
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const char *name = gp->value_info[i]->name ? gp->value_info[i]->name : "";
        ir_value *v = odrt_smap_get(&g->names, name);
        if (!v || (v->flags & IR_VAL_VALUE_INFO)) continue; /* value_info for unknown names is dropped */
        ODRT_TRY(import_value_info(c, gp->value_info[i], v));
        v->flags |= IR_VAL_VALUE_INFO;
        if (!odrt_grow((void **)&g->vinfo, sizeof(ir_value *), &g->cap_vinfo, g->n_vinfo + 1)) return NOMEM();
        g->vinfo[g->n_vinfo++] = v;
    }
    ODRT_TRY(ir_graph_validate(g));
    return ir_graph_toposort(g); /* stable for sorted files; executors rely on the order */
}

odrt_status_t ir_import_onnx(const void *buf, size_t len, const char *dir, ir_model **out) {
    *out = NULL;
    if (len == 0) return odrt_fail(ODRT_ERR_PARSE, "empty file is not an ONNX model");
    if (!pb_depth_ok(buf, len, &onnx__model_proto__descriptor))
        return odrt_fail(ODRT_ERR_INVALID, "model nests messages deeper than %d levels (sub-graphs too deep)",
                         MAX_MSG_DEPTH);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return odrt_fail(ODRT_ERR_PARSE, "not a valid ONNX protobuf (truncated or corrupt)");
    odrt_status_t rc = ODRT_OK;
    ir_model *m = ir_model_new();
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return NOMEM();
    }
    imp c = {m, dir};
    if (!mp->graph) {
        rc = odrt_fail(ODRT_ERR_INVALID, "ONNX model has no graph");
        goto done;
    }
    if (mp->n_functions) {
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "model-local functions are not supported (%zu found)", mp->n_functions);
        goto done;
    }
    if (mp->n_training_info) {
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "training_info is not supported");
        goto done;
    }
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    m->model_version = mp->has_model_version ? mp->model_version : 0;
    m->producer_name = sdup(&c, mp->producer_name);
    m->producer_version = sdup(&c, mp->producer_version);
    m->domain = sdup(&c, mp->domain);
    m->doc = mp->doc_string ? sdup(&c, mp->doc_string) : NULL;
    m->opsets = odrt_arena_alloc(m->arena, sizeof(ir_opset) * (mp->n_opset_import + 1));
    if (!m->opsets) {
        rc = NOMEM();
        goto done;
    }
    for (size_t i = 0; i < mp->n_opset_import; i++)
        m->opsets[m->n_opsets++] = (ir_opset){sdup(&c, mp->opset_import[i]->domain), mp->opset_import[i]->version};
    if ((rc = import_kv(&c, mp->metadata_props, mp->n_metadata_props, &m->meta, &m->n_meta)) != ODRT_OK) goto done;
    m->graph = ir_graph_new(m, NULL, NULL);
    if (!m->graph) {
        rc = NOMEM();
        goto done;
    }
    rc = import_graph(&c, mp->graph, m->graph);
done:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc != ODRT_OK) {
        ir_model_free(m);
        return rc;
    }
    *out = m;
    return ODRT_OK;
}

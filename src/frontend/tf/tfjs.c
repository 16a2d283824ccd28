/* TF.js graph models: model.json (a GraphDef as protobuf JSON, the signature and the weights
 * manifest) and its binary shards, read into a tf_graph and lowered (tf_import.c). Quantised
 * weights are dequantised as TF.js does: uint8/uint16 `q * scale + min`, float16 widened. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sha2.h>

#include "frontend/tf/tf_graph.h"

#define MAX_SHARD_BYTES ((size_t)4 << 30)
#define MAX_NODES 1000000

typedef struct {
    tf_graph *g;
    const char *file;
    odrt_status_t rc;
} rd;

static void *alloc(rd *r, size_t n) {
    void *p = odrt_arena_alloc(r->g->m->arena, n ? n : 1);
    if (!p && r->rc == ODRT_OK) r->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory reading '%s'", r->file);
    if (p) memset(p, 0, n ? n : 1);
    return p;
}

static const char *sdup(rd *r, const char *s) {
    char *d = alloc(r, strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static int bad(rd *r, const char *what) {
    if (r->rc == ODRT_OK) r->rc = odrt_fail(ODRT_ERR_PARSE, "%s: %s", r->file, what);
    return 0;
}

/* ---- base64 (protobuf JSON's bytes) ---- */
static int b64v(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static uint8_t *b64dec(rd *r, const char *s, size_t *len) {
    size_t n = strlen(s);
    uint8_t *out = alloc(r, n / 4 * 3 + 3);
    if (!out) return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64v((unsigned char)s[i]);
        if (v < 0) {
            bad(r, "bad base64 in a bytes field");
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        if ((bits += 6) >= 8) out[k++] = (uint8_t)(acc >> (bits -= 8));
    }
    out[k] = 0;
    *len = k;
    return out;
}

/* protobuf JSON writes int64 as strings, int32 and floats as numbers */
static int json_int(const cJSON *v, int64_t *out) {
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble >= -9.2e18 && v->valuedouble <= 9.2e18)) return 0;
        *out = (int64_t)v->valuedouble;
        return 1;
    }
    if (!cJSON_IsString(v)) return 0;
    char *end;
    long long x = strtoll(v->valuestring, &end, 10);
    if (end == v->valuestring || *end) return 0;
    *out = x;
    return 1;
}

static int json_float(const cJSON *v, float *out) {
    if (cJSON_IsNumber(v)) return *out = (float)v->valuedouble, 1;
    if (!cJSON_IsString(v)) return 0;
    if (!strcmp(v->valuestring, "NaN")) return *out = NAN, 1;
    if (!strcmp(v->valuestring, "Infinity")) return *out = INFINITY, 1;
    if (!strcmp(v->valuestring, "-Infinity")) return *out = -INFINITY, 1;
    char *end;
    *out = strtof(v->valuestring, &end);
    return end != v->valuestring && !*end;
}

static int json_type(const cJSON *v, int64_t *out) {
    if (cJSON_IsString(v)) {
        int t = tf_dtype_from_name(v->valuestring);
        return t < 0 ? 0 : (*out = t, 1);
    }
    return json_int(v, out);
}

/* a TensorShapeProto: dims (-1 unknown), rank -1 when unknown */
static int json_shape(rd *r, const cJSON *s, int64_t **dims, int *rank) {
    *rank = 0, *dims = NULL;
    if (!cJSON_IsObject(s)) return bad(r, "a shape is not an object");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "unknownRank"))) return *rank = -1, 1;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "dim");
    if (!d) return 1;
    int n = cJSON_GetArraySize(d);
    if (!cJSON_IsArray(d) || n > 64) return bad(r, "a shape's dims are not a short list");
    *dims = alloc(r, sizeof(int64_t) * (size_t)(n + 1));
    if (!*dims) return 0;
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, d) {
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
        int64_t v = 0; /* an absent size is 0 in protobuf JSON */
        if (sz && (!json_int(sz, &v) || v < -1)) return bad(r, "a shape's dim size is not an integer >= -1");
        (*dims)[k++] = v;
    }
    *rank = n;
    return 1;
}

/* a TensorProto in JSON: dtype, tensorShape, then tensorContent or the typed value lists */
static ir_tensor *json_tensor(rd *r, const cJSON *t) {
    int64_t tf_dt;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    if (!dt || !json_type(dt, &tf_dt)) return bad(r, "a tensor has no dtype"), NULL;
    int odt = tf_dtype_to_odrt(tf_dt);
    if (!odt || odt == ODRT_DT_STRING) {
        if (r->rc == ODRT_OK)
            r->rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: tensor of TensorFlow dtype %lld is not supported", r->file, (long long)tf_dt);
        return NULL;
    }
    int64_t *dims;
    int rank;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "tensorShape");
    if (sh) {
        if (!json_shape(r, sh, &dims, &rank)) return NULL;
    } else {
        dims = NULL, rank = 0;
    }
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0) return bad(r, "a constant tensor has an unknown dim"), NULL;
    if (rank < 0) return bad(r, "a constant tensor has an unknown rank"), NULL;
    ir_tensor *x = ir_tensor_new(r->g->m, odt, rank, dims);
    if (!x) return bad(r, "a constant tensor is too large"), NULL;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(t, "tensorContent");
    if (cJSON_IsString(content)) {
        size_t n;
        uint8_t *b = b64dec(r, content->valuestring, &n);
        if (!b) return NULL;
        if (n != x->nbytes) return bad(r, "a tensor's content does not match its shape"), NULL;
        memcpy(x->data, b, n);
        return x;
    }
    static const char *const lists[] = {"floatVal", "doubleVal", "intVal", "int64Val", "boolVal", "halfVal"};
    const cJSON *vals = NULL;
    for (size_t i = 0; i < sizeof lists / sizeof *lists && !vals; i++)
        vals = cJSON_GetObjectItemCaseSensitive(t, lists[i]);
    if (!vals) return x; /* no values: zeros (TF's default) */
    int n = cJSON_GetArraySize(vals);
    if (!cJSON_IsArray(vals) || n < 1 || n > x->numel) return bad(r, "a tensor's value list does not match its shape"), NULL;
    /* TensorFlow repeats the last value to fill the shape */
    int64_t i = 0;
    double last = 0;
    const cJSON *e = vals->child;
    for (; i < x->numel; i++) {
        if (e) {
            float f;
            int64_t v;
            if (cJSON_IsBool(e)) last = cJSON_IsTrue(e);
            else if (json_int(e, &v) && odt != ODRT_DT_FLOAT && odt != ODRT_DT_DOUBLE) last = (double)v;
            else if (json_float(e, &f)) last = f;
            else return bad(r, "a tensor value is not a number"), NULL;
            e = e->next;
        }
        switch (odt) {
        case ODRT_DT_FLOAT: ((float *)x->data)[i] = (float)last; break;
        case ODRT_DT_DOUBLE: ((double *)x->data)[i] = last; break;
        case ODRT_DT_INT32: ((int32_t *)x->data)[i] = (int32_t)last; break;
        case ODRT_DT_INT64: ((int64_t *)x->data)[i] = (int64_t)last; break;
        case ODRT_DT_BOOL: case ODRT_DT_UINT8: ((uint8_t *)x->data)[i] = (uint8_t)last; break;
        case ODRT_DT_INT8: ((int8_t *)x->data)[i] = (int8_t)last; break;
        case ODRT_DT_INT16: ((int16_t *)x->data)[i] = (int16_t)last; break;
        default: return bad(r, "a tensor's dtype has no value list here"), NULL;
        }
    }
    return x;
}

static int json_attr(rd *r, const char *name, const cJSON *v, ir_attr *a) {
    memset(a, 0, sizeof *a);
    a->name = sdup(r, name);
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "type"))) {
        a->type = IR_ATTR_INT;
        return json_type(x, &a->i) || bad(r, "a type attribute is not a DataType");
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "i"))) {
        a->type = IR_ATTR_INT;
        return json_int(x, &a->i) || bad(r, "an int attribute is not an integer");
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "b"))) {
        a->type = IR_ATTR_INT, a->i = cJSON_IsTrue(x);
        return 1;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "f"))) {
        a->type = IR_ATTR_FLOAT;
        return json_float(x, &a->f) || bad(r, "a float attribute is not a number");
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "s"))) {
        a->type = IR_ATTR_STRING;
        if (!cJSON_IsString(x)) return bad(r, "a string attribute is not base64");
        uint8_t *b = b64dec(r, x->valuestring, &a->s_len);
        a->s = (const char *)b;
        return b != NULL;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "shape"))) {
        a->type = IR_ATTR_INTS;
        int rank;
        if (!json_shape(r, x, &a->ints, &rank)) return 0;
        a->n = rank < 0 ? 0 : rank, a->i = rank < 0;
        return 1;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "tensor"))) {
        a->type = IR_ATTR_TENSOR;
        /* a Const's tensor in a TF.js graph has no values: they are in the shards */
        return (a->t = json_tensor(r, x)) != NULL;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "func"))) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(x, "name");
        a->type = IR_ATTR_STRING;
        if (!cJSON_IsString(fn)) return bad(r, "a func attribute has no name");
        a->s = sdup(r, fn->valuestring), a->s_len = strlen(fn->valuestring);
        return a->s != NULL;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "list"))) {
        const cJSON *l;
        a->type = IR_ATTR_INTS; /* an empty list */
        if ((l = cJSON_GetObjectItemCaseSensitive(x, "i")) || (l = cJSON_GetObjectItemCaseSensitive(x, "type"))) {
            int n = cJSON_GetArraySize(l), k = 0, is_type = !strcmp(l->string, "type");
            if (!cJSON_IsArray(l) || !(a->ints = alloc(r, sizeof(int64_t) * (size_t)(n + 1)))) return bad(r, "a list attribute is not a list");
            const cJSON *e;
            cJSON_ArrayForEach(e, l) if (!(is_type ? json_type(e, &a->ints[k++]) : json_int(e, &a->ints[k++]))) return bad(r, "a list attribute has a bad item");
            a->n = n;
        } else if ((l = cJSON_GetObjectItemCaseSensitive(x, "f"))) {
            int n = cJSON_GetArraySize(l), k = 0;
            a->type = IR_ATTR_FLOATS;
            if (!cJSON_IsArray(l) || !(a->floats = alloc(r, sizeof(float) * (size_t)(n + 1)))) return bad(r, "a list attribute is not a list");
            const cJSON *e;
            cJSON_ArrayForEach(e, l) if (!json_float(e, &a->floats[k++])) return bad(r, "a list attribute has a bad item");
            a->n = n;
        } else if ((l = cJSON_GetObjectItemCaseSensitive(x, "s"))) {
            int n = cJSON_GetArraySize(l), k = 0;
            a->type = IR_ATTR_STRINGS;
            if (!cJSON_IsArray(l) || !(a->strings = alloc(r, sizeof(char *) * (size_t)(n + 1))) ||
                !(a->str_lens = alloc(r, sizeof(size_t) * (size_t)(n + 1))))
                return bad(r, "a list attribute is not a list");
            const cJSON *e;
            cJSON_ArrayForEach(e, l) {
                if (!cJSON_IsString(e)) return bad(r, "a list attribute has a bad item");
                if (!(a->strings[k] = (const char *)b64dec(r, e->valuestring, &a->str_lens[k]))) return 0;
                k++;
            }
            a->n = n;
        }
        return 1;
    }
    a->type = IR_ATTR_UNDEFINED; /* a placeholder attr or one odrt never reads */
    return 1;
}

static int json_node(rd *r, const cJSON *j, tf_node *n) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name"), *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    if (!cJSON_IsString(name) || !cJSON_IsString(op) || !*name->valuestring || !*op->valuestring)
        return bad(r, "a node has no name or no op");
    n->name = sdup(r, name->valuestring), n->op = sdup(r, op->valuestring), n->frame = -1;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
    if (in) {
        if (!cJSON_IsArray(in)) return bad(r, "a node's inputs are not a list");
        int n_in = cJSON_GetArraySize(in);
        if (!(n->in = alloc(r, sizeof(char *) * (size_t)(n_in + 1)))) return 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, in) {
            if (!cJSON_IsString(e) || !*e->valuestring) return bad(r, "a node input is not a name");
            if (e->valuestring[0] == '^') continue; /* control dependency: dataflow order suffices */
            if (!(n->in[n->n_in++] = sdup(r, e->valuestring))) return 0;
        }
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "attr");
    if (at) {
        if (!cJSON_IsObject(at)) return bad(r, "a node's attributes are not an object");
        int na = cJSON_GetArraySize(at);
        if (!(n->attrs = alloc(r, sizeof(ir_attr) * (size_t)(na + 1)))) return 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, at) if (!json_attr(r, e->string, e, &n->attrs[n->n_attrs++])) return 0;
    }
    return 1;
}

/* ---- weights ---- */
static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    float f;
    if (e == 0) f = ldexpf((float)m, -24);
    else if (e == 31) f = m ? NAN : INFINITY;
    else f = ldexpf((float)(m | 1024), (int)e - 25);
    return s ? -f : f;
}

/* shard paths: relative, inside the model's folder */
static int safe_path(const char *p) {
    if (!*p || p[0] == '/' || strlen(p) > 1024) return 0;
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || !s[2])) return 0;
    return 1;
}

static int read_shards(rd *r, const cJSON *manifest, const char *dir, uint8_t **data, size_t *len, SHA2_CTX *sha) {
    *data = NULL, *len = 0;
    const cJSON *grp;
    cJSON_ArrayForEach(grp, manifest) {
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths"), *p;
        if (!cJSON_IsArray(paths)) return bad(r, "a weights group has no paths");
        cJSON_ArrayForEach(p, paths) {
            if (!cJSON_IsString(p) || !safe_path(p->valuestring)) return bad(r, "a weights path is not a file inside the model's folder");
            char full[PATH_MAX];
            if (snprintf(full, sizeof full, "%s/%s", dir, p->valuestring) >= (int)sizeof full) return bad(r, "a weights path is too long");
            uint8_t *b;
            size_t n;
            odrt_status_t rc = odrt_read_file(full, MAX_SHARD_BYTES, &b, &n);
            if (rc != ODRT_OK) {
                r->rc = odrt_fail_ctx(rc, "%s: weights shard", r->file);
                return 0;
            }
            SHA256Update(sha, b, n);
            uint8_t *nd = *len + n > MAX_SHARD_BYTES ? NULL : realloc(*data, *len + n + 1);
            if (!nd) {
                free(b);
                r->rc = odrt_fail(ODRT_ERR_NOMEM, "%s: the weights shards are too large", r->file);
                return 0;
            }
            memcpy(nd + *len, b, n);
            free(b);
            *data = nd, *len += n;
        }
    }
    return 1;
}

/* the manifest's weights, in order, over the concatenated shards: name -> tensor */
static int read_weights(rd *r, const cJSON *manifest, const uint8_t *data, size_t len, odrt_smap_t *w) {
    size_t off = 0;
    const cJSON *grp;
    cJSON_ArrayForEach(grp, manifest) {
        const cJSON *ws = cJSON_GetObjectItemCaseSensitive(grp, "weights"), *e;
        if (!cJSON_IsArray(ws)) return bad(r, "a weights group has no weights list");
        cJSON_ArrayForEach(e, ws) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name"), *shape = cJSON_GetObjectItemCaseSensitive(e, "shape"),
                        *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *q = cJSON_GetObjectItemCaseSensitive(e, "quantization");
            if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype)) return bad(r, "a weight entry lacks name, shape or dtype");
            int rank = cJSON_GetArraySize(shape);
            if (rank > 16) return bad(r, "a weight has more than 16 dims");
            int64_t dims[16];
            int k = 0;
            const cJSON *d;
            cJSON_ArrayForEach(d, shape) if (!json_int(d, &dims[k]) || dims[k] < 0) return bad(r, "a weight's shape is not a list of sizes");
            else k++;
            const char *ds = dtype->valuestring;
            int odt = !strcmp(ds, "float32") ? ODRT_DT_FLOAT : !strcmp(ds, "int32") ? ODRT_DT_INT32 : !strcmp(ds, "bool") ? ODRT_DT_BOOL : 0;
            if (!odt) {
                r->rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: weight '%s' has dtype '%s' (float32, int32, bool are read)", r->file, name->valuestring, ds);
                return 0;
            }
            ir_tensor *t = ir_tensor_new(r->g->m, odt, rank, dims);
            if (!t) return bad(r, "a weight is too large");
            int qb = 0; /* quantised bytes per value */
            float scale = 1, mn = 0;
            if (q) {
                const cJSON *qd = cJSON_GetObjectItemCaseSensitive(q, "dtype");
                const char *qs = cJSON_IsString(qd) ? qd->valuestring : "";
                qb = !strcmp(qs, "uint8") ? 1 : !strcmp(qs, "uint16") ? 2 : !strcmp(qs, "float16") ? -2 : 0;
                if (!qb) return bad(r, "a weight's quantization dtype is not uint8, uint16 or float16");
                if (qb > 0 && (!json_float(cJSON_GetObjectItemCaseSensitive(q, "scale"), &scale) ||
                               !json_float(cJSON_GetObjectItemCaseSensitive(q, "min"), &mn)))
                    return bad(r, "a quantised weight lacks scale or min");
            }
            size_t esz = qb ? (size_t)abs(qb) : ir_dtype_size(odt), need;
            if (!odrt_mul_ok((size_t)t->numel, esz, &need) || need > len - off) {
                r->rc = odrt_fail(ODRT_ERR_PARSE, "%s: weight '%s' runs past the end of the shards (%zu bytes)", r->file, name->valuestring, len);
                return 0;
            }
            const uint8_t *src = data + off;
            off += need;
            if (!qb) {
                memcpy(t->data, src, need);
            } else {
                for (int64_t i = 0; i < t->numel; i++) {
                    float v = qb == 1 ? src[i] * scale + mn
                              : qb == 2 ? (float)(src[2 * i] | src[2 * i + 1] << 8) * scale + mn
                                        : half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
                    if (odt == ODRT_DT_FLOAT) ((float *)t->data)[i] = v;
                    else if (odt == ODRT_DT_INT32) ((int32_t *)t->data)[i] = (int32_t)lrintf(v);
                    else ((uint8_t *)t->data)[i] = v != 0;
                }
            }
            t->name = sdup(r, name->valuestring);
            if (!t->name || !odrt_smap_put(w, t->name, t)) return bad(r, "out of memory");
        }
    }
    if (off != len) {
        r->rc = odrt_fail(ODRT_ERR_PARSE, "%s: the weights manifest covers %zu of the shards' %zu bytes", r->file, off, len);
        return 0;
    }
    return 1;
}

static int read_signature(rd *r, const cJSON *sig, const char *which, tf_sig **out, int *n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(sig, which), *e;
    *n = 0;
    if (!cJSON_IsObject(s)) return 1;
    if (!(*out = alloc(r, sizeof(tf_sig) * (size_t)(cJSON_GetArraySize(s) + 1)))) return 0;
    cJSON_ArrayForEach(e, s) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        const char *t = cJSON_IsString(nm) ? nm->valuestring : e->string;
        (*out)[*n].key = sdup(r, e->string);
        (*out)[(*n)++].tensor = sdup(r, t);
    }
    return r->rc == ODRT_OK;
}

/* the JSON and, with dir NULL, the shards' bytes in memory (else the manifest's files in dir) */
static odrt_status_t read_tfjs(const char *path, const uint8_t *buf, size_t len, const char *dir, const uint8_t *shards,
                               size_t shards_len, ir_model **out, char sha256_hex[65]) {
    *out = NULL;
    uint8_t *wdata = NULL;
    size_t wlen = 0;
    SHA2_CTX sha;
    SHA256Init(&sha);
    SHA256Update(&sha, buf, len);
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    if (!j) return odrt_fail(ODRT_ERR_PARSE, "%s: not valid JSON", path);
    tf_graph g = {0};
    odrt_smap_t weights = {0};
    g.m = ir_model_new();
    rd r = {&g, path, ODRT_OK};
    if (!g.m) {
        cJSON_Delete(j);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format"), *topo = cJSON_GetObjectItemCaseSensitive(j, "modelTopology");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(topo, "node"), *manifest = cJSON_GetObjectItemCaseSensitive(j, "weightsManifest");
    if (cJSON_IsString(fmt) && strcmp(fmt->valuestring, "graph-model")) {
        r.rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: a TF.js '%s' (a graph-model is read; convert Keras layers models with the TF.js converter)", path, fmt->valuestring);
        goto done;
    }
    if (!cJSON_IsArray(nodes) || !cJSON_IsArray(manifest)) {
        bad(&r, "not a TF.js graph model (no modelTopology.node or weightsManifest)");
        goto done;
    }
    const cJSON *lib = cJSON_GetObjectItemCaseSensitive(topo, "library");
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lib, "function")) > 0) {
        r.rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: graph functions (TF2 control flow kept as functions) are not read from TF.js yet", path);
        goto done;
    }
    int nn = cJSON_GetArraySize(nodes);
    if (nn > MAX_NODES) {
        bad(&r, "too many nodes");
        goto done;
    }
    if (!(g.nodes = alloc(&r, sizeof(tf_node) * (size_t)(nn + 1)))) goto done;
    const cJSON *e;
    cJSON_ArrayForEach(e, nodes) if (!json_node(&r, e, &g.nodes[g.n_nodes++])) goto done;
    if (dir) {
        if (!read_shards(&r, manifest, dir, &wdata, &wlen, &sha)) goto done;
    } else if (!(wdata = malloc(shards_len + 1))) {
        r.rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    } else {
        memcpy(wdata, shards, shards_len);
        wlen = shards_len;
        SHA256Update(&sha, shards, shards_len);
    }
    if (!read_weights(&r, manifest, wdata, wlen, &weights)) goto done;
    for (int i = 0; i < g.n_nodes; i++) {
        tf_node *n = &g.nodes[i];
        if (strcmp(n->op, "Const")) continue;
        n->value = odrt_smap_get(&weights, n->name);
        const ir_attr *v = tf_attr(n, "value");
        if (!n->value && v && v->type == IR_ATTR_TENSOR) n->value = v->t; /* values inline in the JSON */
        if (!n->value) {
            r.rc = odrt_fail(ODRT_ERR_PARSE, "%s: constant '%s' has no weights in the manifest", path, n->name);
            goto done;
        }
        if (v && v->type == IR_ATTR_TENSOR && n->value != v->t) {
            const ir_tensor *a = v->t, *b = n->value;
            int same = a->rank == b->rank && tf_dtype_to_odrt(tf_attr_i(n, "dtype", 0)) == b->dtype;
            for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
            if (!same) {
                r.rc = odrt_fail(ODRT_ERR_PARSE, "%s: constant '%s' does not match its weights' shape or dtype", path, n->name);
                goto done;
            }
        }
    }
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(j, "signature");
    if (!read_signature(&r, sig, "inputs", &g.inputs, &g.n_inputs) || !read_signature(&r, sig, "outputs", &g.outputs, &g.n_outputs)) goto done;
    if ((r.rc = tf_graph_index(&g)) != ODRT_OK) goto done;
    if ((r.rc = tf_lower_graph(&g)) != ODRT_OK) r.rc = odrt_fail_ctx(r.rc, "%s", path);
done:
    cJSON_Delete(j);
    free(wdata);
    odrt_smap_free(&weights);
    tf_graph_free_maps(&g);
    if (r.rc != ODRT_OK) {
        ir_model_free(g.m);
        return r.rc;
    }
    SHA256End(&sha, sha256_hex);
    *out = g.m;
    return ODRT_OK;
}

odrt_status_t tf_read_tfjs(const char *path, const void *json, size_t len, ir_model **out, char sha256_hex[65]) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    return read_tfjs(path, json, len, dir, NULL, 0, out, sha256_hex);
}

odrt_status_t tf_read_tfjs_buffer(const void *json, size_t json_len, const void *shards, size_t shards_len, ir_model **out,
                                  char sha256_hex[65]) {
    return read_tfjs("model.json", json, json_len, NULL, shards, shards_len, out, sha256_hex);
}

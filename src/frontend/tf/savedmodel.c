/* SavedModel directories: saved_model.pb (the MetaGraphDef tagged "serve", its serving_default
 * signature, the graph and its function library) and variables/. A VarHandleOp's value: its
 * shared name is a SavedVariable of the object graph; the same node id in the checkpoint's own
 * object graph (_CHECKPOINTABLE_OBJECT_GRAPH) names the bundle key of its VARIABLE_VALUE. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sha2.h>

#include "frontend/pb_depth.h"
#include "frontend/tf/tf_bundle.h"

#define MAX_SAVED_MODEL_BYTES ((size_t)2 << 30)

typedef struct {
    const char *dir;
    ir_model *m;
    tf_bundle *bundle;
    odrt_smap_t var_node; /* SavedVariable name -> node id + 1 */
    OdrtTf__TrackableObjectGraph *ckpt_graph;
} vars;

static odrt_status_t var_value(void *ctx, const char *name, ir_tensor **out) {
    vars *v = ctx;
    if (!v->bundle) return odrt_fail(ODRT_ERR_NOT_FOUND, "%s: variable '%s' but no variables/ checkpoint", v->dir, name);
    size_t id = (size_t)(uintptr_t)odrt_smap_get(&v->var_node, name);
    if (!id) return odrt_fail(ODRT_ERR_NOT_FOUND, "%s: variable '%s' is not in the SavedModel's object graph", v->dir, name);
    id--;
    if (!v->ckpt_graph) {
        const uint8_t *data;
        size_t len;
        ODRT_TRY(tf_bundle_string(v->bundle, "_CHECKPOINTABLE_OBJECT_GRAPH", &data, &len));
        if (!pb_depth_ok(data, len, &odrt_tf__trackable_object_graph__descriptor) ||
            !(v->ckpt_graph = odrt_tf__trackable_object_graph__unpack(NULL, len, data)))
            return odrt_fail(ODRT_ERR_PARSE, "%s: the checkpoint's object graph is corrupt", v->dir);
    }
    if (id >= v->ckpt_graph->n_nodes) return odrt_fail(ODRT_ERR_PARSE, "%s: variable '%s' (object %zu) is not in the checkpoint", v->dir, name, id);
    const OdrtTf__TrackableObject *o = v->ckpt_graph->nodes[id];
    for (size_t i = 0; i < o->n_attributes; i++)
        if (o->attributes[i]->name && !strcmp(o->attributes[i]->name, "VARIABLE_VALUE") && o->attributes[i]->checkpoint_key) {
            odrt_status_t rc = tf_bundle_tensor(v->bundle, o->attributes[i]->checkpoint_key, v->m, out);
            return rc == ODRT_OK ? rc : odrt_fail_ctx(rc, "variable '%s'", name);
        }
    return odrt_fail(ODRT_ERR_PARSE, "%s: variable '%s' has no value in the checkpoint", v->dir, name);
}

static int has_tag(const OdrtTf__MetaGraphDef *mg, const char *tag) {
    for (size_t i = 0; mg->meta_info_def && i < mg->meta_info_def->n_tags; i++)
        if (mg->meta_info_def->tags[i] && !strcmp(mg->meta_info_def->tags[i], tag)) return 1;
    return 0;
}

static int by_key(const void *a, const void *b) { return strcmp(((const tf_sig *)a)->key, ((const tf_sig *)b)->key); }

static odrt_status_t sig_list(tf_graph *g, OdrtTf__SignatureDef__InputsEntry **e, size_t n, tf_sig **out, int *n_out) {
    *out = odrt_arena_alloc(g->m->arena, sizeof(tf_sig) * (n + 1));
    if (!*out) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!e[i]->key || !e[i]->value || !e[i]->value->name || !*e[i]->value->name)
            return odrt_fail(ODRT_ERR_INVALID, "a signature entry names no tensor");
        (*out)[i].key = odrt_arena_strdup(g->m->arena, e[i]->key);
        (*out)[i].tensor = odrt_arena_strdup(g->m->arena, e[i]->value->name);
        if (!(*out)[i].key || !(*out)[i].tensor) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    *n_out = (int)n;
    qsort(*out, n, sizeof(tf_sig), by_key);
    return ODRT_OK;
}

static void hash_file(SHA2_CTX *sha, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) SHA256Update(sha, buf, n);
    fclose(f);
}

odrt_status_t tf_read_savedmodel(const char *dir, ir_model **out, char sha256_hex[65]) {
    *out = NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/saved_model.pb", dir);
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, MAX_SAVED_MODEL_BYTES, &buf, &len));
    if (!pb_depth_ok(buf, len, &odrt_tf__saved_model__descriptor)) {
        free(buf);
        return odrt_fail(ODRT_ERR_INVALID, "%s: messages nest deeper than %d levels", path, MAX_MSG_DEPTH);
    }
    OdrtTf__SavedModel *sm = odrt_tf__saved_model__unpack(NULL, len, buf);
    SHA2_CTX sha;
    SHA256Init(&sha);
    SHA256Update(&sha, buf, len);
    free(buf);
    if (!sm) return odrt_fail(ODRT_ERR_PARSE, "%s: not a valid SavedModel protobuf (truncated or corrupt)", path);
    tf_graph g = {0};
    vars v = {dir, NULL, NULL, {0}, NULL};
    odrt_status_t rc = ODRT_OK;
    const OdrtTf__MetaGraphDef *mg = NULL;
    for (size_t i = 0; i < sm->n_meta_graphs && !mg; i++)
        if (has_tag(sm->meta_graphs[i], "serve")) mg = sm->meta_graphs[i];
    if (!mg && sm->n_meta_graphs) mg = sm->meta_graphs[0];
    const OdrtTf__SignatureDef *sig = NULL;
    for (size_t i = 0; mg && i < mg->n_signature_def && !sig; i++)
        if (mg->signature_def[i]->key && !strcmp(mg->signature_def[i]->key, "serving_default")) sig = mg->signature_def[i]->value;
    if (mg && !sig && mg->n_signature_def == 1) sig = mg->signature_def[0]->value;
    if (!(g.m = ir_model_new())) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    else if (!mg || !mg->graph_def) rc = odrt_fail(ODRT_ERR_INVALID, "%s: no meta graph", path);
    else if (!sig) rc = odrt_fail(ODRT_ERR_INVALID, "%s: no serving_default signature (%zu signatures)", path, mg->n_signature_def);
    if (rc == ODRT_OK) rc = tf_pb_nodes(&g, mg->graph_def->node, mg->graph_def->n_node, &g.nodes, &g.n_nodes, NULL);
    if (rc == ODRT_OK && mg->graph_def->library) rc = tf_pb_functions(&g, mg->graph_def->library);
    if (rc == ODRT_OK) rc = tf_graph_index(&g);
    if (rc == ODRT_OK) rc = sig_list(&g, sig->inputs, sig->n_inputs, &g.inputs, &g.n_inputs);
    if (rc == ODRT_OK) rc = sig_list(&g, (OdrtTf__SignatureDef__InputsEntry **)sig->outputs, sig->n_outputs, &g.outputs, &g.n_outputs);
    /* variables: the object graph's names, the bundle (absent when the model has none) */
    for (size_t i = 0; rc == ODRT_OK && mg->object_graph_def && i < mg->object_graph_def->n_nodes; i++) {
        const OdrtTf__SavedObject *o = mg->object_graph_def->nodes[i];
        if (o->kind_case == ODRT_TF__SAVED_OBJECT__KIND_VARIABLE && o->variable && o->variable->name && *o->variable->name) {
            char *nm = odrt_arena_strdup(g.m->arena, o->variable->name);
            if (!nm || !odrt_smap_put(&v.var_node, nm, (void *)(uintptr_t)(i + 1))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    }
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s/variables/variables", dir);
    if (rc == ODRT_OK && v.var_node.n) {
        rc = tf_bundle_open(prefix, &v.bundle);
        snprintf(path, sizeof path, "%s.index", prefix);
        hash_file(&sha, path);
    }
    if (rc == ODRT_OK) {
        v.m = g.m;
        g.var_value = var_value, g.var_ctx = &v;
        rc = tf_lower_graph(&g);
    }
    if (rc == ODRT_OK) SHA256End(&sha, sha256_hex);
    odrt_tf__saved_model__free_unpacked(sm, NULL);
    if (v.ckpt_graph) odrt_tf__trackable_object_graph__free_unpacked(v.ckpt_graph, NULL);
    tf_bundle_free(v.bundle);
    odrt_smap_free(&v.var_node);
    tf_graph_free_maps(&g);
    if (rc != ODRT_OK) {
        ir_model_free(g.m);
        return odrt_fail_ctx(rc, "%s", dir);
    }
    *out = g.m;
    return ODRT_OK;
}

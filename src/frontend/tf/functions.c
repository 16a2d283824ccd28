/* FunctionDefs -> tf_functions. Inside a function a node output is written "node:arg:i" (the op's
 * output argument and the index in it); these become flat "node:k" from the offsets of the ops'
 * output arguments (ops with one output argument: k = i). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_pb.h"

/* ops with several output arguments, each holding one tensor (TensorFlow's op registry) */
static const struct {
    const char *op;
    const char *args[6];
} MULTI[] = {
    {"TopKV2", {"values", "indices"}},
    {"TopK", {"values", "indices"}},
    {"NonMaxSuppressionV4", {"selected_indices", "valid_outputs"}},
    {"NonMaxSuppressionV5", {"selected_indices", "selected_scores", "valid_outputs"}},
    {"FusedBatchNorm", {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"}},
    {"FusedBatchNormV2", {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"}},
    {"FusedBatchNormV3", {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"}},
    {"Switch", {"output_false", "output_true"}},
    {"Unique", {"y", "idx"}},
    {"UniqueWithCounts", {"y", "idx", "count"}},
    {"CombinedNonMaxSuppression", {"nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections"}},
};

/* -1 when the op is listed and arg is not one of its outputs */
static int out_offset(const char *op, const char *arg) {
    for (size_t i = 0; i < sizeof MULTI / sizeof *MULTI; i++) {
        if (strcmp(MULTI[i].op, op)) continue;
        for (int k = 0; k < 6 && MULTI[i].args[k]; k++)
            if (!strcmp(MULTI[i].args[k], arg)) return k;
        return -1;
    }
    return 0;
}

/* "node:arg:i" -> "node:k"; other forms unchanged */
static odrt_status_t normalise(tf_graph *g, const tf_function *f, const char **s) {
    const char *c1 = strchr(*s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) return ODRT_OK;
    char node[1024], arg[256];
    size_t nl = (size_t)(c1 - *s), al = (size_t)(c2 - c1 - 1);
    if (nl >= sizeof node || al >= sizeof arg) return odrt_fail(ODRT_ERR_INVALID, "function '%s': input '%s' is too long", f->name, *s);
    memcpy(node, *s, nl), node[nl] = 0;
    memcpy(arg, c1 + 1, al), arg[al] = 0;
    char *end;
    long i = strtol(c2 + 1, &end, 10);
    const tf_node *p = odrt_smap_get(&f->by_name, node);
    if (end == c2 + 1 || *end || i < 0 || i > 4095) return odrt_fail(ODRT_ERR_INVALID, "function '%s': bad input '%s'", f->name, *s);
    if (!p) return odrt_fail(ODRT_ERR_INVALID, "function '%s': input '%s' names no node", f->name, *s);
    int off = out_offset(p->op, arg);
    if (off < 0) return odrt_fail(ODRT_ERR_INVALID, "function '%s': %s '%s' has no output '%s'", f->name, p->op, node, arg);
    char buf[1100];
    snprintf(buf, sizeof buf, "%s:%ld", node, off + i);
    *s = odrt_arena_strdup(g->m->arena, buf);
    return *s ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

odrt_status_t tf_pb_functions(tf_graph *g, const OdrtTf__FunctionLibrary *lib) {
    if (!lib->n_function) return ODRT_OK;
    if (lib->n_function > 100000) return odrt_fail(ODRT_ERR_INVALID, "%zu functions", lib->n_function);
    g->funcs = odrt_arena_alloc(g->m->arena, sizeof(tf_function) * lib->n_function);
    if (!g->funcs) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    memset(g->funcs, 0, sizeof(tf_function) * lib->n_function);
    for (size_t i = 0; i < lib->n_function; i++) {
        const OdrtTf__FunctionDef *fd = lib->function[i];
        const OdrtTf__OpDef *sig = fd->signature;
        if (!sig || !sig->name || !*sig->name) return odrt_fail(ODRT_ERR_INVALID, "function %zu has no name", i);
        tf_function *f = &g->funcs[g->n_funcs++];
        f->name = odrt_arena_strdup(g->m->arena, sig->name);
        f->args = odrt_arena_alloc(g->m->arena, sizeof(char *) * (sig->n_input_arg + 1));
        f->rets = odrt_arena_alloc(g->m->arena, sizeof(char *) * (sig->n_output_arg + 1));
        if (!f->name || !f->args || !f->rets) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < sig->n_input_arg; k++)
            if (!(f->args[f->n_args++] = odrt_arena_strdup(g->m->arena, sig->input_arg[k]->name ? sig->input_arg[k]->name : "")))
                return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        ODRT_TRY(tf_pb_nodes(g, fd->node_def, fd->n_node_def, &f->nodes, &f->n_nodes, NULL));
        ODRT_TRY(tf_index_nodes(f->nodes, f->n_nodes, &f->by_name));
        for (int n = 0; n < f->n_nodes; n++)
            for (int k = 0; k < f->nodes[n].n_in; k++) ODRT_TRY(normalise(g, f, &f->nodes[n].in[k]));
        for (size_t k = 0; k < sig->n_output_arg; k++) {
            const char *want = sig->output_arg[k]->name ? sig->output_arg[k]->name : "", *got = NULL;
            for (size_t r = 0; r < fd->n_ret && !got; r++)
                if (fd->ret[r]->key && !strcmp(fd->ret[r]->key, want)) got = fd->ret[r]->value;
            if (!got) return odrt_fail(ODRT_ERR_INVALID, "function '%s' returns nothing for output '%s'", f->name, want);
            f->rets[f->n_rets] = odrt_arena_strdup(g->m->arena, got);
            if (!f->rets[f->n_rets]) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            ODRT_TRY(normalise(g, f, &f->rets[f->n_rets++]));
        }
        if (odrt_smap_get(&g->fn_by_name, f->name)) return odrt_fail(ODRT_ERR_INVALID, "two functions are named '%s'", f->name);
        if (!odrt_smap_put(&g->fn_by_name, f->name, f)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    return ODRT_OK;
}

void tf_graph_free_maps(tf_graph *g) {
    odrt_smap_free(&g->by_name);
    odrt_smap_free(&g->fn_by_name);
    for (int i = 0; i < g->n_funcs; i++) odrt_smap_free(&g->funcs[i].by_name);
}

/* TF2 graphs: function calls (inlined), resource variables (constants from the checkpoint), and
 * functional control flow: While -> ONNX Loop (a TensorList written at the iteration counter, as
 * map_fn does, becomes a scan output), If -> the branch when the condition is a constant, else an
 * ONNX If with both branches inlined. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_lower.h"

#define MAX_CALL_DEPTH 64

static const tf_function *find_fn(const tf_ctx *c, const char *name) { return odrt_smap_get(&c->tg->fn_by_name, name); }

static odrt_status_t bind_args(tf_ctx *c, tf_scope *s, const tf_function *f, ir_value *const *args, int n_args) {
    if (n_args != f->n_args)
        return odrt_fail(ODRT_ERR_INVALID, "function '%s' takes %d arguments, is called with %d", f->name, f->n_args, n_args);
    for (int i = 0; i < n_args; i++)
        if (args[i]) ODRT_TRY(tf_bind(c, s, f->args[i], 0, args[i]));
    return ODRT_OK;
}

static odrt_status_t enter(tf_ctx *c, const char *fname, const tf_function **f) {
    *f = find_fn(c, fname);
    if (!*f) return odrt_fail(ODRT_ERR_INVALID, "function '%s' is not in the graph's library", fname);
    if ((*f)->on_stack) return odrt_fail(ODRT_ERR_INVALID, "function '%s' calls itself", fname);
    if (c->depth >= MAX_CALL_DEPTH) return odrt_fail(ODRT_ERR_UNSUPPORTED, "functions nest deeper than %d calls", MAX_CALL_DEPTH);
    ((tf_function *)*f)->on_stack = 1;
    c->depth++;
    return ODRT_OK;
}

static void leave(tf_ctx *c, const tf_function *f) {
    ((tf_function *)f)->on_stack = 0;
    c->depth--;
}

odrt_status_t tf_call(tf_ctx *c, const char *fname, ir_value *const *args, int n_args, ir_graph *g, ir_value **rets, int *n_rets) {
    const tf_function *f;
    ODRT_TRY(enter(c, fname, &f));
    ir_graph *was = c->b.g;
    tf_scope s;
    tf_scope_init(&s, NULL, g, -1);
    s.fn = f;
    odrt_status_t rc = bind_args(c, &s, f, args, n_args);
    if (rc == ODRT_OK && f->n_rets > *n_rets) rc = odrt_fail(ODRT_ERR_INVALID, "function '%s' returns %d values", f->name, f->n_rets);
    for (int i = 0; i < f->n_rets && rc == ODRT_OK; i++)
        if (!(rets[i] = tf_resolve(c, &s, f->rets[i]))) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "in function '%s'", f->name);
    if (rc == ODRT_OK) *n_rets = f->n_rets;
    tf_scope_free(&s);
    leave(c, f);
    c->b.g = was;
    return rc;
}

static const char *fn_attr(const tf_node *n, const char *name) { return tf_attr_s(n, name, NULL); }

static odrt_status_t call(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    const char *f = fn_attr(n, "f");
    if (!f) return tf_refuse(n, "no function attribute");
    *n_out = TF_MAX_OUTPUTS;
    return tf_call(c, f, in, n->n_in, c->b.g, out, n_out);
}

static odrt_status_t var_handle(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    (void)in;
    if (!c->tg->var_value) return tf_refuse(n, "a resource variable with no checkpoint to read it from");
    ir_tensor *t;
    ODRT_TRY(c->tg->var_value(c->tg->var_ctx, tf_attr_s(n, "shared_name", n->name), &t));
    out[0] = ir_graph_add_const(c->b.g, ir_unique_name(c->b.g, n->name), t);
    *n_out = 1;
    return out[0] ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

static odrt_status_t read_var(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    (void)c;
    if (n->n_in < 1) return tf_refuse(n, "no resource input");
    out[0] = in[0];
    *n_out = 1;
    return ODRT_OK;
}

/* ---- While ---- */

/* a tensor name in function f, through Identity nodes, to its producer (NULL: an argument) */
static const tf_node *producer_through(const tf_function *f, const char **key) {
    for (int guard = 0; guard < 64; guard++) {
        char node[1024];
        if (tf_split_input(*key, node, sizeof node) < 0) return NULL;
        const tf_node *p = odrt_smap_get(&f->by_name, node);
        if (!p || strcmp(p->op, "Identity") || p->n_in < 1) return p;
        *key = p->in[0];
    }
    return NULL;
}

/* argument index that key names (through Identity), -1 */
static int arg_index(const tf_function *f, const char *key) {
    if (producer_through(f, &key)) return -1;
    char node[1024];
    if (tf_split_input(key, node, sizeof node) != 0) return -1;
    for (int i = 0; i < f->n_args; i++)
        if (!strcmp(f->args[i], node)) return i;
    return -1;
}

static int64_t const_scalar(const tf_node *p, int64_t dflt) {
    if (!p || strcmp(p->op, "Const") || !p->value || p->value->numel != 1) return dflt;
    return p->value->dtype == ODRT_DT_INT32 ? ((int32_t *)p->value->data)[0] : p->value->dtype == ODRT_DT_INT64 ? ((int64_t *)p->value->data)[0] : dflt;
}

/* variable j counts iterations: starts at a constant 0 and the body returns arg_j + 1 */
static int is_counter(const tf_function *body, ir_value *init, int j) {
    int64_t z;
    if (tf_const_ints(init, &z, 1) != 1 || z != 0) return 0;
    const char *r = body->rets[j];
    const tf_node *add = producer_through(body, &r);
    if (!add || (strcmp(add->op, "AddV2") && strcmp(add->op, "Add")) || add->n_in != 2) return 0;
    for (int q = 0; q < 2; q++) {
        const char *o = add->in[1 - q];
        if (arg_index(body, add->in[q]) == j && const_scalar(producer_through(body, &o), -1) == 1) return 1;
    }
    return 0;
}

/* the loop variables written with TensorListSetItem(arg_k, counter, item) each iteration, from a
 * TensorListReserve: their item tensors (else NULL) */
static odrt_status_t find_scans(tf_ctx *c, const tf_node *n, const tf_function *body, ir_value **in, const char **items) {
    /* the other variables' initial values first: the counters are among them */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < n->n_in; k++) {
            int pk;
            const tf_node *res = tf_producer_in(c, c->cur, n->in[k], &pk);
            while (res && !strcmp(res->op, "Identity") && res->n_in) res = tf_producer_in(c, c->cur, res->in[0], &pk);
            int is_list = res && !strcmp(res->op, "TensorListReserve");
            if (!pass && !is_list && !(in[k] = tf_resolve(c, c->cur, n->in[k]))) return odrt_fail_ctx(ODRT_ERR_INVALID, "While '%s'", n->name);
            if (!pass || !is_list) continue;
            const char *r = body->rets[k];
            const tf_node *set = producer_through(body, &r);
            int j = set && !strcmp(set->op, "TensorListSetItem") && set->n_in == 3 ? arg_index(body, set->in[1]) : -1;
            if (j < 0 || j >= n->n_in || !in[j] || arg_index(body, set->in[0]) != k || !is_counter(body, in[j], j))
                return tf_refuse(n, "loop variable %d is a TensorList not written once per iteration at the counter (map_fn's form)", k);
            items[k] = set->in[2];
        }
    return ODRT_OK;
}

static odrt_status_t lower_while(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    const char *cn = fn_attr(n, "cond"), *bn = fn_attr(n, "body");
    const tf_function *cf = cn ? find_fn(c, cn) : NULL, *bf = bn ? find_fn(c, bn) : NULL;
    if (!cf || !bf) return tf_refuse(n, "its cond or body function is not in the library");
    int nv = n->n_in;
    if (bf->n_args != nv || bf->n_rets != nv || cf->n_args != nv || cf->n_rets < 1)
        return tf_refuse(n, "cond/body signatures do not match its %d loop variables", nv);
    ir_graph *P = c->b.g;
    const char **items = calloc((size_t)nv + 1, sizeof *items);
    ir_value **init = calloc((size_t)nv + 1, sizeof *init), **nx = calloc((size_t)nv + 1, sizeof *nx), **bin = calloc((size_t)nv + 1, sizeof *bin);
    odrt_status_t rc = items && init && nx && bin ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc == ODRT_OK) rc = find_scans(c, n, bf, in, items);
    int n_car = 0, n_scan = 0;
    for (int k = 0; k < nv; k++) items[k] ? n_scan++ : n_car++, init[k] = items[k] ? NULL : in[k];
    ir_value *cond0 = NULL, *cond1 = NULL;
    int one = 1;
    if (rc == ODRT_OK) rc = tf_call(c, cn, init, nv, P, &cond0, &one);
    ir_node *loop = NULL;
    ir_graph *body = NULL;
    if (rc == ODRT_OK) rc = tf_loop_new(c, P, n->name, cond0, n_car, n_scan, &loop, &body);
    for (int k = 0; k < nv && rc == ODRT_OK; k++)
        if (!items[k] && !(bin[k] = tf_loop_carry(loop, body, bf->args[k], in[k]))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    /* the body: next values and scan items, then the condition on the next values */
    const tf_function *fb = NULL;
    if (rc == ODRT_OK) rc = enter(c, bn, &fb);
    if (rc == ODRT_OK) {
        tf_scope s;
        tf_scope_init(&s, NULL, body, -1);
        s.fn = fb;
        rc = bind_args(c, &s, fb, bin, nv);
        for (int k = 0; k < nv && rc == ODRT_OK; k++)
            if (!(nx[k] = tf_resolve(c, &s, items[k] ? items[k] : fb->rets[k]))) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "body of While '%s'", n->name);
        tf_scope_free(&s);
        leave(c, fb);
    }
    if (rc == ODRT_OK) {
        for (int k = 0; k < nv; k++) init[k] = items[k] ? NULL : nx[k];
        one = 1;
        rc = tf_call(c, cn, init, nv, body, &cond1, &one);
    }
    unsigned char *scan = rc == ODRT_OK ? calloc((size_t)nv + 1, 1) : NULL;
    if (rc == ODRT_OK && !scan) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; scan && k < nv; k++) scan[k] = items[k] != NULL;
    if (rc == ODRT_OK) rc = tf_loop_finish(c, loop, body, cond1, nx, scan, nv);
    free(scan);
    const ir_attr *tl = tf_attr(n, "T");
    for (int pass = 0, at = 0; pass < 2 && rc == ODRT_OK; pass++)
        for (int k = 0; k < nv && rc == ODRT_OK; k++) {
            if (!items[k] != !pass) continue;
            ir_value *o = ir_value_new(P, ir_unique_name(P, n->name));
            if (!o) {
                rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                break;
            }
            ir_node_set_output(loop, at++, o);
            if (!items[k] && tl && tl->type == IR_ATTR_INTS && k < tl->n) tf_set_type(o, tf_dtype_to_odrt(tl->ints[k]), -1, NULL);
            out[k] = o;
        }
    *n_out = nv;
    c->b.g = P;
    free(items), free(init), free(nx), free(bin);
    return rc;
}

/* ---- If ---- */
static odrt_status_t lower_if(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    const char *tb = fn_attr(n, "then_branch"), *eb = fn_attr(n, "else_branch");
    if (!tb || !eb || n->n_in < 1) return tf_refuse(n, "no branches or no condition");
    ir_graph *P = c->b.g;
    int64_t cv;
    const ir_tensor *ct = tf_const_of(in[0]);
    if (ct && ct->numel == 1 && (ct->dtype == ODRT_DT_BOOL || tf_const_ints(in[0], &cv, 1) == 1)) { /* a constant condition */
        int taken = ct->dtype == ODRT_DT_BOOL ? ((uint8_t *)ct->data)[0] != 0 : cv != 0;
        *n_out = TF_MAX_OUTPUTS;
        return tf_call(c, taken ? tb : eb, in + 1, n->n_in - 1, P, out, n_out);
    }
    ir_value *cond = in[0];
    if (cond->type.kind != IR_TYPE_TENSOR || cond->type.dtype != ODRT_DT_BOOL) cond = b_cast(&c->b, n->name, cond, ODRT_DT_BOOL);
    const ir_attr *tout = tf_attr(n, "Tout");
    int no = tout && tout->type == IR_ATTR_INTS ? tout->n : 0;
    if (no < 1) return tf_refuse(n, "no Tout");
    ir_node *node = ir_node_new(P, "If", "", ir_unique_name(P, n->name), 1, no);
    if (!node || !ir_node_set_input(node, 0, cond)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    const char *names[2] = {"then_branch", "else_branch"}, *fns[2] = {tb, eb};
    ir_value **rets = calloc((size_t)no + 1, sizeof *rets);
    odrt_status_t rc = rets ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int b = 0; b < 2 && rc == ODRT_OK; b++) {
        ir_graph *g = ir_graph_new(c->tg->m, P, node);
        if (!g || !(g->outputs = odrt_arena_alloc(c->tg->m->arena, sizeof(ir_value *) * (size_t)(no + 1)))) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        int nr = no;
        rc = tf_call(c, fns[b], in + 1, n->n_in - 1, g, rets, &nr);
        if (rc == ODRT_OK && nr != no) rc = tf_refuse(n, "branch '%s' returns %d values, not %d", fns[b], nr, no);
        c->b.rc = ODRT_OK;
        for (int i = 0; i < no && rc == ODRT_OK; i++) (g->outputs[g->n_outputs++] = tf_made_in(c, g, rets[i]))->flags |= IR_VAL_OUTPUT;
        if (rc == ODRT_OK) rc = c->b.rc;
        ir_attr a = {.name = names[b], .type = IR_ATTR_GRAPH, .g = g};
        if (rc == ODRT_OK && !ir_node_add_attr(node, &a)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < no && rc == ODRT_OK; i++) {
        ir_value *o = ir_value_new(P, ir_unique_name(P, n->name));
        if (!o) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        else ir_node_set_output(node, i, o), tf_set_type(o, tf_dtype_to_odrt(tout->ints[i]), -1, NULL), out[i] = o;
    }
    free(rets);
    c->b.g = P;
    *n_out = no;
    return rc;
}

const tf_op_row tf_ops_calls[] = {
    {"StatefulPartitionedCall", call}, {"PartitionedCall", call}, {"VarHandleOp", var_handle},
    {"ReadVariableOp", read_var}, {"While", lower_while}, {"StatelessWhile", lower_while},
    {"If", lower_if}, {"StatelessIf", lower_if}, {NULL, NULL}};

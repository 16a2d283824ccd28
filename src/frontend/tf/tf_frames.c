/* TF1 while frames (Enter / Merge / Switch / LoopCond / NextIteration / Exit, as TF1 exports and
 * the TF.js converter's lowered TF2 loops have them) -> one ONNX Loop per frame.
 *
 * Each Merge is a loop-carried variable: its Enter gives the initial value, its NextIteration the
 * next one, Switch:1 its value in the body, Exit (from Switch:0) its final value. The condition
 * (LoopCond's input) is lowered twice: on the initial values outside the Loop and on the next
 * values inside the body. A carried TensorList made by TensorListReserve and written with
 * TensorListSetItem at the iteration counter (map_fn's output) becomes a scan output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_lower.h"

typedef struct {
    const tf_node *merge, *enter, *next, *sw, *exit;
    const tf_node *setitem; /* scan variables: the TensorListSetItem giving the item */
} tf_var;

struct tf_frame {
    const char *name;
    const tf_node *cond;
    tf_var *vars;
    int n_vars;
    const tf_node **consts; /* is_constant Enters */
    int n_consts;
    int lowered;
};

static int same_tensor(const char *a, const char *b) {
    char na[1024], nb[1024];
    int ka = tf_split_input(a, na, sizeof na), kb = tf_split_input(b, nb, sizeof nb);
    return ka == kb && !strcmp(na, nb);
}

static const tf_node *node_of(const tf_ctx *c, const char *key) {
    int k;
    return tf_producer(c, key, &k);
}

/* follow Identity nodes back from tensor key */
static const char *through_identity(const tf_ctx *c, const char *key) {
    for (int guard = 0; guard < 64; guard++) {
        const tf_node *p = node_of(c, key);
        if (!p || strcmp(p->op, "Identity") || p->n_in < 1) return key;
        key = p->in[0];
    }
    return key;
}

static int is_op(const tf_node *n, const char *op) { return n && !strcmp(n->op, op); }

void tf_frames_free(tf_ctx *c) {
    for (int f = 0; f < c->n_frames; f++) {
        free(c->frames[f].vars);
        free(c->frames[f].consts);
    }
    free(c->frames);
    c->frames = NULL, c->n_frames = 0;
}

static odrt_status_t mark_frames(tf_ctx *c) {
    tf_graph *g = c->tg;
    /* consumers of every node */
    int *cnt = calloc((size_t)g->n_nodes + 1, sizeof(int)), *start = calloc((size_t)g->n_nodes + 2, sizeof(int));
    int *list = NULL, *queue = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
    odrt_status_t rc = ODRT_OK;
    size_t total = 0;
    if (!cnt || !start || !queue) goto oom;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            const tf_node *p = node_of(c, g->nodes[i].in[k]);
            if (p) cnt[p - g->nodes]++, total++;
        }
    for (int i = 0; i < g->n_nodes; i++) start[i + 1] = start[i] + cnt[i];
    if (!(list = malloc(sizeof(int) * (total + 1)))) goto oom;
    memset(cnt, 0, sizeof(int) * (size_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            const tf_node *p = node_of(c, g->nodes[i].in[k]);
            if (p) list[start[p - g->nodes] + cnt[p - g->nodes]++] = i;
        }
    for (int i = 0; i < g->n_nodes && rc == ODRT_OK; i++) {
        tf_node *e = &g->nodes[i];
        if (strcmp(e->op, "Enter")) continue;
        const char *fname = tf_attr_s(e, "frame_name", NULL);
        if (!fname) {
            rc = odrt_fail(ODRT_ERR_INVALID, "Enter '%s' has no frame_name", e->name);
            break;
        }
        int f = 0;
        while (f < c->n_frames && strcmp(c->frames[f].name, fname)) f++;
        if (f == c->n_frames) {
            tf_frame *nf = realloc(c->frames, sizeof *nf * (size_t)(f + 1));
            if (!nf) goto oom;
            c->frames = nf;
            memset(&nf[f], 0, sizeof *nf);
            nf[f].name = fname;
            c->n_frames++;
        }
        if (e->frame >= 0 && e->frame != f) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "while loop '%s' is nested in another: nested v1 while loops are not supported", fname);
            break;
        }
        e->frame = f;
        int qh = 0, qt = 0;
        queue[qt++] = i;
        while (qh < qt && rc == ODRT_OK) {
            int x = queue[qh++];
            if (!strcmp(g->nodes[x].op, "Exit")) continue;
            for (int u = start[x]; u < start[x + 1]; u++) {
                tf_node *un = &g->nodes[list[u]];
                if (un->frame == f) continue;
                if (un->frame >= 0 || (!strcmp(un->op, "Enter") && strcmp(tf_attr_s(un, "frame_name", ""), fname))) {
                    rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "node '%s' belongs to two while loops: nested v1 while loops are not supported", un->name);
                    break;
                }
                un->frame = f;
                if (qt <= g->n_nodes) queue[qt++] = list[u];
            }
        }
    }
    goto done;
oom:
    rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
done:
    free(cnt);
    free(start);
    free(list);
    free(queue);
    return rc;
}

static odrt_status_t frame_structure(tf_ctx *c, int f) {
    tf_graph *g = c->tg;
    tf_frame *fr = &c->frames[f];
    int n_merge = 0, n_enter = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        tf_node *n = &g->nodes[i];
        if (n->frame != f) continue;
        n_merge += is_op(n, "Merge"), n_enter += is_op(n, "Enter");
        if (is_op(n, "LoopCond")) {
            if (fr->cond) return odrt_fail(ODRT_ERR_INVALID, "while loop '%s' has two LoopCond nodes", fr->name);
            fr->cond = n;
        }
    }
    if (!fr->cond || fr->cond->n_in != 1) return odrt_fail(ODRT_ERR_INVALID, "while loop '%s' has no LoopCond", fr->name);
    fr->vars = calloc((size_t)n_merge + 1, sizeof *fr->vars);
    fr->consts = calloc((size_t)n_enter + 1, sizeof *fr->consts);
    if (!fr->vars || !fr->consts) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        tf_node *n = &g->nodes[i];
        if (n->frame != f) continue;
        if (is_op(n, "Enter") && tf_attr_i(n, "is_constant", 0)) fr->consts[fr->n_consts++] = n;
        if (!is_op(n, "Merge")) continue;
        tf_var *v = &fr->vars[fr->n_vars++];
        v->merge = n;
        for (int k = 0; k < n->n_in; k++) {
            const tf_node *p = node_of(c, n->in[k]);
            if (is_op(p, "Enter") && !v->enter) v->enter = p;
            else if (is_op(p, "NextIteration") && !v->next) v->next = p;
        }
        if (n->n_in != 2 || !v->enter || !v->next || v->next->n_in < 1 || v->enter->n_in < 1)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "Merge '%s' is not an Enter/NextIteration pair of a while loop", n->name);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        tf_node *n = &g->nodes[i];
        if (n->frame != f || (!is_op(n, "Switch") && !is_op(n, "Exit"))) continue;
        for (int j = 0; j < fr->n_vars; j++) {
            tf_var *v = &fr->vars[j];
            if (is_op(n, "Switch") && n->n_in == 2 && same_tensor(n->in[0], v->merge->name)) {
                if (!same_tensor(n->in[1], fr->cond->name)) return odrt_fail(ODRT_ERR_UNSUPPORTED, "Switch '%s' is not driven by the loop's LoopCond", n->name);
                v->sw = n;
            }
        }
    }
    for (int j = 0; j < fr->n_vars; j++)
        if (!fr->vars[j].sw) return odrt_fail(ODRT_ERR_UNSUPPORTED, "loop variable '%s' has no Switch", fr->vars[j].merge->name);
    for (int i = 0; i < g->n_nodes; i++) {
        tf_node *n = &g->nodes[i];
        if (n->frame != f || !is_op(n, "Exit")) continue;
        int found = 0;
        for (int j = 0; j < fr->n_vars && !found; j++)
            if (n->n_in == 1 && same_tensor(n->in[0], fr->vars[j].sw->name)) fr->vars[j].exit = n, found = 1;
        if (!found) return odrt_fail(ODRT_ERR_UNSUPPORTED, "Exit '%s' does not leave from a loop variable's Switch", n->name);
    }
    return ODRT_OK;
}

odrt_status_t tf_frames_find(tf_ctx *c) {
    ODRT_TRY(mark_frames(c));
    for (int f = 0; f < c->n_frames; f++) ODRT_TRY(frame_structure(c, f));
    return ODRT_OK;
}

/* ---- lowering one frame ---- */

/* key (through Identity) is Switch:1 of a variable that starts at 0 and adds 1: the iteration */
static int is_counter(const tf_ctx *c, const tf_frame *fr, const char *key) {
    key = through_identity(c, key);
    for (int j = 0; j < fr->n_vars; j++) {
        const tf_var *v = &fr->vars[j];
        char sw1[1100];
        snprintf(sw1, sizeof sw1, "%s:1", v->sw->name);
        if (!same_tensor(key, sw1)) continue;
        const tf_node *init = node_of(c, through_identity(c, v->enter->in[0])), *add = node_of(c, through_identity(c, v->next->in[0]));
        if (!is_op(init, "Const") || !init->value || init->value->numel != 1 || (!is_op(add, "AddV2") && !is_op(add, "Add")) || add->n_in != 2)
            return 0;
        int64_t z = init->value->dtype == ODRT_DT_INT64 ? *(int64_t *)init->value->data
                    : init->value->dtype == ODRT_DT_INT32 ? *(int32_t *)init->value->data : -1;
        if (z != 0) return 0;
        for (int q = 0; q < 2; q++) {
            const tf_node *one = node_of(c, add->in[1 - q]);
            if (same_tensor(through_identity(c, add->in[q]), sw1) && is_op(one, "Const") && one->value && one->value->numel == 1 &&
                (one->value->dtype == ODRT_DT_INT32 ? *(int32_t *)one->value->data : one->value->dtype == ODRT_DT_INT64 ? *(int64_t *)one->value->data : 0) == 1)
                return 1;
        }
        return 0;
    }
    return 0;
}

static void find_scans(tf_ctx *c, tf_frame *fr) {
    for (int j = 0; j < fr->n_vars; j++) {
        tf_var *v = &fr->vars[j];
        const tf_node *res = node_of(c, through_identity(c, v->enter->in[0])), *set = node_of(c, through_identity(c, v->next->in[0]));
        char sw1[1100];
        snprintf(sw1, sizeof sw1, "%s:1", v->sw->name);
        if (is_op(res, "TensorListReserve") && is_op(set, "TensorListSetItem") && set->n_in == 3 &&
            same_tensor(through_identity(c, set->in[0]), sw1) && is_counter(c, fr, set->in[1]))
            v->setitem = set;
    }
}

odrt_status_t tf_frame_lower(tf_ctx *c, int f) {
    if (f < 0 || f >= c->n_frames) return odrt_fail(ODRT_ERR_INVALID, "an Exit outside any while loop");
    tf_frame *fr = &c->frames[f];
    if (fr->lowered) return ODRT_OK;
    fr->lowered = 1;
    find_scans(c, fr);
    ir_graph *P = c->root.g;
    int n_car = 0, n_scan = 0;
    for (int j = 0; j < fr->n_vars; j++) fr->vars[j].setitem ? n_scan++ : n_car++;
    ir_value **x = calloc((size_t)fr->n_vars + 1, sizeof *x), **nx = calloc((size_t)fr->n_vars + 1, sizeof *nx);
    tf_scope c0, B, c1;
    tf_scope_init(&c0, &c->root, P, f);
    odrt_status_t rc = ODRT_OK;
    if (!x || !nx) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    /* initial values and the first condition, in the root graph */
    for (int j = 0; j < fr->n_vars && rc == ODRT_OK; j++) {
        if (fr->vars[j].setitem) continue;
        if (!(x[j] = tf_resolve(c, &c->root, fr->vars[j].enter->in[0]))) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "while loop '%s'", fr->name);
        else rc = tf_bind(c, &c0, fr->vars[j].merge->name, 0, x[j]);
    }
    ir_value *cond0 = rc == ODRT_OK ? tf_resolve(c, &c0, fr->cond->in[0]) : NULL;
    if (rc == ODRT_OK && !cond0) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "condition of while loop '%s'", fr->name);
    tf_scope_free(&c0);
    ir_node *loop = NULL;
    ir_graph *body = NULL;
    if (rc == ODRT_OK) rc = tf_loop_new(c, P, fr->cond->name, cond0, n_car, n_scan, &loop, &body);
    tf_scope_init(&B, &c->root, body, f);
    tf_scope_init(&c1, &B, body, f);
    if (rc == ODRT_OK) {
        for (int j = 0; j < fr->n_vars && rc == ODRT_OK; j++) {
            tf_var *v = &fr->vars[j];
            if (v->setitem) continue;
            ir_value *bv = tf_loop_carry(loop, body, v->merge->name, x[j]);
            rc = bv ? tf_bind(c, &B, v->merge->name, 0, bv) : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            if (rc == ODRT_OK) rc = tf_bind(c, &B, v->sw->name, 1, bv);
        }
        for (int j = 0; j < fr->n_consts && rc == ODRT_OK; j++) {
            ir_value *o = tf_resolve(c, &c->root, fr->consts[j]->in[0]);
            rc = o ? tf_bind(c, &B, fr->consts[j]->name, 0, o) : odrt_fail_ctx(ODRT_ERR_INVALID, "while loop '%s'", fr->name);
        }
    }
    /* the body: next values, scan items, then the condition on the next values */
    for (int j = 0; j < fr->n_vars && rc == ODRT_OK; j++) {
        tf_var *v = &fr->vars[j];
        const char *key = v->setitem ? v->setitem->in[2] : v->next->in[0];
        if (!(nx[j] = tf_resolve(c, &B, key))) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "body of while loop '%s'", fr->name);
        else if (!v->setitem) rc = tf_bind(c, &c1, v->merge->name, 0, nx[j]);
    }
    ir_value *cond1 = rc == ODRT_OK ? tf_resolve(c, &c1, fr->cond->in[0]) : NULL;
    if (rc == ODRT_OK && !cond1) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "condition of while loop '%s'", fr->name);
    unsigned char *scan = rc == ODRT_OK ? calloc((size_t)fr->n_vars + 1, 1) : NULL;
    if (rc == ODRT_OK && !scan) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int j = 0; scan && j < fr->n_vars; j++) scan[j] = fr->vars[j].setitem != NULL;
    if (rc == ODRT_OK) rc = tf_loop_finish(c, loop, body, cond1, nx, scan, fr->n_vars);
    free(scan);
    /* the Loop's outputs: carried finals, then scans; bound to the Exits */
    for (int pass = 0, k = 0; pass < 2 && rc == ODRT_OK; pass++)
        for (int j = 0; j < fr->n_vars && rc == ODRT_OK; j++) {
            tf_var *v = &fr->vars[j];
            if (!v->setitem != !pass) continue;
            char nm[1100];
            snprintf(nm, sizeof nm, "%s", v->exit ? v->exit->name : v->merge->name);
            ir_value *o = ir_value_new(P, ir_unique_name(P, nm));
            if (!o) {
                rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                break;
            }
            ir_node_set_output(loop, k++, o);
            if (v->setitem) {
                const tf_node *res = node_of(c, through_identity(c, v->enter->in[0]));
                tf_set_type(o, tf_dtype_to_odrt(tf_attr_i(res, "element_dtype", 0)), -1, NULL);
            } else if (x[j]->type.kind == IR_TYPE_TENSOR) {
                tf_set_type(o, x[j]->type.dtype, -1, NULL);
            }
            if (v->exit) rc = tf_bind(c, &c->root, v->exit->name, 0, o);
        }
    tf_scope_free(&c1);
    tf_scope_free(&B);
    free(x);
    free(nx);
    return rc;
}

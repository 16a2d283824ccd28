/* Control flow (Loop, If) and sequence operators. */
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

static const ir_graph *graph_attr(const ir_node *n, const char *name) {
    const ir_attr *a = ir_node_attr(n, name);
    return a && a->type == IR_ATTR_GRAPH ? a->g : NULL;
}

static ex_val *scalar_val(odrt_dtype_t dt, int64_t v) {
    ex_val *x = ex_val_new_tensor(dt, 0, NULL);
    if (!x) return NULL;
    if (dt == ODRT_DT_INT64) *(int64_t *)x->t.data = v;
    else *(uint8_t *)x->t.data = (uint8_t)(v != 0);
    return x;
}

/* stack items along a new axis 0 */
static ex_val *stack(ex_node_ctx *c, ex_val **items, int64_t n, const ir_value *decl) {
    if (n == 0) {
        int64_t d[ODRT_MAX_RANK] = {0};
        int r = 1;
        odrt_dtype_t dt = decl && decl->type.dtype ? (odrt_dtype_t)decl->type.dtype : ODRT_DT_FLOAT;
        if (decl && decl->type.rank >= 0 && decl->type.rank < ODRT_MAX_RANK) {
            int ok = 1;
            for (int i = 0; i < decl->type.rank; i++) ok &= decl->type.dims[i].value >= 0;
            if (ok) {
                for (int i = 0; i < decl->type.rank; i++) d[1 + i] = decl->type.dims[i].value;
                r = 1 + decl->type.rank;
            }
        }
        return ex_val_new_tensor(dt, r, d);
    }
    const odrt_tensor_t *t0 = &items[0]->t;
    if (t0->rank + 1 > ODRT_MAX_RANK) {
        ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "scan output rank too large");
        return NULL;
    }
    int64_t d[ODRT_MAX_RANK];
    d[0] = n;
    for (int i = 0; i < t0->rank; i++) d[i + 1] = t0->dims[i];
    for (int64_t k = 1; k < n; k++) {
        const odrt_tensor_t *t = &items[k]->t;
        if (t->rank != t0->rank || t->dtype != t0->dtype || memcmp(t->dims, t0->dims, sizeof(int64_t) * (size_t)t0->rank)) {
            ex_fail_node(c, ODRT_ERR_SHAPE, "scan output changes shape between iterations");
            return NULL;
        }
    }
    ex_val *o = ex_val_new_tensor(t0->dtype, t0->rank + 1, d);
    if (!o) return NULL;
    for (int64_t k = 0; k < n; k++) memcpy((char *)o->t.data + (size_t)k * t0->nbytes, items[k]->t.data, t0->nbytes);
    return o;
}

static odrt_status_t k_loop(ex_node_ctx *c) {
    const ir_graph *body = graph_attr(c->node, "body");
    if (!body) return ex_fail_node(c, ODRT_ERR_INVALID, "no body graph");
    int n_carried = c->n_in - 2;
    int n_scan = body->n_outputs - 1 - n_carried;
    if (n_carried < 0 || n_scan < 0 || body->n_inputs != n_carried + 2 || c->n_out != n_carried + n_scan)
        return ex_fail_node(c, ODRT_ERR_INVALID, "body signature does not match the Loop (%d inputs, %d outputs)",
                            body->n_inputs, body->n_outputs);
    int has_m = c->n_in > 0 && c->in[0], has_cond = c->n_in > 1 && c->in[1];
    int64_t M = has_m ? ex_scalar_i(c->in[0]) : 0;
    int cond = has_cond ? ex_scalar_i(c->in[1]) != 0 : 1;
    size_t nv = (size_t)(n_carried + 2 + body->n_outputs + 1);
    ex_val **carried = calloc(nv, sizeof(ex_val *)), **ins = calloc(nv, sizeof(ex_val *)),
           **outs = calloc(nv, sizeof(ex_val *));
    unsigned char *owned = calloc(nv, 1);
    ex_val ***scans = calloc((size_t)n_scan + 1, sizeof(ex_val **));
    size_t *scap = calloc((size_t)n_scan + 1, sizeof(size_t));
    int64_t iters = 0;
    odrt_status_t rc = ODRT_OK;
    if (!carried || !ins || !outs || !owned || !scans || !scap) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_carried; k++) {
        carried[k] = c->in[2 + k];
        if (!carried[k]) {
            rc = ex_fail_node(c, ODRT_ERR_INVALID, "loop-carried input %d missing", k);
            goto done;
        }
    }
    for (int64_t i = 0; (!has_m || i < M) && cond; i++) {
        ex_val *it = scalar_val(ODRT_DT_INT64, i), *cv = scalar_val(ODRT_DT_BOOL, cond);
        if (!it || !cv) {
            ex_val_free(it);
            ex_val_free(cv);
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        ins[0] = it, ins[1] = cv;
        for (int k = 0; k < n_carried; k++) ins[2 + k] = carried[k];
        memset(outs, 0, sizeof(ex_val *) * nv);
        rc = ex_run_subgraph(c, body, ins, body->n_inputs, outs);
        ex_val_free(it);
        ex_val_free(cv);
        if (rc != ODRT_OK) break;
        cond = outs[0] && !outs[0]->is_seq && ex_numel(outs[0]) ? ex_scalar_i(outs[0]) != 0 : 0;
        ex_val_free(outs[0]);
        for (int k = 0; k < n_carried; k++) {
            if (owned[k]) ex_val_free(carried[k]);
            carried[k] = outs[1 + k];
            owned[k] = 1;
        }
        for (int k = 0; k < n_scan && rc == ODRT_OK; k++) {
            if (!odrt_grow((void **)&scans[k], sizeof(ex_val *), &scap[k], (size_t)iters + 1)) {
                rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                for (int q = k; q < n_scan; q++) ex_val_free(outs[1 + n_carried + q]);
                break;
            }
            scans[k][iters] = outs[1 + n_carried + k];
        }
        if (rc != ODRT_OK) break;
        iters++;
        if (iters > ((int64_t)1 << 31)) {
            rc = ex_fail_node(c, ODRT_ERR_INVALID, "more than 2^31 iterations");
            break;
        }
    }
    for (int k = 0; k < n_carried && rc == ODRT_OK; k++) {
        c->out[k] = owned[k] ? carried[k] : ex_val_clone(carried[k]);
        owned[k] = 0;
        if (!c->out[k]) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < n_scan && rc == ODRT_OK; k++) {
        c->out[n_carried + k] = stack(c, scans[k], iters, body->outputs[1 + n_carried + k]);
        if (!c->out[n_carried + k]) rc = ODRT_ERR_NOMEM;
    }
done:
    if (carried)
        for (int k = 0; k < n_carried; k++)
            if (owned[k]) ex_val_free(carried[k]);
    if (scans)
        for (int k = 0; k < n_scan; k++) {
            for (int64_t i = 0; i < iters; i++) ex_val_free(scans[k][i]);
            free(scans[k]);
        }
    free(scans);
    free(scap);
    free(carried);
    free(ins);
    free(outs);
    free(owned);
    return rc;
}

static odrt_status_t k_if(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const ir_graph *g = graph_attr(c->node, ex_scalar_i(c->in[0]) ? "then_branch" : "else_branch");
    if (!g) return ex_fail_node(c, ODRT_ERR_INVALID, "branch graph missing");
    if (g->n_outputs != c->n_out) return ex_fail_node(c, ODRT_ERR_INVALID, "branch has %d outputs, node %d", g->n_outputs, c->n_out);
    return ex_run_subgraph(c, g, NULL, 0, c->out);
}

/* ---- sequences ---- */
static odrt_status_t seq_push(ex_val *s, ex_val *item, int64_t pos) {
    ex_val **ni = realloc(s->items, sizeof(ex_val *) * (size_t)(s->n_items + 2));
    if (!ni) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    s->items = ni;
    memmove(ni + pos + 1, ni + pos, sizeof(ex_val *) * (size_t)(s->n_items - pos));
    ni[pos] = item;
    s->n_items++;
    return ODRT_OK;
}

static odrt_status_t k_seq_empty(ex_node_ctx *c) {
    c->out[0] = ex_val_new_seq();
    return c->out[0] ? ODRT_OK : ODRT_ERR_NOMEM;
}

static odrt_status_t k_seq_construct(ex_node_ctx *c) {
    ex_val *s = ex_val_new_seq();
    if (!s) return ODRT_ERR_NOMEM;
    c->out[0] = s;
    for (int k = 0; k < c->n_in; k++) {
        ODRT_TRY(ex_need(c, k));
        ex_val *it = ex_val_clone(c->in[k]);
        if (!it) return ODRT_ERR_NOMEM;
        odrt_status_t rc = seq_push(s, it, s->n_items);
        if (rc != ODRT_OK) {
            ex_val_free(it);
            return rc;
        }
    }
    return ODRT_OK;
}

static odrt_status_t seq_pos(ex_node_ctx *c, const ex_val *s, int k, int64_t dflt, int insert, int64_t *pos) {
    int64_t p = c->n_in > k && c->in[k] ? ex_scalar_i(c->in[k]) : dflt;
    int64_t n = s->n_items;
    if (p < 0) p += n;
    if (p < 0 || p > n || (!insert && p == n))
        return ex_fail_node(c, ODRT_ERR_INVALID, "position %lld out of range for %lld items", (long long)p, (long long)n);
    *pos = p;
    return ODRT_OK;
}

static odrt_status_t k_seq_insert(ex_node_ctx *c) {
    if (!c->in[0] || !c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "sequence input required");
    ODRT_TRY(ex_need(c, 1));
    ex_val *s = ex_val_clone(c->in[0]);
    if (!s) return ODRT_ERR_NOMEM;
    c->out[0] = s;
    int64_t pos = 0;
    ODRT_TRY(seq_pos(c, s, 2, s->n_items, 1, &pos));
    ex_val *it = ex_val_clone(c->in[1]);
    if (!it) return ODRT_ERR_NOMEM;
    odrt_status_t rc = seq_push(s, it, pos);
    if (rc != ODRT_OK) ex_val_free(it);
    return rc;
}

static odrt_status_t k_seq_erase(ex_node_ctx *c) {
    if (!c->in[0] || !c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "sequence input required");
    ex_val *s = ex_val_clone(c->in[0]);
    if (!s) return ODRT_ERR_NOMEM;
    c->out[0] = s;
    int64_t pos = 0;
    ODRT_TRY(seq_pos(c, s, 1, s->n_items - 1, 0, &pos));
    ex_val_free(s->items[pos]);
    memmove(s->items + pos, s->items + pos + 1, sizeof(ex_val *) * (size_t)(s->n_items - pos - 1));
    s->n_items--;
    return ODRT_OK;
}

static odrt_status_t k_seq_at(ex_node_ctx *c) {
    if (!c->in[0] || !c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "sequence input required");
    int64_t pos = 0;
    ODRT_TRY(seq_pos(c, c->in[0], 1, 0, 0, &pos));
    c->out[0] = ex_val_clone(c->in[0]->items[pos]);
    return c->out[0] ? ODRT_OK : ODRT_ERR_NOMEM;
}

static odrt_status_t k_seq_length(ex_node_ctx *c) {
    if (!c->in[0] || !c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "sequence input required");
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 0, NULL));
    *(int64_t *)c->out[0]->t.data = c->in[0]->n_items;
    return ODRT_OK;
}

static odrt_status_t k_concat_from_seq(ex_node_ctx *c) {
    if (!c->in[0] || !c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "sequence input required");
    const ex_val *s = c->in[0];
    if (!s->n_items) return ex_fail_node(c, ODRT_ERR_INVALID, "empty sequence");
    int new_axis = (int)ir_attr_int(c->node, "new_axis", 0);
    const odrt_tensor_t *t0 = &s->items[0]->t;
    int r = t0->rank + new_axis, axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), r, &axis));
    int64_t d[ODRT_MAX_RANK], outer = 1, inner = 1;
    if (r > ODRT_MAX_RANK) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank");
    for (int i = 0, k = 0; i < r; i++) d[i] = new_axis && i == axis ? 1 : t0->dims[k++];
    int64_t total = 0;
    for (int j = 0; j < s->n_items; j++) {
        const odrt_tensor_t *t = &s->items[j]->t;
        if (t->rank != t0->rank || t->dtype != t0->dtype) return ex_fail_node(c, ODRT_ERR_SHAPE, "items differ");
        total += new_axis ? 1 : t->dims[axis];
    }
    for (int i = 0; i < axis; i++) outer *= d[i];
    for (int i = axis + 1; i < r; i++) inner *= d[i];
    d[axis] = total;
    ODRT_TRY(ex_out(c, 0, t0->dtype, r, d));
    size_t es = odrt_dtype_size(t0->dtype), off = 0, row = (size_t)(total * inner) * es;
    for (int j = 0; j < s->n_items; j++) {
        const odrt_tensor_t *t = &s->items[j]->t;
        size_t chunk = (size_t)((new_axis ? 1 : t->dims[axis]) * inner) * es;
        if ((int64_t)(chunk / es) * outer != odrt_tensor_numel(t)) return ex_fail_node(c, ODRT_ERR_SHAPE, "item shapes differ");
        for (int64_t o = 0; o < outer; o++) memcpy((char *)c->out[0]->t.data + (size_t)o * row + off, (const char *)t->data + (size_t)o * chunk, chunk);
        off += chunk;
    }
    return ODRT_OK;
}

static odrt_status_t k_split_to_seq(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    int keep = (int)ir_attr_int(c->node, "keepdims", 1);
    int64_t dim = x->dims[axis], *sp = NULL, ns = 0;
    if (c->n_in > 1 && c->in[1]) {
        ODRT_TRY(ex_read_ints(c, 1, &sp, &ns));
        if (c->in[1]->t.rank == 0) { /* scalar: chunk size */
            int64_t chunk = sp[0];
            free(sp);
            if (chunk <= 0) return ex_fail_node(c, ODRT_ERR_INVALID, "split size %lld", (long long)chunk);
            ns = (dim + chunk - 1) / chunk;
            sp = malloc(sizeof(int64_t) * (size_t)(ns + 1));
            if (!sp) return ODRT_ERR_NOMEM;
            for (int64_t i = 0; i < ns; i++) sp[i] = i < ns - 1 ? chunk : dim - chunk * (ns - 1);
        }
        keep = 1;
    } else {
        ns = dim;
        sp = malloc(sizeof(int64_t) * (size_t)(ns + 1));
        if (!sp) return ODRT_ERR_NOMEM;
        for (int64_t i = 0; i < ns; i++) sp[i] = 1;
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < ns; i++) sum += sp[i];
    ex_val *s = ex_val_new_seq();
    odrt_status_t rc = sum == dim ? ODRT_OK : ex_fail_node(c, ODRT_ERR_SHAPE, "split sizes do not add up");
    if (!s) rc = ODRT_ERR_NOMEM;
    c->out[0] = s;
    int64_t outer = 1, inner = 1, off = 0;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t es = odrt_dtype_size(x->dtype);
    for (int64_t i = 0; i < ns && rc == ODRT_OK; i++) {
        int64_t d[ODRT_MAX_RANK];
        int r = 0;
        for (int k = 0; k < x->rank; k++) {
            if (k == axis && !keep) continue;
            d[r++] = k == axis ? sp[i] : x->dims[k];
        }
        ex_val *it = ex_val_new_tensor(x->dtype, r, d);
        if (!it) {
            rc = ODRT_ERR_NOMEM;
            break;
        }
        size_t chunk = (size_t)(sp[i] * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)it->t.data + (size_t)o * chunk, (const char *)x->data + ((size_t)(o * dim + off) * (size_t)inner) * es, chunk);
        off += sp[i];
        rc = seq_push(s, it, s->n_items);
        if (rc != ODRT_OK) ex_val_free(it);
    }
    free(sp);
    return rc;
}

const ex_kernel ex_kernels_control[] = {
    {"", "Loop", k_loop, sh_loop}, {"", "If", k_if, NULL}, {"", "SequenceEmpty", k_seq_empty, NULL},
    {"", "SequenceConstruct", k_seq_construct, NULL}, {"", "SequenceInsert", k_seq_insert, NULL},
    {"", "SequenceErase", k_seq_erase, NULL}, {"", "SequenceAt", k_seq_at, NULL}, {"", "SequenceLength", k_seq_length, NULL},
    {"", "ConcatFromSequence", k_concat_from_seq, NULL}, {"", "SplitToSequence", k_split_to_seq, NULL},
    {NULL, NULL, NULL, NULL},
};

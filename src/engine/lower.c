/* Lowering the network graph (preprocessed image -> box codes, class logits) to engine ops.
 *
 * Layout: every rank-4 value a convolution touches lives in NHWC; other values are stored as
 * their logical (ONNX) shape. Data movement (Transpose, Reshape, Concat of one source, Slice,
 * Unsqueeze, ...) is not executed op by op: a chain of such ops from one source is evaluated once
 * at build time on an index tensor, and the value it makes is either an alias of the source (the
 * index map is the identity, e.g. NCHW->NHWC transposes of NHWC data, Reshapes) or one GATHER
 * with a precomputed index map (e.g. TF's nearest-neighbour upsampling by stack + reshape).
 * Convolutions absorb their activation (Relu, Relu6/Clip, Sigmoid, swish) and a residual Add.
 * Any other op runs through the reference executor's kernel (EOP_REF) on plain tensors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/fold.h"
#include "frontend/model.h"
#include "engine/engine.h"
#include "engine/plan_util.h"
#include "engine/lower_internal.h"
#include "passes/quant.h"


int lw_is_const(const ir_value *v) { return v && v->init; }

int lw_only_use(const ir_value *v, ir_node **u) {
    if (v->n_uses != 1 || (v->flags & IR_VAL_OUTPUT)) return 0;
    *u = v->uses[0].node;
    return 1;
}

int lw_static_float(const ir_value *v) {
    if (v->type.kind != IR_TYPE_TENSOR || v->type.dtype != ODRT_DT_FLOAT || v->type.rank < 0) return 0;
    for (int i = 0; i < v->type.rank; i++)
        if (v->type.dims[i].value < 0) return 0;
    return 1;
}

void lw_dims_of(const ir_value *v, int64_t *d) {
    for (int i = 0; i < v->type.rank; i++) d[i] = v->type.dims[i].value;
}

/* How the engine lowers an ONNX op (ai.onnx); any op not listed runs as a reference op */
typedef enum { EX_LOWER_REF = 0, EX_LOWER_MOVE, EX_LOWER_CONCAT, EX_LOWER_CONV, EX_LOWER_RELU, EX_LOWER_CLIP, EX_LOWER_SIGMOID,
               EX_LOWER_ADD, EX_LOWER_SUB, EX_LOWER_MUL, EX_LOWER_DIV, EX_LOWER_MAX, EX_LOWER_MIN,
               EX_LOWER_MEAN_HW /* spatial mean of an NCHW tensor */, EX_LOWER_MAXPOOL, EX_LOWER_MATMUL, EX_LOWER_RESIZE,
               EX_LOWER_CROP } ex_lower;
static const struct {
    const char *op;
    ex_lower lower;
} lowerings[] = {
    /* data movement from one source: evaluated on an index tensor at build time (an alias or a gather) */
    {"Identity", EX_LOWER_MOVE}, {"Reshape", EX_LOWER_MOVE}, {"Flatten", EX_LOWER_MOVE}, {"Squeeze", EX_LOWER_MOVE},
    {"Unsqueeze", EX_LOWER_MOVE}, {"Transpose", EX_LOWER_MOVE}, {"Slice", EX_LOWER_MOVE}, {"Gather", EX_LOWER_MOVE},
    {"Expand", EX_LOWER_MOVE}, {"Tile", EX_LOWER_MOVE}, {"DepthToSpace", EX_LOWER_MOVE}, {"SpaceToDepth", EX_LOWER_MOVE},
    {"Concat", EX_LOWER_CONCAT}, {"Conv", EX_LOWER_CONV}, {"Relu", EX_LOWER_RELU}, {"Clip", EX_LOWER_CLIP},
    {"Sigmoid", EX_LOWER_SIGMOID}, {"Add", EX_LOWER_ADD}, {"Sub", EX_LOWER_SUB}, {"Mul", EX_LOWER_MUL}, {"Div", EX_LOWER_DIV},
    {"Max", EX_LOWER_MAX}, {"Min", EX_LOWER_MIN}, {"GlobalAveragePool", EX_LOWER_MEAN_HW}, {"ReduceMean", EX_LOWER_MEAN_HW},
    {"MaxPool", EX_LOWER_MAXPOOL}, {"MatMul", EX_LOWER_MATMUL}, {"Gemm", EX_LOWER_MATMUL}, {"Resize", EX_LOWER_RESIZE},
};

static ex_lower lowering(const ir_node *n) {
    if (n->domain && !strcmp(n->domain, "odrt") && !strcmp(n->op, "CropAndResize")) return EX_LOWER_CROP;
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) return EX_LOWER_REF;
    for (size_t i = 0; i < sizeof lowerings / sizeof lowerings[0]; i++)
        if (!strcmp(lowerings[i].op, n->op)) return lowerings[i].lower;
    return EX_LOWER_REF;
}

static int is_movement(const ir_node *n) {
    ex_lower l = lowering(n);
    /* a nearest-neighbour Resize picks one source element per output: an index map too (FPN
     * upsampling); its scales or sizes are constants once shapes are static */
    if ((ir_op_is(n, "Resize") || ir_op_is(n, "Upsample")) && !strcmp(ir_attr_str(n, "mode", "nearest"), "nearest")) {
        for (int k = 1; k < n->n_in; k++)
            if (n->in[k] && !lw_is_const(n->in[k])) return 0;
        return n->n_out == 1;
    }
    return (l == EX_LOWER_MOVE || l == EX_LOWER_CONCAT) && n->n_out == 1;
}

/* the tensor of v in a given layout, if made */
int lw_have(lw *L, const ir_value *v, int layout) { return L->tid[layout][v->id]; }

/* index map evaluation: out logical -> source physical offset */
static odrt_status_t eval_map(lw *L, ir_value *src, int src_t, ir_value *v, double **map) {
    const eng_tensor *st = &L->p->tensors[src_t];
    int64_t d[ODRT_MAX_RANK], pd[ODRT_MAX_RANK];
    lw_dims_of(src, d);
    eng_phys_dims(st, pd);
    ex_val *seed = ex_val_new_tensor(ODRT_DT_DOUBLE, src->type.rank, d), *res = NULL;
    if (!seed) return ODRT_ERR_NOMEM;
    double *sv = seed->t.data;
    int r = st->rank;
    for (int64_t i = 0; i < st->numel; i++) { /* logical index i -> physical offset */
        int64_t rem = i, c[ODRT_MAX_RANK] = {0};
        for (int k = r - 1; k >= 0; k--) c[k] = rem % d[k], rem /= d[k];
        int64_t pc[ODRT_MAX_RANK];
        for (int k = 0; k < r; k++) pc[k] = c[k];
        if (st->layout == ENG_NHWC) pc[1] = c[2], pc[2] = c[3], pc[3] = c[1];
        int64_t off = 0;
        for (int k = 0; k < r; k++) off = off * pd[k] + pc[k];
        sv[i] = (double)off;
    }
    odrt_status_t rc = v == src ? ODRT_OK : ir_eval(L->m, L->g, 1, &src, &seed, 1, &v, &res);
    if (rc == ODRT_OK) {
        ex_val *m = v == src ? seed : res;
        *map = malloc(sizeof(double) * (size_t)(ex_numel(m) + 1));
        if (!*map) rc = ODRT_ERR_NOMEM;
        else memcpy(*map, m->t.data, sizeof(double) * (size_t)ex_numel(m));
        if (rc == ODRT_OK && m->t.dtype != ODRT_DT_DOUBLE) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: index map dtype");
    }
    ex_val_free(seed);
    ex_val_free(res);
    return rc;
}

static int want_layout(const ir_value *v, int layout) { return v->type.rank == 4 ? layout : ENG_PLAIN; }

/* make v available in `layout` (alias or gather from its source) */
odrt_status_t lw_materialize(lw *L, ir_value *v, int layout, int *out) {
    layout = want_layout(v, layout);
    if (lw_have(L, v, layout) >= 0) return *out = lw_have(L, v, layout), ODRT_OK;
    if (!lw_static_float(v))
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: value '%s' in the network is not a float32 tensor of static shape",
                         v->name);
    ir_value *src = L->root[v->id];
    if (!src) return odrt_fail(ODRT_ERR_INVALID, "build: value '%s' is used before it is computed", v->name);
    int st = lw_have(L, src, ENG_NHWC) >= 0 ? lw_have(L, src, ENG_NHWC) : lw_have(L, src, ENG_PLAIN);
    if (st < 0) return odrt_fail(ODRT_ERR_INVALID, "build: source '%s' of '%s' has no tensor", src->name, v->name);
    double *map = NULL;
    odrt_status_t rc = eval_map(L, src, st, v, &map);
    if (rc != ODRT_OK) return rc == ODRT_ERR_NOMEM ? odrt_fail(rc, "out of memory") : odrt_fail_ctx(rc, "build: moving '%s'", v->name);
    int64_t d[ODRT_MAX_RANK];
    lw_dims_of(v, d);
    int t = eng_add_tensor(L->p, v->type.rank, d, layout);
    if (t < 0) {
        free(map);
        return ODRT_ERR_NOMEM;
    }
    eng_tensor *tt = &L->p->tensors[t];
    int64_t n = tt->numel, pd[ODRT_MAX_RANK];
    eng_phys_dims(tt, pd);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(n + 1));
    int identity = n == L->p->tensors[st].numel;
    for (int64_t q = 0; idx && q < n; q++) { /* physical q -> logical i */
        int64_t rem = q, c[ODRT_MAX_RANK] = {0}, lc[ODRT_MAX_RANK];
        for (int k = tt->rank - 1; k >= 0; k--) c[k] = rem % pd[k], rem /= pd[k];
        for (int k = 0; k < tt->rank; k++) lc[k] = c[k];
        if (tt->layout == ENG_NHWC) lc[1] = c[3], lc[2] = c[1], lc[3] = c[2];
        int64_t i = 0;
        for (int k = 0; k < tt->rank; k++) i = i * d[k] + lc[k];
        idx[q] = (int32_t)map[i];
        if (idx[q] != q) identity = 0;
    }
    free(map);
    if (!idx) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (identity) {
        L->p->tensors[t].alias = st;
    } else {
        if (n > INT32_MAX || L->p->tensors[st].numel > INT32_MAX) {
            free(idx);
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: '%s' too large to move", v->name);
        }
        eng_op *op = eng_add_op(L->p, EOP_GATHER);
        int64_t off = op ? eng_blob_append(L->p, idx, sizeof(int32_t) * (size_t)n) : -1;
        if (!op || off < 0) {
            free(idx);
            return ODRT_ERR_NOMEM;
        }
        op->n_in = 1, op->in[0] = st, op->out = t, op->w_off = off, op->w_len = (int64_t)sizeof(int32_t) * n;
        snprintf(op->name, sizeof op->name, "%.95s", v->name);
    }
    free(idx);
    L->tid[layout][v->id] = t;
    return *out = t, ODRT_OK;
}

/* a new tensor for computed value v in layout */
int lw_define(lw *L, ir_value *v, int layout) {
    if (!lw_static_float(v)) {
        odrt_fail(ODRT_ERR_UNSUPPORTED, "build: value '%s' in the network is not a float32 tensor of static shape", v->name);
        return -1;
    }
    int64_t d[ODRT_MAX_RANK];
    lw_dims_of(v, d);
    layout = want_layout(v, layout);
    int t = eng_add_tensor(L->p, v->type.rank, d, layout);
    if (t >= 0) L->tid[layout][v->id] = t, L->root[v->id] = v;
    return t;
}

/* a Clip's bounds: constant float scalars (inputs, opset >= 11) or attributes; 0 if not constant */
static int clip_bounds(const ir_node *n, float *lo, float *hi) {
    *lo = -INFINITY, *hi = INFINITY;
    if (n->n_in <= 1) {
        *lo = ir_attr_float(n, "min", -INFINITY), *hi = ir_attr_float(n, "max", INFINITY);
        return 1;
    }
    for (int k = 1; k < 3 && k < n->n_in; k++) {
        if (!n->in[k]) continue;
        const ir_tensor *c = lw_is_const(n->in[k]) ? n->in[k]->init : NULL;
        if (!c || c->numel != 1 || c->dtype != ODRT_DT_FLOAT) return 0;
        *(k == 1 ? lo : hi) = ((float *)c->data)[0];
    }
    return 1;
}

/* activation consumer of v: Relu, Clip with constant bounds, Sigmoid, or swish (v * Sigmoid(v)) */
int lw_match_act(lw *L, ir_value *v, int *act, float *lo, float *hi, ir_value **y) {
    ir_node *u;
    if (v->n_uses == 2 && !(v->flags & IR_VAL_OUTPUT)) { /* swish */
        ir_node *a = v->uses[0].node, *b = v->uses[1].node;
        if (ir_op_is(b, "Sigmoid")) { ir_node *t = a; a = b, b = t; }
        if (ir_op_is(a, "Sigmoid") && ir_op_is(b, "Mul") && a->out[0]->n_uses == 1 && !(a->out[0]->flags & IR_VAL_OUTPUT) &&
            ((b->in[0] == v && b->in[1] == a->out[0]) || (b->in[1] == v && b->in[0] == a->out[0]))) {
            *act = EACT_SWISH, *y = b->out[0];
            L->fused[L->node_index[a->out[0]->id]] = 1, L->fused[L->node_index[b->out[0]->id]] = 1;
            return 1;
        }
        return 0;
    }
    if (!lw_only_use(v, &u)) return 0;
    if (ir_op_is(u, "Relu")) *act = EACT_CLIP, *lo = 0, *hi = INFINITY;
    else if (ir_op_is(u, "Sigmoid")) *act = EACT_SIGMOID;
    else if (ir_op_is(u, "Clip")) {
        if (!clip_bounds(u, lo, hi)) return 0;
        *act = EACT_CLIP;
    } else return 0;
    L->fused[L->node_index[u->out[0]->id]] = 1;
    *y = u->out[0];
    return 1;
}

/* a conv's packed weights; convs that share their initializers and packing share the blob part (a
 * Mask R-CNN runs its box classifier's ResNet block on the proposals and again on the detections) */
static odrt_status_t pack_conv(lw *L, eng_op *op, const ir_tensor *w, const ir_tensor *b, const float *steps) {
    for (int i = 0; i < L->n_packed; i++) {
        const lw_packed *q = &L->packed[i];
        if (q->w == w && q->b == b && q->kind == op->conv_kind && q->kh == op->kh && q->kw == op->kw && q->cin == op->cin &&
            q->cout == op->cout && q->q_scale == op->q_scale && q->q_unsigned == op->q_unsigned &&
            (!q->steps) == (!steps) && (!steps || !memcmp(q->steps, steps, sizeof(float) * (size_t)op->cin))) {
            op->w_off = q->w_off, op->w_len = q->w_len, op->b_off = q->b_off, op->b_len = q->b_len;
            return ODRT_OK;
        }
    }
    ODRT_TRY(op->q_scale > 0 ? eng_pack_conv_i8(L->p, op, w->data, b ? b->data : NULL, steps)
                             : eng_pack_conv(L->p, op, w->data, b ? b->data : NULL));
    lw_packed *np = realloc(L->packed, sizeof *np * (size_t)(L->n_packed + 1));
    if (np) { /* (no cache entry: the next conv packs its own copy) */
        L->packed = np;
        np[L->n_packed++] = (lw_packed){w, b, op->conv_kind, op->kh, op->kw, op->cin, op->cout, op->q_scale, op->q_unsigned, steps, op->w_off, op->w_len, op->b_off, op->b_len};
    }
    return ODRT_OK;
}


/* strides, dilations and pads (auto_pad SAME_* from the sizes, else `pads`) of a 2-D window op
 * (Conv, MaxPool) into t, whose kh, kw are set; 0 when unsupported or the sizes do not agree */
int lw_window_geometry(const ir_node *n, const ir_value *x, const ir_value *y, eng_op *t) {
    const ir_attr *st = ir_node_attr(n, "strides"), *dl = ir_node_attr(n, "dilations"), *pd = ir_node_attr(n, "pads");
    int64_t ih = x->type.dims[2].value, iw = x->type.dims[3].value, oh = y->type.dims[2].value, ow = y->type.dims[3].value;
    t->sh = st && st->n == 2 ? (int)st->ints[0] : 1, t->sw = st && st->n == 2 ? (int)st->ints[1] : 1;
    t->dh = dl && dl->n == 2 ? (int)dl->ints[0] : 1, t->dw = dl && dl->n == 2 ? (int)dl->ints[1] : 1;
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        int64_t ph = (oh - 1) * t->sh + (t->kh - 1) * t->dh + 1 - ih, pw = (ow - 1) * t->sw + (t->kw - 1) * t->dw + 1 - iw;
        ph = ph < 0 ? 0 : ph, pw = pw < 0 ? 0 : pw;
        int up = !strcmp(ap, "SAME_UPPER");
        t->pt = (int)(up ? ph / 2 : ph - ph / 2), t->pb = (int)(ph - t->pt);
        t->pl = (int)(up ? pw / 2 : pw - pw / 2), t->pr = (int)(pw - t->pl);
    } else if (pd && pd->n == 4) {
        t->pt = (int)pd->ints[0], t->pl = (int)pd->ints[1], t->pb = (int)pd->ints[2], t->pr = (int)pd->ints[3];
    } else if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return 0;
    return t->sh > 0 && t->sw > 0 && t->dh > 0 && t->dw > 0 && t->pt >= 0 && t->pl >= 0 && t->pb >= 0 && t->pr >= 0 &&
           oh == (ih + t->pt + t->pb - ((t->kh - 1) * t->dh + 1)) / t->sh + 1 &&
           ow == (iw + t->pl + t->pr - ((t->kw - 1) * t->dw + 1)) / t->sw + 1;
}

static odrt_status_t lower_conv(lw *L, ir_node *n) {
    const ir_value *x = n->in[0];
    const ir_tensor *w = n->n_in > 1 && lw_is_const(n->in[1]) ? n->in[1]->init : NULL;
    const ir_tensor *b = n->n_in > 2 && n->in[2] ? (lw_is_const(n->in[2]) ? n->in[2]->init : NULL) : NULL;
    if (!w || w->dtype != ODRT_DT_FLOAT || w->rank != 4 || x->type.rank != 4 || (n->n_in > 2 && n->in[2] && !b) ||
        (b && (b->dtype != ODRT_DT_FLOAT || b->numel != w->dims[0])) || !lw_static_float(x) || !lw_static_float(n->out[0]))
        return lw_lower_ref(L, n);
    int64_t group = ir_attr_int(n, "group", 1), cin = x->type.dims[1].value, cout = w->dims[0];
    eng_op tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.kh = (int)w->dims[2], tmp.kw = (int)w->dims[3];
    if (!lw_window_geometry(n, x, n->out[0], &tmp)) return lw_lower_ref(L, n);
    if (group == 1 && w->dims[1] == cin)
        tmp.conv_kind = tmp.kh == 1 && tmp.kw == 1 && tmp.sh == 1 && tmp.sw == 1 && !tmp.pt && !tmp.pl && !tmp.pb && !tmp.pr
                            ? CONV_GEMM : CONV_IM2COL;
    else if (group == cin && cout == cin && w->dims[1] == 1) tmp.conv_kind = CONV_DW;
    else return lw_lower_ref(L, n); /* grouped or channel-multiplier convolutions */
    tmp.cin = (int)cin, tmp.cout = (int)cout;
    /* int8 (odrt build --precision int8 marked it with its input's calibrated range): the GEMM kind only */
    const ir_attr *qa = ir_node_attr(n, Q_STEP_ATTR);
    if (qa && tmp.conv_kind == CONV_GEMM && ir_attr_as_float(qa, 0) > 0) {
        tmp.q_scale = ir_attr_as_float(qa, 0);
        tmp.q_unsigned = ir_attr_int(n, Q_UNSIGNED_ATTR, 0) == 1;
    }
    int tin;
    ODRT_TRY(lw_materialize(L, n->in[0], ENG_NHWC, &tin));
    /* fusions: activation, residual Add, activation after the Add */
    ir_value *y = n->out[0], *ny;
    int act = EACT_ID, residual = -1;
    float lo = 0, hi = 0;
    if (lw_match_act(L, y, &act, &lo, &hi, &ny)) y = ny;
    ir_node *u;
    /* (the depthwise kernels take no residual) */
    if (act == EACT_ID && tmp.conv_kind != CONV_DW && lw_only_use(y, &u) && ir_op_is(u, "Add") && u->in[0] && u->in[1] &&
        u->in[0] != u->in[1]) {
        ir_value *r = u->in[0] == y ? u->in[1] : u->in[0];
        if (!lw_is_const(r) && L->root[r->id] && lw_static_float(r) && r->type.rank == 4 && lw_static_float(u->out[0]) && u->out[0]->type.rank == 4) {
            int same = 1;
            for (int k = 0; k < 4; k++) same &= r->type.dims[k].value == y->type.dims[k].value &&
                                               u->out[0]->type.dims[k].value == y->type.dims[k].value;
            if (same) {
                ODRT_TRY(lw_materialize(L, r, ENG_NHWC, &residual));
                L->fused[L->node_index[u->out[0]->id]] = 1;
                y = u->out[0];
                if (lw_match_act(L, y, &act, &lo, &hi, &ny)) y = ny;
            }
        }
    }
    int tout = lw_define(L, y, ENG_NHWC);
    if (tout < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_CONV);
    if (!op) return ODRT_ERR_NOMEM;
    int keep_kind = op->kind;
    *op = tmp;
    op->kind = keep_kind, op->n_in = 1, op->in[0] = tin, op->out = tout, op->residual = residual;
    op->act = act, op->act_lo = lo, op->act_hi = hi;
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    const ir_attr *sa = op->q_scale > 0 ? ir_node_attr(n, Q_STEPS_ATTR) : NULL;
    const float *steps = sa && sa->type == IR_ATTR_FLOATS && sa->n == op->cin ? sa->floats : NULL;
    for (int k = 0; steps && k < op->cin; k++)
        if (!(steps[k] > 0) || !isfinite(steps[k])) steps = NULL; /* (not from odrt's calibration: one step) */
    return pack_conv(L, op, w, b, steps);
}

/* one-node ONNX model run by the reference executor */
odrt_status_t lw_lower_ref(lw *L, ir_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == IR_ATTR_GRAPH || n->attrs[a].type == IR_ATTR_GRAPHS)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: op %s ('%s') with a sub-graph inside the network", n->op, n->name);
    ir_model *mm = ir_model_new();
    if (!mm) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = ODRT_OK;
    mm->ir_version = L->m->ir_version, mm->opsets = L->m->opsets, mm->n_opsets = L->m->n_opsets;
    ir_graph *g = ir_graph_new(mm, NULL, NULL);
    eng_op tmp;
    memset(&tmp, 0, sizeof tmp);
    ir_node *c = g ? ir_node_new(g, n->op, n->domain, n->name, n->n_in, n->n_out) : NULL;
    if (g) mm->graph = g;
    if (!c || !(g->inputs = odrt_arena_alloc(mm->arena, sizeof(ir_value *) * (size_t)(n->n_in + 1))) ||
        !(g->outputs = odrt_arena_alloc(mm->arena, sizeof(ir_value *) * (size_t)(n->n_out + 1)))) {
        ir_model_free(mm);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int a = 0; a < n->n_attrs && rc == ODRT_OK; a++)
        if (!ir_node_add_attr(c, &n->attrs[a])) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n->n_in && rc == ODRT_OK; k++) {
        ir_value *v = n->in[k];
        if (!v) continue;
        char nm[32];
        snprintf(nm, sizeof nm, "in%d", k);
        ir_value *nv;
        if (lw_is_const(v)) { /* a copy: ir_graph_add_const names the tensor, which the network's graph owns */
            const ir_tensor *src = v->init;
            ir_tensor *t = src->dtype == ODRT_DT_STRING ? NULL : ir_tensor_new(mm, src->dtype, src->rank, src->dims);
            if (!t) {
                rc = odrt_fail(src->dtype == ODRT_DT_STRING ? ODRT_ERR_UNSUPPORTED : ODRT_ERR_NOMEM,
                               "build: constant '%s' of op %s cannot be copied", v->name, n->op);
                break;
            }
            if (src->nbytes) memcpy(t->data, src->data, src->nbytes);
            nv = ir_graph_add_const(g, nm, t);
        } else {
            int t;
            if (tmp.n_in >= ENG_MAX_IN) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: op %s has too many inputs", n->op);
            else rc = lw_materialize(L, v, ENG_PLAIN, &t);
            if (rc != ODRT_OK) break;
            tmp.in[tmp.n_in++] = t;
            nv = ir_value_new(g, nm);
            if (nv) {
                nv->type = v->type;
                nv->flags |= IR_VAL_INPUT;
                g->inputs[g->n_inputs++] = nv;
            }
        }
        if (!nv) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        else ir_node_set_input(c, k, nv);
    }
    if (n->n_out != 1 && rc == ODRT_OK) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: op %s with %d outputs in the network", n->op, n->n_out);
    if (rc == ODRT_OK) {
        ir_value *ov = ir_value_new(g, "out0");
        if (!ov) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        else {
            ir_node_set_output(c, 0, ov);
            ov->flags |= IR_VAL_OUTPUT;
            g->outputs[g->n_outputs++] = ov;
            if ((tmp.out = lw_define(L, n->out[0], ENG_PLAIN)) < 0) rc = ODRT_ERR_UNSUPPORTED;
        }
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == ODRT_OK) rc = ir_export_onnx(mm, &bytes, &len);
    ir_model_free(mm);
    if (rc != ODRT_OK) return rc;
    eng_op *op = eng_add_op(L->p, EOP_REF);
    int64_t off = op ? eng_blob_append(L->p, bytes, len) : -1;
    free(bytes);
    if (!op || off < 0) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    op->n_in = tmp.n_in, op->out = tmp.out, op->w_off = off, op->w_len = (int64_t)len;
    memcpy(op->in, tmp.in, sizeof op->in);
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

/* elementwise activation standalone */
static odrt_status_t lower_unary(lw *L, ir_node *n, ir_value *x, int act, float lo, float hi) {
    int lay = lw_have(L, x, ENG_NHWC) >= 0 || (L->root[x->id] && lw_have(L, L->root[x->id], ENG_NHWC) >= 0) ? ENG_NHWC : ENG_PLAIN;
    int tin, tout;
    ODRT_TRY(lw_materialize(L, x, lay, &tin));
    if ((tout = lw_define(L, n->out[0], L->p->tensors[tin].layout)) < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_UNARY);
    if (!op) return ODRT_ERR_NOMEM;
    op->n_in = 1, op->in[0] = tin, op->out = tout, op->act = act, op->act_lo = lo, op->act_hi = hi;
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

/* v [N, C, 1, 1] against y [N, C, H, W]: a per-image channel vector */
static int is_channel_vector(const ir_value *v, const ir_value *y) {
    if (!lw_static_float(v) || v->type.rank != 4 || y->type.rank != 4) return 0;
    return v->type.dims[0].value == y->type.dims[0].value && v->type.dims[1].value == y->type.dims[1].value &&
           v->type.dims[2].value == 1 && v->type.dims[3].value == 1;
}

/* x * v (or +, -, /) with v [N, C, 1, 1] computed (squeeze-and-excite): NHWC, one vector per image */
static odrt_status_t lower_channel_binary(lw *L, ir_node *n, int bin, ir_value *x, ir_value *v, int rev) {
    int tx, tv;
    ODRT_TRY(lw_materialize(L, x, ENG_NHWC, &tx));
    ODRT_TRY(lw_materialize(L, v, ENG_NHWC, &tv));
    ir_value *y = n->out[0], *ny;
    int act = EACT_ID;
    float lo = 0, hi = 0;
    if (lw_match_act(L, y, &act, &lo, &hi, &ny)) y = ny;
    int tout = lw_define(L, y, ENG_NHWC);
    if (tout < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_BINARY);
    if (!op) return ODRT_ERR_NOMEM;
    op->n_in = 2, op->in[0] = tx, op->in[1] = tv, op->out = tout, op->bin = bin, op->bcast = BC_CHANNEL;
    op->act = act, op->act_lo = lo, op->act_hi = hi, op->axis = rev;
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

/* MaxPool of a rank-4 tensor (2-D window, no dilation, floor sizes, one output) on NHWC */
static odrt_status_t lower_maxpool(lw *L, ir_node *n) {
    ir_value *x = n->in[0], *y = n->out[0];
    const ir_attr *ks = ir_node_attr(n, "kernel_shape"), *dl = ir_node_attr(n, "dilations");
    int plain = !dl || (dl->n == 2 && dl->ints[0] == 1 && dl->ints[1] == 1);
    if (!x || !lw_static_float(x) || !y || !lw_static_float(y) || x->type.rank != 4 || y->type.rank != 4 || !ks || ks->n != 2 || !plain ||
        ir_attr_int(n, "ceil_mode", 0) || ir_attr_int(n, "storage_order", 0) || (n->n_out > 1 && n->out[1]) ||
        y->type.dims[1].value != x->type.dims[1].value)
        return lw_lower_ref(L, n);
    eng_op tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.kh = (int)ks->ints[0], tmp.kw = (int)ks->ints[1];
    if (!lw_window_geometry(n, x, y, &tmp)) return lw_lower_ref(L, n);
    int tx, ty;
    ODRT_TRY(lw_materialize(L, x, ENG_NHWC, &tx));
    if ((ty = lw_define(L, y, ENG_NHWC)) < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_MAXPOOL);
    if (!op) return ODRT_ERR_NOMEM;
    int kind = op->kind;
    *op = tmp;
    op->kind = kind, op->residual = -1, op->n_in = 1, op->in[0] = tx, op->out = ty;
    op->cin = op->cout = (int)x->type.dims[1].value;
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

/* GlobalAveragePool, or ReduceMean over axes 2 and 3 keeping them, of a rank-4 tensor */
static odrt_status_t lower_mean_hw(lw *L, ir_node *n) {
    ir_value *x = n->in[0], *y = n->out[0];
    if (!x || !lw_static_float(x) || !lw_static_float(y) || x->type.rank != 4 || !is_channel_vector(y, x)) return lw_lower_ref(L, n);
    if (ir_op_is(n, "ReduceMean")) {
        int64_t ax[4], na = 0;
        const ir_attr *a = ir_node_attr(n, "axes");
        if (a && a->type == IR_ATTR_INTS && a->n <= 4) {
            na = a->n;
            memcpy(ax, a->ints, sizeof(int64_t) * (size_t)na);
        } else if (n->n_in > 1 && n->in[1] && n->in[1]->init && n->in[1]->init->dtype == ODRT_DT_INT64 && n->in[1]->init->numel <= 4) {
            na = n->in[1]->init->numel;
            memcpy(ax, n->in[1]->init->data, sizeof(int64_t) * (size_t)na);
        }
        int got = 0;
        for (int i = 0; i < na; i++) got |= 1 << (int)((ax[i] + 4) % 4);
        if (got != 12 || !ir_attr_int(n, "keepdims", 1)) return lw_lower_ref(L, n);
    }
    int tx, ty;
    ODRT_TRY(lw_materialize(L, x, ENG_NHWC, &tx));
    if ((ty = lw_define(L, y, ENG_NHWC)) < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_MEAN_HW);
    if (!op) return ODRT_ERR_NOMEM;
    op->n_in = 1, op->in[0] = tx, op->out = ty;
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

static odrt_status_t lower_binary(lw *L, ir_node *n, int bin) {
    ir_value *a = n->in[0], *b = n->in[1], *y = n->out[0];
    if (!a || !b || !lw_static_float(y) || (lw_is_const(a) && lw_is_const(b))) return lw_lower_ref(L, n);
    if (!lw_is_const(a) && !lw_is_const(b) && y->type.rank == 4) { /* squeeze-and-excite scaling */
        if (is_channel_vector(b, y) && !is_channel_vector(a, y)) return lower_channel_binary(L, n, bin, a, b, 0);
        if (is_channel_vector(a, y) && !is_channel_vector(b, y)) return lower_channel_binary(L, n, bin, b, a, 1);
    }
    int rev = lw_is_const(a);
    ir_value *x = rev ? b : a, *o = rev ? a : b;
    if (!lw_static_float(x) || x->type.rank != y->type.rank) return lw_lower_ref(L, n);
    for (int k = 0; k < y->type.rank; k++)
        if (x->type.dims[k].value != y->type.dims[k].value) return lw_lower_ref(L, n);
    int lay = lw_have(L, x, ENG_NHWC) >= 0 || (L->root[x->id] && lw_have(L, L->root[x->id], ENG_NHWC) >= 0) ? ENG_NHWC : ENG_PLAIN;
    int tx, to = -1, bc;
    float scalar = 0;
    float *cvec = NULL;
    int64_t clen = 0;
    ODRT_TRY(lw_materialize(L, x, lay, &tx));
    lay = L->p->tensors[tx].layout;
    if (!lw_is_const(o)) {
        if (!lw_static_float(o) || o->type.rank != y->type.rank) return lw_lower_ref(L, n);
        for (int k = 0; k < y->type.rank; k++)
            if (o->type.dims[k].value != y->type.dims[k].value) return lw_lower_ref(L, n);
        ODRT_TRY(lw_materialize(L, o, lay, &to));
        bc = BC_SAME;
    } else {
        const ir_tensor *c = o->init;
        if (c->dtype != ODRT_DT_FLOAT || c->rank > y->type.rank) return lw_lower_ref(L, n);
        if (c->numel == 1) bc = BC_SCALAR, scalar = ((float *)c->data)[0];
        else { /* expand to y's shape, physical layout */
            const eng_tensor *tt = &L->p->tensors[tx];
            int r = tt->rank, off = r - c->rank;
            int64_t pd[ODRT_MAX_RANK];
            eng_phys_dims(tt, pd);
            for (int k = 0; k < c->rank; k++)
                if (c->dims[k] != 1 && c->dims[k] != tt->dims[off + k]) return lw_lower_ref(L, n);
            /* varies only along the physical last axis? */
            int last_only = 1;
            for (int k = 0; k < c->rank; k++) {
                int lk = off + k; /* logical axis */
                int pk = tt->layout == ENG_NHWC ? (lk == 1 ? 3 : lk == 0 ? 0 : lk + 1) : lk;
                if (c->dims[k] != 1 && pk != r - 1) last_only = 0;
            }
            clen = last_only ? pd[r - 1] : tt->numel;
            bc = last_only ? BC_LASTDIM : BC_FULLCONST;
            if (!(cvec = malloc(sizeof(float) * (size_t)(clen + 1)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            for (int64_t q = 0; q < clen; q++) {
                int64_t rem = q, pc[ODRT_MAX_RANK] = {0}, lc[ODRT_MAX_RANK];
                if (last_only) pc[r - 1] = q;
                else for (int k = r - 1; k >= 0; k--) pc[k] = rem % pd[k], rem /= pd[k];
                for (int k = 0; k < r; k++) lc[k] = pc[k];
                if (tt->layout == ENG_NHWC) lc[1] = pc[3], lc[2] = pc[1], lc[3] = pc[2];
                int64_t ci = 0;
                for (int k = 0; k < c->rank; k++) ci = ci * c->dims[k] + (c->dims[k] == 1 ? 0 : lc[off + k]);
                cvec[q] = ((float *)c->data)[ci];
            }
        }
    }
    int act = EACT_ID;
    float lo = 0, hi = 0;
    ir_value *ny;
    if (lw_match_act(L, y, &act, &lo, &hi, &ny)) y = ny;
    int tout = lw_define(L, y, lay);
    if (tout < 0) {
        free(cvec);
        return ODRT_ERR_UNSUPPORTED;
    }
    eng_op *op = eng_add_op(L->p, EOP_BINARY);
    if (!op) {
        free(cvec);
        return ODRT_ERR_NOMEM;
    }
    op->n_in = to >= 0 ? 2 : 1, op->in[0] = tx, op->in[1] = to, op->out = tout, op->bin = bin, op->bcast = bc;
    op->scalar = scalar, op->act = act, op->act_lo = lo, op->act_hi = hi, op->axis = rev; /* axis: operands swapped */
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    if (cvec) {
        op->w_off = eng_blob_append(L->p, cvec, sizeof(float) * (size_t)clen);
        op->w_len = (int64_t)sizeof(float) * clen;
        free(cvec);
        if (op->w_off < 0) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    return ODRT_OK;
}

static odrt_status_t lower_concat(lw *L, ir_node *n) {
    ir_value *y = n->out[0];
    if (!lw_static_float(y) || n->n_in > ENG_MAX_IN || n->n_in < 1) return lw_lower_ref(L, n);
    int r = y->type.rank;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return lw_lower_ref(L, n);
    int all_nhwc = r == 4 && axis == 1;
    for (int k = 0; k < n->n_in; k++) {
        ir_value *x = n->in[k];
        if (!x || lw_is_const(x)) return lw_lower_ref(L, n);
        all_nhwc &= lw_have(L, x, ENG_NHWC) >= 0 || (L->root[x->id] && lw_have(L, L->root[x->id], ENG_NHWC) >= 0);
    }
    int lay = all_nhwc ? ENG_NHWC : ENG_PLAIN, tin[ENG_MAX_IN];
    for (int k = 0; k < n->n_in; k++) ODRT_TRY(lw_materialize(L, n->in[k], lay, &tin[k]));
    int tout = lw_define(L, y, lay);
    if (tout < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_CONCAT);
    if (!op) return ODRT_ERR_NOMEM;
    op->n_in = n->n_in, op->out = tout, op->axis = lay == ENG_NHWC ? 3 : (int)axis;
    memcpy(op->in, tin, sizeof(int) * (size_t)n->n_in);
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

static odrt_status_t lower_node(lw *L, ir_node *n) {
    /* data movement from one source: no op, the value is made on demand */
    if (is_movement(n)) {
        ir_value *src = NULL;
        int ok = 1;
        for (int k = 0; k < n->n_in && ok; k++) {
            ir_value *v = n->in[k];
            if (!v || lw_is_const(v)) continue;
            ir_value *r = L->root[v->id];
            if (!r || (src && r != src)) ok = 0;
            src = r;
        }
        if (ok && src && n->out[0]) {
            L->root[n->out[0]->id] = src;
            return ODRT_OK;
        }
    }
    switch (lowering(n)) {
    case EX_LOWER_CONV: return lower_conv(L, n);
    case EX_LOWER_RELU: return lower_unary(L, n, n->in[0], EACT_CLIP, 0, INFINITY);
    case EX_LOWER_SIGMOID: return lower_unary(L, n, n->in[0], EACT_SIGMOID, 0, 0);
    case EX_LOWER_CLIP: {
        float lo, hi;
        return clip_bounds(n, &lo, &hi) ? lower_unary(L, n, n->in[0], EACT_CLIP, lo, hi) : lw_lower_ref(L, n);
    }
    case EX_LOWER_MUL:
        if (n->in[0] && n->in[1]) /* swish whose Sigmoid was not fused into a producer */
            for (int k = 0; k < 2; k++) {
                const ir_node *sg = n->in[1 - k]->producer;
                if (sg && ir_op_is(sg, "Sigmoid") && sg->in[0] == n->in[k] && !lw_is_const(n->in[k]))
                    return lower_unary(L, n, n->in[k], EACT_SWISH, 0, 0);
            }
        return n->n_in == 2 ? lower_binary(L, n, BIN_MUL) : lw_lower_ref(L, n);
    case EX_LOWER_ADD: return n->n_in == 2 ? lower_binary(L, n, BIN_ADD) : lw_lower_ref(L, n);
    case EX_LOWER_SUB: return n->n_in == 2 ? lower_binary(L, n, BIN_SUB) : lw_lower_ref(L, n);
    case EX_LOWER_DIV: return n->n_in == 2 ? lower_binary(L, n, BIN_DIV) : lw_lower_ref(L, n);
    case EX_LOWER_MAX: return n->n_in == 2 ? lower_binary(L, n, BIN_MAX) : lw_lower_ref(L, n);
    case EX_LOWER_MIN: return n->n_in == 2 ? lower_binary(L, n, BIN_MIN) : lw_lower_ref(L, n);
    case EX_LOWER_CONCAT: return lower_concat(L, n);
    case EX_LOWER_MEAN_HW: return lower_mean_hw(L, n);
    case EX_LOWER_MAXPOOL: return lower_maxpool(L, n);
    case EX_LOWER_MATMUL: return lw_lower_matmul(L, n);
    case EX_LOWER_RESIZE: return lw_lower_resize(L, n);
    case EX_LOWER_CROP: return lw_lower_crop(L, n);
    default: break;
    }
    return lw_lower_ref(L, n);
}

odrt_status_t eng_lower_network(ir_model *m, int n_in, ir_value *const *inputs, int *t_ins, int n_out, ir_value *const *outs,
                                int *t_outs, eng_plan *p) {
    ir_graph *g = m->graph;
    size_t nv = g->n_values + 1;
    lw L = {m, g, p, {malloc(sizeof(int) * nv), malloc(sizeof(int) * nv)}, calloc(nv, sizeof(ir_value *)),
            calloc(g->n_nodes + 1, 1), malloc(sizeof(int) * nv), NULL, 0};
    odrt_status_t rc = ODRT_OK;
    if (!L.tid[0] || !L.tid[1] || !L.root || !L.fused || !L.node_index) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ODRT_OK && i < nv; i++) L.tid[0][i] = L.tid[1][i] = -1, L.node_index[i] = -1;
    for (size_t i = 0; rc == ODRT_OK && i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_out; k++)
            if (g->nodes[i]->out[k]) L.node_index[g->nodes[i]->out[k]->id] = (int)i;
    for (int i = 0; i < n_in && rc == ODRT_OK; i++)
        if ((t_ins[i] = lw_define(&L, inputs[i], ENG_PLAIN)) < 0) rc = ODRT_ERR_UNSUPPORTED;
    for (size_t i = 0; rc == ODRT_OK && i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || L.fused[i]) continue;
        rc = lower_node(&L, n);
    }
    /* the outputs in their logical layout (validate.c checks their shapes against the metadata) */
    for (int i = 0; i < n_out && rc == ODRT_OK; i++) rc = lw_materialize(&L, outs[i], ENG_PLAIN, &t_outs[i]);
    free(L.tid[0]), free(L.tid[1]), free(L.root), free(L.fused), free(L.node_index), free(L.packed);
    return rc;
}

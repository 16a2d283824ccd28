/* Shape inference with constant propagation. Nodes whose inputs are all known constants are
 * evaluated with the reference executor's own kernels (small results kept as constants, so
 * Shape -> Gather -> Concat -> Reshape chains resolve); other nodes get per-op shape rules. Types
 * found are written to the IR values where they were missing or less precise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/fold.h"
#include "ops/shape_rules.h"
#include "ops/exec.h"
#include "ir/ir.h"

#define FOLD_MAX_ELEMS 65536

struct shape_ctx {
    ir_model *m;
    ex_val **cst; /* per value, indexed through cst_index */
    odrt_smap_t idx;
    int updated;
};

static ex_val *get_const(shape_ctx *s, const ir_value *v) {
    return v ? odrt_smap_get(&s->idx, v->name) : NULL;
}

/* name keys are only unique per scope; sub-graphs are skipped for folding, so main-graph names suffice */
static void put_const(shape_ctx *s, const ir_value *v, ex_val *c) {
    if (!odrt_smap_put(&s->idx, v->name, c)) ex_val_free(c);
}

/* set v's type to (dt, rank, dims) where it adds information; dims < 0 unknown */
static void set_type(shape_ctx *s, ir_value *v, int dt, int rank, const int64_t *dims) {
    if (!v || rank > ODRT_MAX_RANK * 4) return;
    ir_type *t = &v->type;
    int changed = 0;
    if (t->kind == IR_TYPE_NONE) t->kind = IR_TYPE_TENSOR, changed = 1;
    if (t->kind != IR_TYPE_TENSOR) return;
    if (!t->dtype && dt) t->dtype = dt, changed = 1;
    if (rank < 0) {
        s->updated += changed;
        return;
    }
    if (t->rank < 0) {
        t->rank = rank;
        t->dims = odrt_arena_alloc(s->m->arena, sizeof(ir_dim) * (size_t)(rank + 1));
        if (!t->dims) {
            t->rank = -1;
            return;
        }
        for (int i = 0; i < rank; i++) t->dims[i].value = -1;
        changed = 1;
    }
    if (t->rank != rank) return; /* disagreement: keep the declared type */
    for (int i = 0; i < rank; i++)
        if (t->dims[i].value < 0 && dims && dims[i] >= 0) t->dims[i].value = dims[i], changed = 1;
    s->updated += changed;
}

static int dims_of(const ir_value *v, int64_t *d) {
    if (!v || v->type.kind != IR_TYPE_TENSOR || v->type.rank < 0 || v->type.rank > ODRT_MAX_RANK) return -1;
    for (int i = 0; i < v->type.rank; i++) d[i] = v->type.dims[i].value;
    return v->type.rank;
}

/* evaluate n if all inputs are constant and small */
static int try_fold(shape_ctx *s, ir_node *n) {
    if (!ir_node_foldable(n)) return 0;
    ex_val **ins = calloc((size_t)n->n_in + 1, sizeof *ins), **outs = calloc((size_t)n->n_out + 1, sizeof *outs);
    int ok = ins && outs;
    for (int k = 0; ok && k < n->n_in; k++) {
        if (!n->in[k]) continue;
        ins[k] = get_const(s, n->in[k]);
        if (!ins[k] || ex_numel(ins[k]) > FOLD_MAX_ELEMS) ok = 0;
    }
    if (!ok) {
        free(ins), free(outs);
        return 0;
    }
    ok = ir_run_node(s->m, n, ins, outs, 1) == ODRT_OK; /* folding failures are not the caller's errors */
    for (int k = 0; k < n->n_out; k++) {
        if (ok && n->out[k] && outs[k] && !outs[k]->is_seq) {
            set_type(s, n->out[k], outs[k]->t.dtype, outs[k]->t.rank, outs[k]->t.dims);
            if (ex_numel(outs[k]) <= FOLD_MAX_ELEMS) {
                put_const(s, n->out[k], outs[k]);
                continue;
            }
        }
        ex_val_free(outs[k]);
    }
    free(ins), free(outs);
    return ok;
}

static int64_t attr_or_const_ints(shape_ctx *s, const ir_node *n, const char *attr, int input, int64_t *out, int max) {
    const ir_attr *a = ir_node_attr(n, attr);
    if (a && a->type == IR_ATTR_INTS) {
        for (int i = 0; i < a->n && i < max; i++) out[i] = a->ints[i];
        return a->n;
    }
    ex_val *c = input < n->n_in ? get_const(s, n->in[input]) : NULL;
    if (!c || c->is_seq || ex_numel(c) > max) return -1;
    for (int64_t i = 0; i < ex_numel(c); i++) out[i] = ex_get_i(&c->t, i);
    return ex_numel(c);
}

/* ---- shape rules: one per kind of op, named in the op's kernel row (src/ops/k_*.c) ---- */
#define SH_PRELUDE                                                                                 \
    ir_value *x = n->n_in ? n->in[0] : NULL, *y = n->out[0];                                       \
    int64_t d[ODRT_MAX_RANK], e[ODRT_MAX_RANK];                                                    \
    int r = dims_of(x, d), dt = x ? x->type.dtype : 0;                                             \
    (void)e, (void)r, (void)dt, (void)y, (void)x

void sh_same(shape_ctx *s, ir_node *n) { /* elementwise unary: the input's type */
    SH_PRELUDE;
    set_type(s, y, dt, r, d);
}

static void broadcast(shape_ctx *s, ir_node *n, int odt) {
    SH_PRELUDE;
    int ro = 0;
    int64_t od[ODRT_MAX_RANK];
    for (int k = 0; k < n->n_in; k++) {
        int rk = dims_of(n->in[k], e);
        if (rk < 0) return set_type(s, y, odt, -1, NULL);
        int rn = rk > ro ? rk : ro;
        int64_t nd[ODRT_MAX_RANK];
        for (int j = 0; j < rn; j++) {
            int64_t a = j - (rn - ro) >= 0 ? od[j - (rn - ro)] : 1, b = j - (rn - rk) >= 0 ? e[j - (rn - rk)] : 1;
            nd[j] = a == 1 ? b : b == 1 ? a : a < 0 ? b : a;
        }
        memcpy(od, nd, sizeof(int64_t) * (size_t)rn);
        ro = rn;
    }
    set_type(s, y, odt, ro, od);
}
void sh_bcast(shape_ctx *s, ir_node *n) { broadcast(s, n, n->n_in && n->in[0] ? n->in[0]->type.dtype : 0); }
void sh_compare(shape_ctx *s, ir_node *n) { broadcast(s, n, ODRT_DT_BOOL); }
void sh_where(shape_ctx *s, ir_node *n) { broadcast(s, n, n->n_in > 1 && n->in[1] ? n->in[1]->type.dtype : 0); }

void sh_cast(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    set_type(s, y, (int)ir_attr_int(n, "to", 0), r, d);
}

void sh_quantize(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int zt = n->n_in > 2 && n->in[2] ? (n->in[2]->init ? n->in[2]->init->dtype : n->in[2]->type.dtype) : 0;
    int to = (int)ir_attr_int(n, "output_dtype", 0);
    set_type(s, y, zt ? zt : to ? to : ODRT_DT_UINT8, r, d);
}

void sh_dequantize(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int st = n->n_in > 1 && n->in[1] ? (n->in[1]->init ? n->in[1]->init->dtype : n->in[1]->type.dtype) : 0;
    set_type(s, y, st == ODRT_DT_FLOAT16 ? ODRT_DT_FLOAT16 : ODRT_DT_FLOAT, r, d);
}

void sh_shape(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    if (r < 0) return set_type(s, y, ODRT_DT_INT64, 1, NULL);
    int64_t st = ir_attr_int(n, "start", 0), en = ir_attr_int(n, "end", r);
    if (st < 0) st += r;
    if (en < 0) en += r;
    st = st < 0 ? 0 : st > r ? r : st;
    en = en < 0 ? 0 : en > r ? r : en;
    int64_t len = en > st ? en - st : 0;
    set_type(s, y, ODRT_DT_INT64, 1, &len);
    int all = 1;
    for (int64_t i = st; i < en; i++) all &= d[i] >= 0;
    if (all) { /* a fully known shape is a constant */
        ex_val *c = ex_val_new_tensor(ODRT_DT_INT64, 1, &len);
        if (c) {
            for (int64_t i = 0; i < len; i++) ((int64_t *)c->t.data)[i] = d[st + i];
            put_const(s, y, c);
        }
    }
}

static void conv_pool(shape_ctx *s, ir_node *n, int conv) {
    SH_PRELUDE;
    int64_t w[ODRT_MAX_RANK];
    int rw = conv && n->n_in > 1 ? dims_of(n->in[1], w) : -1;
    if (r < 3) return set_type(s, y, dt, r, NULL);
    int64_t k[4], st[4], dl[4], p[8], out[ODRT_MAX_RANK];
    int nsp = r - 2;
    if (nsp > 4) return;
    int64_t nk = attr_or_const_ints(s, n, "kernel_shape", 99, k, 4);
    for (int i = 0; i < nsp; i++) {
        if (nk < 0) k[i] = rw == r ? w[2 + i] : -1;
        st[i] = 1, dl[i] = 1, p[i] = p[i + nsp] = 0;
    }
    attr_or_const_ints(s, n, "strides", 99, st, 4);
    attr_or_const_ints(s, n, "dilations", 99, dl, 4);
    attr_or_const_ints(s, n, "pads", 99, p, 8);
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    int ceil_mode = (int)ir_attr_int(n, "ceil_mode", 0);
    out[0] = d[0];
    out[1] = conv ? (rw == r ? w[0] : -1) : d[1];
    for (int i = 0; i < nsp; i++) {
        int64_t in = d[2 + i];
        if (in < 0 || k[i] < 0 || st[i] <= 0 || dl[i] <= 0) {
            out[2 + i] = -1;
            continue;
        }
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) out[2 + i] = (in + st[i] - 1) / st[i];
        else {
            int64_t ek = (k[i] - 1) * dl[i] + 1, span = in + (strcmp(ap, "VALID") ? p[i] + p[i + nsp] : 0) - ek;
            out[2 + i] = span < 0 ? -1 : (ceil_mode ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
        }
    }
    set_type(s, y, dt, r, out);
}
void sh_conv(shape_ctx *s, ir_node *n) { conv_pool(s, n, 1); }
void sh_pool(shape_ctx *s, ir_node *n) { conv_pool(s, n, 0); }

void sh_global_pool(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    for (int i = 2; i < r; i++) d[i] = 1;
    set_type(s, y, dt, r, d);
}

void sh_transpose(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    const ir_attr *pa = ir_node_attr(n, "perm");
    if (r < 0 || (pa && pa->n != r)) return set_type(s, y, dt, -1, NULL);
    for (int i = 0; i < r; i++) {
        int64_t pi = pa ? pa->ints[i] : r - 1 - i;
        e[i] = pi >= 0 && pi < r ? d[pi] : -1;
    }
    set_type(s, y, dt, r, e);
}

void sh_concat(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int axis = (int)ir_attr_int(n, "axis", 0);
    for (int k = 1; r < 0 && k < n->n_in; k++) {
        r = dims_of(n->in[k], d);
        for (int i = 0; i < r; i++) d[i] = -1;
    }
    if (r < 0) return set_type(s, y, dt, -1, NULL);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return;
    int64_t sum = 0;
    for (int k = 0; k < n->n_in; k++) {
        int rk = dims_of(n->in[k], e);
        if (rk != r || e[axis] < 0) sum = -1;
        else if (sum >= 0) sum += e[axis];
        for (int i = 0; rk == r && i < r; i++)
            if (i != axis && d[i] < 0) d[i] = e[i];
    }
    d[axis] = sum;
    set_type(s, y, dt, r, d);
}

void sh_reshape(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int64_t sh[ODRT_MAX_RANK];
    int64_t ns = attr_or_const_ints(s, n, "shape", 1, sh, ODRT_MAX_RANK);
    if (ns < 0) return set_type(s, y, dt, -1, NULL);
    int64_t known = 1, total = 1;
    int infer = -1, all = r >= 0;
    for (int i = 0; i < r; i++) all &= d[i] >= 0, total *= d[i];
    for (int i = 0; i < ns; i++) {
        if (sh[i] == 0 && !ir_attr_int(n, "allowzero", 0)) sh[i] = i < r ? d[i] : -1;
        if (sh[i] == -1 && infer < 0) infer = i;
        else if (sh[i] >= 0) known *= sh[i];
        else sh[i] = -1;
    }
    if (infer >= 0) sh[infer] = all && known > 0 && total % known == 0 ? total / known : -1;
    set_type(s, y, dt, (int)ns, sh);
}

static void squeeze(shape_ctx *s, ir_node *n, int sq) {
    SH_PRELUDE;
    int64_t ax[ODRT_MAX_RANK];
    int64_t na = attr_or_const_ints(s, n, "axes", 1, ax, ODRT_MAX_RANK);
    if (r < 0 || na < 0) return set_type(s, y, dt, -1, NULL);
    int ro = sq ? r - (int)na : r + (int)na;
    if (ro < 0 || ro > ODRT_MAX_RANK) return;
    int mark[ODRT_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + (sq ? r : ro) : ax[i];
        if (a < 0 || a >= (sq ? r : ro)) return;
        mark[a] = 1;
    }
    for (int i = 0, k = 0, o = 0; i < (sq ? r : ro); i++) {
        if (sq) {
            if (!mark[i]) e[o++] = d[i];
        } else e[i] = mark[i] ? 1 : d[k++];
    }
    set_type(s, y, dt, ro, e);
}
void sh_squeeze(shape_ctx *s, ir_node *n) { squeeze(s, n, 1); }
void sh_unsqueeze(shape_ctx *s, ir_node *n) { squeeze(s, n, 0); }

void sh_gather(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int64_t id[ODRT_MAX_RANK];
    int ri = dims_of(n->n_in > 1 ? n->in[1] : NULL, id);
    int axis = (int)ir_attr_int(n, "axis", 0);
    if (r < 0 || ri < 0 || r - 1 + ri > ODRT_MAX_RANK) return set_type(s, y, dt, -1, NULL);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return;
    int o = 0;
    for (int i = 0; i < axis; i++) e[o++] = d[i];
    for (int i = 0; i < ri; i++) e[o++] = id[i];
    for (int i = axis + 1; i < r; i++) e[o++] = d[i];
    set_type(s, y, dt, o, e);
}

void sh_matmul(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int rb = dims_of(n->n_in > 1 ? n->in[1] : NULL, e);
    if (r < 1 || rb < 1) return set_type(s, y, dt, -1, NULL);
    /* numpy matmul: 1-D operands get a unit axis (removed again), batch axes broadcast */
    int64_t a[ODRT_MAX_RANK + 1], b[ODRT_MAX_RANK + 1], o[ODRT_MAX_RANK];
    int ra = r == 1 ? 2 : r, rbb = rb == 1 ? 2 : rb;
    if (r == 1) a[0] = 1, a[1] = d[0];
    else memcpy(a, d, sizeof(int64_t) * (size_t)r);
    if (rb == 1) b[0] = e[0], b[1] = 1;
    else memcpy(b, e, sizeof(int64_t) * (size_t)rb);
    int ro = ra > rbb ? ra : rbb;
    for (int i = 0; i < ro - 2; i++) {
        int ia = i - (ro - ra), ib = i - (ro - rbb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        o[i] = da == 1 ? db : db == 1 ? da : da == db ? da : -1;
        if (da < 0 || db < 0) o[i] = (da == 1 || db == 1) ? -1 : (da >= 0 ? da : db);
    }
    o[ro - 2] = a[ra - 2], o[ro - 1] = b[rbb - 1];
    int rr = ro;
    if (rb == 1) rr--;
    if (r == 1) {
        if (rb == 1) rr = 0;
        else o[ro - 2] = o[ro - 1], rr--;
    }
    set_type(s, y, dt, rr, o);
}

void sh_gemm(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int rb = dims_of(n->n_in > 1 ? n->in[1] : NULL, e);
    if (r != 2 || rb != 2) return;
    int64_t o[2] = {ir_attr_int(n, "transA", 0) ? d[1] : d[0], ir_attr_int(n, "transB", 0) ? e[0] : e[1]};
    set_type(s, y, dt, 2, o);
}

void sh_resize(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int64_t v[ODRT_MAX_RANK];
    if (r < 0) return set_type(s, y, dt, -1, NULL);
    if (n->n_in > 3 && n->in[3] && attr_or_const_ints(s, n, "", 3, v, ODRT_MAX_RANK) == r) return set_type(s, y, dt, r, v);
    /* no sizes: scales (input 2; opset 10's input 1), each output dim floor(input dim * scale) */
    ex_val *sc = n->n_in > 2 && n->in[2] ? get_const(s, n->in[2]) : n->n_in == 2 ? get_const(s, n->in[1]) : NULL;
    if (sc && !sc->is_seq && ex_numel(sc) == r && (sc->t.dtype == ODRT_DT_FLOAT || sc->t.dtype == ODRT_DT_DOUBLE)) {
        for (int i = 0; i < r; i++) v[i] = d[i] >= 0 ? (int64_t)floor((double)d[i] * (double)(float)ex_get_f(&sc->t, i)) : -1;
        return set_type(s, y, dt, r, v);
    }
    set_type(s, y, dt, r, NULL);
}

void sh_nms(shape_ctx *s, ir_node *n) {
    int64_t o[2] = {-1, 3};
    set_type(s, n->out[0], ODRT_DT_INT64, 2, o);
}

void sh_nonzero(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int64_t o[2] = {r, -1};
    set_type(s, y, ODRT_DT_INT64, 2, o);
}

void sh_topk(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int axis = (int)ir_attr_int(n, "axis", -1);
    int64_t kv[1];
    if (r < 0) return;
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return;
    d[axis] = attr_or_const_ints(s, n, "", 1, kv, 1) == 1 ? kv[0] : -1;
    set_type(s, y, dt, r, d);
    if (n->n_out > 1) set_type(s, n->out[1], ODRT_DT_INT64, r, d);
}

/* rank-preserving ops with data-dependent sizes: dtype and rank */
void sh_keep_rank(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    for (int k = 0; k < n->n_out; k++) set_type(s, n->out[k], dt, r, NULL);
}

/* Pad with constant pads (attribute before opset 11, input 1 after; an axes input from opset 18):
 * each padded axis grows by its begin + end pads */
void sh_pad(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int64_t pads[2 * ODRT_MAX_RANK], ax[ODRT_MAX_RANK];
    int64_t np = r > 0 ? attr_or_const_ints(s, n, "pads", 1, pads, 2 * ODRT_MAX_RANK) : -1;
    int64_t na = n->n_in > 3 && n->in[3] ? attr_or_const_ints(s, n, "", 3, ax, ODRT_MAX_RANK) : r;
    if (r <= 0 || na < 0 || np != 2 * na) {
        set_type(s, y, dt, r, NULL);
        return;
    }
    for (int i = 0; i < na; i++) {
        int64_t a = n->n_in > 3 && n->in[3] ? (ax[i] < 0 ? ax[i] + r : ax[i]) : i;
        if (a < 0 || a >= r) {
            set_type(s, y, dt, r, NULL);
            return;
        }
        if (d[a] >= 0) d[a] += pads[i] + pads[i + na];
    }
    set_type(s, y, dt, r, d);
}

void sh_dtype_only(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    for (int k = 0; k < n->n_out; k++) set_type(s, n->out[k], dt, -1, NULL);
}

void sh_reduce(shape_ctx *s, ir_node *n) { /* Reduce*, ArgMax, ArgMin */
    SH_PRELUDE;
    int arg = !strncmp(n->op, "Arg", 3);
    int keep = (int)ir_attr_int(n, "keepdims", 1), odt = arg ? ODRT_DT_INT64 : dt;
    /* the reduced axes: ArgMax/ArgMin's axis; else the axes input (opset 13 ReduceSum, 18+) or
     * attribute; none: every axis (or none, with noop_with_empty_axes) */
    int64_t ax[ODRT_MAX_RANK];
    int64_t na = arg ? (ax[0] = ir_attr_int(n, "axis", 0), 1)
                     : n->n_in > 1 && n->in[1] ? attr_or_const_ints(s, n, "", 1, ax, ODRT_MAX_RANK)
                                               : ir_node_attr(n, "axes") ? attr_or_const_ints(s, n, "axes", 99, ax, ODRT_MAX_RANK) : 0;
    int known = r >= 0 && na >= 0 && !(n->n_in > 1 && n->in[1] && na < 0);
    if (known && na == 0 && !arg) {
        if (ir_attr_int(n, "noop_with_empty_axes", 0)) na = -1; /* identity */
        else for (int i = 0; i < r; i++) ax[na++] = i;
    }
    if (known && na < 0) {
        for (int k = 0; k < n->n_out; k++) set_type(s, n->out[k], odt, r, d);
        return;
    }
    unsigned char red[ODRT_MAX_RANK] = {0};
    for (int64_t i = 0; known && i < na; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r) known = 0;
        else red[a] = 1;
    }
    if (!known) {
        for (int k = 0; k < n->n_out; k++) set_type(s, n->out[k], odt, keep ? r : -1, NULL);
        return;
    }
    int ro = 0;
    for (int i = 0; i < r; i++)
        if (!red[i]) e[ro++] = d[i];
        else if (keep) e[ro++] = 1;
    for (int k = 0; k < n->n_out; k++) set_type(s, n->out[k], odt, ro, e);
}

void sh_slice(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    if (r < 0) return sh_keep_rank(s, n);
    int64_t st[ODRT_MAX_RANK], en[ODRT_MAX_RANK], ax[ODRT_MAX_RANK], sp[ODRT_MAX_RANK];
    int64_t ns = attr_or_const_ints(s, n, "starts", 1, st, ODRT_MAX_RANK);
    int64_t ne = attr_or_const_ints(s, n, "ends", 2, en, ODRT_MAX_RANK);
    int64_t na = n->n_in > 3 && n->in[3] ? attr_or_const_ints(s, n, "", 3, ax, ODRT_MAX_RANK) : attr_or_const_ints(s, n, "axes", 99, ax, ODRT_MAX_RANK);
    int64_t np = n->n_in > 4 && n->in[4] ? attr_or_const_ints(s, n, "", 4, sp, ODRT_MAX_RANK) : 0;
    if (ns < 0 || ne != ns || (n->n_in > 3 && n->in[3] && na != ns) || (n->n_in > 4 && n->in[4] && np != ns))
        return set_type(s, y, dt, r, NULL);
    for (int64_t i = 0; i < ns; i++) {
        int64_t a = na > 0 ? ax[i] : i, step = np > 0 ? sp[i] : 1;
        if (a < 0) a += r;
        if (a < 0 || a >= r || step == 0) return set_type(s, y, dt, r, NULL);
        int64_t dim = d[a], b = st[i], e2 = en[i];
        if (dim < 0) continue;
        if (b < 0) b += dim;
        if (e2 < 0) e2 += dim;
        if (step > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e2 = e2 < 0 ? 0 : e2 > dim ? dim : e2;
            d[a] = e2 > b ? (e2 - b + step - 1) / step : 0;
        } else {
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e2 = e2 < -1 ? -1 : e2 > dim - 1 ? dim - 1 : e2;
            d[a] = b > e2 ? (b - e2 - step - 1) / (-step) : 0;
        }
    }
    set_type(s, y, dt, r, d);
}

void sh_split(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    if (r < 0) return sh_keep_rank(s, n);
    int axis = (int)ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return;
    int64_t sp[64];
    int64_t ns = n->n_out <= 64 ? attr_or_const_ints(s, n, "split", 1, sp, 64) : -1;
    for (int k = 0; k < n->n_out; k++) {
        memcpy(e, d, sizeof e);
        if (ns == n->n_out) e[axis] = sp[k];
        else if (d[axis] >= 0 && d[axis] % n->n_out == 0) e[axis] = d[axis] / n->n_out;
        else e[axis] = -1;
        set_type(s, n->out[k], dt, r, e);
    }
}

void sh_flatten(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    if (r < 0) return;
    int64_t axis = ir_attr_int(n, "axis", 1), o[2] = {1, 1};
    if (axis < 0) axis += r;
    for (int i = 0; i < r; i++) {
        if (d[i] < 0) o[i >= axis] = -1;
        else if (o[i >= axis] >= 0) o[i >= axis] *= d[i];
    }
    set_type(s, y, dt, 2, o);
}

void sh_constant_of_shape(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    const ir_attr *a = ir_node_attr(n, "value");
    int64_t len[1];
    int rr = dims_of(x, len);
    set_type(s, y, a && a->t ? a->t->dtype : ODRT_DT_FLOAT, rr == 1 ? (int)len[0] : -1, NULL);
}

void sh_gather_nd(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    int ri = n->n_in > 1 ? dims_of(n->in[1], e) : -1;
    if (r < 0 || ri < 1 || e[ri - 1] < 0) return set_type(s, y, dt, -1, NULL);
    int64_t q = e[ri - 1], bd = ir_attr_int(n, "batch_dims", 0), o[ODRT_MAX_RANK];
    int ro = (int)(ri - 1 + r - q - bd);
    if (ro < 0 || ro > ODRT_MAX_RANK) return;
    for (int i = 0; i < ri - 1; i++) o[i] = e[i];
    for (int i = ri - 1; i < ro; i++) o[i] = d[bd + q + (i - (ri - 1))];
    set_type(s, y, dt, ro, o);
}

void sh_gather_elements(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    set_type(s, y, dt, n->n_in > 1 ? dims_of(n->in[1], e) : -1, e);
}

void sh_range(shape_ctx *s, ir_node *n) {
    SH_PRELUDE;
    set_type(s, y, dt, 1, NULL);
}

void sh_loop(shape_ctx *s, ir_node *n) {
    const ir_attr *b = ir_node_attr(n, "body");
    if (!b || b->type != IR_ATTR_GRAPH) return;
    for (int k = 0; k < n->n_out && k + 1 < b->g->n_outputs; k++) {
        const ir_type *bt = &b->g->outputs[k + 1]->type;
        int carried = k < n->n_in - 2;
        if (bt->kind == IR_TYPE_TENSOR) set_type(s, n->out[k], bt->dtype, carried ? bt->rank : (bt->rank >= 0 ? bt->rank + 1 : -1), NULL);
    }
}

void sh_trt_nms(shape_ctx *s, ir_node *n) { /* EfficientNMS_TRT, BatchedNMS_TRT */
    SH_PRELUDE;
    if (n->n_out != 4) return;
    int eff = !strcmp(n->op, "EfficientNMS_TRT");
    int64_t K = ir_attr_int(n, eff ? "max_output_boxes" : "keepTopK", -1), B = r >= 1 ? d[0] : -1;
    int64_t d1[2] = {B, 1}, dk[2] = {B, K}, db[3] = {B, K, 4};
    set_type(s, n->out[0], ODRT_DT_INT32, 2, d1);
    set_type(s, n->out[1], ODRT_DT_FLOAT, 3, db);
    set_type(s, n->out[2], ODRT_DT_FLOAT, 2, dk);
    set_type(s, n->out[3], eff ? ODRT_DT_INT32 : ODRT_DT_FLOAT, 2, dk);
}

void sh_crop(shape_ctx *s, ir_node *n) { /* odrt.CropAndResize [B*P, C, ch, cw]; RoiAlign [R, C, oh, ow] */
    SH_PRELUDE;
    int roi = !strcmp(n->op, "RoiAlign");
    int64_t ch = ir_attr_int(n, roi ? "output_height" : "crop_height", roi ? 1 : -1);
    int64_t cw = ir_attr_int(n, roi ? "output_width" : "crop_width", roi ? 1 : -1);
    int64_t nb = -1;
    if (n->n_in > 1 && n->in[1]) {
        int rb = dims_of(n->in[1], e);
        if (roi && rb == 2) nb = e[0];
        if (!roi && rb >= 1) {
            int64_t ne = 1;
            for (int i = 0; i < rb && ne >= 0; i++) ne = e[i] < 0 ? -1 : ne * e[i];
            nb = ne >= 0 ? ne / 4 : -1;
        }
    }
    int64_t od[4] = {nb, r == 4 ? d[1] : -1, ch, cw};
    set_type(s, y, ODRT_DT_FLOAT, 4, od);
}

/* the op's registry row (src/ops/k_*.c) names its shape rule */
static void infer_node(shape_ctx *s, ir_node *n) {
    if (try_fold(s, n)) return;
    if (!n->n_out || !n->out[0]) return;
    const ex_kernel *k = ex_find_op(n->domain, n->op);
    if (k && k->shape) k->shape(s, n);
}

static void infer_graph(shape_ctx *s, ir_graph *g, int fold) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead) continue;
        if (fold) infer_node(s, n);
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == IR_ATTR_GRAPH) infer_graph(s, n->attrs[a].g, 0);
    }
}

int ir_infer_shapes(ir_model *m) {
    shape_ctx s = {m, NULL, {0}, 0};
    ir_graph *g = m->graph;
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (!v->init || v->init->dtype == ODRT_DT_STRING || v->init->rank > ODRT_MAX_RANK || v->init->numel > FOLD_MAX_ELEMS)
            continue;
        ex_val *c = ex_val_new_tensor((odrt_dtype_t)v->init->dtype, v->init->rank, v->init->dims);
        if (!c) continue;
        memcpy(c->t.data, v->init->data, v->init->nbytes);
        put_const(&s, v, c);
    }
    infer_graph(&s, g, 1);
    for (size_t i = 0; i < s.idx.cap; i++)
        if (s.idx.keys[i] && s.idx.vals[i]) ex_val_free(s.idx.vals[i]);
    odrt_smap_free(&s.idx);
    return s.updated;
}

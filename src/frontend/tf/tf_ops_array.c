/* TensorFlow -> IR lowerings: constants, shapes, reshapes, slices, gathers, concatenation,
 * reductions, TopK, NonMaxSuppression V2-V5, and the TensorList reads a map_fn leaves outside its
 * loop (the writes become Loop scan outputs in tf_frames.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_lower.h"

#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n->n_in < (k)) return tf_refuse(n, "needs %d inputs, has %d", (k), n->n_in);           \
    } while (0)
#define ONE(v)                                                                                     \
    do {                                                                                           \
        out[0] = (v);                                                                              \
        *n_out = 1;                                                                                \
        return ODRT_OK;                                                                            \
    } while (0)

static ir_value *attr_i(tf_ctx *c, ir_value *y, const char *name, int64_t v) {
    b_attr_i(&c->b, y, name, v);
    return y;
}

static ir_value *i64s(tf_ctx *c, int k, const int64_t *v) { return b_ints(&c->b, "tf/ints", k, v); }

static ir_value *scalar_of(tf_ctx *c, int dtype, double v) {
    union {
        float f;
        double d;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
    } u;
    memset(&u, 0, sizeof u);
    switch (dtype) {
    case ODRT_DT_FLOAT: u.f = (float)v; break;
    case ODRT_DT_DOUBLE: u.d = v; break;
    case ODRT_DT_INT32: u.i32 = (int32_t)v; break;
    case ODRT_DT_INT64: u.i64 = (int64_t)v; break;
    case ODRT_DT_BOOL: case ODRT_DT_UINT8: u.u8 = (uint8_t)v; break;
    default: return NULL;
    }
    return b_const(&c->b, "tf/scalar", dtype, 0, NULL, &u);
}

/* a one-element tensor as shape [1] of dtype: a constant when v is one (what the TF OD API
 * recognition reads: NMS thresholds, TopK's k), else Cast + Reshape */
static ir_value *one_elem(tf_ctx *c, const char *name, ir_value *v, int dtype) {
    const ir_tensor *t = tf_const_of(v);
    if (t && t->numel == 1 && (t->dtype == ODRT_DT_FLOAT || t->dtype == ODRT_DT_INT32 || t->dtype == ODRT_DT_INT64)) {
        double x = t->dtype == ODRT_DT_FLOAT ? ((float *)t->data)[0]
                   : t->dtype == ODRT_DT_INT32 ? ((int32_t *)t->data)[0] : (double)((int64_t *)t->data)[0];
        int64_t one = 1, i = (int64_t)x;
        float f = (float)x;
        return b_const(&c->b, name, dtype, 1, &one, dtype == ODRT_DT_FLOAT ? (const void *)&f : (const void *)&i);
    }
    int64_t one = 1;
    return b_op2(&c->b, "Reshape", name, dtype == ODRT_DT_INT64 ? tf_i64(c, v) : b_cast(&c->b, name, v, dtype), i64s(c, 1, &one));
}

static odrt_status_t konst(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    (void)in;
    const ir_attr *va = tf_attr(n, "value");
    if (!n->value) return tf_refuse(n, "its value has %s", va && va->type == IR_ATTR_UNDEFINED && va->s ? va->s : "no tensor");
    ir_value *v = ir_graph_add_const(c->b.g, ir_unique_name(c->b.g, n->name), n->value);
    if (!v) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    ONE(v);
}

static odrt_status_t placeholder(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    if (!strcmp(n->op, "PlaceholderWithDefault") && n->n_in == 1) ONE(b_op1(&c->b, "Identity", n->name, in[0]));
    return tf_refuse(n, "a placeholder that is not one of the signature's inputs");
}

static odrt_status_t identity_n(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    for (int k = 0; k < n->n_in; k++) out[k] = b_op1(&c->b, "Identity", n->name, in[k]);
    *n_out = n->n_in;
    return ODRT_OK;
}

static ir_value *cast_to(tf_ctx *c, const char *name, ir_value *x, int to) {
    return to == ODRT_DT_INT64 ? x : b_cast(&c->b, name, x, to);
}

static odrt_status_t shape(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    int to = tf_dtype_to_odrt(tf_attr_i(n, "out_type", TF_DT_INT32));
    if (!strcmp(n->op, "Shape")) ONE(cast_to(c, n->name, b_op1(&c->b, "Shape", n->name, in[0]), to));
    if (!strcmp(n->op, "Size")) ONE(cast_to(c, n->name, b_op1(&c->b, "Size", n->name, in[0]), to));
    ONE(b_cast(&c->b, n->name, b_op1(&c->b, "Size", n->name, b_op1(&c->b, "Shape", n->name, in[0])), ODRT_DT_INT32));
}

static odrt_status_t reshape(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t s[64];
    int k = tf_const_ints(in[1], s, 64), zero = 0;
    for (int i = 0; i < k; i++) zero |= s[i] == 0;
    ir_value *y = b_op2(&c->b, "Reshape", n->name, in[0], tf_i64(c, in[1]));
    if (zero) b_attr_i(&c->b, y, "allowzero", 1); /* TF's 0 is an empty dim, not "copy" */
    ONE(y);
}

static odrt_status_t transpose(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t p[16];
    int k = tf_const_ints(in[1], p, 16);
    if (k < 0) return tf_refuse(n, "the permutation is not a constant");
    ONE(b_transpose(&c->b, n->name, in[0], k, p));
}

static odrt_status_t concat(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int v1 = !strcmp(n->op, "Concat");
    int64_t axis;
    if (tf_const_ints(in[v1 ? 0 : n->n_in - 1], &axis, 1) != 1) return tf_refuse(n, "the axis is not a constant");
    ir_value *y = n->n_in == 2 ? b_op1(&c->b, "Identity", n->name, in[v1])
                               : b_op(&c->b, "Concat", n->name, n->n_in - 1, in + v1);
    if (n->n_in > 2) b_attr_i(&c->b, y, "axis", axis);
    ONE(y);
}

static ir_value *unsqueeze(tf_ctx *c, const char *name, ir_value *x, int64_t axis) {
    return b_op2(&c->b, "Unsqueeze", name, x, i64s(c, 1, &axis));
}

static odrt_status_t pack(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    int64_t axis = tf_attr_i(n, "axis", 0);
    ir_value **u = malloc(sizeof(ir_value *) * (size_t)n->n_in);
    if (!u) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n->n_in; k++) u[k] = unsqueeze(c, n->name, in[k], axis);
    ir_value *y = n->n_in == 1 ? u[0] : b_op(&c->b, "Concat", n->name, n->n_in, u);
    if (n->n_in > 1) b_attr_i(&c->b, y, "axis", axis);
    free(u);
    ONE(y);
}

/* equal parts of x along axis: Split (opset 13-17: the output count sets the parts) */
static odrt_status_t split_equal(tf_ctx *c, const tf_node *n, ir_value *x, int64_t axis, int64_t num, int squeeze,
                                 ir_value **out, int *n_out) {
    if (num < 1 || num > TF_MAX_OUTPUTS) return tf_refuse(n, "%lld parts", (long long)num);
    if (num == 1) {
        out[0] = squeeze ? b_op2(&c->b, "Squeeze", n->name, x, i64s(c, 1, &axis)) : b_op1(&c->b, "Identity", n->name, x);
        *n_out = 1;
        return ODRT_OK;
    }
    ir_node *sp = b_node(&c->b, "Split", "", n->name, 1, &x, (int)num);
    if (!sp) return c->b.rc;
    if (!ir_set_attr_int(sp, "axis", axis)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < num; k++) out[k] = squeeze ? b_op2(&c->b, "Squeeze", n->name, sp->out[k], i64s(c, 1, &axis)) : sp->out[k];
    *n_out = (int)num;
    return ODRT_OK;
}

static odrt_status_t unpack(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    return split_equal(c, n, in[0], tf_attr_i(n, "axis", 0), tf_attr_i(n, "num", 0), 1, out, n_out);
}

static odrt_status_t split(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t axis;
    if (tf_const_ints(in[0], &axis, 1) != 1) return tf_refuse(n, "the axis is not a constant");
    return split_equal(c, n, in[1], axis, tf_attr_i(n, "num_split", 0), 0, out, n_out);
}

static odrt_status_t splitv(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(3);
    int64_t axis, sizes[TF_MAX_OUTPUTS];
    int k = tf_const_ints(in[1], sizes, TF_MAX_OUTPUTS);
    if (tf_const_ints(in[2], &axis, 1) != 1 || k < 1) return tf_refuse(n, "sizes or axis are not constants");
    for (int i = 0; i < k; i++)
        if (sizes[i] < 0) return tf_refuse(n, "an inferred (-1) split size");
    ir_value *sin[2] = {in[0], i64s(c, k, sizes)};
    ir_node *sp = b_node(&c->b, "Split", "", n->name, 2, sin, k);
    if (!sp) return c->b.rc;
    if (!ir_set_attr_int(sp, "axis", axis)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < k; i++) out[i] = sp->out[i];
    *n_out = k;
    return ODRT_OK;
}

static odrt_status_t expand_dims(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t axis;
    if (tf_const_ints(in[1], &axis, 1) != 1) return tf_refuse(n, "the axis is not a constant");
    ONE(unsqueeze(c, n->name, in[0], axis));
}

static odrt_status_t squeeze(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    const ir_attr *a = tf_attr(n, "squeeze_dims");
    if (!a || a->type != IR_ATTR_INTS || !a->n) ONE(b_op1(&c->b, "Squeeze", n->name, in[0]));
    ONE(b_op2(&c->b, "Squeeze", n->name, in[0], i64s(c, a->n, a->ints)));
}

/* StridedSlice with constant begin/end/strides: Slice, then Squeeze (shrink axes), then
 * Unsqueeze (new axes); an ellipsis needs the input's rank */
static odrt_status_t strided_slice(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(4);
    int64_t b[16], e[16], s[16];
    int L = tf_const_ints(in[1], b, 16);
    if (L < 0 || tf_const_ints(in[2], e, 16) != L || tf_const_ints(in[3], s, 16) != L)
        return tf_refuse(n, "begin, end and strides are not constants of one length");
    int64_t bm = tf_attr_i(n, "begin_mask", 0), em = tf_attr_i(n, "end_mask", 0), elm = tf_attr_i(n, "ellipsis_mask", 0),
            nm = tf_attr_i(n, "new_axis_mask", 0), sm = tf_attr_i(n, "shrink_axis_mask", 0);
    int rank = in[0]->type.kind == IR_TYPE_TENSOR ? in[0]->type.rank : -1;
    if (in[0]->init) rank = in[0]->init->rank;
    int64_t st[32], en[32], ax[32], stp[32], sq[32], us[32];
    int ns = 0, nsq = 0, nus = 0, a = 0, o = 0, after_ellipsis = 0;
    for (int i = 0; i < L; i++) {
        if (elm >> i & 1) {
            int rest = 0; /* input axes the specs after the ellipsis use */
            for (int j = i + 1; j < L; j++) rest += !(nm >> j & 1);
            if (rest == 0 && i == L - 1) break; /* a trailing ellipsis selects all the rest */
            if (rank < 0) { /* the specs after it address the last axes: negative axes */
                int new_after = 0;
                for (int j = i + 1; j < L; j++) new_after |= (int)(nm >> j & 1);
                if (new_after) return tf_refuse(n, "new axes after an ellipsis on an input of unknown rank");
                after_ellipsis = rest;
                continue;
            }
            int skip = rank - a - rest;
            if (skip < 0) return tf_refuse(n, "more specs than the input's rank");
            a += skip, o += skip;
            continue;
        }
        if (nm >> i & 1) {
            us[nus++] = o++;
            continue;
        }
        if (s[i] == 0) return tf_refuse(n, "a zero stride");
        int64_t start = b[i], end = e[i], step = s[i];
        if (after_ellipsis) a = -after_ellipsis--; /* counts up to -1 */
        if (sm >> i & 1) {
            end = start == -1 ? INT64_MAX : start + 1, step = 1;
            sq[nsq++] = a;
        } else {
            if (bm >> i & 1) start = step > 0 ? 0 : INT64_MAX;
            if (em >> i & 1) end = step > 0 ? INT64_MAX : INT64_MIN;
            o++;
        }
        if (ns == 32 || nsq > 32 || nus > 32) return tf_refuse(n, "too many axes");
        st[ns] = start, en[ns] = end, ax[ns] = a, stp[ns++] = step;
        a++;
    }
    ir_value *y = in[0];
    if (ns) {
        ir_value *sin[5] = {y, i64s(c, ns, st), i64s(c, ns, en), i64s(c, ns, ax), i64s(c, ns, stp)};
        y = b_op(&c->b, "Slice", n->name, 5, sin);
    }
    if (nsq) y = b_op2(&c->b, "Squeeze", n->name, y, i64s(c, nsq, sq));
    if (nus) y = b_op2(&c->b, "Unsqueeze", n->name, y, i64s(c, nus, us));
    if (!ns && !nsq && !nus) y = b_op1(&c->b, "Identity", n->name, y);
    ONE(y);
}

/* Slice(x, begin, size): size -1 runs to the end */
static odrt_status_t slice(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(3);
    int64_t b[16], sz[16], e[16];
    int L = tf_const_ints(in[1], b, 16);
    ir_value *start = tf_i64(c, in[1]), *end;
    if (L >= 0 && tf_const_ints(in[2], sz, 16) == L) {
        for (int i = 0; i < L; i++) e[i] = sz[i] == -1 ? INT64_MAX : b[i] + sz[i];
        end = i64s(c, L, e);
    } else { /* where(size == -1, max, begin + size) */
        ir_value *s64 = tf_i64(c, in[2]);
        ir_value *win[3] = {b_op2(&c->b, "Equal", n->name, s64, b_scalar_i64(&c->b, "tf/m1", -1)),
                            b_scalar_i64(&c->b, "tf/max", INT64_MAX), b_op2(&c->b, "Add", n->name, start, s64)};
        end = b_op(&c->b, "Where", n->name, 3, win);
    }
    ir_value *sin[3] = {in[0], start, end};
    ONE(b_op(&c->b, "Slice", n->name, 3, sin));
}

static odrt_status_t gather(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t axis = 0;
    if (!strcmp(n->op, "GatherV2") && (n->n_in < 3 || tf_const_ints(in[2], &axis, 1) != 1)) return tf_refuse(n, "the axis is not a constant");
    if (tf_attr_i(n, "batch_dims", 0) != 0) return tf_refuse(n, "batch_dims is not 0");
    ONE(attr_i(c, b_op2(&c->b, "Gather", n->name, in[0], in[1]), "axis", axis));
}

static odrt_status_t gather_nd(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ONE(b_op2(&c->b, "GatherND", n->name, in[0], tf_i64(c, in[1])));
}

static odrt_status_t fill(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ONE(b_op2(&c->b, "Expand", n->name, in[1], tf_i64(c, in[0])));
}

static odrt_status_t broadcast_to(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ONE(b_op2(&c->b, "Expand", n->name, in[0], tf_i64(c, in[1])));
}

static odrt_status_t zeros_like(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    int dt = tf_dtype_to_odrt(tf_attr_i(n, "T", 0));
    ir_value *v = scalar_of(c, dt, strcmp(n->op, "OnesLike") ? 0 : 1);
    if (!v) return tf_refuse(n, "unsupported dtype");
    ONE(b_op2(&c->b, "Expand", n->name, v, b_op1(&c->b, "Shape", n->name, in[0])));
}

static odrt_status_t range(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(3);
    ONE(b_op(&c->b, "Range", n->name, 3, in));
}

static odrt_status_t where1(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    static const int64_t p[2] = {1, 0};
    ONE(b_transpose(&c->b, n->name, b_op1(&c->b, "NonZero", n->name, in[0]), 2, p));
}

/* Select broadcasts a rank-1 condition along the first axis: reshape it to [N, 1, ...] of x's rank */
static odrt_status_t select_op(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(3);
    ir_value *cond = in[0];
    if (!strcmp(n->op, "Select")) {
        ir_value *sc = b_op1(&c->b, "Shape", n->name, cond), *sx = b_op1(&c->b, "Shape", n->name, in[1]);
        ir_value *extra = b_op2(&c->b, "Sub", n->name, b_op1(&c->b, "Size", n->name, sx), b_op1(&c->b, "Size", n->name, sc));
        int64_t one = 1;
        ir_value *ones = b_op2(&c->b, "Expand", n->name, b_const(&c->b, "tf/one", ODRT_DT_INT64, 1, &one, &one),
                               unsqueeze(c, n->name, extra, 0));
        ir_value *cat[2] = {sc, ones};
        ir_value *shp = attr_i(c, b_op(&c->b, "Concat", n->name, 2, cat), "axis", 0);
        cond = b_op2(&c->b, "Reshape", n->name, cond, shp);
    }
    ir_value *w[3] = {cond, in[1], in[2]};
    ONE(b_op(&c->b, "Where", n->name, 3, w));
}

/* BroadcastArgs(s0, s1): both shapes padded with leading 1s to one length, then where(d0 == 1, d1, d0) */
static odrt_status_t broadcast_args(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ir_value *len[2], *padded[2];
    for (int i = 0; i < 2; i++) len[i] = b_op1(&c->b, "Shape", n->name, in[i]);
    ir_value *mx = b_op2(&c->b, "Max", n->name, len[0], len[1]);
    for (int i = 0; i < 2; i++) {
        int64_t zero = 0;
        ir_value *cat[2] = {b_op2(&c->b, "Sub", n->name, mx, len[i]), i64s(c, 1, &zero)};
        ir_value *pads = attr_i(c, b_op(&c->b, "Concat", n->name, 2, cat), "axis", 0);
        ir_value *pin[3] = {in[i], pads, b_op2(&c->b, "CastLike", n->name, b_scalar_i64(&c->b, "tf/one", 1), in[i])};
        padded[i] = b_op(&c->b, "Pad", n->name, 3, pin);
    }
    ir_value *w[3] = {b_op2(&c->b, "Equal", n->name, padded[0], b_op2(&c->b, "CastLike", n->name, b_scalar_i64(&c->b, "tf/one", 1), in[0])),
                      padded[1], padded[0]};
    ONE(b_op(&c->b, "Where", n->name, 3, w));
}

static odrt_status_t tile(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ONE(b_op2(&c->b, "Tile", n->name, in[0], tf_i64(c, in[1])));
}

/* paddings [rank, 2] -> ONNX pads [begins..., ends...] */
static odrt_status_t pad(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t p[64], q[64];
    int k = tf_const_ints(in[1], p, 64);
    if (k >= 0 && k % 2) return tf_refuse(n, "the paddings are not a [rank, 2] tensor");
    for (int i = 0; i < k / 2; i++) q[i] = p[2 * i], q[k / 2 + i] = p[2 * i + 1];
    static const int64_t t[2] = {1, 0}, flat = -1;
    ir_value *pads = k >= 0 ? i64s(c, k, q) /* computed: transpose [rank, 2] -> [2, rank], flatten */
                            : b_op2(&c->b, "Reshape", n->name, b_transpose(&c->b, n->name, tf_i64(c, in[1]), 2, t), i64s(c, 1, &flat));
    const char *mode = "constant";
    if (!strcmp(n->op, "MirrorPad")) {
        const char *m = tf_attr_s(n, "mode", "REFLECT");
        if (strcmp(m, "REFLECT")) return tf_refuse(n, "mode %s", m);
        mode = "reflect";
    }
    ir_value *pin[3] = {in[0], pads, !strcmp(n->op, "PadV2") && n->n_in > 2 ? in[2] : NULL};
    ir_value *y = b_op(&c->b, "Pad", n->name, pin[2] ? 3 : 2, pin);
    b_attr_s(&c->b, y, "mode", mode);
    ONE(y);
}

static odrt_status_t topk(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ir_value *tin[2] = {in[0], one_elem(c, n->name, in[1], ODRT_DT_INT64)};
    ir_node *t = b_node(&c->b, "TopK", "", n->name, 2, tin, 2);
    if (!t) return c->b.rc;
    if (!ir_set_attr_int(t, "sorted", 1)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    out[0] = t->out[0];
    out[1] = b_cast(&c->b, n->name, t->out[1], tf_dtype_to_odrt(tf_attr_i(n, "index_type", TF_DT_INT32)));
    *n_out = 2;
    return ODRT_OK;
}

static odrt_status_t reduce(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    static const struct {
        const char *tf, *onnx;
    } R[] = {{"Sum", "ReduceSum"}, {"Max", "ReduceMax"}, {"Min", "ReduceMin"}, {"Mean", "ReduceMean"},
             {"Prod", "ReduceProd"}, {"All", "ReduceMin"}, {"Any", "ReduceMax"}};
    const char *op = NULL;
    for (size_t i = 0; i < sizeof R / sizeof *R; i++)
        if (!strcmp(R[i].tf, n->op)) op = R[i].onnx;
    int64_t axes[16];
    int k = tf_const_ints(in[1], axes, 16);
    int keep = (int)tf_attr_i(n, "keep_dims", 0), logical = !strcmp(n->op, "All") || !strcmp(n->op, "Any");
    ir_value *x = logical ? b_cast(&c->b, n->name, in[0], ODRT_DT_INT32) : in[0], *y;
    if (!strcmp(op, "ReduceSum")) {
        y = b_op2(&c->b, op, n->name, x, k >= 0 ? i64s(c, k, axes) : b_op2(&c->b, "Reshape", n->name, tf_i64(c, in[1]), i64s(c, 1, (const int64_t[1]){-1})));
    } else {
        if (k < 0) return tf_refuse(n, "the axes are not a constant");
        y = b_op1(&c->b, op, n->name, x);
        b_attr_ints(&c->b, y, "axes", k, axes);
    }
    b_attr_i(&c->b, y, "keepdims", keep);
    ONE(logical ? b_cast(&c->b, n->name, y, ODRT_DT_BOOL) : y);
}

static odrt_status_t argmax(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int64_t axis;
    if (tf_const_ints(in[1], &axis, 1) != 1) return tf_refuse(n, "the dimension is not a constant");
    ir_value *y = b_op1(&c->b, strcmp(n->op, "ArgMax") ? "ArgMin" : "ArgMax", n->name, in[0]);
    b_attr_i(&c->b, y, "axis", axis);
    b_attr_i(&c->b, y, "keepdims", 0);
    ONE(cast_to(c, n->name, y, tf_dtype_to_odrt(tf_attr_i(n, "output_type", TF_DT_INT64))));
}

static odrt_status_t cumsum(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ir_value *y = b_op2(&c->b, "CumSum", n->name, in[0], tf_i64(c, in[1]));
    b_attr_i(&c->b, y, "exclusive", tf_attr_i(n, "exclusive", 0));
    b_attr_i(&c->b, y, "reverse", tf_attr_i(n, "reverse", 0));
    ONE(y);
}

static odrt_status_t clip_value(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(3);
    ONE(b_op2(&c->b, "Max", n->name, b_op2(&c->b, "Min", n->name, in[0], in[2]), in[1]));
}

/* NonMaxSuppression V2..V5 (boxes [N,4], scores [N], max_output_size, iou_threshold
 * [, score_threshold [, soft_nms_sigma]]) on ONNX NonMaxSuppression: TF keeps scores >
 * score_threshold and suppresses IoU > iou_threshold, best first, as ONNX does. */
static odrt_status_t nms(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    int v = n->op[strlen(n->op) - 1] - '0';
    NEED(v >= 3 ? 5 : 4);
    if (v == 5) {
        const ir_tensor *sg = tf_const_of(in[5]);
        if (!sg || sg->numel != 1 || sg->dtype != ODRT_DT_FLOAT || ((float *)sg->data)[0] != 0.0f)
            return tf_refuse(n, "soft-NMS (a soft_nms_sigma that is not a constant 0)");
    }
    int64_t two = 2;
    ir_value *boxes = unsqueeze(c, n->name, in[0], 0);
    ir_value *scores = b_op2(&c->b, "Unsqueeze", n->name, in[1], i64s(c, 2, (const int64_t[2]){0, 1}));
    ir_value *maxo = one_elem(c, n->name, in[2], ODRT_DT_INT64), *iou = one_elem(c, n->name, in[3], ODRT_DT_FLOAT);
    ir_value *nin[5] = {boxes, scores, maxo, iou, v >= 3 ? one_elem(c, n->name, in[4], ODRT_DT_FLOAT) : NULL};
    ir_value *sel3 = b_op(&c->b, "NonMaxSuppression", n->name, v >= 3 ? 5 : 4, nin);
    ir_value *sel = attr_i(c, b_op2(&c->b, "Gather", n->name, sel3, b_scalar_i64(&c->b, "tf/two", two)), "axis", 1);
    ir_value *valid = b_cast(&c->b, n->name, b_op1(&c->b, "Size", n->name, sel), ODRT_DT_INT32);
    ir_value *sc = v == 5 ? attr_i(c, b_op2(&c->b, "Gather", n->name, in[1], sel), "axis", 0) : NULL;
    if ((v == 4 || v == 5) && tf_attr_i(n, "pad_to_max_output_size", 0)) {
        int64_t zero = 0;
        ir_value *cat[2] = {i64s(c, 1, &zero), b_op2(&c->b, "Sub", n->name, maxo, b_op1(&c->b, "Shape", n->name, sel))};
        ir_value *pads = attr_i(c, b_op(&c->b, "Concat", n->name, 2, cat), "axis", 0);
        sel = b_op2(&c->b, "Pad", n->name, sel, pads);
        if (sc) sc = b_op2(&c->b, "Pad", n->name, sc, pads);
    }
    out[0] = b_cast(&c->b, n->name, sel, ODRT_DT_INT32);
    if (v == 5) out[1] = sc, out[2] = valid, *n_out = 3;
    else if (v == 4) out[1] = valid, *n_out = 2;
    else *n_out = 1;
    return ODRT_OK;
}

/* TensorLists outside a map_fn loop's writes: the list is the stacked tensor itself */
static odrt_status_t list_identity(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    ONE(b_op1(&c->b, "Identity", n->name, in[0]));
}

static odrt_status_t list_get(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ONE(attr_i(c, b_op2(&c->b, "Gather", n->name, in[0], in[1]), "axis", 0));
}

static odrt_status_t list_refuse(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    (void)c, (void)in, (void)out, (void)n_out;
    return tf_refuse(n, "a TensorList written other than map_fn's item per iteration is not supported");
}

static odrt_status_t frame_node(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    (void)c, (void)in, (void)out, (void)n_out;
    return tf_refuse(n, "a while-loop node read outside the loop structure odrt understands");
}

const tf_op_row tf_ops_array[] = {
    {"Const", konst}, {"Placeholder", placeholder}, {"PlaceholderWithDefault", placeholder},
    {"IdentityN", identity_n}, {"Shape", shape}, {"Size", shape}, {"Rank", shape}, {"Reshape", reshape},
    {"Transpose", transpose}, {"ConcatV2", concat}, {"Concat", concat}, {"Pack", pack}, {"Unpack", unpack},
    {"Split", split}, {"SplitV", splitv}, {"ExpandDims", expand_dims}, {"Squeeze", squeeze},
    {"StridedSlice", strided_slice}, {"Slice", slice}, {"GatherV2", gather}, {"Gather", gather},
    {"GatherNd", gather_nd}, {"Fill", fill}, {"BroadcastTo", broadcast_to}, {"ZerosLike", zeros_like},
    {"OnesLike", zeros_like}, {"Range", range}, {"Where", where1}, {"Select", select_op}, {"SelectV2", select_op},
    {"Tile", tile}, {"BroadcastArgs", broadcast_args}, {"Pad", pad}, {"PadV2", pad}, {"MirrorPad", pad}, {"TopKV2", topk}, {"Sum", reduce},
    {"Max", reduce}, {"Min", reduce}, {"Mean", reduce}, {"Prod", reduce}, {"All", reduce}, {"Any", reduce},
    {"ArgMax", argmax}, {"ArgMin", argmax}, {"Cumsum", cumsum}, {"ClipByValue", clip_value},
    {"NonMaxSuppressionV2", nms}, {"NonMaxSuppressionV3", nms}, {"NonMaxSuppressionV4", nms},
    {"NonMaxSuppressionV5", nms}, {"TensorListFromTensor", list_identity}, {"TensorListStack", list_identity},
    {"TensorListGetItem", list_get}, {"TensorListReserve", list_refuse}, {"TensorListSetItem", list_refuse},
    {"Enter", frame_node}, {"Merge", frame_node}, {"Switch", frame_node}, {"NextIteration", frame_node},
    {"LoopCond", frame_node}, {NULL, NULL}};

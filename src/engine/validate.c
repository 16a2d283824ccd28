/* Plan validation that belongs to no backend. A loaded file is untrusted: format.c has checked
 * counts, indices and blob ranges as it parsed; here every op is checked against its kind's row
 * (engine_ops.h) and its kind's own rules (shapes agree, packed sizes, index maps in range), so
 * that a backend's kernels can rely on a valid plan and its supports_op need only say what it
 * runs. */
#include <string.h>

#include "util.h"
#include "engine/engine.h"
#include "engine/plan_util.h"
#include "crop_coord.h"

#define BADOP(...) (odrt_fail(ODRT_ERR_PARSE, "engine: op %d (%s): " __VA_ARGS__), 0)

static int same_shape(const eng_tensor *a, const eng_tensor *b) {
    if (a->rank != b->rank || a->layout != b->layout) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* kernel, strides, dilations, pads in 1..64 (pads 0..64) */
static int window_ok(const eng_op *o) {
    return o->kh >= 1 && o->kw >= 1 && o->kh <= 64 && o->kw <= 64 && o->sh >= 1 && o->sw >= 1 && o->sh <= 64 && o->sw <= 64 &&
           o->dh >= 1 && o->dw >= 1 && o->dh <= 64 && o->dw <= 64 && o->pt >= 0 && o->pl >= 0 && o->pb >= 0 && o->pr >= 0 &&
           o->pt <= 64 && o->pl <= 64 && o->pb <= 64 && o->pr <= 64;
}

static int check_conv(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    if (x->layout != ENG_NHWC || y->layout != ENG_NHWC) return BADOP("needs one NHWC input and output", k, o->name);
    if (!window_ok(o)) return BADOP("kernel/stride/dilation/pad out of range", k, o->name);
    int64_t eh = (int64_t)(o->kh - 1) * o->dh + 1, ew = (int64_t)(o->kw - 1) * o->dw + 1;
    int64_t H = x->dims[2] + o->pt + o->pb, W = x->dims[3] + o->pl + o->pr;
    if (x->dims[0] != y->dims[0] || x->dims[1] != o->cin || y->dims[1] != o->cout || H < eh || W < ew ||
        y->dims[2] != (H - eh) / o->sh + 1 || y->dims[3] != (W - ew) / o->sw + 1)
        return BADOP("shapes do not agree", k, o->name);
    if (o->conv_kind < 0 || o->conv_kind >= CONV_KIND_COUNT) return BADOP("conv kind %d", k, o->name, o->conv_kind);
    if (o->conv_kind == CONV_GEMM && (o->kh != 1 || o->kw != 1 || o->sh != 1 || o->sw != 1 || o->pt || o->pl || o->pb || o->pr))
        return BADOP("1x1 GEMM conv with a spatial kernel", k, o->name);
    if (o->conv_kind == CONV_DW && o->cin != o->cout) return BADOP("depthwise conv with Cin != Cout", k, o->name);
    /* packing (ENG_WEIGHTS_PANEL16): depthwise [tap][C]; others panels of 16 output channels */
    int64_t want = o->conv_kind == CONV_DW ? (int64_t)o->kh * o->kw * o->cout * 4 : (int64_t)(o->cout + 15) / 16 * 16 * eng_conv_k(o) * 4;
    if (o->q_scale != 0) { /* int8: a 1x1 GEMM conv of an int8 engine, with a positive finite step */
        if (!(o->q_scale > 0 && o->q_scale < 1e30f) || o->conv_kind != CONV_GEMM || strcmp(p->meta.precision, "int8") ||
            (o->q_unsigned != 0 && o->q_unsigned != 1))
            return BADOP("int8 step %g on a conv that cannot be int8", k, o->name, (double)o->q_scale);
        want = eng_conv_i8_len(o);
    }
    if (o->q_scale == 0 && o->q_unsigned) return BADOP("unsigned int8 input on a float conv", k, o->name);
    if (o->w_len != want || o->b_len != (int64_t)o->cout * 4) return BADOP("packed weights have the wrong size", k, o->name);
    if (o->residual >= 0 && !same_shape(&p->tensors[o->residual], y)) return BADOP("residual shape", k, o->name);
    if (o->residual >= 0 && o->conv_kind == CONV_DW) return BADOP("depthwise conv with a residual", k, o->name);
    return 1;
}

static int check_binary(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    if (!same_shape(x, y) || o->bin < 0 || o->bin >= BIN_COUNT || o->axis < 0 || o->axis > 1)
        return BADOP("bad binary op", k, o->name);
    int64_t pd[ODRT_MAX_RANK];
    eng_phys_dims(y, pd);
    int64_t last = y->rank ? pd[y->rank - 1] : 1;
    int consts = o->bcast == BC_LASTDIM || o->bcast == BC_FULLCONST;
    if (!consts && o->w_len) return BADOP("constant operand on a broadcast that takes none", k, o->name);
    switch (o->bcast) {
    case BC_SAME: return o->n_in == 2 && same_shape(&p->tensors[o->in[1]], y) ? 1 : BADOP("operand shapes", k, o->name);
    case BC_SCALAR: return o->n_in == 1 ? 1 : BADOP("scalar operand", k, o->name);
    case BC_LASTDIM: return o->n_in == 1 && o->w_len == last * 4 ? 1 : BADOP("vector operand size", k, o->name);
    case BC_FULLCONST: return o->n_in == 1 && o->w_len == y->numel * 4 ? 1 : BADOP("constant operand size", k, o->name);
    case BC_CHANNEL: {
        const eng_tensor *v = o->n_in == 2 ? &p->tensors[o->in[1]] : NULL;
        return v && y->rank == 4 && y->layout == ENG_NHWC && v->rank == 4 && v->dims[0] == y->dims[0] && v->dims[1] == y->dims[1] &&
                       v->dims[2] == 1 && v->dims[3] == 1
                   ? 1 : BADOP("per-image channel operand shape", k, o->name);
    }
    default: return BADOP("broadcast kind %d", k, o->name, o->bcast);
    }
}

static int check_unary(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    return p->tensors[o->in[0]].numel == p->tensors[o->out].numel ? 1 : BADOP("bad unary op", k, o->name);
}

static int check_gather(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    if (o->w_len != y->numel * 4) return BADOP("index map size", k, o->name);
    const int32_t *idx = (const int32_t *)(p->blob + o->w_off);
    for (int64_t i = 0; i < y->numel; i++)
        if (idx[i] < 0 || idx[i] >= x->numel) return BADOP("index %lld out of range", k, o->name, (long long)i);
    return 1;
}

static int check_concat(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *y = &p->tensors[o->out];
    if (o->axis < 0 || o->axis >= y->rank) return BADOP("bad concat", k, o->name);
    int64_t py[ODRT_MAX_RANK], px[ODRT_MAX_RANK], sum = 0;
    eng_phys_dims(y, py);
    for (int i = 0; i < o->n_in; i++) {
        const eng_tensor *t = &p->tensors[o->in[i]];
        if (t->rank != y->rank || t->layout != y->layout) return BADOP("input %d rank/layout", k, o->name, i);
        eng_phys_dims(t, px);
        for (int a = 0; a < y->rank; a++)
            if (a != o->axis && px[a] != py[a]) return BADOP("input %d shape", k, o->name, i);
        sum += px[o->axis];
    }
    return sum == py[o->axis] ? 1 : BADOP("sizes do not add up", k, o->name);
}

static int check_ref(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    for (int i = 0; i < o->n_in; i++)
        if (p->tensors[o->in[i]].layout != ENG_PLAIN) return BADOP("reference op on a non-plain tensor", k, o->name);
    return p->tensors[o->out].layout == ENG_PLAIN ? 1 : BADOP("reference op output layout", k, o->name);
}

static int check_mean_hw(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    return x->rank == 4 && x->layout == ENG_NHWC && y->rank == 4 && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1] &&
                   y->dims[2] == 1 && y->dims[3] == 1
               ? 1 : BADOP("spatial mean shapes", k, o->name);
}

static int check_maxpool(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    if (x->rank != 4 || y->rank != 4 || x->layout != ENG_NHWC || y->layout != ENG_NHWC)
        return BADOP("max pooling needs one NHWC input and output", k, o->name);
    if (!window_ok(o) || o->dh != 1 || o->dw != 1 || o->pt >= o->kh || o->pb >= o->kh || o->pl >= o->kw || o->pr >= o->kw)
        return BADOP("pooling window/stride/pad out of range", k, o->name);
    int64_t H = x->dims[2] + o->pt + o->pb, W = x->dims[3] + o->pl + o->pr;
    if (x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1] || H < o->kh || W < o->kw || y->dims[2] != (H - o->kh) / o->sh + 1 ||
        y->dims[3] != (W - o->kw) / o->sw + 1)
        return BADOP("pooling shapes do not agree", k, o->name);
    return 1;
}

static int check_crop(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *b = &p->tensors[o->in[1]], *y = &p->tensors[o->out];
    if (x->rank != 4 || y->rank != 4 || x->layout != ENG_NHWC || y->layout != ENG_NHWC || b->layout != ENG_PLAIN)
        return BADOP("crops need an NHWC map and output and plain boxes", k, o->name);
    if (o->axis < 0 || o->axis >= CROP_MODES || o->kh < 1 || o->kw < 1 || o->kh > 4096 || o->kw > 4096 ||
        !(o->scalar == o->scalar) || o->cin != o->cout)
        return BADOP("crop size or mode out of range", k, o->name);
    if (b->numel != y->dims[0] * 4 || y->dims[0] % x->dims[0] || y->dims[1] != x->dims[1] || y->dims[1] != o->cin ||
        y->dims[2] != o->kh || y->dims[3] != o->kw)
        return BADOP("crop shapes do not agree", k, o->name);
    return 1;
}

static int check_resize(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *x = &p->tensors[o->in[0]], *y = &p->tensors[o->out];
    if (x->rank != 4 || y->rank != 4 || x->layout != ENG_NHWC || y->layout != ENG_NHWC || x->dims[0] != y->dims[0] ||
        x->dims[1] != y->dims[1])
        return BADOP("resizes need an NHWC input and output of the same batch and channels", k, o->name);
    if (o->w_len != (int64_t)sizeof(eng_resize_tap) * (y->dims[2] + y->dims[3])) return BADOP("resize taps size", k, o->name);
    const eng_resize_tap *t = (const eng_resize_tap *)(p->blob + o->w_off);
    for (int64_t i = 0; i < y->dims[2] + y->dims[3]; i++) {
        int64_t lim = i < y->dims[2] ? x->dims[2] : x->dims[3];
        if (t[i].i0 < 0 || t[i].i1 < 0 || t[i].i0 >= lim || t[i].i1 >= lim || !(t[i].w0 == t[i].w0) || !(t[i].w1 == t[i].w1))
            return BADOP("resize tap %lld out of range", k, o->name, (long long)i);
    }
    return 1;
}

typedef int (*eng_check_fn)(const eng_plan *p, int k);
/* the kind's own rules, in engine_ops.h's order */
static const eng_check_fn checks[] = {
    [EOP_NONE] = NULL,        [EOP_CONV] = check_conv,     [EOP_BINARY] = check_binary,   [EOP_UNARY] = check_unary,
    [EOP_GATHER] = check_gather, [EOP_CONCAT] = check_concat, [EOP_REF] = check_ref,      [EOP_MEAN_HW] = check_mean_hw,
    [EOP_MAXPOOL] = check_maxpool, [EOP_CROP] = check_crop,     [EOP_RESIZE] = check_resize,
};
_Static_assert(sizeof checks / sizeof checks[0] == EOP_COUNT, "checks: one per engine op kind (engine_ops.h)");

/* what every op must satisfy, whatever its kind */
int eng_validate_op(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_op_info *info = eng_op_info_of(o->kind);
    if (!info || !checks[o->kind]) return BADOP("unknown kind %d", k, o->name, o->kind);
    if (o->n_in < info->min_in || o->n_in > info->max_in)
        return BADOP("%d inputs (a %s op takes %d to %d)", k, o->name, o->n_in, info->name, info->min_in, info->max_in);
    if (o->out < 0 || o->out >= p->n_tensors) return BADOP("output tensor %d", k, o->name, o->out);
    for (int i = 0; i < o->n_in; i++)
        if (o->in[i] < 0 || o->in[i] >= p->n_tensors) return BADOP("input tensor %d", k, o->name, o->in[i]);
    if (o->residual < -1 || o->residual >= p->n_tensors || (o->residual >= 0 && !(info->fields & EF_RESIDUAL)))
        return BADOP("residual %d", k, o->name, o->residual);
    if ((o->w_len && !(info->fields & EF_WEIGHTS)) || (o->b_len && !(info->fields & EF_BIAS)))
        return BADOP("blob data a %s op does not read", k, o->name, info->name);
    if (o->act < 0 || o->act >= EACT_COUNT || (o->act && !(info->fields & EF_ACT))) return BADOP("activation %d", k, o->name, o->act);
    if ((o->q_scale != 0 || o->q_unsigned) && o->kind != EOP_CONV) return BADOP("an int8 step on a %s op", k, o->name, info->name);
    /* the memory plan never lays an op's output over its inputs; kernels rely on it */
    for (int i = 0; i <= o->n_in; i++) {
        int t = i < o->n_in ? o->in[i] : o->residual;
        if (t >= 0 && eng_tensors_overlap(p, t, o->out)) return BADOP("output overlaps input tensor %d in the arena", k, o->name, t);
    }
    return checks[o->kind](p, k);
}

static int plain(const eng_tensor *t, int rank, const int64_t *dims) {
    if (t->layout != ENG_PLAIN || t->rank != rank) return 0;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != dims[i]) return 0;
    return 1;
}

/* plain, and numel elements (the heads keep the export's logical shapes: only their sizes are fixed) */
static int plain_n(const eng_plan *p, int t, int64_t numel) {
    return t >= 0 && t < p->n_tensors && p->tensors[t].layout == ENG_PLAIN && p->tensors[t].numel == numel;
}

static odrt_status_t check_rcnn_io(const eng_plan *p) {
    const eng_meta *m = &p->meta;
    int64_t B = m->batch, P = m->rc_props, T = m->max_total, N = m->n_anchors;
    int64_t dp[3] = {B, P, 4}, dd[3] = {B, T, 4};
    if (m->bg_offset != 1 || (m->rc_box_classes != 1 && m->rc_box_classes != m->n_classes) || P < 1 || m->rc_max1 < 1 ||
        m->rc_stage[0] < 0 || m->rc_stage[0] > m->rc_stage[1] || m->rc_stage[1] > p->n_ops ||
        (m->mask_h > 0 && (m->mask_classes != 1 && m->mask_classes != m->n_classes)))
        return odrt_fail(ODRT_ERR_PARSE, "engine: R-CNN settings out of range");
    if (m->t_props < 0 || m->t_props >= p->n_tensors || !plain(&p->tensors[m->t_props], 3, dp) || !plain_n(p, m->t_rpn[0], B * N * 4) ||
        !plain_n(p, m->t_rpn[1], B * N * 2) || !plain_n(p, m->t_boxes, B * P * m->rc_box_classes * 4) ||
        !plain_n(p, m->t_scores, B * P * (m->n_classes + 1)))
        return odrt_fail(ODRT_ERR_PARSE, "engine: network tensors do not match the R-CNN metadata");
    if (m->mask_h > 0 && (m->t_dets < 0 || m->t_dets >= p->n_tensors || !plain(&p->tensors[m->t_dets], 3, dd) ||
                          !plain_n(p, m->t_masks, B * T * m->mask_classes * m->mask_h * m->mask_w)))
        return odrt_fail(ODRT_ERR_PARSE, "engine: network mask tensors do not match the R-CNN metadata");
    return ODRT_OK;
}

static odrt_status_t check_io(const eng_plan *p) {
    const eng_meta *m = &p->meta;
    int64_t di[4] = {m->batch, m->net_h, m->net_w, 3};
    if (!plain(&p->tensors[m->t_input], 4, di))
        return odrt_fail(ODRT_ERR_PARSE, "engine: network input tensor does not match the input metadata");
    if (m->post_kind == ENG_POST_CENTERNET) {
        for (int i = 0; i < 3; i++)
            if (m->t_cn[i] < 0 || m->t_cn[i] >= p->n_tensors) return odrt_fail(ODRT_ERR_PARSE, "engine: network outputs out of range");
        const eng_tensor *th = &p->tensors[m->t_cn[0]];
        int64_t H = m->net_h / m->cn_stride, W = m->net_w / m->cn_stride;
        int64_t dh[4] = {m->batch, m->n_classes, H, W}, d2[4] = {m->batch, 2, H, W};
        if (m->net_h % m->cn_stride || m->net_w % m->cn_stride || !plain(th, 4, dh) || !plain(&p->tensors[m->t_cn[1]], 4, d2) ||
            !plain(&p->tensors[m->t_cn[2]], 4, d2))
            return odrt_fail(ODRT_ERR_PARSE, "engine: network output tensors do not match the CenterNet metadata");
        return ODRT_OK;
    }
    if (m->post_kind == ENG_POST_RCNN) return check_rcnn_io(p);
    int64_t db[3] = {m->batch, m->n_anchors, 4}, ds[3] = {m->batch, m->n_anchors, m->n_classes + m->bg_offset};
    if (!plain(&p->tensors[m->t_boxes], 3, db) || !plain(&p->tensors[m->t_scores], 3, ds))
        return odrt_fail(ODRT_ERR_PARSE, "engine: network output tensors do not match the post-processing metadata");
    return ODRT_OK;
}

odrt_status_t eng_validate_plan(const eng_plan *p) {
    const eng_device *dev = eng_device_find(p->meta.device);
    if (!dev) return odrt_fail(ODRT_ERR_PARSE, "engine: unknown device '%s' (%s)", p->meta.device, eng_known_names(0));
    if (!(eng_precision_code(p->meta.precision) & dev->precisions))
        return odrt_fail(ODRT_ERR_PARSE, "engine: precision '%s' is not one a %s engine has (%s)", p->meta.precision, dev->name,
                         eng_device_precisions(dev));
    const eng_meta *m = &p->meta;
    if (m->t_input < 0 || m->t_input >= p->n_tensors ||
        (m->post_kind != ENG_POST_CENTERNET && (m->t_boxes < 0 || m->t_boxes >= p->n_tensors || m->t_scores < 0 || m->t_scores >= p->n_tensors)))
        return odrt_fail(ODRT_ERR_PARSE, "engine: network input/outputs out of range");
    if (m->post_kind == ENG_POST_CENTERNET && (m->cn_stride < 1 || m->cn_k < 1 || m->cn_pool < 1))
        return odrt_fail(ODRT_ERR_PARSE, "engine: CenterNet settings out of range");
    ODRT_TRY(check_io(p));
    for (int k = 0; k < p->n_ops; k++)
        if (!eng_validate_op(p, k)) return ODRT_ERR_PARSE;
    return ODRT_OK;
}

/* convert: CenterNet's post-processing rebuilt as batch-agnostic ONNX from the three maps
 * tfod_analyze_centernet found, in TF's operation order (the engine's postproc_centernet.c
 * computes the same):
 *
 *   p     = Sigmoid(heatmap) * mask (TF's true-shape mask: grid row y kept when y < window height)
 *   peak  = p * Cast(|p - MaxPool_kxk,stride 1(p)| < eps)
 *   top   = TopK(Reshape(Transpose(peak, NHWC), [B, -1]), k): (y, x, class) = index / (W C),
 *           index / C - y W, index - (index / C) C
 *   box   = yx + offset -/+ Max(size, 0) * 0.5, then Max(Min(., grid), 0) * stride / window,
 *           Max(Min(., 1), 0)
 *
 * TF's own version gathers with indices built for batch 1; this one takes any batch. Before it
 * replaces TF's outputs it is checked against them on random maps (ir_eval of both). */
#include <math.h>
#include <string.h>

#include "ops/fold.h"
#include "ir/build.h"
#include "passes/convert.h"
#include "passes/rewrite.h"
#include "passes/tfod.h"

static ir_value *vec3(bld *b, const char *name, float v0, float v1) { /* [1, 2, 1] */
    float v[2] = {v0, v1};
    return b_const(b, name, ODRT_DT_FLOAT, 3, (int64_t[]){1, 2, 1}, v);
}

static ir_value *clamp(bld *b, const char *name, ir_value *x, ir_value *lo, ir_value *hi) {
    return b_op2(b, "Max", name, b_op2(b, "Min", name, x, hi), lo);
}

/* the four outputs (num [B,1] int32, boxes [B,K,4], scores [B,K], classes [B,K] int32) */
static void build_post(bld *b, const tfod_found *f, const conv_plan *p, int64_t C, int64_t H, int64_t W, int64_t rh, int64_t rw,
                       float stride, ir_value *o[4]) {
    /* the true-shape mask over the grid: TF compares grid indices with the window in input pixels */
    int64_t md[4] = {1, 1, H, W};
    ir_value *mask = b_const(b, "odrt/cn/mask", ODRT_DT_FLOAT, 4, md, NULL);
    if (mask)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                ((float *)mask->init->data)[y * W + x] = (float)y < (float)rh && (float)x < (float)rw ? 1.0f : 0.0f;
    ir_value *prob = b_op2(b, "Mul", "odrt/cn/masked", b_op1(b, "Sigmoid", "odrt/cn/sigmoid", f->cn_heatmap), mask);
    ir_value *pool = b_op1(b, "MaxPool", "odrt/cn/pool", prob);
    int64_t k = f->cn_pool, r = k / 2;
    b_attr_ints(b, pool, "kernel_shape", 2, (int64_t[]){k, k});
    b_attr_ints(b, pool, "strides", 2, (int64_t[]){1, 1});
    b_attr_ints(b, pool, "pads", 4, (int64_t[]){r, r, r, r});
    ir_value *diff = b_op1(b, "Abs", "odrt/cn/diff", b_op2(b, "Sub", "odrt/cn/sub", prob, pool));
    ir_value *is_peak = b_cast(b, "odrt/cn/is_peak", b_op2(b, "Less", "odrt/cn/less", diff, b_scalar_f(b, "odrt/cn/eps", f->cn_eps)),
                               ODRT_DT_FLOAT);
    ir_value *peak = b_op2(b, "Mul", "odrt/cn/peak", prob, is_peak);
    ir_value *flat = b_op2(b, "Reshape", "odrt/cn/flat", b_transpose(b, "odrt/cn/nhwc", peak, 4, (int64_t[]){0, 2, 3, 1}),
                           b_ints(b, "odrt/cn/flat_shape", 2, (int64_t[]){0, -1}));
    ir_value *tk_in[2] = {flat, b_ints(b, "odrt/cn/k", 1, (int64_t[]){f->cn_k})};
    ir_node *tk = b_node(b, "TopK", "", "odrt/cn/topk", 2, tk_in, 2);
    if (!tk) return;
    ir_value *score = tk->out[0], *idx = tk->out[1];
    ir_value *iy = b_op2(b, "Div", "odrt/cn/y", idx, b_scalar_i64(b, "odrt/cn/wc", W * C));
    ir_value *iyx = b_op2(b, "Div", "odrt/cn/yx", idx, b_scalar_i64(b, "odrt/cn/c", C)); /* y W + x */
    ir_value *ix = b_op2(b, "Sub", "odrt/cn/x", iyx, b_op2(b, "Mul", "odrt/cn/yw", iy, b_scalar_i64(b, "odrt/cn/w", W)));
    ir_value *cls = b_op2(b, "Sub", "odrt/cn/class", idx, b_op2(b, "Mul", "odrt/cn/yxc", iyx, b_scalar_i64(b, "odrt/cn/c2", C)));
    /* offsets and sizes at the peaks: [B, 2, H W] gathered at y W + x -> [B, 2, K] */
    ir_value *at = b_op2(b, "Expand", "odrt/cn/at", b_op2(b, "Unsqueeze", "odrt/cn/at1", iyx, b_ints(b, "odrt/cn/ax1", 1, (int64_t[]){1})),
                         b_ints(b, "odrt/cn/at_shape", 3, (int64_t[]){1, 2, 1}));
    ir_value *maps[2] = {f->cn_offset, f->cn_size}, *g[2];
    for (int i = 0; i < 2; i++) {
        ir_value *m2 = b_op2(b, "Reshape", "odrt/cn/map", maps[i], b_ints(b, "odrt/cn/map_shape", 3, (int64_t[]){0, 2, H * W}));
        ir_value *gin[2] = {m2, at};
        g[i] = b_op(b, "GatherElements", "odrt/cn/gather", 2, gin);
        b_attr_i(b, g[i], "axis", 2);
    }
    ir_value *yx_in[2] = {b_op2(b, "Unsqueeze", "odrt/cn/y1", iy, b_ints(b, "odrt/cn/ax1b", 1, (int64_t[]){1})),
                          b_op2(b, "Unsqueeze", "odrt/cn/x1", ix, b_ints(b, "odrt/cn/ax1c", 1, (int64_t[]){1}))};
    ir_value *yx = b_op(b, "Concat", "odrt/cn/yx_pair", 2, yx_in);
    b_attr_i(b, yx, "axis", 1);
    ir_value *centre = b_op2(b, "Add", "odrt/cn/centre", b_cast(b, "odrt/cn/yx_f", yx, ODRT_DT_FLOAT), g[0]);
    ir_value *half = b_op2(b, "Mul", "odrt/cn/half", b_op2(b, "Max", "odrt/cn/size", g[1], b_scalar_f(b, "odrt/cn/zero", 0.0f)),
                           b_scalar_f(b, "odrt/cn/one_half", 0.5f));
    ir_value *ends[2] = {b_op2(b, "Sub", "odrt/cn/lo", centre, half), b_op2(b, "Add", "odrt/cn/hi", centre, half)};
    ir_value *grid = vec3(b, "odrt/cn/grid", (float)H, (float)W), *win = vec3(b, "odrt/cn/window", (float)rh, (float)rw);
    ir_value *zero = b_scalar_f(b, "odrt/cn/zero2", 0.0f), *one = b_scalar_f(b, "odrt/cn/one", 1.0f);
    ir_value *st = b_scalar_f(b, "odrt/cn/stride", stride);
    for (int i = 0; i < 2; i++) {
        ir_value *v = b_op2(b, "Mul", "odrt/cn/scaled", clamp(b, "odrt/cn/on_grid", ends[i], zero, grid), st);
        ends[i] = clamp(b, "odrt/cn/clip", b_op2(b, "Div", "odrt/cn/norm", v, win), zero, one);
    }
    ir_value *box = b_op(b, "Concat", "odrt/cn/box", 2, ends); /* [B, 4, K]: ymin, xmin, ymax, xmax */
    b_attr_i(b, box, "axis", 1);
    o[1] = b_transpose(b, "odrt/cn/boxes", box, 3, (int64_t[]){0, 2, 1});
    o[2] = score;
    ir_value *kept = b_cast(b, "odrt/cn/kept", b_op2(b, "Greater", "odrt/cn/gt", score, b_scalar_f(b, "odrt/cn/thr", p->score_threshold)),
                            ODRT_DT_INT32);
    o[0] = b_op2(b, "ReduceSum", "odrt/cn/num", kept, b_ints(b, "odrt/cn/ax1d", 1, (int64_t[]){1}));
    b_attr_i(b, o[0], "keepdims", 1);
    o[3] = b_cast(b, "odrt/cn/classes", b_op2(b, "Add", "odrt/cn/class_offset", cls, b_scalar_i64(b, "odrt/cn/offset", p->class_offset)),
                  ODRT_DT_INT32);
}

static float rnd(uint32_t *s, float lo, float hi) {
    *s = *s * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(*s >> 8) / 16777216.0f;
}

void tfod_centernet_probe_maps(int64_t B, int64_t C, int64_t H, int64_t W, uint32_t s, ex_val *maps[3]) {
    int64_t dh[4] = {B, C, H, W}, d2[4] = {B, 2, H, W};
    maps[0] = ex_val_new_tensor(ODRT_DT_FLOAT, 4, dh), maps[1] = ex_val_new_tensor(ODRT_DT_FLOAT, 4, d2);
    maps[2] = ex_val_new_tensor(ODRT_DT_FLOAT, 4, d2);
    if (!maps[0] || !maps[1] || !maps[2]) return;
    for (int64_t i = 0; i < ex_numel(maps[0]); i++) ((float *)maps[0]->t.data)[i] = rnd(&s, -6.0f, 3.0f);
    for (int64_t i = 0; i < ex_numel(maps[1]); i++) {
        ((float *)maps[1]->t.data)[i] = rnd(&s, -1.5f, 1.5f);
        ((float *)maps[2]->t.data)[i] = rnd(&s, -2.0f, (float)(H > W ? H : W) * 0.6f);
    }
}

/* TF's outputs and the rebuilt ones on the same random maps: same detections */
static odrt_status_t check(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *o[4], int64_t B, int64_t C, int64_t H,
                           int64_t W) {
    static const char *names[4] = {"num_detections", "detection_boxes", "detection_scores", "detection_classes"};
    ir_value *targets[8];
    for (int i = 0; i < 4; i++) {
        targets[i] = (ir_value *)tfod_find_output(m->graph, names[i]);
        if (!targets[i]) return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: CenterNet export without its %s output", names[i]);
        targets[4 + i] = o[i];
    }
    ex_val *seeds[3], *res[8] = {0};
    tfod_centernet_probe_maps(B, C, H, W, 11, seeds);
    odrt_status_t rc = seeds[0] && seeds[1] && seeds[2] ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    ir_value *sv[3] = {f->cn_heatmap, f->cn_offset, f->cn_size};
    if (rc == ODRT_OK) rc = ir_eval(m, m->graph, 3, sv, seeds, 8, targets, res);
    if (rc != ODRT_OK) rc = odrt_fail_ctx(rc, "convert: CenterNet post-processing could not be evaluated");
    double worst_box = 0, worst_score = 0;
    int64_t n = -1, bad = 0;
    if (rc == ODRT_OK) {
        n = (int64_t)ex_get_f(&res[0]->t, 0);
        bad = n != (int64_t)ex_get_f(&res[4]->t, 0) || ex_numel(res[5]) != ex_numel(res[1]) || ex_numel(res[6]) != ex_numel(res[2]);
        for (int64_t i = 0; !bad && i < n; i++) {
            for (int q = 0; q < 4; q++) worst_box = fmax(worst_box, fabs(ex_get_f(&res[1]->t, 4 * i + q) - ex_get_f(&res[5]->t, 4 * i + q)));
            worst_score = fmax(worst_score, fabs(ex_get_f(&res[2]->t, i) - ex_get_f(&res[6]->t, i)));
            /* TF's ids are 1-based floats */
            bad += lrint(ex_get_f(&res[3]->t, i)) - 1 + p->class_offset != lrint(ex_get_f(&res[7]->t, i));
        }
    }
    if (rc == ODRT_OK && (bad || !(worst_box <= 1e-5) || !(worst_score <= 1e-6)))
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: this CenterNet export's post-processing differs from TF's as odrt "
                       "rebuilds it (%lld detections, %lld differ, box error %.3g, score error %.3g): not converted",
                       (long long)n, (long long)bad, worst_box, worst_score);
    for (int i = 0; i < 3; i++) ex_val_free(seeds[i]);
    for (int i = 0; i < 8; i++) ex_val_free(res[i]);
    return rc;
}

odrt_status_t tfod_centernet_postproc(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]) {
    const ir_type *t = &f->cn_heatmap->type;
    if (t->rank != 4 || f->cn_offset->type.rank != 4 || f->cn_size->type.rank != 4)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: CenterNet maps without static rank-4 shapes");
    int64_t B = t->dims[0].value > 0 ? t->dims[0].value : 1, C = t->dims[1].value, H = t->dims[2].value, W = t->dims[3].value;
    int64_t NH = f->has_resize ? f->target_h : p->in_h, NW = f->has_resize ? f->target_w : p->in_w; /* network input */
    if (C < 1 || H < 1 || W < 1 || NH % H || NW % W || NH / H != NW / W)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: CenterNet heatmap %lldx%lld is not the input %lldx%lld over one stride",
                         (long long)H, (long long)W, (long long)NH, (long long)NW);
    int64_t rh = NH, rw = NW;
    if (f->has_resize) tfod_window_size(f, p->in_h, p->in_w, &rh, &rw);
    bld b = {m, m->graph, ODRT_OK};
    ir_value *o[4] = {0};
    build_post(&b, f, p, C, H, W, rh, rw, (float)(NH / H), o);
    ODRT_TRY(b.rc);
    ODRT_TRY(ir_graph_toposort(m->graph));
    ir_graph_clear_types(m->graph);
    ir_infer_shapes(m);
    ODRT_TRY(check(m, f, p, o, B, C, H, W));
    for (int i = 0; i < 4; i++) outs[i] = o[i];
    return ODRT_OK;
}

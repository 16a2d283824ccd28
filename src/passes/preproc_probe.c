/* The geometric part of a TF OD API preprocessing map_fn, found by evaluating it rather than by
 * matching its nodes: from an HWC float image inside the Loop body (after the normalisation steps
 * the chain walker read) to where the image output's closing chain of per-pixel and layout steps
 * starts (geometry_end; the walker reads those steps after the probe). Exporters spell ResizeToRange as an If over
 * portrait/landscape, per-channel Pads and a restack; what is constant across them is what the
 * function does, so that is what is probed and then verified:
 *   - the output size (must not depend on the frame: the network input),
 *   - the window the image lands in (constant images 1 and 2 differ there; elsewhere the pad value),
 *   - the rule giving the window from the frame size (fixed, or keep-aspect-ratio then pad),
 *   - the true-image-shape output ([rh, rw, 3] for every probe),
 *   - the Resize attributes, checked by recomputing a random image with src/resize_coord.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resize_coord.h"
#include "passes/convert.h"
#include "passes/tfod.h"

void tfod_window_size(const tfod_found *f, int64_t h, int64_t w, int64_t *rh, int64_t *rw) {
    if (f->keep_aspect) rz_keep_aspect_size(h, w, f->fit_h, f->fit_w, rh, rw);
    else *rh = f->target_h, *rw = f->target_w;
}

/* all Resize nodes of the body and its sub-graphs must agree: the first, and whether they do */
typedef struct {
    const ir_node *first;
    int agree;
} resize_find;

static int same_setting(const ir_node *a, const ir_node *b, const char *attr, const char *dflt) {
    return !strcmp(ir_attr_str(a, attr, dflt), ir_attr_str(b, attr, dflt));
}

static int visit_resize(const ir_node *n, void *ctx) {
    resize_find *r = ctx;
    if (!ir_op_is(n, "Resize")) return 0;
    if (!r->first) r->first = n;
    else r->agree &= same_setting(n, r->first, "mode", "nearest") &&
                     same_setting(n, r->first, "coordinate_transformation_mode", "half_pixel") &&
                     same_setting(n, r->first, "nearest_mode", "round_prefer_floor");
    return 0;
}

typedef struct {
    ir_model *m;
    ir_graph *body;
    ir_value *start, *cur;
} probe_ctx;

/* evaluate `target` for a frame of h x w whose image at `cur` is img (float HWC) */
static odrt_status_t eval_at(const probe_ctx *pc, int64_t h, int64_t w, ex_val *img, ir_value *target, ex_val **res) {
    int64_t d[3] = {h, w, 3};
    ex_val *raw = ex_val_new_tensor(ODRT_DT_UINT8, 3, d);
    if (!raw) return ODRT_ERR_NOMEM;
    ir_value *seeds[2] = {pc->start, pc->cur};
    ex_val *vals[2] = {raw, img};
    odrt_status_t rc = ir_eval(pc->m, pc->body, 2, seeds, vals, 1, &target, res);
    ex_val_free(raw);
    return rc;
}

static ex_val *image(int64_t h, int64_t w, float value, uint32_t *seed) {
    int64_t d[3] = {h, w, 3};
    ex_val *v = ex_val_new_tensor(ODRT_DT_FLOAT, 3, d);
    if (!v) return NULL;
    float *p = v->t.data;
    for (int64_t i = 0; i < h * w * 3; i++) {
        if (seed) *seed = *seed * 1664525u + 1013904223u;
        p[i] = seed ? (float)(*seed >> 8) / 16777216.0f : value;
    }
    return v;
}

/* the expected resize of img (h x w) to rh x rw with the found attributes, separable W then H */
static double resize_error(const tfod_found *f, const float *img, int64_t h, int64_t w, const float *out, int64_t OW,
                           int64_t rh, int64_t rw) {
    int lin = strcmp(f->resize_mode, "nearest") != 0, ctm = rz_ctm_code(f->resize_ctm);
    int near = rz_nearest_code(f->resize_nearest);
    double worst = 0;
    for (int64_t y = 0; y < rh; y++) {
        int64_t y0, y1;
        float wy0, wy1;
        rz_tap(lin, ctm, near, y, h, rh, &y0, &y1, &wy0, &wy1);
        for (int64_t x = 0; x < rw; x++) {
            int64_t x0, x1;
            float wx0, wx1;
            rz_tap(lin, ctm, near, x, w, rw, &x0, &x1, &wx0, &wx1);
            for (int c = 0; c < 3; c++) {
                float a = img[(y0 * w + x0) * 3 + c] * wx0 + img[(y0 * w + x1) * 3 + c] * wx1;
                float b = img[(y1 * w + x0) * 3 + c] * wx0 + img[(y1 * w + x1) * 3 + c] * wx1;
                double e = fabs((double)(a * wy0 + b * wy1) - out[(y * OW + x) * 3 + c]);
                if (!(e <= worst)) worst = e;
            }
        }
    }
    return worst;
}

/* window of the constant images: rows/cols where out1 and out2 differ; checks the rectangle,
 * identity inside and one pad value outside */
static odrt_status_t window_of(const ex_val *o1, const ex_val *o2, int64_t *rh, int64_t *rw, float *pad, int *has_pad) {
    int64_t H = o1->t.dims[0], W = o1->t.dims[1];
    const float *a = o1->t.data, *b = o2->t.data;
    *rh = *rw = 0;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            if (a[(y * W + x) * 3] != b[(y * W + x) * 3]) {
                if (y + 1 > *rh) *rh = y + 1;
                if (x + 1 > *rw) *rw = x + 1;
            }
    *has_pad = 0;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                float p = a[(y * W + x) * 3 + c], q = b[(y * W + x) * 3 + c];
                if (y < *rh && x < *rw) {
                    if (!(fabsf(p - 1) <= 1e-5f && fabsf(q - 2) <= 1e-5f))
                        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing after its normalisation is not a "
                                         "pure resize (a constant image does not stay constant)");
                } else {
                    if (!*has_pad) *pad = p, *has_pad = 1;
                    if (p != q || p != *pad)
                        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing's padding is not one constant "
                                         "at the bottom/right of the image");
                }
            }
    return ODRT_OK;
}

/* the steps an image output may end with after the resize-and-pad, which the chain walker reads
 * exactly (per-pixel arithmetic with a constant, layout and channel-order steps) */
static int tail_op(const ir_node *n) {
    static const char *ops[] = {"Mul", "Add", "Sub", "Div", "Slice", "Squeeze", "Unsqueeze", "Transpose", "Identity"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (ir_op_is(n, ops[i])) return 1;
    return 0;
}

/* uses inside g other than shape reads */
static int live_uses(const ir_value *v, const ir_graph *g) {
    int k = 0;
    for (size_t i = 0; i < v->n_uses; i++)
        k += !v->uses[i].node->dead && v->uses[i].node->graph == g && !ir_op_is(v->uses[i].node, "Shape");
    return k;
}

/* where the geometric part ends: walked back from the image output over a chain of tail_op
 * steps, the earliest value that is still a float [H, W, 3] image (the export normalises after
 * the resize: TF's CenterNet) */
static ir_value *geometry_end(const probe_ctx *pc, ir_value *out) {
    ir_value *chain[64];
    int n = 0;
    chain[n++] = out;
    for (ir_value *v = out; n < 64;) {
        ir_node *p = v->producer;
        if (!p || p->graph != pc->body || !tail_op(p)) break;
        ir_value *x = NULL;
        int vars = 0;
        for (int i = 0; i < p->n_in; i++)
            if (p->in[i] && !p->in[i]->init) x = p->in[i], vars++;
        if (vars != 1 || x == pc->cur || x == pc->start || live_uses(x, pc->body) != 1) break;
        chain[n++] = v = x;
    }
    for (int i = n - 1; i > 0; i--) {
        ex_val *img = image(23, 41, 1, NULL), *res = NULL;
        if (!img) break;
        odrt_status_t rc = eval_at(pc, 23, 41, img, chain[i], &res);
        ex_val_free(img);
        int ok = rc == ODRT_OK && res->t.dtype == ODRT_DT_FLOAT && res->t.rank == 3 && res->t.dims[2] == 3;
        ex_val_free(res);
        odrt_fail(ODRT_OK, "%s", "");
        if (ok) return chain[i];
    }
    return out;
}

odrt_status_t tfod_probe_geometry(ir_model *m, tfod_found *f, ir_value *start, ir_value *cur, ir_value **end) {
    ir_node *loop = f->loop;
    ir_graph *body = (ir_graph *)tfod_loop_body(loop);
    int n_carried = loop->n_in - 2;
    probe_ctx pc = {m, body, start, cur};
    static const int64_t sizes[][2] = {{77, 143}, {143, 77}, {100, 100}, {31, 400}, {700, 300}, {512, 640}};
    enum { N_SIZES = sizeof sizes / sizeof *sizes };
    odrt_status_t rc = ODRT_OK;
    /* which scan outputs are the image and the true image shape */
    ir_value *img_out = NULL, *shape_out = NULL;
    int shape_k = -1;
    for (int o = 1 + n_carried; o < body->n_outputs; o++) {
        ir_value *lv = loop->out[o - 1];
        if (!lv || (!lv->n_uses && !(lv->flags & IR_VAL_OUTPUT))) continue;
        ex_val *img = image(sizes[0][0], sizes[0][1], 1, NULL), *res = NULL;
        if (!img) return ODRT_ERR_NOMEM;
        rc = eval_at(&pc, sizes[0][0], sizes[0][1], img, body->outputs[o], &res);
        ex_val_free(img);
        if (rc != ODRT_OK) continue; /* not a function of the image: loop_other_outputs judges it */
        if (res->t.dtype == ODRT_DT_FLOAT && res->t.rank == 3 && res->t.dims[2] == 3) {
            if (img_out) {
                ex_val_free(res);
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing Loop has two image outputs");
            }
            img_out = body->outputs[o];
        } else if ((res->t.dtype == ODRT_DT_INT32 || res->t.dtype == ODRT_DT_INT64) && ex_numel(res) == 3) {
            shape_out = body->outputs[o], shape_k = o - 1;
        }
        ex_val_free(res);
    }
    odrt_fail(ODRT_OK, "%s", ""); /* failed candidates above are not errors */
    if (!img_out)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: preprocessing Loop '%s': no output holds the preprocessed image "
                         "(float [H, W, 3])", loop->name);
    /* probe to where the geometry ends; the chain walker reads the rest */
    ir_value *img_end = *end = geometry_end(&pc, img_out);
    int64_t OH = -1, OW = -1, win[N_SIZES][2];
    int fixed = 1, keep = 1, pad_seen = 0;
    float pad = 0;
    for (int s = 0; s < N_SIZES && rc == ODRT_OK; s++) {
        int64_t h = sizes[s][0], w = sizes[s][1];
        ex_val *i1 = image(h, w, 1, NULL), *i2 = image(h, w, 2, NULL), *o1 = NULL, *o2 = NULL, *sh = NULL;
        if (!i1 || !i2) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (rc == ODRT_OK) rc = eval_at(&pc, h, w, i1, img_end, &o1);
        if (rc == ODRT_OK) rc = eval_at(&pc, h, w, i2, img_end, &o2);
        if (rc != ODRT_OK) rc = odrt_fail_ctx(rc, "convert: the preprocessing could not be evaluated on a %lldx%lld frame",
                                             (long long)h, (long long)w);
        if (rc == ODRT_OK && (o1->t.rank != 3 || o1->t.dtype != ODRT_DT_FLOAT))
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing image output is not float [H, W, 3]");
        if (rc == ODRT_OK && OH < 0) OH = o1->t.dims[0], OW = o1->t.dims[1];
        if (rc == ODRT_OK && (o1->t.dims[0] != OH || o1->t.dims[1] != OW))
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessed image size depends on the frame (%lldx%lld for "
                           "%lldx%lld, %lldx%lld for %lldx%lld); only resizers to one network size are converted",
                           (long long)OH, (long long)OW, (long long)sizes[0][0], (long long)sizes[0][1],
                           (long long)o1->t.dims[0], (long long)o1->t.dims[1], (long long)h, (long long)w);
        int has_pad = 0;
        float pv = 0;
        if (rc == ODRT_OK) rc = window_of(o1, o2, &win[s][0], &win[s][1], &pv, &has_pad);
        if (rc == ODRT_OK && has_pad) {
            if (pad_seen && pv != pad) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing pads with different values");
            pad = pv, pad_seen = 1;
        }
        if (rc == ODRT_OK && shape_out && i1) { /* the true image shape must be the window */
            if (eval_at(&pc, h, w, i1, shape_out, &sh) != ODRT_OK || ex_numel(sh) != 3 ||
                ex_get_i(&sh->t, 0) != win[s][0] || ex_get_i(&sh->t, 1) != win[s][1] || ex_get_i(&sh->t, 2) != 3)
                shape_out = NULL;
            odrt_fail(ODRT_OK, "%s", "");
        }
        if (rc == ODRT_OK) {
            int64_t kh, kw;
            rz_keep_aspect_size(h, w, OH, OW, &kh, &kw);
            fixed &= win[s][0] == OH && win[s][1] == OW;
            keep &= win[s][0] == kh && win[s][1] == kw;
        }
        ex_val_free(i1), ex_val_free(i2), ex_val_free(o1), ex_val_free(o2), ex_val_free(sh);
    }
    ODRT_TRY(rc);
    if (!fixed && !keep)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing resize rule is neither a fixed size nor keep-aspect-"
                         "ratio-then-pad to %lldx%lld (a %lldx%lld frame lands in %lldx%lld); pass --input-shape of frames "
                         "already at the network size", (long long)OH, (long long)OW, (long long)sizes[0][0],
                         (long long)sizes[0][1], (long long)win[0][0], (long long)win[0][1]);
    resize_find rf = {NULL, 1};
    ir_graph_visit(body, visit_resize, &rf);
    const ir_node *rs = rf.first;
    if (!rs || !rf.agree)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing resizes %s", rs ? "with different Resize settings"
                                                                                     : "without a Resize node");
    int64_t opset = ir_model_opset(m, rs->domain);
    f->has_resize = 1;
    f->resize_mode = ir_attr_str(rs, "mode", "nearest");
    f->resize_ctm = ir_attr_str(rs, "coordinate_transformation_mode", opset < 11 ? "asymmetric" : "half_pixel");
    f->resize_nearest = ir_attr_str(rs, "nearest_mode", "round_prefer_floor");
    if (ir_attr_int(rs, "antialias", 0) || !rz_ctm_engine(rz_ctm_code(f->resize_ctm)) ||
        rz_nearest_code(f->resize_nearest) < 0)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing Resize '%s' (%s, antialias %lld) is not converted",
                         rs->name, f->resize_ctm, (long long)ir_attr_int(rs, "antialias", 0));
    f->keep_aspect = !fixed;
    f->target_h = OH, f->target_w = OW, f->fit_h = OH, f->fit_w = OW;
    f->pad_value = pad;
    f->n_norm_pre = f->n_norm;
    f->true_shape_out = shape_out ? loop->out[shape_k] : NULL;
    /* verify: random images through the graph and through the formulas */
    uint32_t seed = 7;
    for (int s = 0; s < N_SIZES && rc == ODRT_OK; s += 2) {
        int64_t h = sizes[s][0], w = sizes[s][1];
        ex_val *img = image(h, w, 0, &seed), *out = NULL;
        if (!img) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        rc = eval_at(&pc, h, w, img, img_end, &out);
        if (rc == ODRT_OK) {
            double e = resize_error(f, img->t.data, h, w, out->t.data, OW, win[s][0], win[s][1]);
            if (!(e <= 1e-4))
                rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing Resize '%s' (%s, %s) does not reproduce the "
                               "graph's output (error %.3g on a %lldx%lld frame)", rs->name, f->resize_mode, f->resize_ctm, e,
                               (long long)h, (long long)w);
        }
        ex_val_free(img), ex_val_free(out);
    }
    return rc;
}

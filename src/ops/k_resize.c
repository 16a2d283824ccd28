/* Resize (opset 10-19) and Upsample: nearest / linear / cubic, every coordinate transformation
 * mode, computed separably as per-axis taps (in float, as onnxruntime does). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"
#include "resize_coord.h"

typedef struct {
    int n;          /* taps per output coordinate: 1, 2 or 4 */
    int64_t *idx;   /* [out][n] */
    float *w;       /* [out][n] */
    uint8_t *extra; /* [out]: outside the crop (tf_crop_and_resize) -> extrapolation value */
} axis_taps;

enum { NEAR_RPF = RZ_NEAR_RPF, NEAR_RPC = RZ_NEAR_RPC, NEAR_FLOOR = RZ_NEAR_FLOOR, NEAR_CEIL = RZ_NEAR_CEIL, NEAR_SIMPLE = RZ_NEAR_SIMPLE };

static float cubic_w(float x, float a) {
    x = fabsf(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

static odrt_status_t build_taps(ex_node_ctx *c, axis_taps *t, int64_t in, int64_t out, float out_f, float scale, const char *ctm,
                                int mode, int near, float cubic_a, int excl, float roi_s, float roi_e) {
    t->n = mode == 0 ? 1 : mode == 1 ? 2 : 4;
    t->idx = calloc((size_t)(out * t->n + 1), sizeof(int64_t));
    t->w = calloc((size_t)(out * t->n + 1), sizeof(float));
    t->extra = calloc((size_t)out + 1, 1);
    if (!t->idx || !t->w || !t->extra) return ex_fail_node(c, ODRT_ERR_NOMEM, "out of memory");
    int code = rz_ctm_code(ctm);
    for (int64_t o = 0; o < out; o++) {
        float x, fo = (float)o;
        if (code == RZ_TF_CROP) {
            x = out > 1 ? roi_s * (float)(in - 1) + fo * (roi_e - roi_s) * (float)(in - 1) / (float)(out - 1)
                        : 0.5f * (roi_s + roi_e) * (float)(in - 1);
            if (x < 0 || x > (float)(in - 1)) t->extra[o] = 1;
        } else if (code >= 0) x = rz_source(code, o, in, out, out_f, scale);
        else return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s'", ctm);
        int64_t *ix = t->idx + o * t->n;
        float *w = t->w + o * t->n;
        if (mode == 0) {
            ix[0] = rz_nearest(near, x, scale, in);
            w[0] = 1;
        } else if (mode == 1) {
            rz_linear(x, in, &ix[0], &ix[1], &w[0], &w[1]);
        } else {
            float xf = floorf(x), frac = x - xf, sum = 0;
            for (int k = 0; k < 4; k++) {
                int64_t i = (int64_t)xf - 1 + k;
                float wk = cubic_w(frac + 1 - (float)k, cubic_a);
                if (excl && (i < 0 || i >= in)) wk = 0;
                ix[k] = i < 0 ? 0 : i >= in ? in - 1 : i;
                w[k] = wk;
                sum += wk;
            }
            if (excl && sum != 0)
                for (int k = 0; k < 4; k++) w[k] /= sum;
        }
    }
    return ODRT_OK;
}

static odrt_status_t resize_impl(ex_node_ctx *c, const float *scales_in, const int64_t *sizes_in, const float *roi,
                                 int legacy) {
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank;
    const char *mode_s = ir_attr_str(c->node, "mode", "nearest");
    int mode = !strcmp(mode_s, "nearest") ? 0 : !strcmp(mode_s, "linear") || !strcmp(mode_s, "bilinear") ? 1
             : !strcmp(mode_s, "cubic") ? 2 : -1;
    if (mode < 0) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "mode '%s'", mode_s);
    const char *ctm = legacy ? "asymmetric" : ir_attr_str(c->node, "coordinate_transformation_mode", "half_pixel");
    const char *nm = ir_attr_str(c->node, "nearest_mode", "round_prefer_floor");
    int near = legacy ? NEAR_SIMPLE : rz_nearest_code(nm);
    if (near < 0) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "nearest_mode '%s'", nm);
    if (ir_attr_int(c->node, "antialias", 0)) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "antialias");
    float cubic_a = ir_attr_float(c->node, "cubic_coeff_a", -0.75f), extrap = ir_attr_float(c->node, "extrapolation_value", 0);
    int excl = (int)ir_attr_int(c->node, "exclude_outside", 0);
    float scale[ODRT_MAX_RANK];
    int64_t out[ODRT_MAX_RANK];
    for (int i = 0; i < r; i++) {
        if (sizes_in) out[i] = sizes_in[i], scale[i] = (float)out[i] / (float)x->dims[i];
        else scale[i] = scales_in[i], out[i] = (int64_t)floorf((float)x->dims[i] * scale[i]);
        if (out[i] < 0 || !(scale[i] > 0)) return ex_fail_node(c, ODRT_ERR_INVALID, "bad scale/size on axis %d", i);
    }
    const char *kp = ir_attr_str(c->node, "keep_aspect_ratio_policy", "stretch");
    if (sizes_in && strcmp(kp, "stretch")) {
        const ir_attr *ax = ir_node_attr(c->node, "axes");
        float s = !strcmp(kp, "not_larger") ? INFINITY : 0;
        for (int i = 0; i < r; i++) {
            int in_axes = !ax;
            for (int k = 0; ax && k < ax->n; k++) in_axes |= (ax->ints[k] < 0 ? ax->ints[k] + r : ax->ints[k]) == i;
            if (!in_axes) continue;
            s = !strcmp(kp, "not_larger") ? fminf(s, scale[i]) : fmaxf(s, scale[i]);
        }
        for (int i = 0; i < r; i++) {
            int in_axes = !ax;
            for (int k = 0; ax && k < ax->n; k++) in_axes |= (ax->ints[k] < 0 ? ax->ints[k] + r : ax->ints[k]) == i;
            if (!in_axes) continue;
            scale[i] = s;
            out[i] = (int64_t)roundf((float)x->dims[i] * s);
        }
    }
    ODRT_TRY(ex_out(c, 0, x->dtype, r, out));
    axis_taps taps[ODRT_MAX_RANK];
    memset(taps, 0, sizeof taps);
    odrt_status_t rc = ODRT_OK;
    for (int i = 0; i < r && rc == ODRT_OK; i++) {
        int identity = out[i] == x->dims[i] && scale[i] == 1.0f && strcmp(ctm, "tf_crop_and_resize");
        /* with scales, the resized length in the coordinate formulas is in * scale (not floored) */
        float out_f = sizes_in ? (float)out[i] : (float)x->dims[i] * scale[i];
        rc = build_taps(c, &taps[i], x->dims[i], out[i], out_f, scale[i], ctm, identity ? 0 : mode, identity ? NEAR_FLOOR : near,
                        cubic_a, excl, roi ? roi[i] : 0, roi ? roi[i + r] : 1);
    }
    if (rc == ODRT_OK) {
        int64_t n = ex_numel(c->out[0]), cnt[ODRT_MAX_RANK] = {0}, xs[ODRT_MAX_RANK], s = 1;
        for (int i = r - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
        int is_f = x->dtype == ODRT_DT_FLOAT;
        const float *X = x->data;
        for (int64_t o = 0; o < n; o++) {
            int outside = 0;
            for (int i = 0; i < r; i++) outside |= taps[i].extra[cnt[i]];
            double acc = 0;
            float facc = 0;
            if (!outside) {
                int tc[ODRT_MAX_RANK] = {0};
                for (;;) {
                    float w = 1;
                    int64_t off = 0;
                    for (int i = 0; i < r; i++) {
                        w *= taps[i].w[cnt[i] * taps[i].n + tc[i]];
                        off += taps[i].idx[cnt[i] * taps[i].n + tc[i]] * xs[i];
                    }
                    if (is_f) facc += w * X[off];
                    else acc += (double)w * ex_get_f(x, off);
                    int i = r - 1;
                    for (; i >= 0; i--) {
                        if (++tc[i] < taps[i].n) break;
                        tc[i] = 0;
                    }
                    if (i < 0) break;
                }
            }
            double v = outside ? extrap : is_f ? facc : acc;
            if (!is_f && mode != 0) v = v < 0 && x->dtype == ODRT_DT_UINT8 ? 0 : nearbyint(v);
            ex_set_f(&c->out[0]->t, o, v);
            for (int i = r - 1; i >= 0; i--)
                if (++cnt[i] < out[i]) break;
                else cnt[i] = 0;
        }
    }
    for (int i = 0; i < r; i++) free(taps[i].idx), free(taps[i].w), free(taps[i].extra);
    return rc;
}

static odrt_status_t k_resize(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank;
    float scales[ODRT_MAX_RANK], roi[2 * ODRT_MAX_RANK];
    int64_t sizes[ODRT_MAX_RANK];
    int have_sizes = 0, have_roi = 0;
    for (int i = 0; i < r; i++) scales[i] = 1, sizes[i] = x->dims[i], roi[i] = 0, roi[i + r] = 1;
    int legacy = c->opset < 11;
    const ir_attr *axa = ir_node_attr(c->node, "axes");
    int axes[ODRT_MAX_RANK], na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (axa) {
        na = axa->n;
        if (na > r) return ex_fail_node(c, ODRT_ERR_INVALID, "too many axes");
        for (int i = 0; i < na; i++) ODRT_TRY(ex_axis(c, axa->ints[i], r, &axes[i]));
    }
    int si = legacy ? 1 : 2, zi = 3;
    if (!legacy && c->n_in > 1 && c->in[1] && ex_numel(c->in[1])) {
        if (ex_numel(c->in[1]) != 2 * na) return ex_fail_node(c, ODRT_ERR_SHAPE, "roi needs %d values", 2 * na);
        for (int i = 0; i < na; i++) {
            roi[axes[i]] = (float)ex_get_f(&c->in[1]->t, i);
            roi[axes[i] + r] = (float)ex_get_f(&c->in[1]->t, i + na);
        }
        have_roi = 1;
    }
    if (c->n_in > zi && c->in[zi] && ex_numel(c->in[zi])) {
        if (ex_numel(c->in[zi]) != na) return ex_fail_node(c, ODRT_ERR_SHAPE, "sizes needs %d values", na);
        for (int i = 0; i < na; i++) sizes[axes[i]] = ex_get_i(&c->in[zi]->t, i);
        have_sizes = 1;
    } else if (c->n_in > si && c->in[si] && ex_numel(c->in[si])) {
        if (ex_numel(c->in[si]) != na) return ex_fail_node(c, ODRT_ERR_SHAPE, "scales needs %d values", na);
        for (int i = 0; i < na; i++) scales[axes[i]] = (float)ex_get_f(&c->in[si]->t, i);
    } else {
        return ex_fail_node(c, ODRT_ERR_INVALID, "neither scales nor sizes given");
    }
    return resize_impl(c, have_sizes ? NULL : scales, have_sizes ? sizes : NULL, have_roi ? roi : NULL, legacy);
}

static odrt_status_t k_upsample(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int r = c->in[0]->t.rank;
    float scales[ODRT_MAX_RANK];
    if (c->opset >= 9) {
        ODRT_TRY(ex_need(c, 1));
        if (ex_numel(c->in[1]) != r) return ex_fail_node(c, ODRT_ERR_SHAPE, "scales needs %d values", r);
        for (int i = 0; i < r; i++) scales[i] = (float)ex_get_f(&c->in[1]->t, i);
    } else {
        const ir_attr *a = ir_node_attr(c->node, "scales");
        if (!a || a->n != r) return ex_fail_node(c, ODRT_ERR_INVALID, "scales attribute");
        for (int i = 0; i < r; i++) scales[i] = a->floats[i];
    }
    return resize_impl(c, scales, NULL, NULL, 1);
}

const ex_kernel ex_kernels_resize[] = {
    {"", "Resize", k_resize, sh_resize},
    {"", "Upsample", k_upsample, NULL},
    {NULL, NULL, NULL, NULL},
};

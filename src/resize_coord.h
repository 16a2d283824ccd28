/* Resize's per-axis formulas, shared by the reference kernel (k_resize.c) and the engine's fused
 * preprocessing (src/engine/preproc.c), so that both compute the same taps in float. */
#ifndef ODRT_RESIZE_COORD_H
#define ODRT_RESIZE_COORD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* the formulas also run in the CUDA backend's preprocessing kernel */
#ifdef __CUDACC__
#define RZ_FN static inline __host__ __device__
#else
#define RZ_FN static inline
#endif

/* coordinate_transformation_mode; the first four codes are the engine file's (docs/engine-format.md) */
enum { RZ_HALF_PIXEL = 0, RZ_ASYMMETRIC, RZ_ALIGN_CORNERS, RZ_PYTORCH_HALF_PIXEL, RZ_HALF_PIXEL_SYMMETRIC, RZ_TF_CROP,
       RZ_TF_HALF_PIXEL_NN, /* opset 11-12's tf_half_pixel_for_nn: TF's nearest upsampling (x + 0.5) / scale */
       /* odrt's own, for graphs read from TensorFlow (src/frontend/tf): TF's kernels multiply by
        * in / out where ONNX divides by out / in; at a 1367 -> 320 resize the float coordinates differ
        * by up to an ulp of ~1e3 (1.2e-4), pixels by up to 0.016 and detection scores by 1e-3 */
       RZ_TF_ASYMMETRIC, RZ_TF_HALF_PIXEL, RZ_TF_ALIGN_CORNERS, RZ_N_CTM };

static const char *const RZ_CTM_NAMES[RZ_N_CTM] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                                                    "half_pixel_symmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn",
                                                    "odrt_tf_asymmetric", "odrt_tf_half_pixel", "odrt_tf_align_corners"};
/* nearest_mode; the first four codes are the engine file's; SIMPLE is Upsample's legacy rounding */
enum { RZ_NEAR_RPF = 0, RZ_NEAR_RPC, RZ_NEAR_FLOOR, RZ_NEAR_CEIL, RZ_NEAR_SIMPLE };

/* code of a coordinate_transformation_mode name, -1 unknown */
static inline int rz_ctm_code(const char *s) {
    for (int i = 0; i < RZ_N_CTM; i++)
        if (!strcmp(s, RZ_CTM_NAMES[i])) return i;
    return -1;
}

/* can an engine's fused preprocessing resize with this mode (the engine file names it)? */
static inline int rz_ctm_engine(int c) { return (c >= 0 && c <= RZ_PYTORCH_HALF_PIXEL) || (c >= RZ_TF_ASYMMETRIC && c < RZ_N_CTM); }

/* the standard ONNX mode nearest to an odrt_tf_* one (what a model written for others says) */
static inline const char *rz_onnx_ctm(const char *s) {
    int c = rz_ctm_code(s);
    return c == RZ_TF_ASYMMETRIC ? "asymmetric" : c == RZ_TF_HALF_PIXEL ? "half_pixel" : c == RZ_TF_ALIGN_CORNERS ? "align_corners" : s;
}

/* code of a nearest_mode name (RZ_NEAR_RPF..RZ_NEAR_CEIL), -1 unknown */
static inline int rz_nearest_code(const char *s) {
    static const char *names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* source coordinate of output index o (all modes but tf_crop_and_resize, which needs the roi) */
RZ_FN float rz_source(int ctm, int64_t o, int64_t in, int64_t out, float out_f, float scale) {
    float fo = (float)o;
    switch (ctm) {
    case RZ_HALF_PIXEL: return (fo + 0.5f) / scale - 0.5f;
    case RZ_PYTORCH_HALF_PIXEL: return out > 1 ? (fo + 0.5f) / scale - 0.5f : 0;
    case RZ_ALIGN_CORNERS: return out == 1 ? 0 : fo * (float)(in - 1) / (out_f - 1);
    case RZ_ASYMMETRIC: return fo / scale;
    case RZ_TF_HALF_PIXEL_NN: return (fo + 0.5f) / scale;
    case RZ_TF_ASYMMETRIC: return fo * ((float)in / out_f);
    case RZ_TF_HALF_PIXEL: return (fo + 0.5f) * ((float)in / out_f) - 0.5f;
    case RZ_TF_ALIGN_CORNERS: return out > 1 ? fo * ((float)(in - 1) / (out_f - 1)) : 0;
    default: { /* half_pixel_symmetric */
        float adj = (float)out / (scale * (float)in), center = (float)in / 2;
        return center * (1 - adj) + (fo + 0.5f) / scale - 0.5f;
    }
    }
}

/* nearest: the input index of source coordinate x, clamped */
RZ_FN int64_t rz_nearest(int mode, float x, float scale, int64_t in) {
    float r;
    switch (mode) {
    case RZ_NEAR_RPF: r = (x == floorf(x) + 0.5f) ? floorf(x) : roundf(x); break;
    case RZ_NEAR_RPC: r = roundf(x); break;
    case RZ_NEAR_FLOOR: r = floorf(x); break;
    case RZ_NEAR_CEIL: r = ceilf(x); break;
    default: r = scale < 1 ? ceilf(x) : (float)(int64_t)x; break;
    }
    int64_t i = (int64_t)r;
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

/* linear: the two taps of source coordinate x (clamped to the input) and their weights */
RZ_FN void rz_linear(float x, int64_t in, int64_t *i0, int64_t *i1, float *w0, float *w1) {
    float xc = x < 0 ? 0 : x > (float)(in - 1) ? (float)(in - 1) : x;
    int64_t a = (int64_t)xc;
    if (a > in - 1) a = in - 1;
    int64_t b = a + 1 < in ? a + 1 : in - 1;
    float d0 = fabsf(xc - (float)a), d1 = fabsf(xc - (float)b);
    if (a == b) d0 = d1 = 0.5f;
    *i0 = a, *i1 = b, *w0 = d1, *w1 = d0;
}

/* output index o of a resize from in to out along one axis, as the engine resizes (scale = out / in
 * in float, no roi): its two taps and weights; nearest gives i0 = i1 and weights 1, 0 */
RZ_FN void rz_tap(int linear, int ctm, int nearest, int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *w0,
                  float *w1) {
    float scale = (float)out / (float)in, x = rz_source(ctm, o, in, out, (float)out, scale);
    if (linear) {
        rz_linear(x, in, i0, i1, w0, w1);
    } else {
        *i0 = *i1 = rz_nearest(nearest, x, scale, in);
        *w0 = 1, *w1 = 0;
    }
}

/* TF's keep-aspect-ratio size (tf.image.resize preserve_aspect_ratio, as in the TF OD API's
 * ResizeToRange): scale = min(fit_h / h, fit_w / w) in float32, sizes rounded half to even */
RZ_FN void rz_keep_aspect_size(int64_t h, int64_t w, int64_t fit_h, int64_t fit_w, int64_t *rh, int64_t *rw) {
    float sh = (float)fit_h / (float)h, sw = (float)fit_w / (float)w, s = sh < sw ? sh : sw;
    *rh = (int64_t)rintf(s * (float)h), *rw = (int64_t)rintf(s * (float)w);
}

#endif

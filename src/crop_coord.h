/* TF's crops of a feature map by normalised boxes (two-stage detectors' second and mask stages),
 * shared by the reference executor's odrt.CropAndResize (ops/k_crop.c), the CPU backend and the
 * CUDA kernel, so that all compute the same taps in float.
 *
 * A box (y1, x1, y2, x2) is normalised to the map: y = 0 is row 0, y = 1 row H - 1. Output row i of
 * ch samples at y1 (H - 1) + i (y2 - y1) (H - 1) / (ch - 1) (the box's middle when ch = 1), and
 * likewise for columns; each sample is bilinear between its 4 neighbours. Two exports differ in
 * their float operations and at the map's border:
 *   CROP_ROI_ALIGN: use_matmul_crop_and_resize (spatial_transform_ops.multilevel_roi_align with
 *     align_corners): box scaled by (H - 1), samples y1 + lin_i (y2 - y1) with lin = linspace(0, 1,
 *     ch) in float; neighbours floor(y) and floor(y + 1); a neighbour outside the map reads the
 *     extrapolation value; weights (hy hx) * 4 etc., summed and divided by 4 (its 2x2 average pool).
 *   CROP_TF: tf.image.crop_and_resize as tf2onnx writes it (a Loop of Resize tf_crop_and_resize,
 *     whose sample coordinates are computed in ONNX's operation order): a sample outside [0, H - 1]
 *     is the extrapolation value; top + (bottom - top) * lerp. */
#ifndef ODRT_CROP_COORD_H
#define ODRT_CROP_COORD_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define CROP_FN static inline __host__ __device__
#else
#define CROP_FN static inline
#endif

typedef enum { CROP_ROI_ALIGN = 0, CROP_TF = 1, CROP_MODES } crop_mode;

/* one axis of one output sample: the two neighbour indices (-1: outside, reads the extrapolation
 * value), their weights, and whether the whole sample is outside (CROP_TF) */
typedef struct {
    int64_t i0, i1;
    float w0, w1;
    int outside;
} crop_tap;

/* tap of output index o of n along an axis of length L, for the box edge a..b (normalised) */
CROP_FN crop_tap crop_axis_tap(int mode, float a, float b, int64_t o, int64_t n, int64_t L) {
    crop_tap t;
    float sl = (float)(L - 1);
    if (mode == CROP_ROI_ALIGN) {
        float lo = a * sl, hi = b * sl, len = hi - lo;
        float step = n > 1 ? 1.0f / (float)(n - 1) : 0.0f;
        float lin = n > 1 ? (o == n - 1 ? 1.0f : step * (float)o) : 0.0f;
        float g = n > 1 ? lo + lin * len : (lo + len / 2) + lin * len;
        if (!(g > -2.0f && g < (float)L + 1.0f)) { /* no neighbour inside (NaN too): no float -> int conversion */
            t.i0 = t.i1 = -1, t.w0 = 1.0f - (g - floorf(g)), t.w1 = g - floorf(g), t.outside = 0;
            return t;
        }
        float f0 = floorf(g), f1 = floorf(g + 1.0f), l = g - f0;
        t.i0 = (int64_t)f0, t.i1 = (int64_t)f1;
        if (!(t.i0 >= 0 && t.i0 < L)) t.i0 = -1;
        if (!(t.i1 >= 0 && t.i1 < L)) t.i1 = -1;
        t.w0 = 1.0f - l, t.w1 = l, t.outside = 0;
        return t;
    }
    /* ONNX Resize's tf_crop_and_resize coordinate, in its operation order (tf2onnx's form, which
     * onnxruntime and the reference executor evaluate so): TF's own kernel computes
     * a sl + o ((b - a) sl / (n - 1)), and the two can fall on either side of the map's last row
     * for a box edge at 1 (a sample outside reads the extrapolation value) */
    float g = n > 1 ? a * sl + (float)o * (b - a) * sl / (float)(n - 1) : 0.5f * (a + b) * sl;
    t.outside = !(g >= 0 && g <= sl);
    if (t.outside) {
        t.i0 = t.i1 = -1, t.w0 = 1.0f, t.w1 = 0.0f;
        return t;
    }
    float f0 = floorf(g), f1 = ceilf(g);
    t.i0 = (int64_t)f0, t.i1 = (int64_t)f1;
    t.w0 = 1.0f - (g - f0), t.w1 = g - f0;
    return t;
}

/* one output value from its 4 neighbours v[y][x] (already the extrapolation value where a tap is
 * outside) and the taps */
CROP_FN float crop_mix(int mode, const crop_tap *ty, const crop_tap *tx, float v00, float v01, float v10, float v11, float extra) {
    if (mode == CROP_ROI_ALIGN) {
        float a = v00 * (ty->w0 * tx->w0 * 4.0f), b = v01 * (ty->w0 * tx->w1 * 4.0f);
        float c = v10 * (ty->w1 * tx->w0 * 4.0f), d = v11 * (ty->w1 * tx->w1 * 4.0f);
        return (((a + b) + c) + d) / 4.0f;
    }
    if (ty->outside || tx->outside) return extra;
    float top = v00 + (v01 - v00) * tx->w1, bottom = v10 + (v11 - v10) * tx->w1;
    return top + (bottom - top) * ty->w1;
}

#ifndef __CUDACC__
/* TF's crop of NB boxes from an NCHW map X [B, C, H, W] (box n on image n / (NB / B)) into
 * Y [NB, C, ch, cw]: the reference executor's kernel and the R-CNN finder's probe */
static inline void crop_nchw(int mode, const float *X, int64_t B, int64_t C, int64_t H, int64_t W, const float *boxes, int64_t NB,
                             int64_t ch, int64_t cw, float extra, float *Y) {
    int64_t P = NB / B;
    for (int64_t n = 0; n < NB; n++) {
        const float *b = boxes + n * 4, *img = X + n / P * C * H * W;
        for (int64_t i = 0; i < ch; i++) {
            crop_tap ty = crop_axis_tap(mode, b[0], b[2], i, ch, H);
            for (int64_t j = 0; j < cw; j++) {
                crop_tap tx = crop_axis_tap(mode, b[1], b[3], j, cw, W);
                for (int64_t k = 0; k < C; k++) {
                    const float *p = img + k * H * W;
                    float v00 = ty.i0 >= 0 && tx.i0 >= 0 ? p[ty.i0 * W + tx.i0] : extra;
                    float v01 = ty.i0 >= 0 && tx.i1 >= 0 ? p[ty.i0 * W + tx.i1] : extra;
                    float v10 = ty.i1 >= 0 && tx.i0 >= 0 ? p[ty.i1 * W + tx.i0] : extra;
                    float v11 = ty.i1 >= 0 && tx.i1 >= 0 ? p[ty.i1 * W + tx.i1] : extra;
                    Y[((n * C + k) * ch + i) * cw + j] = crop_mix(mode, &ty, &tx, v00, v01, v10, v11, extra);
                }
            }
        }
    }
}
#endif

#endif

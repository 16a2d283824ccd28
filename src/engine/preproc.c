/* Fused preprocessing: a uint8 RGB frame of any size -> resized the way the export's Resize does
 * it (same tap and weight formulas as the reference executor's Resize, in float) -> normalised
 * (the map_fn's own steps, in order) -> float NHWC at the network size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/engine.h"
#include "engine/norm_steps.h"
#include "resize_coord.h"


/* the reference Resize's formulas (src/resize_coord.h): the engine's codes are the same */
static void taps(const eng_meta *m, int64_t in, int64_t out, eng_tap *t) {
    for (int64_t o = 0; o < out; o++)
        rz_tap(m->resize_linear, m->resize_ctm, m->resize_nearest, o, in, out, &t[o].i0, &t[o].i1, &t[o].w0, &t[o].w1);
}

void eng_window_size(const eng_meta *m, int64_t h, int64_t w, int64_t *rh, int64_t *rw) {
    if (m->keep_aspect) rz_keep_aspect_size(h, w, m->fit_h, m->fit_w, rh, rw);
    else if (m->has_resize) *rh = m->net_h, *rw = m->net_w;
    else *rh = h, *rw = w;
}

void eng_pad_pixel(const eng_meta *m, float pad[3]) {
    int pre = m->has_resize ? m->n_norm_pre : 0;
    for (int o = 0; o < 3; o++) pad[o] = eng_norm_steps(m->norm, m->pad_value, m->chan_perm[o], pre, m->n_norm);
}

odrt_status_t eng_prep_init(eng_prep *p, const eng_meta *m, const uint8_t *src, int64_t fh, int64_t fw, float *dst) {
    memset(p, 0, sizeof *p);
    p->m = m, p->src = src, p->fh = fh, p->fw = fw, p->dst = dst;
    eng_window_size(m, fh, fw, &p->rh, &p->rw);
    if (p->rh < 1 || p->rw < 1 || p->rh > m->net_h || p->rw > m->net_w)
        return odrt_fail(ODRT_ERR_SHAPE, "detect: a %lldx%lld frame does not fit the %dx%d network input", (long long)fh,
                         (long long)fw, m->net_h, m->net_w);
    int64_t H = p->rh, W = p->rw;
    /* same size: every resize formula above is the identity (weights 1 and 0) */
    p->identity = fh == H && fw == W && (!m->has_resize || m->resize_ctm != 3 || (H > 1 && W > 1));
    int pre = m->has_resize ? m->n_norm_pre : 0;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            p->lut_pre[c][v] = eng_norm_steps(m->norm, (float)v, c, 0, pre);
            p->lut[c][v] = eng_norm_steps(m->norm, p->lut_pre[c][v], c, pre, m->n_norm);
        }
    eng_pad_pixel(m, p->pad);
    if (p->identity) return ODRT_OK;
    p->ty = malloc(sizeof(eng_tap) * (size_t)H), p->tx = malloc(sizeof(eng_tap) * (size_t)W);
    if (!p->ty || !p->tx) {
        eng_prep_free(p);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    taps(m, fh, H, p->ty);
    taps(m, fw, W, p->tx);
    return ODRT_OK;
}

void eng_prep_free(eng_prep *p) {
    free(p->ty), free(p->tx);
    p->ty = p->tx = NULL;
}

void eng_prep_rows(const eng_prep *p, int64_t y0, int64_t y1) {
    const eng_meta *m = p->m;
    int64_t W = m->net_w, fw = p->fw, RW = p->rw;
    int pre = m->has_resize ? m->n_norm_pre : 0;
    for (int64_t y = y0; y < y1; y++) {
        float *d = p->dst + y * W * 3;
        if (y >= p->rh) { /* padding below the image */
            for (int64_t i = 0; i < W * 3; i++) d[i] = p->pad[i % 3];
            continue;
        }
        if (p->identity) {
            const uint8_t *r = p->src + y * fw * 3;
            for (int64_t i = 0; i < RW; i++)
                for (int o = 0; o < 3; o++) {
                    int c = m->chan_perm[o];
                    d[i * 3 + o] = p->lut[c][r[i * 3 + c]];
                }
        } else {
            const eng_tap *ty = &p->ty[y];
            const uint8_t *r0 = p->src + ty->i0 * fw * 3, *r1 = p->src + ty->i1 * fw * 3;
            for (int64_t x = 0; x < RW; x++) {
                const eng_tap *t = &p->tx[x];
                if (!m->resize_linear) {
                    for (int o = 0; o < 3; o++) d[x * 3 + o] = p->lut[m->chan_perm[o]][r0[t->i0 * 3 + m->chan_perm[o]]];
                    continue;
                }
                for (int o = 0; o < 3; o++) {
                    int c = m->chan_perm[o];
                    /* separable as the reference: along W first, then H; the steps before the
                     * resize are applied to the taps (the export's order) */
                    const float *lp = p->lut_pre[c];
                    float a = lp[r0[t->i0 * 3 + c]] * t->w0 + lp[r0[t->i1 * 3 + c]] * t->w1;
                    float b = lp[r1[t->i0 * 3 + c]] * t->w0 + lp[r1[t->i1 * 3 + c]] * t->w1;
                    d[x * 3 + o] = eng_norm_steps(m->norm, a * ty->w0 + b * ty->w1, c, pre, m->n_norm);
                }
            }
        }
        for (int64_t i = RW * 3; i < W * 3; i++) d[i] = p->pad[i % 3]; /* padding right of the image */
    }
}

/* The interior tile of the 5x5 depthwise kernel (EfficientNet's 5x5 stages), written once and
 * included by kernels.c per vector type with the parameters dw3x3_tile.h takes (DW_V, DW_N, DW_LD,
 * DW_ST, DW_SPLAT, DW_CLIP, DW_SFX), which the includer undefines. */
#define DW_CAT2(a, b) a##_##b
#define DW_CAT(a, b) DW_CAT2(a, b)

/* one input row's contribution to 4 adjacent outputs (stride S): the row's 5 weights loaded once,
 * input columns once for every output whose window holds them (S = 1: 8 loads, S = 2: 11, for 20
 * FMAs); each output adds its taps left to right, as the bounds-checked pixel does */
static FORCE_INLINE void DW_CAT(dw5_row4, DW_SFX)(const float *p, const float *w, int64_t C, DW_V *s0, DW_V *s1, DW_V *s2,
                                                  DW_V *s3, const int S) {
    DW_V w0 = DW_LD(w), w1 = DW_LD(w + C), w2 = DW_LD(w + 2 * C), w3 = DW_LD(w + 3 * C), w4 = DW_LD(w + 4 * C);
    DW_V x[11];
    for (int i = 0; i < 3 * S + 5; i++) x[i] = DW_LD(p + i * C);
    DW_V *s[4] = {s0, s1, s2, s3};
    for (int o = 0; o < 4; o++) {
        const DW_V *q = x + o * S;
        *s[o] += q[0] * w0, *s[o] += q[1] * w1, *s[o] += q[2] * w2, *s[o] += q[3] * w3, *s[o] += q[4] * w4;
    }
}

/* output pixels [ox, ox + 4) of one row, channels [c, c_end) in steps of DW_N; returns c_end */
static FORCE_INLINE int64_t DW_CAT(dw5_tile, DW_SFX)(const k_dw *a, const float *const rows[5], int64_t ox, int64_t c, int64_t c_end,
                                                     float *yrow, const int S, const int clip) {
    const int64_t C = a->C, off0 = (ox * S - a->pl) * C;
    const DW_V lo = DW_SPLAT(a->e.lo), hi = DW_SPLAT(a->e.hi);
    for (; c < c_end; c += DW_N) {
        DW_V b = DW_LD(a->bias + c), s0 = b, s1 = b, s2 = b, s3 = b;
        for (int ky = 0; ky < 5; ky++) DW_CAT(dw5_row4, DW_SFX)(rows[ky] + off0 + c, a->w + ky * 5 * C + c, C, &s0, &s1, &s2, &s3, S);
        float *y = yrow + ox * C + c;
        if (clip) s0 = DW_CLIP(s0, lo, hi), s1 = DW_CLIP(s1, lo, hi), s2 = DW_CLIP(s2, lo, hi), s3 = DW_CLIP(s3, lo, hi);
        DW_ST(y, s0), DW_ST(y + C, s1), DW_ST(y + 2 * C, s2), DW_ST(y + 3 * C, s3);
    }
    return c_end;
}

#undef DW_CAT
#undef DW_CAT2

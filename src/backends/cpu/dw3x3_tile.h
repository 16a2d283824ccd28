/* The interior tile of the 3x3 depthwise kernel, written once and included by kernels.c per
 * vector type: DW_V (the type), DW_N (its lanes), DW_LD / DW_ST / DW_SPLAT / DW_CLIP(x, lo, hi)
 * and DW_SFX (the name suffix), which the includer undefines. The 256-bit set includes it for v8;
 * the AVX-512 set also for v16, which takes the channels in 16s before v8 takes a last 8. */
#define DW_CAT2(a, b) a##_##b
#define DW_CAT(a, b) DW_CAT2(a, b)

/* one input row's contribution to 4 adjacent outputs (stride S): input columns are loaded once
 * and feed every output whose window holds them (S = 1: 6 loads, S = 2: 9 loads for 12 FMAs) */
static FORCE_INLINE void DW_CAT(dw3_row4, DW_SFX)(const float *p, int64_t C, DW_V wa, DW_V wb, DW_V wc, DW_V *s0, DW_V *s1,
                                                  DW_V *s2, DW_V *s3, const int S) {
    if (S == 1) {
        DW_V x0 = DW_LD(p), x1 = DW_LD(p + C), x2 = DW_LD(p + 2 * C), x3 = DW_LD(p + 3 * C), x4 = DW_LD(p + 4 * C);
        DW_V x5 = DW_LD(p + 5 * C);
        *s0 += x0 * wa, *s0 += x1 * wb, *s0 += x2 * wc;
        *s1 += x1 * wa, *s1 += x2 * wb, *s1 += x3 * wc;
        *s2 += x2 * wa, *s2 += x3 * wb, *s2 += x4 * wc;
        *s3 += x3 * wa, *s3 += x4 * wb, *s3 += x5 * wc;
    } else {
        DW_V x0 = DW_LD(p), x1 = DW_LD(p + C), x2 = DW_LD(p + 2 * C), x3 = DW_LD(p + 3 * C), x4 = DW_LD(p + 4 * C);
        *s0 += x0 * wa, *s0 += x1 * wb, *s0 += x2 * wc;
        *s1 += x2 * wa, *s1 += x3 * wb, *s1 += x4 * wc;
        DW_V x5 = DW_LD(p + 5 * C), x6 = DW_LD(p + 6 * C), x7 = DW_LD(p + 7 * C), x8 = DW_LD(p + 8 * C);
        *s2 += x4 * wa, *s2 += x5 * wb, *s2 += x6 * wc;
        *s3 += x6 * wa, *s3 += x7 * wb, *s3 += x8 * wc;
    }
}

/* output pixels [ox, ox + 4 quads) of one row, channels [c, c_end) in steps of DW_N (c_end - c a
 * multiple of DW_N): per DW_N channels the 9 weights stay in registers while the quads
 * accumulate. Returns c_end. */
static FORCE_INLINE int64_t DW_CAT(dw3_tile, DW_SFX)(const k_dw *a, const float *const rows[3], int64_t ox, int quads, int64_t c,
                                                     int64_t c_end, float *yrow, const int S, const int clip) {
    const int64_t C = a->C;
    const DW_V lo = DW_SPLAT(a->e.lo), hi = DW_SPLAT(a->e.hi);
    for (; c < c_end; c += DW_N) {
        const float *w = a->w + c;
        DW_V w00 = DW_LD(w), w01 = DW_LD(w + C), w02 = DW_LD(w + 2 * C), w10 = DW_LD(w + 3 * C), w11 = DW_LD(w + 4 * C);
        DW_V w12 = DW_LD(w + 5 * C), w20 = DW_LD(w + 6 * C), w21 = DW_LD(w + 7 * C), w22 = DW_LD(w + 8 * C);
        DW_V b = DW_LD(a->bias + c);
        for (int q = 0; q < quads; q++) {
            const int64_t o = ox + 4 * q, off = (o * S - a->pl) * C + c;
            DW_V s0 = b, s1 = b, s2 = b, s3 = b;
            DW_CAT(dw3_row4, DW_SFX)(rows[0] + off, C, w00, w01, w02, &s0, &s1, &s2, &s3, S);
            DW_CAT(dw3_row4, DW_SFX)(rows[1] + off, C, w10, w11, w12, &s0, &s1, &s2, &s3, S);
            DW_CAT(dw3_row4, DW_SFX)(rows[2] + off, C, w20, w21, w22, &s0, &s1, &s2, &s3, S);
            float *y = yrow + o * C + c;
            if (clip) s0 = DW_CLIP(s0, lo, hi), s1 = DW_CLIP(s1, lo, hi), s2 = DW_CLIP(s2, lo, hi), s3 = DW_CLIP(s3, lo, hi);
            DW_ST(y, s0), DW_ST(y + C, s1), DW_ST(y + 2 * C, s2), DW_ST(y + 3 * C, s3);
        }
    }
    return c_end;
}

#undef DW_CAT
#undef DW_CAT2

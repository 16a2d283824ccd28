/* quant.c and quant_channel.c: an activation's calibration record and the engine-only helpers
 * (unsigned inputs, per-channel steps, marking the int8 convolutions for the engine's lowering) */
#ifndef ODRT_PASSES_QUANT_INTERNAL_H
#define ODRT_PASSES_QUANT_INTERNAL_H

#include "ir/build.h"
#include "passes/quant.h"

typedef struct {
    ir_value *v;
    double max, amax, sqnr;
    double *hist;
    double *chmax; /* channel scales: max |x| per channel (dim 1 of NCHW), nch of them (NULL: not measured) */
    int64_t nch;
    float *steps; /* channel scales: each channel's step */
    int unsig;    /* quantized unsigned (q_options.unsigned_acts and x >= 0 by construction) */
} act_stat;

/* x >= 0 by construction: the output of Relu, or of Clip with a constant lower bound >= 0 */
int q_non_negative(const ir_value *x);
/* the running per-channel max |x| of t (rank 4, channels on dim 1) into *chmax (allocated at first) */
odrt_status_t q_channel_max(const odrt_tensor_t *t, double **chmax, int64_t *nch);
/* a->steps: per channel min(chmax, amax) / Q (Q = 255 unsigned, else 127), at least amax / Q / 32
 * (a channel quiet on the calibration frames keeps a usable range); every channel amax / Q when
 * chmax was not measured */
odrt_status_t q_channel_steps(act_stat *a);
/* x's Q/DQ pair with a's per-channel steps (axis 1), int8 or uint8 */
ir_value *q_qdq_channels(bld *b, const act_stat *a);
/* a float copy of 1x1 conv weights w [cout][cin][1][1] as the engine quantizes them with input
 * steps s: w * s[k] quantized per output channel (symmetric int8), dequantized, divided by s[k] */
ir_value *q_weights_channels(bld *b, const ir_value *w, const float *s);
/* conv n runs in int8 on the engine: its attributes say a's steps and whether unsigned */
void q_mark(bld *b, ir_node *n, const act_stat *a);
/* the calibration file's per-channel record: write a's chmax into e / read it back (nch from x's type) */
void q_channel_json_write(cJSON *e, const act_stat *a);
odrt_status_t q_channel_json_read(const cJSON *e, act_stat *a);

#endif

/* odrt convert --precision int8: a Q/DQ ONNX (TensorRT 10/11 take INT8 from explicit
 * QuantizeLinear / DequantizeLinear; TensorRT 11 has no calibrator). Every convolution of the
 * network gets int8 weights per output channel (symmetric, DequantizeLinear on axis 0) and a Q/DQ
 * pair on its input activation whose scale comes from calibration: the converted float32 graph run
 * by the reference executor on real frames (the export's own preprocessing), each activation's |x|
 * collected in a 2048-bin histogram, and its range chosen by max, percentile (99.99) or entropy
 * (TensorRT's KL-divergence search). A sensitivity pass keeps in float the convolutions where INT8
 * costs most: the stem (the first convolutions, on the image), the heads (those whose output reaches
 * the box codes or class logits without another convolution), any whose input quantizes with a
 * signal-to-noise ratio below 25 dB, and then, measured: each remaining convolution alone in int8,
 * its cost at the heads on a calibration frame; all in int8, the costliest returned to float a
 * sixteenth at a time until the heads keep HEAD_TARGET_DB. The report names each and why. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/fold.h"
#include "util.h"
#include "ir/build.h"
#include "passes/half.h"
#include "passes/quant_internal.h"

#define BINS 2048
#define MAX_IMAGES 512
#define SQNR_MIN_DB 25.0
/* the heads' SQNR (int8 against float32) the measured pass keeps: on handtrack 30 dB kept COCO mAP
 * 0.954 / AP50 0.991 against the FP32 engine (91 int8 convolutions), 33 dB 0.968 / 0.992 (70) */
#define HEAD_TARGET_DB 33.0

/* ---- calibration frames ---- */
static int is_image(const char *name) {
    const char *e = strrchr(name, '.');
    return e && (!strcasecmp(e, ".jpg") || !strcasecmp(e, ".jpeg") || !strcasecmp(e, ".png"));
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static odrt_status_t list_images(const char *dir, char ***out, int *n) {
    DIR *d = opendir(dir);
    if (!d) return odrt_fail(ODRT_ERR_IO, "convert: --calibration '%s': not a folder of JPEG/PNG images or a calibration .json", dir);
    char **v = calloc(MAX_IMAGES + 1, sizeof(char *));
    struct dirent *de;
    *n = 0;
    while (v && (de = readdir(d)) && *n < MAX_IMAGES)
        if (is_image(de->d_name)) {
            size_t l = strlen(dir) + strlen(de->d_name) + 2;
            if (!(v[*n] = malloc(l))) break;
            snprintf(v[*n], l, "%s/%s", dir, de->d_name);
            (*n)++;
        }
    closedir(d);
    if (!v) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    qsort(v, (size_t)*n, sizeof(char *), cmp_str);
    *out = v;
    if (!*n) return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: --calibration '%s' holds no JPEG/PNG images", dir);
    return ODRT_OK;
}

/* the model input for frames [i, i + batch) of the list (cycling), in the converted model's layout */
static odrt_status_t plan_input(const conv_plan *p, char **files, int n_files, int i, int64_t batch, odrt_tensor_t **out) {
    int64_t d[4] = {batch, p->nchw ? 3 : p->in_h, p->nchw ? p->in_h : p->in_w, p->nchw ? p->in_w : 3};
    ODRT_TRY(odrt_tensor_create((odrt_dtype_t)p->in_dtype, 4, d, out));
    size_t plane = (size_t)p->in_h * p->in_w;
    for (int64_t b = 0; b < batch; b++) {
        odrt_tensor_t *img = NULL;
        odrt_status_t rc = odrt_image_load(files[(i + b) % n_files], (int)p->in_h, (int)p->in_w, &img);
        if (rc != ODRT_OK) {
            odrt_tensor_free(*out);
            return rc;
        }
        const uint8_t *s = img->data;
        for (size_t q = 0; q < plane; q++)
            for (int c = 0; c < 3; c++) {
                size_t at = (size_t)b * plane * 3 + (p->nchw ? (size_t)c * plane + q : q * 3 + (size_t)c);
                if (p->in_dtype == ODRT_DT_UINT8) ((uint8_t *)(*out)->data)[at] = s[q * 3 + (size_t)c];
                else ((float *)(*out)->data)[at] = s[q * 3 + (size_t)c];
            }
        odrt_tensor_free(img);
    }
    return ODRT_OK;
}

/* the graph's outputs swapped for vals[0..n) (had[i]: each value's flags before); outputs_restore undoes it */
typedef struct {
    ir_value **saved;
    int n_saved;
} out_swap;
static out_swap outputs_set(ir_graph *g, ir_value **vals, int n, unsigned *had) {
    out_swap o = {g->outputs, g->n_outputs};
    for (int i = 0; i < n; i++) had[i] = vals[i]->flags, vals[i]->flags |= IR_VAL_OUTPUT;
    for (int i = 0; i < o.n_saved; i++) o.saved[i]->flags &= ~(unsigned)IR_VAL_OUTPUT;
    g->outputs = vals, g->n_outputs = n;
    return o;
}
static void outputs_restore(ir_graph *g, const out_swap *o, ir_value **vals, int n, const unsigned *had) {
    for (int i = 0; i < n; i++) vals[i]->flags = had[i];
    for (int i = 0; i < o->n_saved; i++) o->saved[i]->flags |= IR_VAL_OUTPUT;
    g->outputs = o->saved, g->n_outputs = o->n_saved;
}

typedef struct q_run {
    const conv_plan *p;
    const q_options *qo;
} q_run;

static odrt_status_t make_input(const q_run *r, char **files, int n_files, int i, int64_t batch, odrt_tensor_t **out) {
    if (r->qo && r->qo->frames) return r->qo->frames(r->qo->frames_ctx, files, n_files, i, batch, out);
    return plan_input(r->p, files, n_files, i, batch, out);
}

/* run the graph with the activations as its outputs on every frame; pass 0: max |x|, pass 1: histograms */
static odrt_status_t collect(odrt_model_t *om, const q_run *r, act_stat *st, int n_st, char **files, int n_files) {
    ir_graph *g = om->ir->graph;
    ir_value **outs = odrt_arena_alloc(om->ir->arena, sizeof(ir_value *) * (size_t)(n_st + 1));
    if (!outs) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    unsigned *had = calloc((size_t)n_st + 1, sizeof(unsigned));
    odrt_tensor_t **res = calloc((size_t)n_st + 1, sizeof(odrt_tensor_t *));
    if (!had || !res) {
        free(had), free(res);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_st; i++) outs[i] = st[i].v;
    out_swap sw = outputs_set(g, outs, n_st, had);
    odrt_session_t *s = NULL;
    odrt_status_t rc = odrt_session_create(om, &s);
    int64_t batch = r->p->batch > 0 ? r->p->batch : 1;
    const char *name = odrt_model_input_name(om, 0);
    for (int pass = 0; pass < 2 && rc == ODRT_OK; pass++)
        for (int f = 0; f < n_files && rc == ODRT_OK; f += (int)batch) {
            odrt_tensor_t *x = NULL;
            if ((rc = make_input(r, files, n_files, f, batch, &x)) != ODRT_OK) break;
            rc = odrt_session_run(s, 1, &name, (const odrt_tensor_t *const *)&x, res);
            odrt_tensor_free(x);
            for (int i = 0; i < n_st; i++) {
                const odrt_tensor_t *t = res[i];
                if (rc == ODRT_OK && t && t->dtype == ODRT_DT_FLOAT) {
                    const float *a = t->data;
                    int64_t n = odrt_tensor_numel(t);
                    if (pass == 0) {
                        double mx = st[i].max;
                        for (int64_t k = 0; k < n; k++) {
                            double v = fabs((double)a[k]);
                            if (v > mx) mx = v;
                        }
                        st[i].max = mx;
                        if (r->qo && r->qo->channel_scales && rc == ODRT_OK) rc = q_channel_max(t, &st[i].chmax, &st[i].nch);
                    } else if (st[i].max > 0) {
                        double w = st[i].max / BINS;
                        for (int64_t k = 0; k < n; k++) {
                            int b = (int)(fabs((double)a[k]) / w);
                            st[i].hist[b >= BINS ? BINS - 1 : b] += 1;
                        }
                    }
                } else if (rc == ODRT_OK) {
                    rc = odrt_fail(ODRT_ERR_INVALID, "convert: calibration: activation '%s' is not float32", st[i].v->name);
                }
                odrt_tensor_free(res[i]);
                res[i] = NULL;
            }
        }
    odrt_session_free(s);
    outputs_restore(g, &sw, outs, n_st, had);
    free(had), free(res);
    return rc == ODRT_OK ? ODRT_OK : odrt_fail_ctx(rc, "convert: calibration");
}

/* ---- choosing a range from a histogram ---- */
/* KL(P || Q) of the reference distribution clipped at bin i (the tail folded into its last bin)
 * and its quantization to 128 levels, as TensorRT's entropy calibrator computes it */
static double kl_at(const double *h, int i) {
    double *pp = calloc((size_t)i, sizeof(double)), *q = calloc((size_t)i, sizeof(double));
    if (!pp || !q) {
        free(pp), free(q);
        return INFINITY;
    }
    for (int k = 0; k < i; k++) pp[k] = h[k];
    for (int k = i; k < BINS; k++) pp[i - 1] += h[k];
    double per = (double)i / 128.0;
    for (int j = 0; j < 128; j++) {
        int a = (int)(j * per), b = (int)((j + 1) * per);
        if (b > i) b = i;
        if (j == 127) b = i;
        double sum = 0;
        int nz = 0;
        for (int k = a; k < b; k++) sum += h[k], nz += h[k] != 0;
        for (int k = a; k < b; k++) q[k] = h[k] != 0 && nz ? sum / nz : 0;
    }
    double sp = 0, sq = 0, kl = 0;
    for (int k = 0; k < i; k++) sp += pp[k], sq += q[k];
    for (int k = 0; k < i && sp > 0 && sq > 0; k++) {
        if (pp[k] == 0) continue;
        double a = pp[k] / sp, b = q[k] / sq;
        kl += b > 0 ? a * log(a / b) : a * 30.0; /* an empty quantized bin: a large penalty */
    }
    free(pp), free(q);
    return kl;
}

static void choose_range(act_stat *a, const char *method) {
    double w = a->max / BINS, total = 0;
    for (int k = 0; k < BINS; k++) total += a->hist[k];
    a->amax = a->max;
    if (a->max <= 0 || total <= 0) {
        a->amax = a->max > 0 ? a->max : 1e-6, a->sqnr = INFINITY;
        return;
    }
    if (!strcmp(method, "percentile")) {
        double want = total * 0.9999, c = 0;
        for (int k = 0; k < BINS; k++)
            if ((c += a->hist[k]) >= want) {
                a->amax = (k + 1) * w;
                break;
            }
    } else if (!strcmp(method, "entropy")) {
        double best = INFINITY;
        for (int i = 128; i <= BINS; i += 8) {
            double kl = kl_at(a->hist, i);
            if (kl < best) best = kl, a->amax = i * w;
        }
    }
    /* signal to quantization noise: clipped tails plus uniform rounding noise inside the range */
    double s = a->amax / 127.0, sig = 0, noise = 0;
    for (int k = 0; k < BINS; k++) {
        double x = (k + 0.5) * w;
        sig += a->hist[k] * x * x;
        noise += a->hist[k] * (x > a->amax ? (x - a->amax) * (x - a->amax) : s * s / 12.0);
    }
    a->sqnr = noise > 0 ? 10.0 * log10(sig / noise) : INFINITY;
}

/* ---- the Q/DQ graph ---- */
/* x's Q/DQ pair: int8 symmetric (step amax / 127), or for unsig uint8 with zero point 0 (step amax / 255) */
static ir_value *qdq_act(bld *b, ir_value *x, double amax, int unsig) {
    float sc = (float)(amax / (unsig ? 255.0 : 127.0));
    if (!(sc > 0)) sc = 1e-8f;
    uint8_t zp = 0;
    char nm[512];
    snprintf(nm, sizeof nm, "%s/q", x->name);
    ir_value *s = b_const(b, "odrt/int8/scale", ODRT_DT_FLOAT, 0, NULL, &sc);
    ir_value *z = b_const(b, unsig ? "odrt/int8/zero_u8" : "odrt/int8/zero", unsig ? ODRT_DT_UINT8 : ODRT_DT_INT8, 0, NULL, &zp);
    ir_value *q = b_op(b, "QuantizeLinear", nm, 3, (ir_value *[]){x, s, z});
    snprintf(nm, sizeof nm, "%s/dq", x->name);
    return b_op(b, "DequantizeLinear", nm, 3, (ir_value *[]){q, s, z});
}

/* int8 weights per output channel (axis 0) and their DequantizeLinear */
static ir_value *qdq_weights(bld *b, const ir_value *w) {
    const ir_tensor *t = w->init;
    int64_t co = t->dims[0], per = co > 0 ? t->numel / co : 0;
    float *sc = malloc(sizeof(float) * (size_t)co + 4);
    int8_t *q = malloc((size_t)t->numel + 4), *zp = calloc((size_t)co + 4, 1);
    ir_value *out = NULL;
    if (sc && q && zp) {
        const float *a = t->data;
        for (int64_t c = 0; c < co; c++) {
            float m = 0;
            for (int64_t k = 0; k < per; k++) { /* (not fmaxf: AArch64 GCC 12's vectoriser crashes on that reduction) */
                float v = fabsf(a[c * per + k]);
                if (v > m) m = v;
            }
            sc[c] = m > 0 ? m / 127.0f : 1.0f;
            for (int64_t k = 0; k < per; k++) {
                float v = nearbyintf(a[c * per + k] / sc[c]);
                q[c * per + k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
        }
        char nm[512];
        snprintf(nm, sizeof nm, "%s/int8", w->name);
        ir_value *wq = b_const(b, nm, ODRT_DT_INT8, t->rank, t->dims, q);
        ir_value *s = b_const(b, "odrt/int8/w_scale", ODRT_DT_FLOAT, 1, &co, sc);
        ir_value *z = b_const(b, "odrt/int8/w_zero", ODRT_DT_INT8, 1, &co, zp);
        snprintf(nm, sizeof nm, "%s/dq", w->name);
        out = b_op(b, "DequantizeLinear", nm, 3, (ir_value *[]){wq, s, z});
        if (out && b->rc == ODRT_OK) b_attr_i(b, out, "axis", 0);
    } else if (b->rc == ODRT_OK) {
        b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    free(sc), free(q), free(zp);
    return out;
}

/* ---- measured sensitivity ---- */
typedef struct {
    ir_node *n;
    ir_value *a, *w, *qa, *qw; /* the float inputs and their Q/DQ twins */
    int j;                     /* the input's act_stat */
    double alone;              /* head SQNR (dB) with only this conv in int8 */
    int q;                     /* 1: int8 */
} q_cand;

static odrt_status_t apply_mask(q_cand *cs, int nc) {
    for (int i = 0; i < nc; i++)
        if (!ir_node_set_input(cs[i].n, 0, cs[i].q ? cs[i].qa : cs[i].a) || !ir_node_set_input(cs[i].n, 1, cs[i].q ? cs[i].qw : cs[i].w))
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return nc ? ir_graph_toposort(cs[0].n->graph) : ODRT_OK; /* the executor runs nodes in order */
}

/* the heads' values on the first n_img frames, concatenated per head into buf[h] (allocated on
 * the first call: len[h] floats); the graph's outputs are the heads while it runs */
static odrt_status_t run_heads(odrt_model_t *om, const q_run *r, ir_value *const *heads, int nh, char **files, int n_img,
                               float **buf, size_t *len) {
    ir_graph *g = om->ir->graph;
    ir_value *outs[4];
    unsigned had[4];
    for (int h = 0; h < nh; h++) outs[h] = heads[h];
    out_swap sw = outputs_set(g, outs, nh, had);
    odrt_session_t *s = NULL;
    odrt_status_t rc = odrt_session_create(om, &s);
    int64_t batch = r->p->batch > 0 ? r->p->batch : 1;
    const char *name = odrt_model_input_name(om, 0);
    size_t at[4] = {0};
    for (int f = 0; f < n_img && rc == ODRT_OK; f += (int)batch) {
        odrt_tensor_t *x = NULL, *res[4] = {0};
        if ((rc = make_input(r, files, n_img, f, batch, &x)) != ODRT_OK) break;
        rc = odrt_session_run(s, 1, &name, (const odrt_tensor_t *const *)&x, res);
        odrt_tensor_free(x);
        for (int h = 0; h < nh; h++) {
            size_t n = res[h] && res[h]->dtype == ODRT_DT_FLOAT ? (size_t)odrt_tensor_numel(res[h]) : 0;
            if (rc == ODRT_OK && !n) rc = odrt_fail(ODRT_ERR_INVALID, "convert: sensitivity: a head is not float32");
            if (rc == ODRT_OK && !buf[h]) {
                len[h] = n * (size_t)((n_img + batch - 1) / batch);
                if (!(buf[h] = malloc(sizeof(float) * len[h]))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            }
            if (rc == ODRT_OK && at[h] + n <= len[h]) memcpy(buf[h] + at[h], res[h]->data, sizeof(float) * n), at[h] += n;
            odrt_tensor_free(res[h]);
        }
    }
    odrt_session_free(s);
    outputs_restore(g, &sw, outs, nh, had);
    return rc;
}

/* the worst head's signal-to-noise ratio (dB) of got against ref */
static double heads_sqnr(float *const *ref, float *const *got, const size_t *len, int nh) {
    double worst = INFINITY;
    for (int h = 0; h < nh; h++) {
        double sig = 0, err = 0;
        for (size_t i = 0; i < len[h]; i++) {
            double d = (double)got[h][i] - ref[h][i];
            sig += (double)ref[h][i] * ref[h][i], err += d * d;
        }
        double db = err > 0 ? 10.0 * log10(sig / err) : INFINITY;
        if (db < worst) worst = db;
    }
    return worst;
}

static int by_alone(const void *a, const void *b) {
    double x = (*(q_cand *const *)a)->alone, y = (*(q_cand *const *)b)->alone;
    return x < y ? -1 : x > y;
}

/* Each candidate alone in int8, its cost at the heads measured on the first frame; then all in int8 (on
 * two frames),
 * and the costliest back to float, a sixteenth at a time, until the heads' SQNR reaches target_db */
static odrt_status_t measure(odrt_model_t *om, const q_run *r, ir_value *const *heads, int nh, q_cand *cs, int nc, char **files,
                             int n_files, double target_db, double *final_db) {
    int n_img = n_files < 2 ? n_files : 2;
    float *ref[4] = {0}, *got[4] = {0};
    size_t len[4] = {0};
    q_cand **order = malloc(sizeof(q_cand *) * (size_t)(nc + 1));
    odrt_status_t rc = order ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nc; i++) cs[i].q = 0;
    if (rc == ODRT_OK) rc = apply_mask(cs, nc);
    if (rc == ODRT_OK) rc = run_heads(om, r, heads, nh, files, n_img, ref, len);
    for (int i = 0; i < nh && rc == ODRT_OK; i++)
        if (!(got[i] = malloc(sizeof(float) * len[i] + 4))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    size_t len1[4]; /* the ranking looks at the first frame only (at batch 1; a larger batch runs them all) */
    int rank_img = r->p->batch > 1 ? n_img : 1;
    for (int h = 0; h < nh; h++) len1[h] = rank_img == n_img ? len[h] : len[h] / (size_t)n_img;
    for (int i = 0; i < nc && rc == ODRT_OK; i++) {
        cs[i].q = 1;
        if ((rc = apply_mask(cs, nc)) == ODRT_OK && (rc = run_heads(om, r, heads, nh, files, rank_img, got, len1)) == ODRT_OK)
            cs[i].alone = heads_sqnr(ref, got, len1, nh);
        cs[i].q = 0;
        order[i] = &cs[i];
    }
    if (rc == ODRT_OK) qsort(order, (size_t)nc, sizeof *order, by_alone);
    for (int i = 0; i < nc; i++) cs[i].q = 1;
    *final_db = INFINITY;
    int step = nc / 16 > 1 ? nc / 16 : 1;
    for (int k = 0; rc == ODRT_OK;) {
        if ((rc = apply_mask(cs, nc)) != ODRT_OK || (rc = run_heads(om, r, heads, nh, files, n_img, got, len)) != ODRT_OK) break;
        *final_db = heads_sqnr(ref, got, len, nh);
        if (*final_db >= target_db || k >= nc) break;
        for (int t = 0; t < step && k < nc; t++) order[k++]->q = 0;
    }
    for (int h = 0; h < nh; h++) free(ref[h]), free(got[h]);
    free(order);
    return rc == ODRT_OK ? ODRT_OK : odrt_fail_ctx(rc, "convert: int8 sensitivity");
}

static double json_amax(const cJSON *tensors, const char *name) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(tensors, name);
    const cJSON *a = e ? cJSON_GetObjectItemCaseSensitive(e, "amax") : NULL;
    return cJSON_IsNumber(a) ? a->valuedouble : -1;
}

odrt_status_t tfod_to_int8(odrt_model_t *om, const conv_plan *p, ir_value *const *heads, int n_heads, const char *calibration,
                           const char *method, cJSON *report) {
    return tfod_to_int8_ex(om, p, heads, n_heads, calibration, method, report, NULL);
}

/* a convolution the engine's int8 GEMM runs: 1x1, stride 1, no padding, one group */
static int is_pointwise(const ir_node *n) {
    const ir_tensor *w = n->in[1]->init;
    const ir_attr *st = ir_node_attr(n, "strides"), *pd = ir_node_attr(n, "pads");
    if (w->dims[2] != 1 || w->dims[3] != 1 || ir_attr_int(n, "group", 1) != 1) return 0;
    for (int i = 0; st && i < st->n; i++)
        if (st->ints[i] != 1) return 0;
    for (int i = 0; pd && i < pd->n; i++)
        if (pd->ints[i]) return 0;
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    return !strcmp(ap, "NOTSET") || !strcmp(ap, "VALID") || !strncmp(ap, "SAME", 4);
}

odrt_status_t tfod_to_int8_ex(odrt_model_t *om, const conv_plan *p, ir_value *const *heads, int n_heads,
                              const char *calibration, const char *method, cJSON *report, const q_options *qo) {
    const q_run run = {p, qo};
    ir_model *m = om->ir;
    ir_graph *g = m->graph;
    size_t nn = g->n_nodes;
    char *in_net = calloc(nn + 1, 1), *head_conv = calloc(nn + 1, 1), *has_conv_before = calloc(nn + 1, 1);
    act_stat *st = calloc(nn + 1, sizeof(act_stat));
    int *st_of = malloc(sizeof(int) * (nn + 1));
    cJSON *calib = NULL;
    char **files = NULL;
    int n_files = 0, n_st = 0;
    odrt_status_t rc = in_net && head_conv && has_conv_before && st && st_of ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc == ODRT_OK) rc = tfod_net_nodes(g, heads, n_heads, in_net);
    /* stem: convolutions with no convolution before them; heads: reached from the heads without one */
    for (size_t i = 0; rc == ODRT_OK && i < nn; i++) { /* topological order: a node's inputs come first */
        ir_node *n = g->nodes[i];
        if (n->dead || !in_net[i]) continue;
        for (int k = 0; k < n->n_in; k++) {
            ir_node *pr = n->in[k] ? n->in[k]->producer : NULL;
            if (pr && !pr->dead && in_net[pr->mark] && (has_conv_before[pr->mark] || !strcmp(pr->op, "Conv"))) has_conv_before[i] = 1;
        }
    }
    {
        ir_value **stack = malloc(sizeof(ir_value *) * (g->n_values + 1));
        size_t sp = 0;
        if (!stack) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int i = 0; rc == ODRT_OK && i < n_heads; i++) stack[sp++] = heads[i];
        while (rc == ODRT_OK && sp) {
            ir_node *n = stack[--sp]->producer;
            if (!n || n->dead || !in_net[n->mark] || head_conv[n->mark]) continue;
            head_conv[n->mark] = 1; /* visited; a conv stops the walk */
            if (!strcmp(n->op, "Conv")) continue;
            for (int k = 0; k < n->n_in && sp < g->n_values; k++)
                if (n->in[k] && tfod_data_input(n, k)) stack[sp++] = n->in[k];
        }
        free(stack);
    }
    cJSON *kept = cJSON_CreateArray();
    int n_q = 0;
    for (size_t i = 0; rc == ODRT_OK && i < nn; i++) {
        ir_node *n = g->nodes[i];
        st_of[i] = -1;
        if (n->dead || !in_net[i] || strcmp(n->op, "Conv") || n->n_in < 2 || !n->in[1] || !n->in[1]->init ||
            n->in[1]->init->dtype != ODRT_DT_FLOAT || n->in[1]->init->rank != 4 || (qo && qo->pointwise_only && !is_pointwise(n)))
            continue;
        const char *why = !has_conv_before[i] ? "stem" : head_conv[i] ? "head" : NULL;
        if (why) {
            cJSON *k = cJSON_CreateObject();
            cJSON_AddStringToObject(k, "node", n->name);
            cJSON_AddStringToObject(k, "reason", why);
            cJSON_AddItemToArray(kept, k);
            continue;
        }
        int j = 0;
        while (j < n_st && st[j].v != n->in[0]) j++;
        if (j == n_st) st[n_st++].v = n->in[0];
        st_of[i] = j;
    }
    /* ranges: from a calibration file, or measured now on the images of a folder */
    const char *ext = calibration ? strrchr(calibration, '.') : NULL;
    const cJSON *tensors = NULL;
    if (rc == ODRT_OK && ext && !strcmp(ext, ".json")) {
        size_t len = 0;
        uint8_t *text = NULL;
        rc = odrt_read_file(calibration, (size_t)64 << 20, &text, &len);
        if (rc == ODRT_OK && !(calib = cJSON_ParseWithLength((const char *)text, len)))
            rc = odrt_fail(ODRT_ERR_PARSE, "convert: %s: not a calibration file (JSON)", calibration);
        free(text);
        tensors = calib ? cJSON_GetObjectItemCaseSensitive(calib, "tensors") : NULL;
        if (rc == ODRT_OK && !cJSON_IsObject(tensors))
            rc = odrt_fail(ODRT_ERR_PARSE, "convert: %s: no \"tensors\" object (odrt calibrate writes one)", calibration);
        for (int j = 0; rc == ODRT_OK && j < n_st; j++) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(tensors, st[j].v->name);
            const cJSON *sq = e ? cJSON_GetObjectItemCaseSensitive(e, "sqnr_db") : NULL;
            st[j].amax = json_amax(tensors, st[j].v->name);
            if (qo && qo->channel_scales) rc = q_channel_json_read(e, &st[j]);
            st[j].sqnr = cJSON_IsNumber(sq) ? sq->valuedouble : INFINITY;
            if (!(st[j].amax > 0) || !isfinite(st[j].amax))
                rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: %s has no range for tensor '%s' (made for another model or options?)",
                               calibration, st[j].v->name);
        }
    } else if (rc == ODRT_OK) {
        rc = list_images(calibration, &files, &n_files);
        for (int j = 0; rc == ODRT_OK && j < n_st; j++)
            if (!(st[j].hist = calloc(BINS, sizeof(double)))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (rc == ODRT_OK) rc = collect(om, &run, st, n_st, files, n_files);
        for (int j = 0; rc == ODRT_OK && j < n_st; j++) choose_range(&st[j], method);
    }
    /* the engine's own quantization: unsigned inputs, steps per channel */
    int chan = qo && qo->channel_scales;
    for (int j = 0; rc == ODRT_OK && j < n_st; j++) {
        st[j].unsig = qo && qo->unsigned_acts && q_non_negative(st[j].v);
        if (chan) rc = q_channel_steps(&st[j]);
    }
    /* sensitivity: a conv whose input quantizes below SQNR_MIN_DB stays float; the others are
     * candidates, measured at the heads (or decided as a calibration file records) */
    bld b = {m, g, ODRT_OK};
    ir_value **dq = calloc((size_t)n_st + 1, sizeof(ir_value *));
    q_cand *cs = calloc(nn + 1, sizeof(q_cand));
    int nc = 0;
    double head_db = NAN, target_db = HEAD_TARGET_DB;
    if ((!dq || !cs) && rc == ODRT_OK) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ODRT_OK && i < nn; i++) {
        int j = st_of[i];
        if (j < 0) continue;
        ir_node *n = g->nodes[i];
        if (st[j].sqnr < SQNR_MIN_DB && !chan) { /* (one step per tensor's estimate: the measured pass judges channel steps) */
            cJSON *k = cJSON_CreateObject();
            cJSON_AddStringToObject(k, "node", n->name);
            char why[64];
            snprintf(why, sizeof why, "input SQNR %.1f dB", st[j].sqnr);
            cJSON_AddStringToObject(k, "reason", why);
            cJSON_AddItemToArray(kept, k);
            continue;
        }
        if (!dq[j]) dq[j] = chan ? q_qdq_channels(&b, &st[j]) : qdq_act(&b, st[j].v, st[j].amax, st[j].unsig);
        ir_value *wd = chan ? q_weights_channels(&b, n->in[1], st[j].steps) : qdq_weights(&b, n->in[1]);
        if (b.rc != ODRT_OK) break;
        cs[nc++] = (q_cand){.n = n, .a = n->in[0], .w = n->in[1], .qa = dq[j], .qw = wd, .j = j, .alone = INFINITY, .q = 1};
    }
    if (rc == ODRT_OK) rc = b.rc;
    /* the node order as built: restored before the final masking, so that the measuring runs (each a
     * toposort) leave no trace and a calibration file gives the same model byte for byte */
    size_t n_order = g->n_nodes;
    ir_node **order0 = malloc(sizeof(ir_node *) * (n_order + 1));
    if (!order0 && rc == ODRT_OK) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (order0) memcpy(order0, g->nodes, sizeof(ir_node *) * n_order);
    if (rc == ODRT_OK && calib) { /* a calibration file: its measured decisions */
        const cJSON *kf = cJSON_GetObjectItemCaseSensitive(calib, "kept_float"), *e;
        cJSON_ArrayForEach(e, kf) {
            const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "node"));
            const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
            for (int i = 0; node && why && !strncmp(why, "measured", 8) && i < nc; i++)
                if (!strcmp(cs[i].n->name, node) && cs[i].q) {
                    cs[i].q = 0;
                    cJSON_AddItemToArray(kept, cJSON_Duplicate(e, 1));
                }
        }
        const cJSON *hd = cJSON_GetObjectItemCaseSensitive(calib, "heads_sqnr_db");
        if (cJSON_IsNumber(hd)) head_db = hd->valuedouble;
    } else if (rc == ODRT_OK && nc) {
        rc = measure(om, &run, heads, n_heads, cs, nc, files, n_files, target_db, &head_db);
        for (int i = 0; rc == ODRT_OK && i < nc; i++)
            if (!cs[i].q) {
                cJSON *k = cJSON_CreateObject();
                cJSON_AddStringToObject(k, "node", cs[i].n->name);
                char why[96];
                snprintf(why, sizeof why, "measured: alone in int8 the heads keep %.1f dB", cs[i].alone);
                cJSON_AddStringToObject(k, "reason", why);
                cJSON_AddItemToArray(kept, k);
            }
    }
    if (rc == ODRT_OK && g->n_nodes == n_order) memcpy(g->nodes, order0, sizeof(ir_node *) * n_order);
    free(order0);
    for (int i = 0; i < nc; i++) n_q += cs[i].q;
    for (int i = 0; rc == ODRT_OK && qo && qo->mark_only && i < nc; i++)
        if (cs[i].q) { /* float inputs back; the int8 ones marked with their steps */
            q_mark(&b, cs[i].n, &st[cs[i].j]);
            cs[i].q = 0;
        }
    if (rc == ODRT_OK) rc = apply_mask(cs, nc);
    free(cs);
    if (rc == ODRT_OK) rc = b.rc;
    if (rc == ODRT_OK && report) {
        cJSON *r = cJSON_AddObjectToObject(report, "int8");
        cJSON_AddStringToObject(r, "method", method);
        if (files) cJSON_AddNumberToObject(r, "images", n_files);
        else cJSON_AddStringToObject(r, "calibration_file", calibration);
        cJSON_AddNumberToObject(r, "int8_convs", n_q);
        if (isfinite(head_db)) cJSON_AddNumberToObject(r, "heads_sqnr_db", head_db);
        cJSON_AddNumberToObject(r, "target_heads_sqnr_db", target_db);
        cJSON_AddItemToObject(r, "kept_float", kept), kept = NULL;
        cJSON *ts = cJSON_AddObjectToObject(r, "tensors");
        for (int j = 0; j < n_st; j++) {
            cJSON *e = cJSON_AddObjectToObject(ts, st[j].v->name);
            cJSON_AddNumberToObject(e, "amax", st[j].amax);
            if (st[j].hist) cJSON_AddNumberToObject(e, "max", st[j].max);
            if (isfinite(st[j].sqnr)) cJSON_AddNumberToObject(e, "sqnr_db", st[j].sqnr);
            q_channel_json_write(e, &st[j]);
        }
    }
    cJSON_Delete(kept);
    cJSON_Delete(calib);
    for (int j = 0; j < n_st; j++) free(st[j].hist), free(st[j].chmax), free(st[j].steps);
    for (int f = 0; files && f < n_files; f++) free(files[f]);
    free(files), free(dq), free(st), free(st_of), free(in_net), free(head_conv), free(has_conv_before);
    if (rc != ODRT_OK) return rc;
    ir_graph_cleanup(g);
    return ir_graph_toposort(g);
}

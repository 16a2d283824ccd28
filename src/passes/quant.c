/* odrt convert --precision int8: a Q/DQ ONNX (TensorRT 10/11 take INT8 from explicit
 * QuantizeLinear / DequantizeLinear; TensorRT 11 has no calibrator). Every convolution of the
 * network gets int8 weights per output channel (symmetric, DequantizeLinear on axis 0) and a Q/DQ
 * pair on its input activation whose scale comes from calibration: the converted float32 graph run
 * by the reference executor on real frames (the export's own preprocessing), each activation's |x|
 * collected in a 2048-bin histogram, and its range chosen by max, percentile (99.99) or entropy
 * (TensorRT's KL-divergence search). A sensitivity pass keeps in float the convolutions where INT8
 * costs most: the stem (the first convolutions, on the image), the heads (those whose output reaches
 * the box codes or class logits without another convolution), and any whose input quantizes with a
 * signal-to-noise ratio below 25 dB; the report names each and why. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/fold.h"
#include "util.h"
#include "passes/build.h"
#include "passes/half.h"
#include "passes/quant.h"

#define BINS 2048
#define MAX_IMAGES 512
#define SQNR_MIN_DB 25.0

typedef struct {
    ir_value *v;
    double max, amax, sqnr;
    double *hist;
} act_stat;

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
static odrt_status_t make_input(const conv_plan *p, char **files, int n_files, int i, int64_t batch, odrt_tensor_t **out) {
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

/* run the graph with the activations as its outputs on every frame; pass 0: max |x|, pass 1: histograms */
static odrt_status_t collect(odrt_model_t *om, const conv_plan *p, act_stat *st, int n_st, char **files, int n_files) {
    ir_graph *g = om->ir->graph;
    ir_value **saved = g->outputs;
    int n_saved = g->n_outputs;
    ir_value **outs = odrt_arena_alloc(om->ir->arena, sizeof(ir_value *) * (size_t)(n_st + 1));
    if (!outs) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    unsigned *had = calloc((size_t)n_st + 1, sizeof(unsigned));
    odrt_tensor_t **res = calloc((size_t)n_st + 1, sizeof(odrt_tensor_t *));
    if (!had || !res) {
        free(had), free(res);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_st; i++) outs[i] = st[i].v, had[i] = st[i].v->flags, st[i].v->flags |= IR_VAL_OUTPUT;
    for (int i = 0; i < n_saved; i++) saved[i]->flags &= ~(unsigned)IR_VAL_OUTPUT;
    g->outputs = outs, g->n_outputs = n_st;
    odrt_session_t *s = NULL;
    odrt_status_t rc = odrt_session_create(om, &s);
    int64_t batch = p->batch > 0 ? p->batch : 1;
    const char *name = odrt_model_input_name(om, 0);
    for (int pass = 0; pass < 2 && rc == ODRT_OK; pass++)
        for (int f = 0; f < n_files && rc == ODRT_OK; f += (int)batch) {
            odrt_tensor_t *x = NULL;
            if ((rc = make_input(p, files, n_files, f, batch, &x)) != ODRT_OK) break;
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
    for (int i = 0; i < n_st; i++) st[i].v->flags = had[i];
    for (int i = 0; i < n_saved; i++) saved[i]->flags |= IR_VAL_OUTPUT;
    g->outputs = saved, g->n_outputs = n_saved;
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
static ir_value *qdq_act(bld *b, ir_value *x, double amax) {
    float sc = (float)(amax / 127.0);
    if (!(sc > 0)) sc = 1e-8f;
    int8_t zp = 0;
    char nm[512];
    snprintf(nm, sizeof nm, "%s/q", x->name);
    ir_value *s = b_const(b, "odrt/int8/scale", ODRT_DT_FLOAT, 0, NULL, &sc);
    ir_value *z = b_const(b, "odrt/int8/zero", ODRT_DT_INT8, 0, NULL, &zp);
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

static double json_amax(const cJSON *tensors, const char *name) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(tensors, name);
    const cJSON *a = e ? cJSON_GetObjectItemCaseSensitive(e, "amax") : NULL;
    return cJSON_IsNumber(a) ? a->valuedouble : -1;
}

odrt_status_t tfod_to_int8(odrt_model_t *om, const conv_plan *p, ir_value *const *heads, int n_heads, const char *calibration,
                           const char *method, cJSON *report) {
    ir_model *m = om->ir;
    ir_graph *g = m->graph;
    if (!calibration) return odrt_fail(ODRT_ERR_ARG, "convert: --precision int8 needs --calibration DIR (photos) or a calibration .json");
    if (!method) method = "percentile";
    if (strcmp(method, "minmax") && strcmp(method, "percentile") && strcmp(method, "entropy"))
        return odrt_fail(ODRT_ERR_ARG, "convert: unknown --calibration-method '%s' (minmax, percentile, entropy)", method);
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
            n->in[1]->init->dtype != ODRT_DT_FLOAT || n->in[1]->init->rank != 4)
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
            st[j].sqnr = cJSON_IsNumber(sq) ? sq->valuedouble : INFINITY;
            if (!(st[j].amax > 0) || !isfinite(st[j].amax))
                rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: %s has no range for tensor '%s' (made for another model or options?)",
                               calibration, st[j].v->name);
        }
    } else if (rc == ODRT_OK) {
        rc = list_images(calibration, &files, &n_files);
        for (int j = 0; rc == ODRT_OK && j < n_st; j++)
            if (!(st[j].hist = calloc(BINS, sizeof(double)))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (rc == ODRT_OK) rc = collect(om, p, st, n_st, files, n_files);
        for (int j = 0; rc == ODRT_OK && j < n_st; j++) choose_range(&st[j], method);
    }
    /* sensitivity: a conv whose input quantizes below SQNR_MIN_DB stays float */
    bld b = {m, g, ODRT_OK};
    ir_value **dq = calloc((size_t)n_st + 1, sizeof(ir_value *));
    if (!dq && rc == ODRT_OK) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ODRT_OK && i < nn; i++) {
        int j = st_of[i];
        if (j < 0) continue;
        ir_node *n = g->nodes[i];
        if (st[j].sqnr < SQNR_MIN_DB) {
            cJSON *k = cJSON_CreateObject();
            cJSON_AddStringToObject(k, "node", n->name);
            char why[64];
            snprintf(why, sizeof why, "input SQNR %.1f dB", st[j].sqnr);
            cJSON_AddStringToObject(k, "reason", why);
            cJSON_AddItemToArray(kept, k);
            continue;
        }
        if (!dq[j]) dq[j] = qdq_act(&b, st[j].v, st[j].amax);
        ir_value *wd = qdq_weights(&b, n->in[1]);
        if (b.rc != ODRT_OK) break;
        if (!ir_node_set_input(n, 0, dq[j]) || !ir_node_set_input(n, 1, wd)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        n_q++;
    }
    if (rc == ODRT_OK) rc = b.rc;
    if (rc == ODRT_OK && report) {
        cJSON *r = cJSON_AddObjectToObject(report, "int8");
        cJSON_AddStringToObject(r, "method", method);
        if (files) cJSON_AddNumberToObject(r, "images", n_files);
        else cJSON_AddStringToObject(r, "calibration_file", calibration);
        cJSON_AddNumberToObject(r, "int8_convs", n_q);
        cJSON_AddItemToObject(r, "kept_float", kept), kept = NULL;
        cJSON *ts = cJSON_AddObjectToObject(r, "tensors");
        for (int j = 0; j < n_st; j++) {
            cJSON *e = cJSON_AddObjectToObject(ts, st[j].v->name);
            cJSON_AddNumberToObject(e, "amax", st[j].amax);
            if (st[j].hist) cJSON_AddNumberToObject(e, "max", st[j].max);
            if (isfinite(st[j].sqnr)) cJSON_AddNumberToObject(e, "sqnr_db", st[j].sqnr);
        }
    }
    cJSON_Delete(kept);
    cJSON_Delete(calib);
    for (int j = 0; j < n_st; j++) free(st[j].hist);
    for (int f = 0; files && f < n_files; f++) free(files[f]);
    free(files), free(dq), free(st), free(st_of), free(in_net), free(head_conv), free(has_conv_before);
    if (rc != ODRT_OK) return rc;
    ir_graph_cleanup(g);
    return ir_graph_toposort(g);
}

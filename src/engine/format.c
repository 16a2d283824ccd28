/* The engine file (docs/engine-format.md): a 64-byte header, a section table, a JSON metadata
 * section (cJSON) and a blob section of ENG_ALIGN-aligned tensor data, each checksummed with
 * XXH3-64. Deserialisation validates every count, index, offset and shape before anything runs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util.h"
#include "engine/engine.h"
#include "resize_coord.h"

#define MAGIC "ODRTENG"
#define HDR 64
#define SEC_META 1
#define SEC_BLOB 2
#define BOM 0x01020304u

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(double d) { uint32_t u = (uint32_t)d; float f; memcpy(&f, &u, 4); return f; }

static cJSON *ints(const int64_t *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

static const char *act_names[] = {"none", "sigmoid", "softmax"};

static cJSON *meta_json(const eng_plan *p) {
    const eng_meta *m = &p->meta;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "format_version", ENG_FORMAT_VERSION);
    cJSON_AddStringToObject(r, "odrt_version", odrt_version());
    cJSON_AddStringToObject(r, "device", m->device);
    cJSON_AddStringToObject(r, "precision", m->precision);
    cJSON_AddStringToObject(r, "family", m->family);
    cJSON_AddStringToObject(r, "source_sha256", m->source_sha256);
    cJSON_AddStringToObject(r, "build_options", m->build_options);
    cJSON_AddNumberToObject(r, "threads", m->threads);
    cJSON *in = cJSON_AddObjectToObject(r, "input");
    cJSON_AddStringToObject(in, "name", m->input_name);
    cJSON_AddStringToObject(in, "dtype", "uint8");
    cJSON_AddStringToObject(in, "layout", "nhwc");
    cJSON_AddNumberToObject(in, "batch", m->batch);
    cJSON_AddItemToObject(in, "network_size", ints((int64_t[]){m->net_h, m->net_w}, 2));
    cJSON_AddItemToObject(in, "frame_size", ints((int64_t[]){m->frame_h, m->frame_w}, 2));
    cJSON *pre = cJSON_AddObjectToObject(r, "preprocessing");
    if (m->has_resize) {
        cJSON *rs = cJSON_AddObjectToObject(pre, "resize");
        cJSON_AddStringToObject(rs, "mode", m->resize_linear ? "linear" : "nearest");
        static const char *nr[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        cJSON_AddStringToObject(rs, "coordinate_transformation_mode", rz_ctm_engine(m->resize_ctm) ? RZ_CTM_NAMES[m->resize_ctm] : "?");
        cJSON_AddStringToObject(rs, "nearest_mode", nr[m->resize_nearest & 3]);
    }
    if (m->keep_aspect) {
        cJSON *ka = cJSON_AddObjectToObject(pre, "keep_aspect_pad");
        cJSON_AddItemToObject(ka, "fit_size", ints((int64_t[]){m->fit_h, m->fit_w}, 2));
        cJSON_AddNumberToObject(ka, "pad_value", m->pad_value);
        cJSON_AddNumberToObject(ka, "pad_value_bits", (double)fbits(m->pad_value));
    }
    cJSON_AddNumberToObject(pre, "normalization_steps_before_resize", m->n_norm_pre);
    cJSON_AddItemToObject(pre, "channel_order", ints((int64_t[]){m->chan_perm[0], m->chan_perm[1], m->chan_perm[2]}, 3));
    cJSON *nm = cJSON_AddArrayToObject(pre, "normalization");
    static const char *nk[] = {"mul", "div", "add", "sub", "rsub"};
    for (int i = 0; i < m->n_norm; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "op", nk[m->norm[i].kind % 5]);
        cJSON_AddItemToObject(s, "value", cJSON_CreateFloatArray(m->norm[i].v, 3));
        cJSON_AddItemToObject(s, "bits", ints((int64_t[]){fbits(m->norm[i].v[0]), fbits(m->norm[i].v[1]), fbits(m->norm[i].v[2])}, 3));
        cJSON_AddItemToArray(nm, s);
    }
    cJSON *po = cJSON_AddObjectToObject(r, "postprocessing");
    cJSON_AddStringToObject(po, "kind", m->post_kind == ENG_POST_CENTERNET ? "centernet" : m->post_kind == ENG_POST_RCNN ? "rcnn" : "ssd");
    if (m->post_kind == ENG_POST_RCNN) {
        cJSON *rc = cJSON_AddObjectToObject(po, "rcnn");
        cJSON_AddNumberToObject(rc, "proposals", m->rc_props);
        cJSON_AddNumberToObject(rc, "first_stage_max_proposals", m->rc_max1);
        cJSON_AddNumberToObject(rc, "first_stage_iou_threshold", m->rc_iou1);
        cJSON_AddNumberToObject(rc, "first_stage_score_threshold", m->rc_score1);
        cJSON_AddItemToObject(rc, "first_stage_bits", ints((int64_t[]){fbits(m->rc_iou1), fbits(m->rc_score1)}, 2));
        cJSON_AddItemToObject(rc, "first_stage_box_coder_scales", cJSON_CreateFloatArray(m->rc_scales1, 4));
        cJSON_AddItemToObject(rc, "first_stage_box_coder_scales_bits", ints((int64_t[]){fbits(m->rc_scales1[0]), fbits(m->rc_scales1[1]),
                                                                                        fbits(m->rc_scales1[2]), fbits(m->rc_scales1[3])}, 4));
        cJSON_AddNumberToObject(rc, "box_classes", m->rc_box_classes);
        cJSON_AddItemToObject(rc, "stage_ops", ints((int64_t[]){m->rc_stage[0], m->rc_stage[1]}, 2));
        if (m->mask_h > 0)
            cJSON_AddItemToObject(rc, "masks", ints((int64_t[]){m->mask_classes, m->mask_h, m->mask_w}, 3));
    }
    if (m->post_kind == ENG_POST_CENTERNET) {
        cJSON *cn = cJSON_AddObjectToObject(po, "centernet");
        cJSON_AddNumberToObject(cn, "max_detections", m->cn_k);
        cJSON_AddNumberToObject(cn, "peak_window", m->cn_pool);
        cJSON_AddNumberToObject(cn, "peak_eps", m->cn_eps);
        cJSON_AddNumberToObject(cn, "peak_eps_bits", fbits(m->cn_eps));
        cJSON_AddNumberToObject(cn, "stride", m->cn_stride);
    }
    cJSON_AddNumberToObject(po, "anchors", (double)m->n_anchors);
    cJSON_AddNumberToObject(po, "anchors_offset", (double)m->anchors_off);
    cJSON_AddNumberToObject(po, "classes", m->n_classes);
    cJSON_AddNumberToObject(po, "background_columns", m->bg_offset);
    cJSON_AddStringToObject(po, "score_activation", act_names[m->score_act % 3]);
    cJSON_AddStringToObject(po, "clip_window", m->clip_to_window ? "resized_image" : "network_input");
    cJSON_AddItemToObject(po, "box_coder_scales", cJSON_CreateFloatArray(m->scales, 4));
    cJSON_AddItemToObject(po, "box_coder_scales_bits",
                          ints((int64_t[]){fbits(m->scales[0]), fbits(m->scales[1]), fbits(m->scales[2]), fbits(m->scales[3])}, 4));
    cJSON_AddNumberToObject(po, "score_threshold", m->score_threshold);
    cJSON_AddNumberToObject(po, "score_threshold_bits", fbits(m->score_threshold));
    cJSON_AddNumberToObject(po, "iou_threshold", m->iou_threshold);
    cJSON_AddNumberToObject(po, "iou_threshold_bits", fbits(m->iou_threshold));
    cJSON_AddNumberToObject(po, "max_per_class", m->max_per_class);
    cJSON_AddNumberToObject(po, "max_detections", m->max_total);
    cJSON_AddNumberToObject(po, "class_offset", m->class_offset);
    cJSON *lb = cJSON_AddArrayToObject(r, "labels");
    for (int i = 0; i < m->n_labels; i++)
        cJSON_AddItemToArray(lb, m->labels[i] ? cJSON_CreateString(m->labels[i]) : cJSON_CreateNull());
    cJSON *net = cJSON_AddObjectToObject(r, "network");
    cJSON_AddNumberToObject(net, "arena_bytes", (double)p->arena_bytes);
    cJSON_AddNumberToObject(net, "input", m->t_input);
    if (m->post_kind == ENG_POST_CENTERNET) {
        cJSON_AddNumberToObject(net, "heatmap", m->t_cn[0]);
        cJSON_AddNumberToObject(net, "offset", m->t_cn[1]);
        cJSON_AddNumberToObject(net, "size", m->t_cn[2]);
    } else {
        cJSON_AddNumberToObject(net, "boxes", m->t_boxes);
        cJSON_AddNumberToObject(net, "scores", m->t_scores);
    }
    if (m->post_kind == ENG_POST_RCNN) {
        cJSON_AddItemToObject(net, "rpn", ints((int64_t[]){m->t_rpn[0], m->t_rpn[1]}, 2));
        cJSON_AddNumberToObject(net, "proposals", m->t_props);
        if (m->mask_h > 0) cJSON_AddItemToObject(net, "masks", ints((int64_t[]){m->t_dets, m->t_masks}, 2));
    }
    cJSON *ts = cJSON_AddArrayToObject(net, "tensors");
    for (int i = 0; i < p->n_tensors; i++) {
        const eng_tensor *t = &p->tensors[i];
        int64_t v[4 + ODRT_MAX_RANK] = {t->rank, t->layout, t->alias, t->offset};
        for (int k = 0; k < t->rank; k++) v[4 + k] = t->dims[k];
        cJSON_AddItemToArray(ts, ints(v, 4 + t->rank));
    }
    cJSON *os = cJSON_AddArrayToObject(net, "ops");
    int counts[8] = {0};
    for (int i = 0; i < p->n_ops; i++) {
        const eng_op *o = &p->ops[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "kind", o->kind);
        cJSON_AddStringToObject(j, "name", o->name);
        int64_t ins[ENG_MAX_IN];
        for (int k = 0; k < o->n_in; k++) ins[k] = o->in[k];
        cJSON_AddItemToObject(j, "in", ints(ins, o->n_in));
        cJSON_AddNumberToObject(j, "out", o->out);
        int64_t pi[] = {o->act, o->conv_kind, o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->pt, o->pl, o->pb, o->pr,
                        o->cin, o->cout, o->residual, o->bin, o->bcast, o->axis};
        cJSON_AddItemToObject(j, "p", ints(pi, (int)(sizeof pi / sizeof pi[0])));
        /* (int8 convs only: their step's bits and 1 for unsigned input; float engines keep their bytes) */
        cJSON_AddItemToObject(j, "f", ints((int64_t[]){fbits(o->act_lo), fbits(o->act_hi), fbits(o->scalar), fbits(o->q_scale),
                                                       o->q_unsigned},
                                           o->q_scale != 0 ? 5 : 3));
        cJSON_AddItemToObject(j, "w", ints((int64_t[]){o->w_off, o->w_len}, 2));
        cJSON_AddItemToObject(j, "b", ints((int64_t[]){o->b_off, o->b_len}, 2));
        cJSON_AddItemToArray(os, j);
        if (o->kind == EOP_CONV) counts[o->conv_kind & 3]++;
        else if (o->kind == EOP_REF) counts[4]++;
        if (o->kind == EOP_CONV && o->q_scale != 0) counts[5]++;
    }
    cJSON *kc = cJSON_AddObjectToObject(r, "kernels");
    cJSON_AddStringToObject(kc, "backend", m->device);
    cJSON_AddNumberToObject(kc, "conv_gemm_6x16", counts[CONV_GEMM]);
    cJSON_AddNumberToObject(kc, "conv_depthwise_direct", counts[CONV_DW]);
    cJSON_AddNumberToObject(kc, "conv_im2col_gemm", counts[CONV_IM2COL]);
    cJSON_AddNumberToObject(kc, "reference_ops", counts[4]);
    if (counts[5]) cJSON_AddNumberToObject(kc, "conv_gemm_int8", counts[5]); /* of conv_gemm_6x16 */
    return r;
}

odrt_status_t eng_serialize(const eng_plan *p, uint8_t **buf, size_t *len) {
    cJSON *j = meta_json(p);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    size_t tl = strlen(text), tab = HDR, meta_off = tab + 2 * 32, blob_off = (meta_off + tl + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
    size_t total = blob_off + (size_t)p->blob_len;
    uint8_t *b = calloc(total + 1, 1);
    if (!b) {
        free(text);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    memcpy(b, MAGIC, 8);
    put32(b + 8, ENG_FORMAT_VERSION);
    put32(b + 12, BOM);
    put64(b + 16, total);
    put32(b + 24, 2);
    put64(b + 32, tab);
    snprintf((char *)b + 48, 16, "%s", p->meta.device);
    memcpy(b + meta_off, text, tl);
    if (p->blob_len) memcpy(b + blob_off, p->blob, (size_t)p->blob_len);
    free(text);
    uint8_t *s = b + tab;
    put32(s, SEC_META), put64(s + 8, meta_off), put64(s + 16, tl), put64(s + 24, XXH3_64bits(b + meta_off, tl));
    s += 32;
    put32(s, SEC_BLOB), put64(s + 8, blob_off), put64(s + 16, (uint64_t)p->blob_len);
    put64(s + 24, XXH3_64bits(b + blob_off, (size_t)p->blob_len));
    /* header checksum over the header (before this field) and the section table */
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        free(b);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, b, 40);
    XXH3_64bits_update(st, b + 48, 16);
    XXH3_64bits_update(st, b + tab, 64);
    put64(b + 40, XXH3_64bits_digest(st));
    XXH3_freeState(st);
    *buf = b, *len = total;
    return ODRT_OK;
}

/* ---- reading ---- */
#define BAD(...) odrt_fail(ODRT_ERR_PARSE, "engine: " __VA_ARGS__)

static int jnum(const cJSON *o, const char *k, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble)) return 0;
    *out = v->valuedouble;
    return 1;
}

static int jint(const cJSON *o, const char *k, int64_t lo, int64_t hi, int64_t *out) {
    double d;
    if (!jnum(o, k, (double)lo, (double)hi, &d)) return 0;
    *out = (int64_t)d;
    return 1;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* read an int array of exactly n (n < 0: up to -n; returns count) within [lo, hi] */
static int jints(const cJSON *o, const char *k, int n, int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *a = k ? cJSON_GetObjectItemCaseSensitive(o, k) : o;
    if (!cJSON_IsArray(a)) return -1;
    int cnt = cJSON_GetArraySize(a), max = n < 0 ? -n : n;
    if ((n >= 0 && cnt != n) || cnt > max) return -1;
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= (double)lo && e->valuedouble <= (double)hi) ||
            e->valuedouble != floor(e->valuedouble))
            return -1;
        out[i] = (int64_t)e->valuedouble;
    }
    return cnt;
}

static odrt_status_t read_meta(const cJSON *r, eng_plan *p) {
    eng_meta *m = &p->meta;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(r, "input"), *pre = cJSON_GetObjectItemCaseSensitive(r, "preprocessing");
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(r, "postprocessing");
    const char *s;
    int64_t v[4], x;
    if (!cJSON_IsObject(in) || !cJSON_IsObject(pre) || !cJSON_IsObject(po)) return BAD("metadata lacks input/preprocessing/postprocessing");
#define STR(obj, key, dst) \
    if (!(s = jstr(obj, key))) return BAD("metadata field '%s' missing", key); \
    snprintf(dst, sizeof dst, "%s", s);
    STR(r, "device", m->device);
    STR(r, "precision", m->precision);
    STR(r, "family", m->family);
    STR(r, "source_sha256", m->source_sha256);
    STR(r, "build_options", m->build_options);
    STR(in, "name", m->input_name);
#undef STR
    if (!jint(r, "threads", 0, 1024, &x)) return BAD("metadata field 'threads' bad");
    m->threads = (int)x;
    if (!jint(in, "batch", 1, 256, &x)) return BAD("input batch bad");
    m->batch = (int)x;
    if (jints(in, "network_size", 2, 1, 16384, v) != 2) return BAD("input network_size bad");
    m->net_h = (int)v[0], m->net_w = (int)v[1];
    if (jints(in, "frame_size", 2, 0, 16384, v) != 2 || (!v[0]) != (!v[1])) return BAD("input frame_size bad");
    m->frame_h = (int)v[0], m->frame_w = (int)v[1];
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(pre, "resize");
    m->has_resize = rs != NULL;
    if (rs) {
        const char *mode = jstr(rs, "mode"), *ctm = jstr(rs, "coordinate_transformation_mode"), *nr = jstr(rs, "nearest_mode");
        static const char *nrs[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        if (!mode || !ctm || !nr || (strcmp(mode, "linear") && strcmp(mode, "nearest"))) return BAD("resize settings bad");
        m->resize_linear = !strcmp(mode, "linear"), m->resize_nearest = -1;
        m->resize_ctm = rz_ctm_engine(rz_ctm_code(ctm)) ? rz_ctm_code(ctm) : -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(nr, nrs[i])) m->resize_nearest = i;
        if (m->resize_ctm < 0 || m->resize_nearest < 0) return BAD("resize settings bad");
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(pre, "normalization");
    if (!cJSON_IsArray(nm) || cJSON_GetArraySize(nm) > 8) return BAD("normalization bad");
    static const char *nk[] = {"mul", "div", "add", "sub", "rsub"};
    for (const cJSON *e = nm->child; e; e = e->next) {
        eng_norm *n = &m->norm[m->n_norm++];
        const char *op = jstr(e, "op");
        n->kind = -1;
        for (int i = 0; op && i < 5; i++)
            if (!strcmp(op, nk[i])) n->kind = i;
        if (n->kind < 0 || jints(e, "bits", 3, 0, UINT32_MAX, v) != 3) return BAD("normalization step bad");
        for (int c = 0; c < 3; c++) n->v[c] = bitsf((double)v[c]);
    }
    if (!jint(pre, "normalization_steps_before_resize", 0, m->n_norm, &x)) return BAD("normalization_steps_before_resize bad");
    m->n_norm_pre = (int)x;
    for (int c = 0; c < 3; c++) m->chan_perm[c] = c; /* absent in files before channel reordering: identity */
    if (cJSON_GetObjectItemCaseSensitive(pre, "channel_order")) {
        if (jints(pre, "channel_order", 3, 0, 2, v) != 3 || v[0] == v[1] || v[1] == v[2] || v[0] == v[2])
            return BAD("channel_order is not a permutation of 0, 1, 2");
        for (int c = 0; c < 3; c++) m->chan_perm[c] = (int)v[c];
    }
    const cJSON *ka = cJSON_GetObjectItemCaseSensitive(pre, "keep_aspect_pad");
    m->keep_aspect = ka != NULL;
    if (ka) {
        if (!m->has_resize || jints(ka, "fit_size", 2, 1, 16384, v) != 2 || v[0] > m->net_h || v[1] > m->net_w)
            return BAD("keep_aspect_pad fit_size bad");
        m->fit_h = (int)v[0], m->fit_w = (int)v[1];
        if (!jint(ka, "pad_value_bits", 0, UINT32_MAX, &x)) return BAD("keep_aspect_pad pad_value bad");
        m->pad_value = bitsf((double)x);
    }
    const char *kind = jstr(po, "kind"); /* absent in files before CenterNet: SSD */
    m->post_kind = !kind || !strcmp(kind, "ssd") ? ENG_POST_SSD : !strcmp(kind, "centernet") ? ENG_POST_CENTERNET
                 : !strcmp(kind, "rcnn") ? ENG_POST_RCNN : -1;
    if (m->post_kind < 0) return BAD("post-processing kind '%s' unknown", kind);
    if (m->post_kind == ENG_POST_CENTERNET) {
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(po, "centernet");
        int64_t k, w, st, eb;
        if (!cJSON_IsObject(cn) || !jint(cn, "max_detections", 1, 100000, &k) || !jint(cn, "peak_window", 1, 15, &w) || w % 2 == 0 ||
            !jint(cn, "stride", 1, 1024, &st) || !jint(cn, "peak_eps_bits", 0, UINT32_MAX, &eb))
            return BAD("centernet post-processing settings bad");
        m->cn_k = (int)k, m->cn_pool = (int)w, m->cn_stride = (int)st, m->cn_eps = bitsf((double)eb);
        if (!(m->cn_eps >= 0 && m->cn_eps < 1)) return BAD("centernet peak eps %g bad", m->cn_eps);
    }
    m->t_dets = m->t_masks = -1;
    if (m->post_kind == ENG_POST_RCNN) {
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(po, "rcnn");
        int64_t k, mx, st[2], bits[2], sc[4], ms[3];
        if (!cJSON_IsObject(rc) || !jint(rc, "proposals", 1, 100000, &k) || !jint(rc, "first_stage_max_proposals", 1, 100000, &mx) ||
            jints(rc, "first_stage_bits", 2, 0, UINT32_MAX, bits) != 2 || jints(rc, "first_stage_box_coder_scales_bits", 4, 0, UINT32_MAX, sc) != 4 ||
            !jint(rc, "box_classes", 1, 100000, &x) || jints(rc, "stage_ops", 2, 0, 1000000, st) != 2 || st[0] > st[1])
            return BAD("rcnn post-processing settings bad");
        m->rc_props = (int)k, m->rc_max1 = (int)mx, m->rc_box_classes = (int)x, m->rc_stage[0] = (int)st[0], m->rc_stage[1] = (int)st[1];
        m->rc_iou1 = bitsf((double)bits[0]), m->rc_score1 = bitsf((double)bits[1]);
        if (!(m->rc_iou1 >= 0 && m->rc_iou1 <= 1) || m->rc_score1 != m->rc_score1) return BAD("rcnn first-stage NMS thresholds bad");
        for (int c = 0; c < 4; c++) {
            m->rc_scales1[c] = bitsf((double)sc[c]);
            if (!(fabsf(m->rc_scales1[c]) > 0 && isfinite(m->rc_scales1[c]))) return BAD("rcnn box coder scale %g bad", m->rc_scales1[c]);
        }
        if (cJSON_GetObjectItemCaseSensitive(rc, "masks")) {
            if (jints(rc, "masks", 3, 1, 4096, ms) != 3) return BAD("rcnn mask settings bad");
            m->mask_classes = (int)ms[0], m->mask_h = (int)ms[1], m->mask_w = (int)ms[2];
        }
    }
    if (!jint(po, "anchors", m->post_kind != ENG_POST_CENTERNET, (int64_t)1 << 24, &m->n_anchors) ||
        !jint(po, "anchors_offset", 0, INT64_MAX / 2, &m->anchors_off) || !jint(po, "classes", 1, 100000, &x))
        return BAD("post-processing anchors/classes bad");
    m->n_classes = (int)x;
    if (!jint(po, "background_columns", 0, 16, &x)) return BAD("background_columns bad");
    m->bg_offset = (int)x;
    if (!(s = jstr(po, "clip_window")) || (strcmp(s, "resized_image") && strcmp(s, "network_input")))
        return BAD("clip_window bad");
    m->clip_to_window = !strcmp(s, "resized_image");
    if (m->clip_to_window && !m->keep_aspect) return BAD("clip_window resized_image without keep_aspect_pad");
    if (!(s = jstr(po, "score_activation"))) return BAD("score_activation bad");
    m->score_act = !strcmp(s, "sigmoid") ? 1 : !strcmp(s, "softmax") ? 2 : !strcmp(s, "none") ? 0 : -1;
    if (m->score_act < 0) return BAD("score_activation '%s' unknown", s);
    if (jints(po, "box_coder_scales_bits", 4, 0, UINT32_MAX, v) != 4) return BAD("box coder scales bad");
    for (int c = 0; c < 4; c++) {
        m->scales[c] = bitsf((double)v[c]);
        if (!(fabsf(m->scales[c]) > 0 && isfinite(m->scales[c]))) return BAD("box coder scale %g bad", m->scales[c]);
    }
    if (!jint(po, "score_threshold_bits", 0, UINT32_MAX, &x)) return BAD("score_threshold bad");
    m->score_threshold = bitsf((double)x);
    if (!jint(po, "iou_threshold_bits", 0, UINT32_MAX, &x)) return BAD("iou_threshold bad");
    m->iou_threshold = bitsf((double)x);
    if (isnan(m->score_threshold) || !(m->iou_threshold >= 0 && m->iou_threshold <= 1)) return BAD("NMS thresholds bad");
    if (!jint(po, "max_per_class", 1, 100000, &x)) return BAD("max_per_class bad");
    m->max_per_class = (int)x;
    if (!jint(po, "max_detections", 1, 100000, &x)) return BAD("max_detections bad");
    m->max_total = (int)x;
    if (!jint(po, "class_offset", -1000000, 1000000, &x)) return BAD("class_offset bad");
    m->class_offset = (int)x;
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(r, "labels");
    if (!cJSON_IsArray(lb) || cJSON_GetArraySize(lb) > 100000) return BAD("labels bad");
    int nl = cJSON_GetArraySize(lb);
    if (nl) {
        if (!(m->labels = calloc((size_t)nl, sizeof(char *)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (const cJSON *e = lb->child; e; e = e->next) {
            int i = m->n_labels++;
            if (cJSON_IsString(e) && !(m->labels[i] = strdup(e->valuestring))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            if (!cJSON_IsString(e) && !cJSON_IsNull(e)) return BAD("label %d is not a string", i);
        }
    }
    return ODRT_OK;
}

static int blob_ok(const eng_plan *p, int64_t off, int64_t len) {
    return off >= 0 && len >= 0 && off % ENG_ALIGN == 0 && off <= p->blob_len && len <= p->blob_len - off;
}

static odrt_status_t read_network(const cJSON *r, eng_plan *p) {
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(r, "network");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(net, "tensors"), *os = cJSON_GetObjectItemCaseSensitive(net, "ops");
    if (!cJSON_IsArray(ts) || !cJSON_IsArray(os)) return BAD("network tensors/ops missing");
    if (!jint(net, "arena_bytes", 0, (int64_t)1 << 36, &p->arena_bytes)) return BAD("arena_bytes bad");
    int nt = cJSON_GetArraySize(ts), no = cJSON_GetArraySize(os);
    if (nt < 1 || nt > 1000000 || no > 1000000) return BAD("tensor/op counts %d/%d bad", nt, no);
    p->tensors = calloc((size_t)nt, sizeof(eng_tensor));
    p->ops = calloc((size_t)no + 1, sizeof(eng_op));
    if (!p->tensors || !p->ops) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int64_t v[4 + ODRT_MAX_RANK];
    for (const cJSON *e = ts->child; e; e = e->next) {
        int i = p->n_tensors++, cnt = jints(e, NULL, -(4 + ODRT_MAX_RANK), -1, (int64_t)1 << 40, v);
        eng_tensor *t = &p->tensors[i];
        if (cnt < 4 || v[0] < 0 || v[0] > ODRT_MAX_RANK || cnt != 4 + v[0] || (v[1] != ENG_PLAIN && v[1] != ENG_NHWC) ||
            (v[1] == ENG_NHWC && v[0] != 4) || v[2] >= i || v[3] < 0)
            return BAD("tensor %d bad", i);
        t->rank = (int)v[0], t->layout = (int)v[1], t->alias = (int)v[2], t->offset = v[3], t->numel = 1;
        for (int k = 0; k < t->rank; k++) {
            if (v[4 + k] < 1 || !odrt_mul_ok((size_t)t->numel, (size_t)v[4 + k], (size_t *)&t->numel) || t->numel > ((int64_t)1 << 34))
                return BAD("tensor %d dims bad", i);
            t->dims[k] = v[4 + k];
        }
        if (t->alias >= 0) {
            if (p->tensors[t->alias].numel != t->numel) return BAD("tensor %d aliases a tensor of another size", i);
            t->offset = p->tensors[t->alias].offset;
        }
        if (t->offset > p->arena_bytes || t->numel * 4 > p->arena_bytes - t->offset) return BAD("tensor %d outside the arena", i);
        if (t->offset % ENG_ALIGN) return BAD("tensor %d not aligned in the arena", i);
    }
    for (const cJSON *e = os->child; e; e = e->next) {
        int i = p->n_ops++;
        eng_op *o = &p->ops[i];
        int64_t in[ENG_MAX_IN], pi[18], fb[5], w[2], b[2], x;
        int nf;
        int n_in = jints(e, "in", -ENG_MAX_IN, 0, nt - 1, in);
        const char *name = jstr(e, "name");
        if (!jint(e, "kind", EOP_NONE + 1, EOP_COUNT - 1, &x) || n_in < 0 || !jint(e, "out", 0, nt - 1, &v[0]) ||
            jints(e, "p", 18, -1, 1 << 20, pi) != 18 || ((nf = jints(e, "f", -5, 0, UINT32_MAX, fb)) != 3 && nf != 5) ||
            jints(e, "w", 2, 0, INT64_MAX / 4, w) != 2 || jints(e, "b", 2, 0, INT64_MAX / 4, b) != 2)
            return BAD("op %d bad", i);
        o->kind = (int)x, o->n_in = n_in, o->out = (int)v[0];
        for (int k = 0; k < n_in; k++) o->in[k] = (int)in[k];
        snprintf(o->name, sizeof o->name, "%s", name ? name : "");
        int *dst[] = {&o->act, &o->conv_kind, &o->kh, &o->kw, &o->sh, &o->sw, &o->dh, &o->dw, &o->pt, &o->pl, &o->pb, &o->pr,
                      &o->cin, &o->cout, &o->residual, &o->bin, &o->bcast, &o->axis};
        for (int k = 0; k < 18; k++) *dst[k] = (int)pi[k];
        o->act_lo = bitsf((double)fb[0]), o->act_hi = bitsf((double)fb[1]), o->scalar = bitsf((double)fb[2]);
        o->q_scale = nf > 3 ? bitsf((double)fb[3]) : 0.0f;
        o->q_unsigned = nf > 4 ? (int)fb[4] : 0;
        o->w_off = w[0], o->w_len = w[1], o->b_off = b[0], o->b_len = b[1];
        if (o->residual >= nt) return BAD("op %d residual bad", i);
        if (!blob_ok(p, o->w_off, o->w_len) || !blob_ok(p, o->b_off, o->b_len)) return BAD("op %d blob range bad", i);
    }
    int64_t t_in, t[3];
    if (!jint(net, "input", 0, nt - 1, &t_in)) return BAD("network input bad");
    p->meta.t_input = (int)t_in;
    if (p->meta.post_kind == ENG_POST_CENTERNET) {
        if (!jint(net, "heatmap", 0, nt - 1, &t[0]) || !jint(net, "offset", 0, nt - 1, &t[1]) || !jint(net, "size", 0, nt - 1, &t[2]))
            return BAD("network outputs bad");
        for (int i = 0; i < 3; i++) p->meta.t_cn[i] = (int)t[i];
    } else {
        if (!jint(net, "boxes", 0, nt - 1, &t[0]) || !jint(net, "scores", 0, nt - 1, &t[1])) return BAD("network outputs bad");
        p->meta.t_boxes = (int)t[0], p->meta.t_scores = (int)t[1];
    }
    if (p->meta.post_kind == ENG_POST_RCNN) {
        int64_t rp[2], mk[2];
        if (jints(net, "rpn", 2, 0, nt - 1, rp) != 2 || !jint(net, "proposals", 0, nt - 1, &t[0])) return BAD("network R-CNN tensors bad");
        p->meta.t_rpn[0] = (int)rp[0], p->meta.t_rpn[1] = (int)rp[1], p->meta.t_props = (int)t[0];
        if (p->meta.mask_h > 0) {
            if (jints(net, "masks", 2, 0, nt - 1, mk) != 2) return BAD("network mask tensors bad");
            p->meta.t_dets = (int)mk[0], p->meta.t_masks = (int)mk[1];
        }
        if (p->meta.rc_stage[1] > p->n_ops) return BAD("R-CNN stages past the last op");
    }
    return ODRT_OK;
}

odrt_status_t eng_deserialize(const uint8_t *b, size_t len, eng_plan *p) {
    memset(p, 0, sizeof *p);
    if (len < HDR + 64) return BAD("file too short (%zu bytes)", len);
    if (memcmp(b, MAGIC, 8)) return BAD("not an odrt engine (bad magic)");
    if (get32(b + 12) != BOM) return BAD("wrong byte order (engine written on a machine of other endianness)");
    if (get32(b + 8) != ENG_FORMAT_VERSION)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: format version %u, this odrt reads version %d: rebuild the engine",
                         get32(b + 8), ENG_FORMAT_VERSION);
    if (get64(b + 16) != len) return BAD("file size %zu, header says %llu (truncated or padded)", len, (unsigned long long)get64(b + 16));
    uint64_t tab = get64(b + 32);
    uint32_t ns = get32(b + 24);
    if (ns != 2 || tab != HDR) return BAD("section table bad");
    XXH3_state_t *st = XXH3_createState();
    if (!st) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, b, 40);
    XXH3_64bits_update(st, b + 48, 16);
    XXH3_64bits_update(st, b + tab, 64);
    uint64_t hsum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* fuzzing: let mutations reach the parsers */
    hsum = get64(b + 40);
#endif
    if (hsum != get64(b + 40)) return BAD("header checksum mismatch (corrupted)");
    char dev[17] = {0};
    memcpy(dev, b + 48, 16);
    if (!eng_device_find(dev)) return BAD("unknown device '%.16s' in the header", dev);
    const uint8_t *meta = NULL, *blob = NULL;
    uint64_t meta_len = 0, blob_len = 0;
    for (uint32_t i = 0; i < ns; i++) {
        const uint8_t *s = b + tab + 32 * i;
        uint32_t kind = get32(s);
        uint64_t off = get64(s + 8), sz = get64(s + 16);
        if (off > len || sz > len - off) return BAD("section %u past the end of the file", i);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        if (XXH3_64bits(b + off, sz) != get64(s + 24)) return BAD("section %u (%s) checksum mismatch (corrupted)", i, kind == SEC_META ? "metadata" : "blob");
#endif
        if (kind == SEC_META && !meta) meta = b + off, meta_len = sz;
        else if (kind == SEC_BLOB && !blob) {
            if (off % ENG_ALIGN) return BAD("blob not aligned");
            blob = b + off, blob_len = sz;
        } else return BAD("section %u kind %u unexpected", i, kind);
    }
    if (!meta || !blob) return BAD("metadata or blob section missing");
    p->blob = (uint8_t *)blob, p->blob_len = (int64_t)blob_len;
    cJSON *r = cJSON_ParseWithLength((const char *)meta, meta_len);
    if (!r) return BAD("metadata is not JSON");
    double fv;
    odrt_status_t rc = ODRT_OK;
    if (!jnum(r, "format_version", ENG_FORMAT_VERSION, ENG_FORMAT_VERSION, &fv)) rc = BAD("metadata format_version bad");
    if (rc == ODRT_OK) rc = read_meta(r, p);
    if (rc == ODRT_OK) rc = read_network(r, p);
    cJSON_Delete(r);
    if (rc == ODRT_OK && p->meta.post_kind != ENG_POST_CENTERNET &&
        (p->meta.anchors_off % 4 || !blob_ok(p, p->meta.anchors_off, p->meta.n_anchors * 16)))
        rc = BAD("anchors outside the blob");
    if (rc == ODRT_OK && strcmp(p->meta.device, dev)) rc = BAD("metadata device '%s' is not the header's '%s'", p->meta.device, dev);
    if (rc != ODRT_OK) {
        eng_plan_free(p);
        p->blob = NULL;
    }
    return rc;
}

/* Faster R-CNN and Mask R-CNN exports, found by structure and checked by probing (no node names):
 *   - the first stage's NonMaxSuppression is the one no other NMS feeds; its scores come from a
 *     Softmax over [.., 2] objectness logits, its boxes from the box codes that dominate them
 *     (anchors and box-coder scales probed as for SSD);
 *   - a stage's crop ends where the first Conv / MaxPool downstream of that stage's NMS reads it
 *     (the stage's input X, NCHW [B * P, C, ch, cw]); the feature map is the nearest rank-4 network
 *     value that dominates X, and the boxes are the value between NMS and X that, fed normalised
 *     boxes, makes X equal to TF's crop of them (CROP_ROI_ALIGN or CROP_TF, src/crop_coord.h);
 *   - the second stage's heads are the values computed from X alone that feed raw_detection_boxes
 *     (box codes) and, through a Softmax or Sigmoid, raw_detection_scores (class logits);
 *   - Mask R-CNN: the third stage's crop reads the second stage's detections; its mask logits are
 *     computed from that crop alone and reach detection_masks through a class Gather and a Sigmoid.
 * The engine (engine/build_rcnn.c) and convert rebuild the post-processing between the stages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/tfod.h"
#include "passes/convert.h"

static unsigned char *marks(const ir_graph *g) { return calloc(g->n_values + 1, 1); }

static int is_nms_site(const ir_node *n) {
    if (ir_op_is(n, "NonMaxSuppression")) return 1;
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == IR_ATTR_GRAPH && n->attrs[a].g && tfod_count_op(n->attrs[a].g, "NonMaxSuppression")) return 1;
    return 0;
}

typedef struct {
    const unsigned char *mark;
    int hit;
} read_probe;

static void read_marked(ir_value *v, void *ctx) {
    read_probe *r = ctx;
    if (r->mark[v->id]) r->hit = 1;
}

/* every value computed (directly or through sub-graphs) from a marked value gets marked */
static void close_forward(const ir_graph *g, unsigned char *mark) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        read_probe r = {mark, 0};
        ir_node_reads(n, g, read_marked, &r);
        if (r.hit)
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k]) mark[n->out[k]->id] = 1;
    }
}

typedef struct {
    const ir_value **st;
    size_t sp, cap;
    int oom;
} vstack;

static void vpush(vstack *s, const ir_value *v) {
    if (s->sp == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        const ir_value **n = realloc(s->st, sizeof *n * nc);
        if (!n) {
            s->oom = 1;
            return;
        }
        s->st = n, s->cap = nc;
    }
    s->st[s->sp++] = v;
}

static void push_read(ir_value *v, void *ctx) { vpush(ctx, v); }

/* mark every value `from` depends on (itself included), not walking past values in stop (may be
 * NULL); returns 1 if goal (may be NULL) was reached */
static int close_backward(const ir_graph *g, const ir_value *from, const unsigned char *stop, const ir_value *goal,
                          unsigned char *mark) {
    vstack s = {0};
    int hit = 0;
    vpush(&s, from);
    while (s.sp && !s.oom) {
        const ir_value *v = s.st[--s.sp];
        if (v->graph != g || mark[v->id]) continue;
        mark[v->id] = 1;
        if (v == goal) hit = 1;
        if ((stop && stop[v->id]) || !v->producer || v->producer->dead) continue;
        ir_node_reads(v->producer, g, push_read, &s);
    }
    free(s.st);
    return hit || s.oom;
}

/* does `from` depend on goal (or, goal NULL, on any value marked in goals) other than through `via`? */
static int reaches_avoiding_any(const ir_graph *g, const ir_value *from, const ir_value *via, const ir_value *via2,
                                const ir_value *goal, const unsigned char *goals) {
    unsigned char *stop = marks(g), *seen = marks(g);
    int hit = 1;
    if (stop && seen) {
        stop[via->id] = 1;
        seen[via->id] = 1; /* not entered */
        if (via2) stop[via2->id] = seen[via2->id] = 1;
        hit = from != via && close_backward(g, from, stop, goal, seen);
        for (size_t i = 0; goals && !hit && from != via && i < g->n_values; i++) hit = goals[i] && seen[i];
    }
    free(stop), free(seen);
    return hit;
}

static int reaches_avoiding(const ir_graph *g, const ir_value *from, const ir_value *via, const ir_value *goal) {
    return reaches_avoiding_any(g, from, via, NULL, goal, NULL);
}

static int node_index(const ir_graph *g, const ir_node *n) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n) return (int)i;
    return -1;
}

/* position of a value in the (topologically sorted) graph: its producer's index, -1 for leaves */
static int topo_pos(const ir_graph *g, const ir_value *v) { return v->producer ? node_index(g, v->producer) : -1; }

static int is_movement(const ir_node *n) {
    static const char *ops[] = {"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Split", "Slice", "Cast"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (ir_op_is(n, ops[i])) return 1;
    return ir_op_is(n, "Concat") && n->n_in == 1;
}

/* up from v through data movement to the first other op's output */
static ir_value *trace_up(ir_value *v) {
    for (int guard = 0; v && v->producer && is_movement(v->producer) && v->producer->n_in >= 1 && guard < 64; guard++)
        v = v->producer->in[0];
    return v;
}

static int static_type(const ir_value *v, int64_t *numel) {
    int64_t n = ir_type_numel(&v->type);
    if (numel) *numel = n;
    return v->type.kind == IR_TYPE_TENSOR && n > 0;
}

static int last_dim(const ir_value *v) { return v->type.rank >= 1 ? (int)v->type.dims[v->type.rank - 1].value : -1; }

static float const_f(const ir_value *v, float dflt) {
    if (!v || !v->init || v->init->numel != 1) return dflt;
    if (v->init->dtype == ODRT_DT_FLOAT) return ((float *)v->init->data)[0];
    if (v->init->dtype == ODRT_DT_DOUBLE) return (float)((double *)v->init->data)[0];
    return dflt;
}

static int64_t const_i(const ir_value *v, int64_t dflt) {
    if (!v || !v->init || v->init->numel != 1) return dflt;
    if (v->init->dtype == ODRT_DT_INT64) return ((int64_t *)v->init->data)[0];
    if (v->init->dtype == ODRT_DT_INT32) return ((int32_t *)v->init->data)[0];
    return dflt;
}

/* the first NonMaxSuppression of a site (the node itself, or the first in its sub-graphs) */
typedef struct {
    const ir_node *found;
} nms_find;
static int find_nms(const ir_node *n, void *ctx) {
    nms_find *f = ctx;
    return ir_op_is(n, "NonMaxSuppression") ? (f->found = n, 1) : 0;
}
static const ir_node *site_nms(const ir_node *site) {
    if (ir_op_is(site, "NonMaxSuppression")) return site;
    for (int a = 0; a < site->n_attrs; a++)
        if (site->attrs[a].type == IR_ATTR_GRAPH && site->attrs[a].g) {
            nms_find f = {NULL};
            ir_graph_visit(site->attrs[a].g, find_nms, &f);
            if (f.found) return f.found;
        }
    return NULL;
}

static int is_network_op(const ir_node *n) {
    return ir_op_is(n, "Conv") || ir_op_is(n, "MaxPool") || ir_op_is(n, "BatchNormalization") || ir_op_is(n, "Relu") ||
           ir_op_is(n, "Clip") || ir_op_is(n, "Add");
}

/* ---- probes ---- */
static uint32_t rnd_next(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}
static float rnd_uniform(uint32_t *s, float lo, float hi) { return lo + (hi - lo) * (float)rnd_next(s) / 16777216.0f; }

/* Is X TF's crop of F by boxes seeded at c? Sets the mode on success. Boxes include ones reaching
 * past the map's edges (where the modes differ) and flipped ones. */
static int probe_crop(ir_model *m, tfod_crop *cr, ir_value *c, int64_t B) {
    ir_graph *g = m->graph;
    const ir_type *ft = &cr->features->type, *xt = &cr->out->type;
    int64_t fd[4] = {ft->dims[0].value, ft->dims[1].value, ft->dims[2].value, ft->dims[3].value};
    int64_t NB = xt->dims[0].value, ch = xt->dims[2].value, cw = xt->dims[3].value, P = NB / B;
    int64_t bd[ODRT_MAX_RANK] = {B, P, 4}, cn;
    int br = 3;
    if (static_type(c, &cn) && cn == NB * 4) {
        br = c->type.rank;
        for (int i = 0; i < br; i++) bd[i] = c->type.dims[i].value;
    } else if (c->type.rank == 2) {
        br = 2, bd[0] = NB, bd[1] = 4;
    }
    ex_val *seeds[2] = {ex_val_new_tensor(ODRT_DT_FLOAT, 4, fd), ex_val_new_tensor(ODRT_DT_FLOAT, br, bd)}, *res = NULL;
    float *ref = malloc(sizeof(float) * (size_t)(NB * fd[1] * ch * cw + 1));
    int ok = 0;
    if (seeds[0] && seeds[1] && ref) {
        uint32_t s = 4242;
        float *F = seeds[0]->t.data, *bx = seeds[1]->t.data;
        for (int64_t i = 0; i < ex_numel(seeds[0]); i++) F[i] = rnd_uniform(&s, -1, 1);
        for (int64_t n = 0; n < NB; n++) { /* a quarter of the boxes past an edge, one in eight flipped */
            float *b = bx + n * 4;
            for (int q = 0; q < 2; q++) {
                float a = rnd_uniform(&s, 0, 0.8f), len = rnd_uniform(&s, 0.05f, 0.6f);
                if (n % 4 == 1) a -= 0.3f;
                if (n % 4 == 3) len += 0.5f;
                b[q] = a, b[q + 2] = a + len;
                if (n % 8 == 5) b[q] = a + len, b[q + 2] = a;
            }
        }
        ir_value *sv[2] = {cr->features, c};
        odrt_status_t rc = ir_eval(m, g, 2, sv, seeds, 1, &cr->out, &res);
        if (rc == ODRT_OK && res->t.dtype == ODRT_DT_FLOAT && ex_numel(res) == NB * fd[1] * ch * cw) {
            for (int mode = 0; mode < CROP_MODES && !ok; mode++) {
                crop_nchw(mode, F, fd[0], fd[1], fd[2], fd[3], bx, NB, ch, cw, cr->extrapolation, ref);
                double worst = 0;
                const float *got = res->t.data;
                for (int64_t i = 0; i < ex_numel(res); i++) {
                    double e = fabs((double)got[i] - ref[i]);
                    if (!(e <= worst)) worst = e;
                }
                if (worst <= 1e-4) cr->mode = mode, ok = 1;
            }
        }
    }
    ex_val_free(seeds[0]), ex_val_free(seeds[1]), ex_val_free(res);
    free(ref);
    return ok;
}

/* The crop that produces X (input of the first network op among `stage` values and not `later`
 * ones): its feature map and boxes. sources: the values (by id) the stage's NMS makes. */
static odrt_status_t find_crop(ir_model *m, tfod_found *f, const unsigned char *stage, const unsigned char *later,
                               const unsigned char *sources, tfod_crop *cr, const char *what) {
    ir_graph *g = m->graph;
    int64_t B = f->model_batch;
    memset(cr, 0, sizeof *cr);
    for (size_t i = 0; i < g->n_nodes && !cr->out; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !(ir_op_is(n, "Conv") || ir_op_is(n, "MaxPool")) || !n->in[0] || !stage[n->in[0]->id] ||
            (later && later[n->in[0]->id]))
            continue;
        cr->out = n->in[0];
    }
    if (!cr->out)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the %s's network (a Conv or MaxPool after the NMS) not found", what);
    const ir_type *xt = &cr->out->type;
    if (xt->rank != 4 || ir_type_numel(xt) <= 0 || xt->dims[0].value % B)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the %s's input '%s' has no static NCHW shape", what, cr->out->name);
    cr->n_boxes = xt->dims[0].value / B;
    cr->ch = xt->dims[2].value, cr->cw = xt->dims[3].value;
    /* the feature map: the nearest rank-4 network value before the NMS that dominates X */
    unsigned char *anc = marks(g);
    if (!anc) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    close_backward(g, cr->out, NULL, NULL, anc);
    ir_value *best = NULL;
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (!anc[v->id] || stage[v->id] || v->init || v->type.rank != 4 || ir_type_numel(&v->type) <= 0 || !v->producer ||
            !is_network_op(v->producer) || v->type.dims[1].value != xt->dims[1].value)
            continue;
        if (reaches_avoiding(g, cr->out, v, f->input)) continue;
        if (!best || topo_pos(g, v) > topo_pos(g, best)) best = v;
    }
    if (!best) {
        free(anc);
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the feature map the %s crops (rank 4, %lld channels) not found", what,
                         (long long)xt->dims[1].value);
    }
    cr->features = best;
    cr->C = best->type.dims[1].value, cr->H = best->type.dims[2].value, cr->W = best->type.dims[3].value;
    /* the boxes: nearest first, the value after the NMS that X reads normalised boxes from */
    int tried = 0;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", odrt_last_error()); /* failed probes leave the caller's error alone */
    for (size_t i = g->n_nodes; i-- > 0 && !cr->boxes && tried < 16;) {
        ir_node *n = g->nodes[i];
        for (int k = 0; !n->dead && k < n->n_out && !cr->boxes && tried < 16; k++) {
            ir_value *v = n->out[k];
            if (!v || !anc[v->id] || !stage[v->id] || v == cr->out || (v->type.dtype && v->type.dtype != ODRT_DT_FLOAT) ||
                (v->type.rank >= 1 && last_dim(v) >= 0 && last_dim(v) != 4) || (v->type.rank >= 0 && v->type.rank != 2 &&
                v->type.rank != 3) || reaches_avoiding_any(g, cr->out, v, NULL, NULL, sources))
                continue; /* not a box tensor every path from the NMS to X crosses */
            tried++;
            if (probe_crop(m, cr, v, B)) cr->boxes = v;
        }
    }
    odrt_fail(ODRT_OK, "%s", saved);
    free(anc);
    if (!cr->boxes)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the %s's crop (into '%s', %lldx%lld) is neither of TF's crops "
                         "(crop_and_resize, matmul roi_align) of normalised boxes", what, cr->out->name,
                         (long long)xt->dims[2].value, (long long)xt->dims[3].value);
    return ODRT_OK;
}

/* values computed from x and constants alone (constants: initializers and what is computed from
 * them only, such as dequantised weights) */
static unsigned char *pure_from(const ir_graph *g, const ir_value *x) {
    unsigned char *pure = marks(g), *konst = marks(g);
    if (!pure || !konst) {
        free(pure), free(konst);
        return NULL;
    }
    pure[x->id] = 1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        int any = 0, all = 1, subgraph = 0;
        for (int k = 0; k < n->n_in; k++) {
            const ir_value *v = n->in[k];
            if (!v || v->init || (v->graph == g && konst[v->id])) continue;
            if (v->graph == g && pure[v->id]) any = 1;
            else all = 0;
        }
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == IR_ATTR_GRAPH || n->attrs[a].type == IR_ATTR_GRAPHS) all = 0, subgraph = 1;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] && all && !subgraph) (any ? pure : konst)[n->out[k]->id] = 1;
    }
    free(konst);
    return pure;
}

/* the latest value computed from x alone (pure) that every path from target back to x crosses,
 * paths through `beside` (another head, or NULL) aside, with numel n1 or n2 and its last dims
 * `last` (n_last of them) */
static ir_value *pure_dominator(const ir_graph *g, const unsigned char *pure, const ir_value *target, const ir_value *x,
                                const ir_value *beside, int64_t n1, int64_t n2, const int64_t *last, int n_last) {
    unsigned char *anc = marks(g);
    ir_value *best = NULL;
    if (!anc) return NULL;
    close_backward(g, target, NULL, NULL, anc);
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        int64_t n;
        if (!anc[v->id] || !pure[v->id] || !static_type(v, &n) || (n != n1 && n != n2) || v->type.rank < n_last) continue;
        int ok = 1;
        for (int k = 0; k < n_last; k++) ok &= v->type.dims[v->type.rank - n_last + k].value == last[k];
        if (!ok || (best && topo_pos(g, v) <= topo_pos(g, best)) || reaches_avoiding_any(g, target, v, beside, x, NULL)) continue;
        best = v;
    }
    free(anc);
    return best;
}

/* the second stage's box-coder scales: raw_detection_boxes for codes 0 and a small code per
 * coordinate, on the proposals of random first-stage outputs (boxes that stay inside [0, 1]) */
static odrt_status_t probe_scales2(ir_model *m, tfod_found *f, ir_value *raw_boxes) {
    tfod_rcnn *r = &f->rcnn;
    ir_graph *g = m->graph;
    enum { NP = 5 };
    const float code = 0.1f;
    ir_value *sv[4] = {r->rpn_codes, r->rpn_logits, r->codes, r->logits};
    ex_val *seeds[4] = {0}, *res[NP] = {0};
    odrt_status_t rc = ODRT_OK;
    int64_t C1 = f->n_classes + 1;
    for (int i = 0; i < 4 && rc == ODRT_OK; i++) {
        int64_t d[ODRT_MAX_RANK];
        for (int k = 0; k < sv[i]->type.rank; k++) d[k] = sv[i]->type.dims[k].value;
        if (!(seeds[i] = ex_val_new_tensor(ODRT_DT_FLOAT, sv[i]->type.rank, d))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    if (rc == ODRT_OK) {
        uint32_t s = 99;
        float *lg = seeds[1]->t.data, *l2 = seeds[3]->t.data;
        for (int64_t i = 0; i < ex_numel(seeds[1]); i++) lg[i] = rnd_uniform(&s, -3, 3);
        for (int64_t i = 0; i < ex_numel(seeds[3]); i++) l2[i] = i % C1 == 1 ? 5.0f : 0.0f; /* argmax: the first class */
    }
    for (int p = 0; p < NP && rc == ODRT_OK; p++) {
        float *cd = seeds[2]->t.data;
        for (int64_t i = 0; i < ex_numel(seeds[2]); i++) cd[i] = p > 0 && i % 4 == p - 1 ? code : 0.0f;
        rc = ir_eval(m, g, 4, sv, seeds, 1, &raw_boxes, &res[p]);
        if (rc == ODRT_OK && (res[p]->t.dtype != ODRT_DT_FLOAT || ex_numel(res[p]) != ex_numel(res[0])))
            rc = odrt_fail(ODRT_ERR_SHAPE, "raw_detection_boxes changed size");
    }
    int64_t n = rc == ODRT_OK ? ex_numel(res[0]) / 4 : 0;
    float *col = malloc(sizeof(float) * (size_t)(n + 1));
    if (rc == ODRT_OK && !col) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int c = 0; c < 4 && rc == ODRT_OK; c++) {
        int64_t cnt = 0;
        for (int64_t i = 0; i < n; i++) {
            const float *a = (const float *)res[0]->t.data + i * 4, *b = (const float *)res[1 + c]->t.data + i * 4;
            int inside = 1;
            for (int q = 0; q < 4; q++) inside &= a[q] > 0.01f && a[q] < 0.99f && b[q] > 0.01f && b[q] < 0.99f;
            float h = a[2] - a[0], w = a[3] - a[1];
            if (!inside || h < 1e-3f || w < 1e-3f) continue;
            float v = c == 0 ? h * code / ((b[0] + b[2]) / 2 - (a[0] + a[2]) / 2)
                    : c == 1 ? w * code / ((b[1] + b[3]) / 2 - (a[1] + a[3]) / 2)
                    : c == 2 ? code / logf((b[2] - b[0]) / h)
                             : code / logf((b[3] - b[1]) / w);
            if (isfinite(v)) col[cnt++] = v;
        }
        if (!cnt) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: no usable proposals to probe the second stage's box decoder");
            break;
        }
        /* the median, rounded to the float TF stores (scales are small decimals: 10, 5, ...) */
        for (int64_t i = 1; i < cnt; i++)
            for (int64_t j = i; j > 0 && col[j] < col[j - 1]; j--) {
                float t = col[j];
                col[j] = col[j - 1], col[j - 1] = t;
            }
        float med = col[cnt / 2];
        r->scales2[c] = fabsf(med - roundf(med)) < 1e-3f * fabsf(med) ? roundf(med) : med;
    }
    free(col);
    for (int i = 0; i < 4; i++) ex_val_free(seeds[i]);
    for (int p = 0; p < NP; p++) ex_val_free(res[p]);
    if (rc != ODRT_OK) return odrt_fail_ctx(rc, "convert: the second stage's box decoder could not be probed");
    return ODRT_OK;
}

/* a constant, or the constant bound of a Min (TF's tf.minimum(max_size_per_class, num_boxes) for
 * exports without static shapes), through casts and reshapes */
static int64_t const_or_min(const ir_value *v) {
    for (int guard = 0; v && guard < 16; guard++) {
        if (v->init) return const_i(v, -1);
        const ir_node *p = v->producer;
        if (!p || p->dead) return -1;
        if (ir_op_is(p, "Min") && p->n_in == 2) {
            int64_t a = const_or_min(p->in[0]), b = const_or_min(p->in[1]);
            return a >= 0 && b >= 0 ? (a < b ? a : b) : a >= 0 ? a : b;
        }
        if (!(ir_op_is(p, "Cast") || ir_op_is(p, "Squeeze") || ir_op_is(p, "Unsqueeze") || ir_op_is(p, "Reshape") ||
              ir_op_is(p, "Identity")))
            return -1;
        v = p->in[0];
    }
    return -1;
}

/* NMS settings of a site */
static void nms_settings(const ir_node *site, int64_t *max_per_class, float *iou, float *score) {
    const ir_node *n = site_nms(site);
    *max_per_class = n && n->n_in > 2 ? const_or_min(n->in[2]) : -1;
    *iou = n && n->n_in > 3 ? const_f(n->in[3], NAN) : NAN;
    *score = n && n->n_in > 4 ? const_f(n->in[4], -INFINITY) : -INFINITY;
}

odrt_status_t tfod_analyze_rcnn(ir_model *m, tfod_found *f) {
    ir_graph *g = m->graph;
    tfod_rcnn *r = &f->rcnn;
    int64_t B = f->model_batch;
    unsigned char *after1 = marks(g), *after2 = marks(g), *anc = marks(g), *pure = NULL, *pure3 = NULL, *src1 = NULL, *src2 = NULL;
    odrt_status_t rc = ODRT_OK;
    if (!after1 || !after2 || !anc) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* the first stage's NMS: no other NMS feeds it */
    unsigned char *all = marks(g);
    if (!all) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && is_nms_site(g->nodes[i]))
            for (int k = 0; k < g->nodes[i]->n_out; k++)
                if (g->nodes[i]->out[k]) all[g->nodes[i]->out[k]->id] = 1;
    close_forward(g, all);
    ir_node *nms1 = NULL;
    for (size_t i = 0; i < g->n_nodes && !nms1; i++) {
        ir_node *n = g->nodes[i];
        int fed = 0;
        for (int k = 0; !n->dead && k < n->n_in; k++) fed |= n->in[k] && all[n->in[k]->id];
        if (!n->dead && ir_op_is(n, "NonMaxSuppression") && !fed) nms1 = n;
    }
    free(all);
    if (!nms1 || nms1->n_in < 2 || !nms1->in[0] || !nms1->in[1]) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the first stage's NonMaxSuppression (fed by no other NMS) not found");
        goto done;
    }
    for (int k = 0; k < nms1->n_out; k++)
        if (nms1->out[k]) after1[nms1->out[k]->id] = 1;
    close_forward(g, after1);
    /* objectness: a 2-way Softmax before the first NMS's scores */
    ir_value *sm = trace_up(nms1->in[1]);
    if (!sm || !sm->producer || !ir_op_is(sm->producer, "Softmax") || !static_type(sm->producer->in[0], NULL) ||
        last_dim(sm->producer->in[0]) != 2) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the first stage's objectness (a Softmax over [.., 2] before its NMS) not "
                       "found");
        goto done;
    }
    r->rpn_logits = sm->producer->in[0];
    r->n_anchors = ir_type_numel(&r->rpn_logits->type) / 2 / B;
    /* box codes: the value nearest the input with [.., N, 4] that every path to the NMS boxes crosses */
    close_backward(g, nms1->in[0], NULL, NULL, anc);
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        int64_t n;
        if (!anc[v->id] || v->init || !static_type(v, &n) || n != B * r->n_anchors * 4 || last_dim(v) != 4 ||
            v->type.dtype != ODRT_DT_FLOAT || reaches_avoiding(g, nms1->in[0], v, f->input))
            continue;
        if (!r->rpn_codes || topo_pos(g, v) < topo_pos(g, r->rpn_codes)) r->rpn_codes = v;
    }
    if (!r->rpn_codes) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the first stage's box codes [batch, %lld, 4] not found",
                       (long long)r->n_anchors);
        goto done;
    }
    if ((rc = tfod_probe_decoder(m, r->rpn_codes, nms1->in[0], r->n_anchors, &r->anchors, r->scales)) != ODRT_OK) goto done;
    nms_settings(nms1, &r->max_proposals, &r->iou, &r->score_threshold);
    /* the second stage's NMS sites: fed by the first */
    const ir_node *first2 = NULL;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        int fed = 0;
        for (int k = 0; !n->dead && k < n->n_in; k++) fed |= n->in[k] && after1[n->in[k]->id];
        if (n->dead || n == nms1 || !fed || !is_nms_site(n)) continue;
        if (!first2) first2 = n;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k]) after2[n->out[k]->id] = 1;
    }
    close_forward(g, after2);
    if (!first2) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the second stage's NonMaxSuppression (after the first) not found");
        goto done;
    }
    f->n_nms_nodes = (int)tfod_count_op(g, "NonMaxSuppression");
    nms_settings(first2, &f->max_per_class, &f->iou_threshold, &f->score_threshold);
    /* the crop into the second stage */
    if (!(src1 = marks(g)) || !(src2 = marks(g))) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < nms1->n_out; k++)
        if (nms1->out[k]) src1[nms1->out[k]->id] = 1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        int fed = 0;
        for (int k = 0; !n->dead && k < n->n_in; k++) fed |= n->in[k] && after1[n->in[k]->id];
        for (int k = 0; fed && n != nms1 && is_nms_site(n) && k < n->n_out; k++)
            if (n->out[k]) src2[n->out[k]->id] = 1;
    }
    if ((rc = find_crop(m, f, after1, after2, src1, &r->crop, "second stage")) != ODRT_OK) goto done;
    /* the heads: class logits through the score converter to raw_detection_scores, box codes to raw_detection_boxes */
    ir_value *raw_scores = (ir_value *)tfod_find_output(g, "raw_detection_scores");
    ir_value *raw_boxes = (ir_value *)tfod_find_output(g, "raw_detection_boxes");
    if (!raw_scores || !raw_boxes) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: outputs raw_detection_boxes/raw_detection_scores not found");
        goto done;
    }
    if (!(pure = pure_from(g, r->crop.out))) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    int64_t NB = B * r->crop.n_boxes;
    ir_value *sc = trace_up(raw_scores);
    r->act = sc && sc->producer && ir_op_is(sc->producer, "Softmax") ? ACT_SOFTMAX
           : sc && sc->producer && ir_op_is(sc->producer, "Sigmoid") ? ACT_SIGMOID : ACT_NONE;
    r->logits = r->act == ACT_NONE ? sc : sc->producer->in[0];
    int64_t nl;
    if (!r->logits || !pure[r->logits->id] || !static_type(r->logits, &nl) || nl % NB || nl / NB < 2) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the second stage's class logits [%lld, classes + 1] (computed from its "
                       "crop alone, before raw_detection_scores) not found", (long long)NB);
        goto done;
    }
    f->n_classes = nl / NB - 1, f->bg_offset = 1, f->act = r->act;
    int64_t four = 4;
    /* with a box per class, raw_detection_boxes are each proposal's best class's box: the class
     * logits reach them too (an ArgMax), beside the codes */
    r->codes = pure_dominator(g, pure, raw_boxes, r->crop.out, r->logits, NB * 4, NB * f->n_classes * 4, &four, 1);
    int64_t nc = 0;
    if (!r->codes || !static_type(r->codes, &nc) || (nc / NB / 4 != 1 && nc / NB / 4 != f->n_classes)) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the second stage's box codes [%lld, 1 or %lld, 4] (computed from its crop "
                       "alone, before raw_detection_boxes) not found", (long long)NB, (long long)f->n_classes);
        goto done;
    }
    r->box_classes = nc / NB / 4;
    if ((rc = probe_scales2(m, f, raw_boxes)) != ODRT_OK) goto done;
    ir_value *db = (ir_value *)tfod_find_output(g, "detection_boxes");
    f->max_total = db && db->type.rank == 3 && db->type.dims[1].value > 0 ? db->type.dims[1].value : -1;
    if (db && f->max_total < 0) { /* TF pads the detections to max_total: the graph's output size on a probe */
        ir_value *sv[4] = {r->rpn_codes, r->rpn_logits, r->codes, r->logits};
        ex_val *seeds[4] = {0}, *res = NULL;
        int ok = 1;
        uint32_t s = 5;
        for (int i = 0; i < 4 && ok; i++) {
            int64_t d[ODRT_MAX_RANK];
            for (int k = 0; k < sv[i]->type.rank; k++) d[k] = sv[i]->type.dims[k].value;
            ok = (seeds[i] = ex_val_new_tensor(ODRT_DT_FLOAT, sv[i]->type.rank, d)) != NULL;
            for (int64_t k = 0; ok && k < ex_numel(seeds[i]); k++) ((float *)seeds[i]->t.data)[k] = rnd_uniform(&s, -1, 1);
        }
        if (ok && ir_eval(m, g, 4, sv, seeds, 1, &db, &res) == ODRT_OK && res->t.rank == 3) f->max_total = res->t.dims[1];
        for (int i = 0; i < 4; i++) ex_val_free(seeds[i]);
        ex_val_free(res);
    }
    /* Mask R-CNN: the third stage */
    ir_value *dm = (ir_value *)tfod_find_output(g, "detection_masks");
    if (dm) {
        if (dm->type.rank != 4 || ir_type_numel(&dm->type) <= 0) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: detection_masks has no static [batch, detections, h, w] shape");
            goto done;
        }
        if ((rc = find_crop(m, f, after2, NULL, src2, &r->mask_crop, "mask stage")) != ODRT_OK) goto done;
        r->mask_h = dm->type.dims[2].value, r->mask_w = dm->type.dims[3].value;
        if (f->max_total < 0) f->max_total = dm->type.dims[1].value;
        ir_value *sg = trace_up(dm);
        if (!sg || !sg->producer || !ir_op_is(sg->producer, "Sigmoid") || !(pure3 = pure_from(g, r->mask_crop.out))) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: detection_masks is not a Sigmoid of the mask head's logits");
            goto done;
        }
        int64_t NT = r->mask_crop.out->type.dims[0].value, per = r->mask_h * r->mask_w;
        int64_t hw[2] = {r->mask_h, r->mask_w};
        r->mask_logits = pure_dominator(g, pure3, sg, r->mask_crop.out, NULL, NT * per, NT * per * f->n_classes, hw, 2);
        int64_t nm = 0;
        if (!r->mask_logits || !static_type(r->mask_logits, &nm) ||
            (nm / (NT * per) != 1 && nm / (NT * per) != f->n_classes)) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the mask head's logits [%lld, 1 or %lld, %lld, %lld] not found",
                           (long long)NT, (long long)f->n_classes, (long long)r->mask_h, (long long)r->mask_w);
            goto done;
        }
        r->mask_classes = nm / (NT * per);
    }
done:
    free(after1), free(after2), free(anc), free(pure), free(pure3), free(src1), free(src2);
    return rc;
}

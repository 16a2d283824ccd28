/* Finding the parts of a TF OD API export by structure: the preprocessing map_fn body, the box
 * regression and class score tensors, the box decoder (probed numerically), and the NMS settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/tfod.h"
#include "passes/convert.h"

static int64_t const_ints(const ir_value *v, int64_t *out, int max) {
    if (!v || !v->init || (v->init->dtype != ODRT_DT_INT64 && v->init->dtype != ODRT_DT_INT32) || v->init->numel > max)
        return -1;
    for (int64_t i = 0; i < v->init->numel; i++)
        out[i] = v->init->dtype == ODRT_DT_INT64 ? ((int64_t *)v->init->data)[i] : ((int32_t *)v->init->data)[i];
    return v->init->numel;
}

static int64_t node_axes(const ir_node *n, int64_t opset, int input, int64_t *axes, int max) {
    if (opset >= 13 && n->n_in > input) return const_ints(n->in[input], axes, max);
    const ir_attr *a = ir_node_attr(n, "axes");
    if (!a || a->type != IR_ATTR_INTS || a->n > max) return -1;
    memcpy(axes, a->ints, sizeof(int64_t) * (size_t)a->n);
    return a->n;
}

static ir_node *single_consumer(const ir_value *v, const ir_graph *g, int *n_other) {
    ir_node *c = NULL;
    *n_other = 0;
    for (size_t i = 0; i < v->n_uses; i++) {
        ir_node *u = v->uses[i].node;
        if (u->dead || u->graph != g || ir_op_is(u, "Shape")) continue;
        if (c && c != u) (*n_other)++;
        else c = u;
    }
    return c;
}

static float scalar_f(const ir_tensor *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: return ((float *)t->data)[i];
    case ODRT_DT_DOUBLE: return (float)((double *)t->data)[i];
    default: return NAN;
    }
}

/* the iteration number: body input 0, or a carried counter that starts at 0 and adds 1 */
static int is_iteration_index(const ir_node *loop, const ir_graph *body, const ir_value *v) {
    if (v == body->inputs[0]) return 1;
    for (int k = 2; k < body->n_inputs && k < loop->n_in; k++) {
        if (body->inputs[k] != v) continue;
        int64_t init;
        const ir_value *nx = body->outputs[k - 1];
        const ir_node *add = nx->producer;
        if (const_ints(loop->in[k], &init, 1) != 1 || init != 0 || !add || !ir_op_is(add, "Add")) return 0;
        int64_t one;
        for (int q = 0; q < 2; q++)
            if (add->in[q] == v && const_ints(add->in[1 - q], &one, 1) == 1 && one == 1) return 1;
        return 0;
    }
    return 0;
}

/* ---- preprocessing: walk the map_fn body from the per-image Gather to the scan output ---- */
static odrt_status_t walk_preproc(ir_model *m, tfod_found *f) {
    ir_node *loop = f->loop;
    ir_graph *body = (ir_graph *)tfod_loop_body(loop);
    int n_carried = loop->n_in - 2;
    /* the image batch inside the body: a carried input fed by the graph input, or the input itself */
    ir_value *img = NULL;
    for (int k = 2; k < loop->n_in; k++)
        if (loop->in[k] == f->input) img = body->inputs[k];
    ir_value *start = NULL;
    for (size_t i = 0; i < body->n_nodes && !start; i++) {
        ir_node *n = body->nodes[i];
        if (!n->dead && ir_op_is(n, "Gather") && n->in[0] && (n->in[0] == img || n->in[0] == f->input) &&
            is_iteration_index(loop, body, n->in[1]))
            start = n->out[0];
    }
    if (!start)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: preprocessing Loop '%s': no per-image read of the input (Gather by "
                         "iteration) in its body", loop->name);
    char lab[ODRT_MAX_RANK + 1] = "HWC"; /* logical axis of each dim: H, W, C or 1 (unit) */
    int r = 3;
    ir_value *cur = start;
    for (int steps = 0; steps < 256; steps++) {
        for (int o = 1; o < body->n_outputs; o++) {
            if (body->outputs[o] != cur) continue;
            if (o - 1 < n_carried)
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing result is loop-carried, not a scan output");
            if (r != 3 || strcmp(lab, "HWC"))
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing ends in layout %s, expected HWC", lab);
            f->loop_image_out = loop->out[n_carried + (o - 1 - n_carried)];
            return ODRT_OK;
        }
        int others;
        ir_node *n = single_consumer(cur, body, &others);
        if ((!n || others || ir_op_is(n, "If")) && r == 3 && !strcmp(lab, "HWC") && !f->has_resize) {
            /* not a chain: a resize-and-pad, found by probing; the walk goes on where it ends */
            ODRT_TRY(tfod_probe_geometry(m, f, start, cur, &cur));
            continue;
        }
        if (!n || others)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing value '%s' has %s consumers; expected a single chain",
                             cur->name, n ? "several" : "no");
        int64_t opset = ir_model_opset(m, n->domain), ax[ODRT_MAX_RANK];
        if (ir_op_is(n, "Identity")) {
        } else if (ir_op_is(n, "Cast")) {
            if (ir_attr_int(n, "to", 0) != ODRT_DT_FLOAT)
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing casts to type %lld, expected float",
                                 (long long)ir_attr_int(n, "to", 0));
            f->cast_float = 1;
        } else if (ir_op_is(n, "Unsqueeze") || ir_op_is(n, "Squeeze")) {
            int64_t na = node_axes(n, opset, 1, ax, ODRT_MAX_RANK);
            int sq = ir_op_is(n, "Squeeze");
            if (na <= 0) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: %s without constant axes in preprocessing", n->op);
            int nr = sq ? r - (int)na : r + (int)na;
            if (nr < 1 || nr > ODRT_MAX_RANK) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: bad %s in preprocessing", n->op);
            char nl[ODRT_MAX_RANK + 1] = {0}, mark[ODRT_MAX_RANK] = {0};
            for (int i = 0; i < na; i++) {
                int64_t a = ax[i] < 0 ? ax[i] + (sq ? r : nr) : ax[i];
                if (a < 0 || a >= (sq ? r : nr)) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: bad %s axis", n->op);
                if (sq && lab[a] != '1') return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: Squeeze of a non-unit axis");
                mark[a] = 1;
            }
            for (int i = 0, k = 0, o = 0; i < (sq ? r : nr); i++) {
                if (sq) {
                    if (!mark[i]) nl[o++] = lab[i];
                } else nl[i] = mark[i] ? '1' : lab[k++];
            }
            memcpy(lab, nl, sizeof lab);
            r = nr;
        } else if (ir_op_is(n, "Split")) {
            int64_t a = ir_attr_int(n, "axis", 0);
            if (a < 0) a += r;
            if (n->n_out != 1 || a < 0 || a >= r || lab[a] != '1')
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: Split in preprocessing is not an unstack of one image");
        } else if (ir_op_is(n, "Transpose")) {
            const ir_attr *p = ir_node_attr(n, "perm");
            if (!p || p->n != r) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: Transpose without perm in preprocessing");
            char nl[ODRT_MAX_RANK + 1] = {0};
            for (int i = 0; i < r; i++) {
                if (p->ints[i] < 0 || p->ints[i] >= r) return odrt_fail(ODRT_ERR_INVALID, "convert: bad Transpose perm");
                nl[i] = lab[p->ints[i]];
            }
            memcpy(lab, nl, sizeof lab);
        } else if (ir_op_is(n, "Slice")) {
            int64_t st[ODRT_MAX_RANK], en[ODRT_MAX_RANK], sa[ODRT_MAX_RANK], sp[ODRT_MAX_RANK];
            int64_t ns = const_ints(n->in[1], st, ODRT_MAX_RANK), ne = const_ints(n->in[2], en, ODRT_MAX_RANK);
            int64_t na = n->n_in > 3 && n->in[3] ? const_ints(n->in[3], sa, ODRT_MAX_RANK) : ns;
            int64_t np = n->n_in > 4 && n->in[4] ? const_ints(n->in[4], sp, ODRT_MAX_RANK) : ns;
            if (ns < 0 || ne != ns || na != ns || np != ns)
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: Slice in preprocessing has non-constant bounds");
            for (int i = 0; i < ns; i++) {
                int64_t a = n->n_in > 3 && n->in[3] ? sa[i] : i, step = n->n_in > 4 && n->in[4] ? sp[i] : 1;
                if (a < 0) a += r;
                if (a < 0 || a >= r) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: bad Slice axis in preprocessing");
                int full = st[i] == 0 && step == 1 && (en[i] >= (lab[a] == '1' ? 1 : lab[a] == 'C' ? 3 : ((int64_t)1 << 24)));
                /* RGB -> BGR: the channel axis walked backwards from its end (start >= 2, end past the front) */
                int reverse = lab[a] == 'C' && step == -1 && st[i] >= 2 && en[i] <= -4;
                if (reverse) {
                    int rev[3] = {f->chan_perm[2], f->chan_perm[1], f->chan_perm[0]};
                    memcpy(f->chan_perm, rev, sizeof rev);
                } else if (!full)
                    return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing crops the image (Slice on axis %c)", lab[a]);
            }
        } else if (ir_op_is(n, "Mul") || ir_op_is(n, "Add") || ir_op_is(n, "Sub") || ir_op_is(n, "Div")) {
            int xi = n->in[0] == cur ? 0 : 1;
            const ir_value *cv = n->in[1 - xi];
            if (!cv || !cv->init || (cv->init->numel != 1 && cv->init->numel != 3) || cv->init->dtype != ODRT_DT_FLOAT)
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing %s by a non-constant or non-per-channel value", n->op);
            if (cv->init->numel == 3) { /* per channel: the constant's one non-unit axis, broadcast from the right, is C */
                int ci = -1, ok = cv->init->rank >= 1 && cv->init->rank <= r;
                for (int j = 0; ok && j < cv->init->rank; j++)
                    if (cv->init->dims[j] == 3) ci = r - cv->init->rank + j;
                if (!ok || ci < 0 || lab[ci] != 'C')
                    return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: per-channel %s not on the channel axis", n->op);
            }
            if (f->n_norm >= 8) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: too many normalisation steps");
            norm_step *s = &f->norm[f->n_norm++];
            s->kind = ir_op_is(n, "Mul") ? NORM_MUL : ir_op_is(n, "Add") ? NORM_ADD : ir_op_is(n, "Div") ? NORM_DIV
                    : xi == 0 ? NORM_SUB : NORM_RSUB;
            if (ir_op_is(n, "Div") && xi == 1) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing divides by the image");
            s->n = (int)cv->init->numel;
            /* kept in the input's channel order: value i acts on what is now channel i, input channel chan_perm[i] */
            for (int i = 0; i < s->n; i++) s->v[s->n == 3 ? f->chan_perm[i] : i] = scalar_f(cv->init, i);
        } else if (ir_op_is(n, "Resize")) {
            /* H and W must be the last two axes (NCHW with a unit batch) */
            if (r != 4 || lab[2] != 'H' || lab[3] != 'W' || lab[1] != 'C')
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing Resize on layout %s, expected 1CHW", lab);
            if (f->has_resize) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing resizes twice");
            f->has_resize = 1;
            f->n_norm_pre = f->n_norm;
            f->resize_mode = ir_attr_str(n, "mode", "nearest");
            f->resize_ctm = ir_attr_str(n, "coordinate_transformation_mode", opset < 11 ? "asymmetric" : "half_pixel");
            f->resize_nearest = ir_attr_str(n, "nearest_mode", "round_prefer_floor");
            if (ir_attr_int(n, "antialias", 0)) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: antialiased Resize");
            /* the target size must not depend on the image: evaluate the output size for two sizes */
            int64_t sizes[2][2];
            for (int t = 0; t < 2; t++) {
                int64_t d[4] = {1, 3, t ? 101 : 77, t ? 67 : 143};
                ex_val *probe = ex_val_new_tensor(ODRT_DT_FLOAT, 4, d), *res = NULL;
                if (!probe) return ODRT_ERR_NOMEM;
                odrt_status_t rc = ir_eval(m, body, 1, &cur, &probe, 1, &n->out[0], &res);
                ex_val_free(probe);
                if (rc != ODRT_OK) return odrt_fail_ctx(rc, "convert: preprocessing Resize size could not be evaluated");
                sizes[t][0] = res->t.dims[2], sizes[t][1] = res->t.dims[3];
                ex_val_free(res);
            }
            if (sizes[0][0] != sizes[1][0] || sizes[0][1] != sizes[1][1])
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the preprocessing Resize keeps the aspect ratio (output size "
                                 "depends on the image); only fixed-size resizers are converted, pass --input-shape to "
                                 "feed images already at the model size");
            f->target_h = sizes[0][0], f->target_w = sizes[0][1];
        } else {
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: op %s ('%s') in the preprocessing Loop body is not understood",
                             n->op, n->name);
        }
        ir_value *next = NULL;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k]) next = next ? next : n->out[k];
        if (!next) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing chain ends at '%s'", n->name);
        cur = next;
    }
    return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing chain too long");
}

/* other Loop outputs must be per-image constants (e.g. the true image shape) or unused */
static odrt_status_t loop_other_outputs(ir_model *m, tfod_found *f) {
    ir_node *loop = f->loop;
    ir_graph *body = (ir_graph *)tfod_loop_body(loop);
    int n_carried = loop->n_in - 2;
    for (int k = 0; k < loop->n_out; k++) {
        ir_value *v = loop->out[k];
        if (!v || v == f->loop_image_out || v == f->true_shape_out || (!v->n_uses && !(v->flags & IR_VAL_OUTPUT))) continue;
        if (k < n_carried)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: loop-carried output '%s' of the preprocessing Loop is used", v->name);
        ir_value *bv = body->outputs[1 + k];
        ex_val *res = NULL;
        odrt_status_t rc = ir_eval(m, body, 0, NULL, NULL, 1, &bv, &res);
        if (rc != ODRT_OK)
            return odrt_fail_ctx(ODRT_ERR_UNSUPPORTED, "convert: preprocessing output '%s' is not a per-image constant", v->name);
        if (f->n_const_scan >= 8) {
            ex_val_free(res);
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: too many preprocessing outputs");
        }
        f->const_scan_out[f->n_const_scan] = v;
        f->const_scan_val[f->n_const_scan++] = res;
    }
    return ODRT_OK;
}

odrt_status_t tfod_analyze_preproc(ir_model *m, tfod_found *f) {
    ir_graph *g = m->graph;
    for (int i = 0; i < g->n_inputs && !f->input; i++)
        if (!g->inputs[i]->init) f->input = g->inputs[i];
    if (!f->input) return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the model has no input");
    const ir_type *t = &f->input->type;
    if (t->kind != IR_TYPE_TENSOR || t->rank != 4 || (t->dtype != ODRT_DT_UINT8 && t->dtype != ODRT_DT_FLOAT))
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: input '%s' is not a uint8/float32 NHWC image batch (rank %d, %s)",
                         f->input->name, t->rank, odrt_dtype_name((odrt_dtype_t)t->dtype));
    f->in_dtype = t->dtype;
    for (int i = 0; i < 4; i++) f->in_dims[i] = t->dims[i].value;
    if (f->in_dims[3] >= 0 && f->in_dims[3] != 3)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: input '%s' has %lld channels, expected 3 (NHWC)", f->input->name,
                         (long long)f->in_dims[3]);
    f->model_batch = f->in_dims[0] > 0 ? f->in_dims[0] : 1;
    f->loop = (ir_node *)tfod_find_preproc_loop(g);
    for (int c = 0; c < 3; c++) f->chan_perm[c] = c;
    if (!f->loop) return ODRT_OK; /* preprocessing already batched (or absent): the input is kept */
    ODRT_TRY(walk_preproc(m, f));
    return loop_other_outputs(m, f);
}

/* ---- detection heads and box decoder ---- */
static int reaches_input(const ir_value *from, const ir_value *stop, const ir_value *input, unsigned char *seen,
                         const ir_graph *g) {
    /* iterative DFS over producers */
    size_t cap = 64, sp = 0;
    const ir_value **st = malloc(sizeof(*st) * cap);
    int hit = 0;
    if (!st) return 1;
    st[sp++] = from;
    while (sp && !hit) {
        const ir_value *v = st[--sp];
        if (v == stop || v->graph != g || seen[v->id]) continue;
        seen[v->id] = 1;
        if (v == input) hit = 1;
        if (!v->producer) continue;
        for (int k = 0; k < v->producer->n_in; k++) {
            if (!v->producer->in[k]) continue;
            if (sp + 1 >= cap) {
                const ir_value **ns = realloc(st, sizeof(*st) * cap * 2);
                if (!ns) {
                    hit = 1;
                    break;
                }
                st = ns, cap *= 2;
            }
            st[sp++] = v->producer->in[k];
        }
    }
    free(st);
    return hit;
}

static int is_ancestor(const ir_value *a, const ir_value *of, const ir_graph *g, unsigned char *seen) {
    memset(seen, 0, g->n_values + 1);
    return reaches_input(of, NULL, a, seen, g);
}

/* the box regression tensor: the dominator of raw_detection_boxes closest to the input with shape [b, N, 4] */
static odrt_status_t find_encodings(tfod_found *f, const ir_graph *g, const ir_value *raw_boxes) {
    unsigned char *seen = calloc(g->n_values + 1, 1), *anc = calloc(g->n_values + 1, 1);
    ir_value *best = NULL;
    if (!seen || !anc) {
        free(seen), free(anc);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    reaches_input(raw_boxes, NULL, NULL, anc, g); /* marks ancestors */
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (!anc[v->id] || v->init || v->type.rank != 3 || v->type.dims[1].value != f->n_anchors ||
            v->type.dims[2].value != 4 || v->type.dtype != ODRT_DT_FLOAT)
            continue;
        memset(seen, 0, g->n_values + 1);
        if (reaches_input(raw_boxes, v, f->input, seen, g)) continue; /* not a dominator */
        if (!best || is_ancestor(v, best, g, seen)) best = v;
    }
    free(seen), free(anc);
    if (!best)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: box regression tensor [batch, %lld, 4] feeding raw_detection_boxes not "
                         "found", (long long)f->n_anchors);
    f->encodings = best;
    return ODRT_OK;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Evaluate the decoded boxes for codes zero (-> anchors as corners), a unit code per coordinate
 * (-> the box-coder scale of that coordinate), and random codes (-> check the centre-size formula). */
odrt_status_t tfod_probe_decoder(ir_model *m, ir_value *codes, ir_value *target, int64_t N, float **anchors_out, float scales[4]) {
    enum { N_PROBES = 6, RANDOM = 5 };
    int64_t d[ODRT_MAX_RANK] = {1, N, 4};
    int rank = 3;
    if (ir_type_numel(&codes->type) == N * 4) { /* the codes' own shape ([N, 4] where the batch is folded in) */
        rank = codes->type.rank;
        for (int i = 0; i < rank; i++) d[i] = codes->type.dims[i].value;
    }
    size_t bytes = sizeof(float) * (size_t)N * 4;
    float *in[N_PROBES] = {0}, *res[N_PROBES] = {0}, *col = malloc(sizeof(float) * (size_t)(N + 1));
    odrt_status_t rc = col ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    uint32_t seed = 2024;
    for (int p = 0; p < N_PROBES && rc == ODRT_OK; p++) {
        ex_val *e = ex_val_new_tensor(ODRT_DT_FLOAT, rank, d), *out = NULL;
        in[p] = malloc(bytes);
        if (!e || !in[p]) {
            ex_val_free(e);
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t i = 0; i < N * 4; i++) {
            seed = seed * 1664525u + 1013904223u;
            in[p][i] = p == RANDOM ? ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2 : (p >= 1 && i % 4 == p - 1 ? 1.0f : 0.0f);
        }
        memcpy(e->t.data, in[p], bytes);
        rc = ir_eval(m, m->graph, 1, &codes, &e, 1, &target, &out);
        if (rc == ODRT_OK && (out->t.dtype != ODRT_DT_FLOAT || ex_numel(out) != N * 4))
            rc = odrt_fail(ODRT_ERR_SHAPE, "decoded boxes have %lld values, expected %lld", (long long)ex_numel(out), (long long)(N * 4));
        if (rc == ODRT_OK && !(res[p] = malloc(bytes))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (rc == ODRT_OK) memcpy(res[p], out->t.data, bytes);
        ex_val_free(e);
        ex_val_free(out);
    }
    if (rc != ODRT_OK) {
        rc = odrt_fail_ctx(rc, "convert: the box decoder between '%s' and '%s' could not be evaluated", codes->name, target->name);
        goto done;
    }
    free(*anchors_out);
    if (!(*anchors_out = malloc(bytes))) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    float *anc = *anchors_out;
    for (int64_t i = 0; i < N; i++) { /* zero codes decode to the anchors themselves */
        const float *b0 = res[0] + i * 4;
        anc[i * 4 + 0] = (b0[0] + b0[2]) / 2, anc[i * 4 + 1] = (b0[1] + b0[3]) / 2;
        anc[i * 4 + 2] = b0[2] - b0[0], anc[i * 4 + 3] = b0[3] - b0[1];
    }
    for (int c = 0; c < 4; c++) { /* each scale: the median over anchors with a size */
        int64_t cnt = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *a = anc + i * 4, *b = res[1 + c] + i * 4;
            if (a[2] <= 1e-6f || a[3] <= 1e-6f) continue;
            col[cnt++] = c == 0 ? a[2] / ((b[0] + b[2]) / 2 - a[0])
                       : c == 1 ? a[3] / ((b[1] + b[3]) / 2 - a[1])
                       : c == 2 ? 1.0f / logf((b[2] - b[0]) / a[2])
                                : 1.0f / logf((b[3] - b[1]) / a[3]);
        }
        if (!cnt) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: no usable anchors found by probing the box decoder");
            goto done;
        }
        qsort(col, (size_t)cnt, sizeof *col, cmp_float);
        scales[c] = col[cnt / 2];
    }
    /* errors relative to the value, with a floor of 1e-3 of the anchors' extent (normalised or
     * pixel coordinates: a corner decoded near 0 carries the float error of the larger terms) */
    double worst = 0, extent = 1;
    for (int64_t i = 0; i < N * 4; i++)
        if (fabs((double)res[0][i]) > extent) extent = fabs((double)res[0][i]);
    for (int64_t i = 0; i < N; i++) {
        const float *e = in[RANDOM] + i * 4, *a = anc + i * 4, *b = res[RANDOM] + i * 4;
        float yc = e[0] / scales[0] * a[2] + a[0], xc = e[1] / scales[1] * a[3] + a[1];
        float h = expf(e[2] / scales[2]) * a[2], w = expf(e[3] / scales[3]) * a[3];
        float want[4] = {yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2};
        for (int c = 0; c < 4; c++) {
            double err = fabs((double)want[c] - b[c]) / (1e-3 * extent + fabs((double)b[c]));
            if (!(err <= worst)) worst = err;
        }
    }
    if (!(worst < 1e-3))
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: the box decoder is not a center-size box coder (probe error %.3g); "
                       "only SSD/EfficientDet-style (FasterRcnnBoxCoder) decoders are converted", worst);
done:
    for (int p = 0; p < N_PROBES; p++) free(in[p]), free(res[p]);
    free(col);
    return rc;
}

/* the first node of op in g or its sub-graphs (exports with many classes may put the per-class NMS
 * in a Loop body) */
typedef struct {
    const char *op;
    const ir_node *found;
} op_find;

static int find_node(const ir_node *n, void *ctx) {
    op_find *f = ctx;
    return ir_op_is(n, f->op) ? (f->found = n, 1) : 0;
}

static const ir_node *first_op(const ir_graph *g, const char *op) {
    op_find f = {op, NULL};
    ir_graph_visit(g, find_node, &f);
    return f.found;
}

static const ir_value *skip_identity(const ir_value *v) {
    while (v && v->producer && ir_op_is(v->producer, "Identity")) v = v->producer->in[0];
    return v;
}

odrt_status_t tfod_analyze_postproc(ir_model *m, tfod_found *f) {
    ir_graph *g = m->graph;
    ir_value *raw_boxes = (ir_value *)tfod_find_output(g, "raw_detection_boxes");
    ir_value *raw_scores = (ir_value *)tfod_find_output(g, "raw_detection_scores");
    if (!raw_boxes || !raw_scores)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: outputs raw_detection_boxes/raw_detection_scores not found: not a TF "
                         "OD API export, or exported without its raw outputs");
    if (raw_boxes->type.rank != 3 || raw_boxes->type.dims[1].value <= 0)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: raw_detection_boxes has no static anchor count; pass --input-shape");
    f->n_anchors = raw_boxes->type.dims[1].value;
    ODRT_TRY(find_encodings(f, g, raw_boxes));
    ODRT_TRY(tfod_probe_decoder(m, f->encodings, raw_boxes, f->n_anchors, &f->anchors, f->scales));
    /* class scores and their activation */
    const ir_value *s = skip_identity(raw_scores);
    f->act = ACT_NONE;
    f->logits = (ir_value *)s;
    if (s->producer && ir_op_is(s->producer, "Sigmoid")) f->act = ACT_SIGMOID, f->logits = s->producer->in[0];
    else if (s->producer && ir_op_is(s->producer, "Softmax")) f->act = ACT_SOFTMAX, f->logits = s->producer->in[0];
    const ir_type *lt = &f->logits->type;
    if (lt->rank != 3 || lt->dims[1].value != f->n_anchors || lt->dims[2].value <= 0)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: class score tensor [batch, %lld, classes] not found before "
                         "raw_detection_scores", (long long)f->n_anchors);
    /* background column: a Slice of the raw scores on the class axis before NMS */
    f->bg_offset = 0;
    for (size_t i = 0; i < raw_scores->n_uses; i++) {
        ir_node *u = raw_scores->uses[i].node;
        int64_t st[4], ax[4];
        if (!ir_op_is(u, "Slice") || u->in[0] != raw_scores) continue;
        int64_t ns = const_ints(u->in[1], st, 4), na = u->n_in > 3 && u->in[3] ? const_ints(u->in[3], ax, 4) : ns;
        for (int k = 0; k < ns && k < na; k++) {
            int64_t a = u->n_in > 3 && u->in[3] ? ax[k] : k;
            if ((a == 2 || a == -1) && st[k] > 0) f->bg_offset = st[k];
        }
    }
    f->n_classes = lt->dims[2].value - f->bg_offset;
    /* NMS settings from the NonMaxSuppression nodes */
    const ir_node *n = first_op(g, "NonMaxSuppression");
    f->n_nms_nodes = (int)tfod_count_op(g, "NonMaxSuppression");
    f->max_per_class = -1, f->iou_threshold = NAN, f->score_threshold = NAN;
    if (n) {
        int64_t v;
        if (n->n_in > 2 && const_ints(n->in[2], &v, 1) == 1) f->max_per_class = v;
        if (n->n_in > 3 && n->in[3] && n->in[3]->init && n->in[3]->init->numel == 1) f->iou_threshold = scalar_f(n->in[3]->init, 0);
        if (n->n_in > 4 && n->in[4] && n->in[4]->init && n->in[4]->init->numel == 1) f->score_threshold = scalar_f(n->in[4]->init, 0);
    }
    const ir_value *db = tfod_find_output(g, "detection_boxes");
    f->max_total = db && db->type.rank == 3 && db->type.dims[1].value > 0 ? db->type.dims[1].value : -1;
    if (db && f->max_total < 0) {
        /* TF pads detections to max_total_size: run the original postprocessing once on a probe */
        ir_value *seeds[2] = {f->encodings, f->logits};
        int64_t de[3] = {1, f->n_anchors, 4}, dl[3] = {1, f->n_anchors, lt->dims[2].value};
        ex_val *sv[2] = {ex_val_new_tensor(ODRT_DT_FLOAT, 3, de), ex_val_new_tensor(ODRT_DT_FLOAT, 3, dl)}, *res = NULL;
        ir_value *target = (ir_value *)db;
        if (sv[0] && sv[1] && ir_eval(m, g, 2, seeds, sv, 1, &target, &res) == ODRT_OK && res->t.rank == 3)
            f->max_total = res->t.dims[1];
        ex_val_free(sv[0]), ex_val_free(sv[1]), ex_val_free(res);
    }
    return ODRT_OK;
}

void tfod_found_free(tfod_found *f) {
    free(f->anchors);
    free(f->rcnn.anchors);
    for (int i = 0; i < f->n_const_scan; i++) ex_val_free(f->const_scan_val[i]);
    memset(f, 0, sizeof *f);
}

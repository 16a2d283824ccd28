/* Finding a CenterNet export's post-processing by structure (after the preprocessing rewrite):
 *
 *   heatmap logits [B, C, H, W] -> Sigmoid -> (NHWC) -> x mask(true image shape)  = p
 *   peaks = p * (|p - MaxPool_kxk,stride 1(p)| < eps)  -> Reshape [B, -1] -> TopK(k)
 *   TopK's indices -> (y, x, class) -> GatherND from the offset map and the size map
 *   size through Max(., 0): that gathered map is the size, the other the offset.
 *
 * What is found is the three network outputs and the constants (k, window, eps); the box
 * arithmetic (stride, clipping, normalisation, the true-shape mask) is TF's and is checked
 * numerically against the graph by the engine build (src/engine/build.c), not assumed. */
#include <math.h>
#include <string.h>

#include "passes/convert.h"
#include "passes/tfod.h"

static const ir_node *through_transposes(const ir_value *v) {
    const ir_node *p = v ? v->producer : NULL;
    while (p && (ir_op_is(p, "Transpose") || ir_op_is(p, "Identity")) && p->in[0]) p = p->in[0]->producer;
    return p;
}

static const ir_value *before_transposes(const ir_value *v) {
    while (v && v->producer && (ir_op_is(v->producer, "Transpose") || ir_op_is(v->producer, "Identity")) && v->producer->in[0])
        v = v->producer->in[0];
    return v;
}

static int const_f1(const ir_value *v, float *out) {
    if (!v || !v->init || v->init->numel != 1) return 0;
    if (v->init->dtype == ODRT_DT_FLOAT) *out = ((float *)v->init->data)[0];
    else if (v->init->dtype == ODRT_DT_DOUBLE) *out = (float)((double *)v->init->data)[0];
    else return 0;
    return 1;
}

static int64_t const_i1(const ir_value *v) {
    if (!v || !v->init || v->init->numel != 1) return -1;
    if (v->init->dtype == ODRT_DT_INT64) return ((int64_t *)v->init->data)[0];
    if (v->init->dtype == ODRT_DT_INT32) return ((int32_t *)v->init->data)[0];
    return -1;
}

/* the other input of a binary node n, given one */
static ir_value *other_in(const ir_node *n, const ir_value *v) {
    return n->n_in == 2 ? (n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : NULL) : NULL;
}

/* a node of op reading v (directly), or NULL */
static ir_node *user(const ir_value *v, const char *op) {
    for (size_t i = 0; v && i < v->n_uses; i++)
        if (!v->uses[i].node->dead && ir_op_is(v->uses[i].node, op)) return v->uses[i].node;
    return NULL;
}

/* the peak window: MaxPool kxk, stride 1, padded to keep the size (SAME) */
static int peak_pool(const ir_node *mp, int *k) {
    const ir_attr *ks = ir_node_attr(mp, "kernel_shape"), *st = ir_node_attr(mp, "strides"), *pd = ir_node_attr(mp, "pads");
    if (!ks || ks->n != 2 || ks->ints[0] != ks->ints[1] || ks->ints[0] < 1 || ks->ints[0] % 2 == 0) return 0;
    if (st && (st->n != 2 || st->ints[0] != 1 || st->ints[1] != 1)) return 0;
    const char *ap = ir_attr_str(mp, "auto_pad", "NOTSET");
    int64_t h = ks->ints[0] / 2;
    int same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER") ||
               (pd && pd->n == 4 && pd->ints[0] == h && pd->ints[1] == h && pd->ints[2] == h && pd->ints[3] == h);
    *k = (int)ks->ints[0];
    return same || h == 0;
}

odrt_status_t tfod_analyze_centernet(ir_model *m, tfod_found *f) {
    ir_graph *g = m->graph;
    (void)m;
    ir_node *topk = NULL, *pool = NULL;
    const ir_value *heat_p = NULL; /* p: the masked heatmap probabilities (NHWC) */
    for (size_t i = 0; i < g->n_nodes && !topk; i++) {
        ir_node *mp = g->nodes[i];
        int k;
        if (mp->dead || !ir_op_is(mp, "MaxPool") || !mp->in[0] || !peak_pool(mp, &k)) continue;
        /* Sub(x, MaxPool(x)) -> Abs -> (Transpose) -> Less(., eps) -> Cast -> Mul(p, .) -> Reshape -> TopK */
        ir_node *sub = user(mp->out[0], "Sub");
        if (!sub || other_in(sub, mp->out[0]) != mp->in[0]) continue;
        ir_node *abs_ = user(sub->out[0], "Abs");
        const ir_value *a = abs_ ? abs_->out[0] : NULL;
        while (a && user(a, "Transpose")) a = user(a, "Transpose")->out[0];
        ir_node *less = a ? user(a, "Less") : NULL;
        float eps;
        if (!less || less->in[0] != a || !const_f1(less->in[1], &eps)) continue;
        ir_node *cast = user(less->out[0], "Cast");
        ir_node *mul = cast ? user(cast->out[0], "Mul") : NULL;
        ir_node *rs = mul ? user(mul->out[0], "Reshape") : NULL;
        ir_node *tk = rs ? user(rs->out[0], "TopK") : NULL;
        if (!tk || tk->n_in < 2 || ir_attr_int(tk, "largest", 1) != 1 || const_i1(tk->in[1]) < 1) continue;
        topk = tk, pool = mp, heat_p = other_in(mul, cast->out[0]);
        f->cn_k = const_i1(tk->in[1]), f->cn_pool = k, f->cn_eps = eps;
    }
    if (!topk || !heat_p)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "build: CenterNet peaks not found (a stride-1 MaxPool compared with the heatmap, "
                         "feeding a TopK)");
    /* p: the sigmoid of the logits, times the true-shape mask (or not) */
    const ir_node *sg = through_transposes(heat_p);
    if (sg && ir_op_is(sg, "Mul")) {
        const ir_node *a = through_transposes(sg->in[0]), *b = through_transposes(sg->in[1]);
        sg = a && ir_op_is(a, "Sigmoid") ? a : b && ir_op_is(b, "Sigmoid") ? b : NULL;
    }
    if (!sg || !ir_op_is(sg, "Sigmoid") || !sg->in[0])
        return odrt_fail(ODRT_ERR_NOT_FOUND, "build: CenterNet heatmap: no Sigmoid of the class logits before the peaks");
    f->cn_heatmap = sg->in[0];
    /* the maps gathered at the top-k locations (every GatherND but the heatmap's own) */
    ir_value *maps[2] = {NULL, NULL};
    int n_maps = 0, size_at = -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        /* (the heatmap itself is gathered too: detection_multiclass_scores) */
        if (n->dead || !ir_op_is(n, "GatherND") || !n->in[0] || n->in[0] == heat_p || before_transposes(n->in[0]) == f->cn_heatmap)
            continue;
        const ir_value *src = before_transposes(n->in[0]);
        if (n_maps == 2) return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: CenterNet export gathers more than two maps at its "
                                          "peaks (keypoints or masks): not built yet");
        /* the size map's gathered values are clamped at 0 (tf.maximum(hw, 0)) */
        const ir_value *v = n->out[0];
        while (v && v->n_uses == 1 && (ir_op_is(v->uses[0].node, "Reshape") || ir_op_is(v->uses[0].node, "Transpose")))
            v = v->uses[0].node->out[0];
        ir_node *mx = user(v, "Max");
        float z;
        if (mx && const_f1(other_in(mx, v), &z) && z == 0) size_at = n_maps;
        maps[n_maps++] = (ir_value *)src;
    }
    if (n_maps != 2 || size_at < 0)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "build: CenterNet box maps not found (%d maps gathered at the peaks; expected the "
                         "offset map and the size map, clamped at 0)", n_maps);
    f->cn_size = maps[size_at], f->cn_offset = maps[1 - size_at];
    const ir_type *th = &f->cn_heatmap->type, *to = &f->cn_offset->type, *ts = &f->cn_size->type;
    if (th->rank != 4 || to->rank != 4 || ts->rank != 4 || th->dims[1].value < 1 || to->dims[1].value != 2 ||
        ts->dims[1].value != 2)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: CenterNet maps are not [batch, C, H, W] (heatmap), [batch, 2, H, W] "
                         "(offset, size)");
    for (int d = 2; d < 4; d++)
        if (th->dims[d].value < 1 || to->dims[d].value != th->dims[d].value || ts->dims[d].value != th->dims[d].value)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: CenterNet heatmap and box maps differ in size");
    f->n_classes = th->dims[1].value;
    f->bg_offset = 0;
    f->act = ACT_SIGMOID;
    f->max_total = f->cn_k;
    (void)pool;
    return ODRT_OK;
}

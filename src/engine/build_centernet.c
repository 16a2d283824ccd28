/* CenterNet engines: the post-processing parameters from what tfod_analyze_centernet found, and a
 * check that the engine's post-processing (postproc_centernet.c) gives the export's own
 * detections: the graph's post-processing is evaluated on random heatmaps, offsets and sizes and
 * compared with the engine's on the same inputs, at the model's window and, for keep-aspect
 * resizers, at a window narrower than the heatmap (where TF's true-shape mask cuts rows). A
 * variant whose arithmetic differs is refused rather than built wrong. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/tfod.h"
#include "passes/convert.h"
#include "engine/engine.h"
#include "engine/build_internal.h"

static void serial_for(void *ctx, int64_t n, eng_task fn, void *arg) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
}


void eng_set_true_shape(ir_value *c, int64_t h, int64_t w) {
    ir_tensor *t = c->init;
    for (int64_t b = 0; b < t->numel / 3; b++)
        for (int q = 0; q < 2; q++) {
            int64_t v = q ? w : h;
            if (t->dtype == ODRT_DT_INT64) ((int64_t *)t->data)[b * 3 + q] = v;
            else ((int32_t *)t->data)[b * 3 + q] = (int32_t)v;
        }
}

/* one probe: the graph and the engine on the same maps, with true shape (rh, rw) */
static odrt_status_t probe(ir_model *m, tfod_found *f, const eng_meta *mt, ex_val **seeds, const int64_t *dims, int64_t rh,
                           int64_t rw) {
    ir_graph *g = m->graph;
    ir_value *targets[4] = {(ir_value *)tfod_find_output(g, "detection_boxes"), (ir_value *)tfod_find_output(g, "detection_scores"),
                            (ir_value *)tfod_find_output(g, "detection_classes"), (ir_value *)tfod_find_output(g, "num_detections")};
    for (int i = 0; i < 4; i++)
        if (!targets[i]) return odrt_fail(ODRT_ERR_NOT_FOUND, "build: CenterNet export without the detection outputs");
    ir_value *sv[3] = {f->cn_heatmap, f->cn_offset, f->cn_size};
    ex_val *res[4] = {NULL, NULL, NULL, NULL};
    if (f->true_shape_const) eng_set_true_shape(f->true_shape_const, rh, rw);
    odrt_status_t rc = ir_eval(m, g, 3, sv, seeds, 4, targets, res);
    if (rc != ODRT_OK) return odrt_fail_ctx(rc, "build: CenterNet post-processing could not be evaluated");
    odrt_detections_t d = {0, NULL};
    int64_t win[2] = {rh, rw};
    eng_host host = {serial_for, NULL, NULL};
    rc = eng_postprocess_centernet(mt, dims, seeds[0]->t.data, seeds[1]->t.data, seeds[2]->t.data, 1, win, &d, &host);
    double worst_box = 0, worst_score = 0;
    int n_tf = rc == ODRT_OK && ex_numel(res[3]) >= 1 ? (int)ex_get_f(&res[3]->t, 0) : -1, bad_class = 0;
    for (int i = 0; rc == ODRT_OK && i < d.count && i < n_tf && ex_numel(res[0]) >= 4 * (i + 1); i++) {
        const odrt_detection_t *e = &d.items[i];
        float got[4] = {e->ymin, e->xmin, e->ymax, e->xmax};
        for (int q = 0; q < 4; q++) worst_box = fmax(worst_box, fabs(got[q] - ex_get_f(&res[0]->t, 4 * i + q)));
        worst_score = fmax(worst_score, fabs(e->score - ex_get_f(&res[1]->t, i)));
        bad_class += e->class_id - mt->class_offset + 1 != (int)lrint(ex_get_f(&res[2]->t, i)); /* TF's ids are 1-based */
    }
    if (rc == ODRT_OK && (d.count != n_tf || bad_class || !(worst_box <= 1e-5) || !(worst_score <= 1e-6)))
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: this CenterNet export's post-processing differs from TF's as odrt computes "
                       "it (window %lldx%lld: %d detections vs the graph's %d, %d classes differ, box error %.3g, score error "
                       "%.3g): not built", (long long)rh, (long long)rw, d.count, n_tf, bad_class, worst_box, worst_score);
    odrt_detections_clear(&d);
    for (int i = 0; i < 4; i++) ex_val_free(res[i]);
    return rc;
}

odrt_status_t eng_centernet_setup(ir_model *m, tfod_found *f, eng_meta *mt) {
    const ir_type *t = &f->cn_heatmap->type;
    int64_t C = t->dims[1].value, H = t->dims[2].value, W = t->dims[3].value, B = t->dims[0].value > 0 ? t->dims[0].value : 1;
    if (mt->net_h % H || mt->net_w % W || mt->net_h / H != mt->net_w / W)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: CenterNet heatmap %lldx%lld is not the input %dx%d over one stride",
                         (long long)H, (long long)W, mt->net_h, mt->net_w);
    if (f->cn_k > 100000 || f->cn_pool > 15) return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: CenterNet top-k %lld, window %d",
                                                              (long long)f->cn_k, f->cn_pool);
    mt->post_kind = ENG_POST_CENTERNET;
    mt->cn_k = (int)f->cn_k, mt->cn_pool = f->cn_pool, mt->cn_eps = f->cn_eps, mt->cn_stride = (int)(mt->net_h / H);
    mt->n_classes = (int)C, mt->bg_offset = 0, mt->score_act = 1, mt->max_total = mt->max_per_class = (int)f->cn_k;
    for (int c = 0; c < 4; c++) mt->scales[c] = 1.0f; /* no box coder */
    /* probes: random maps (tfod_centernet_probe_maps) */
    int64_t dims[4] = {B, C, H, W};
    ex_val *seeds[3];
    tfod_centernet_probe_maps(B, C, H, W, 7, seeds);
    odrt_status_t rc = seeds[0] && seeds[1] && seeds[2] ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int64_t rh = mt->net_h, rw = mt->net_w;
    if (rc == ODRT_OK && f->true_shape_const) { /* the window the rewrite froze (the model's size) */
        const ir_tensor *ts = f->true_shape_const->init;
        rh = (int64_t)(ts->dtype == ODRT_DT_INT64 ? ((int64_t *)ts->data)[0] : ((int32_t *)ts->data)[0]);
        rw = (int64_t)(ts->dtype == ODRT_DT_INT64 ? ((int64_t *)ts->data)[1] : ((int32_t *)ts->data)[1]);
    }
    if (rc == ODRT_OK) rc = probe(m, f, mt, seeds, dims, rh, rw);
    if (rc == ODRT_OK && f->true_shape_const) { /* a frame far wider than tall: the mask cuts heatmap rows */
        rc = probe(m, f, mt, seeds, dims, H / 2 > 1 ? H / 2 : 1, mt->net_w);
        if (rc == ODRT_OK) rc = probe(m, f, mt, seeds, dims, mt->net_h, W / 3 > 1 ? W / 3 : 1);
        eng_set_true_shape(f->true_shape_const, rh, rw);
    }
    for (int i = 0; i < 3; i++) ex_val_free(seeds[i]);
    return rc;
}

/* Plan bookkeeping: tensors, ops, blob, and the activation memory plan from liveness. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/engine.h"
#include "engine/plan_util.h"

void eng_phys_dims(const eng_tensor *t, int64_t *out) {
    for (int i = 0; i < t->rank; i++) out[i] = t->dims[i];
    if (t->layout == ENG_NHWC && t->rank == 4) out[1] = t->dims[2], out[2] = t->dims[3], out[3] = t->dims[1];
}

int64_t eng_blob_append(eng_plan *p, const void *data, size_t len) {
    int64_t off = (p->blob_len + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
    int64_t end = off + (int64_t)len;
    uint8_t *nb = realloc(p->blob, (size_t)end + 1);
    if (!nb) return -1;
    memset(nb + p->blob_len, 0, (size_t)(off - p->blob_len));
    if (data) memcpy(nb + off, data, len);
    else memset(nb + off, 0, len);
    p->blob = nb, p->blob_len = end;
    return off;
}

int eng_add_tensor(eng_plan *p, int rank, const int64_t *dims, int layout) {
    if (rank < 0 || rank > ODRT_MAX_RANK) return odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: tensor rank %d", rank), -1;
    eng_tensor *nt = realloc(p->tensors, sizeof *nt * (size_t)(p->n_tensors + 1));
    if (!nt) return odrt_fail(ODRT_ERR_NOMEM, "out of memory"), -1;
    p->tensors = nt;
    eng_tensor *t = &nt[p->n_tensors];
    memset(t, 0, sizeof *t);
    t->rank = rank, t->layout = rank == 4 ? layout : ENG_PLAIN, t->alias = -1, t->numel = 1;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i], t->numel *= dims[i];
    return p->n_tensors++;
}

eng_op *eng_add_op(eng_plan *p, int kind) {
    eng_op *no = realloc(p->ops, sizeof *no * (size_t)(p->n_ops + 1));
    if (!no) return odrt_fail(ODRT_ERR_NOMEM, "out of memory"), NULL;
    p->ops = no;
    eng_op *op = &no[p->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind, op->residual = -1, op->out = -1;
    return op;
}

int eng_root(const eng_plan *p, int t) {
    for (int guard = 0; t >= 0 && p->tensors[t].alias >= 0 && guard < p->n_tensors; guard++) t = p->tensors[t].alias;
    return t;
}

int eng_network_outputs(const eng_meta *m, int t[ENG_MAX_OUTPUTS]) {
    for (int i = 0; i < ENG_MAX_OUTPUTS; i++) t[i] = -1;
    if (m->post_kind == ENG_POST_CENTERNET) {
        memcpy(t, m->t_cn, sizeof(int) * 3);
        return 3;
    }
    t[0] = m->t_boxes, t[1] = m->t_scores;
    if (m->post_kind != ENG_POST_RCNN) return 2;
    t[2] = m->t_rpn[0], t[3] = m->t_rpn[1];
    if (m->mask_h <= 0) return 4;
    t[4] = m->t_masks;
    return 5;
}

int eng_network_inputs(const eng_meta *m, int t[ENG_MAX_INPUTS]) {
    t[0] = m->t_input, t[1] = t[2] = -1;
    if (m->post_kind != ENG_POST_RCNN) return 1;
    t[1] = m->t_props;
    if (m->mask_h <= 0) return 2;
    t[2] = m->t_dets;
    return 3;
}

int eng_tensors_overlap(const eng_plan *p, int a, int b) {
    const eng_tensor *x = &p->tensors[a], *y = &p->tensors[b];
    return x->offset < y->offset + y->numel * 4 && y->offset < x->offset + x->numel * 4;
}

/* Elementwise patterns a backend may run as one (backends/cpu/cpu_fuse_elt.c) keep their inputs
 * alive to the op that ends them: a per-image channel multiply's over the float 1x1 conv that
 * alone reads it, next (which may apply the scale to its weights), and a scalar multiply's or an
 * add's, whose output only an add reads, to the last add of that chain (one pass computes the
 * weighted sum). */
static void extend_fusable(const eng_plan *p, int *last) {
    int nt = p->n_tensors, *reads = calloc((size_t)nt + 1, sizeof(int)), *reader = malloc(sizeof(int) * (size_t)(nt + 1));
    int *until = malloc(sizeof(int) * (size_t)(p->n_ops + 1));
    if (!reads || !reader || !until) goto done;
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *op = &p->ops[k];
        for (int j = 0; j <= op->n_in; j++) {
            int t = j < op->n_in ? op->in[j] : op->residual;
            if (t >= 0) reads[eng_root(p, t)]++, reader[eng_root(p, t)] = k;
        }
    }
    for (int k = p->n_ops - 1; k >= 0; k--) {
        const eng_op *op = &p->ops[k];
        int r = eng_root(p, op->out), j = reads[r] == 1 ? reader[r] : -1;
        until[k] = k;
        if (op->kind != EOP_BINARY || op->act != EACT_ID) continue;
        if (op->bcast == BC_CHANNEL && j == k + 1 && p->ops[j].kind == EOP_CONV && p->ops[j].conv_kind == CONV_GEMM && p->ops[j].q_scale == 0)
            until[k] = j;
        else if ((op->bcast == BC_SCALAR || op->bcast == BC_SAME) && j > k && p->ops[j].kind == EOP_BINARY && p->ops[j].bcast == BC_SAME &&
                 p->ops[j].bin == BIN_ADD)
            until[k] = until[j] > j ? until[j] : j;
        for (int i = 0; i < op->n_in; i++)
            if (until[k] > last[eng_root(p, op->in[i])]) last[eng_root(p, op->in[i])] = until[k];
    }
done:
    free(reads), free(reader), free(until);
}

/* First-fit placement of each root buffer in one arena, from the op range over which it (or any
 * alias of it) is alive. The network inputs are written before op 0; the outputs are read after
 * the last op (an R-CNN's first-stage outputs are read earlier, between stages: kept to the end). */
odrt_status_t eng_plan_memory(eng_plan *p) {
    int nt = p->n_tensors;
    int *first = malloc(sizeof(int) * (size_t)(nt + 1)), *last = malloc(sizeof(int) * (size_t)(nt + 1));
    int *order = malloc(sizeof(int) * (size_t)(nt + 1));
    if (!first || !last || !order) {
        free(first), free(last), free(order);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nt; i++) first[i] = p->n_ops + 1, last[i] = -2;
    int ins[ENG_MAX_INPUTS], outs[ENG_MAX_OUTPUTS], n_in = eng_network_inputs(&p->meta, ins), n_out = eng_network_outputs(&p->meta, outs);
    for (int i = 0; i < n_in; i++) { /* inputs are written before op 0 (an R-CNN stage's boxes before its stage: kept from the start) */
        int ti = eng_root(p, ins[i]);
        first[ti] = -1, last[ti] = last[ti] > -1 ? last[ti] : -1;
    }
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *op = &p->ops[k];
        int r = eng_root(p, op->out);
        if (k < first[r]) first[r] = k;
        if (k > last[r]) last[r] = k;
        for (int j = 0; j <= op->n_in; j++) {
            int t = j < op->n_in ? op->in[j] : op->residual;
            if (t < 0) continue;
            r = eng_root(p, t);
            if (k > last[r]) last[r] = k;
            if (k < first[r]) first[r] = k;
        }
    }
    /* a convolution's input stays live over the next two ops when they are convolutions too, so
     * that a backend may run such a chain fused (its output then never overlays its input) */
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *op = &p->ops[k];
        if (op->kind != EOP_CONV || k + 1 >= p->n_ops || p->ops[k + 1].kind != EOP_CONV) continue;
        int r = eng_root(p, op->in[0]), until = k + 2 < p->n_ops && p->ops[k + 2].kind == EOP_CONV ? k + 2 : k + 1;
        if (until > last[r]) last[r] = until;
    }
    extend_fusable(p, last);
    for (int i = 0; i < n_out; i++) { /* the outputs are read after the last op */
        int r = eng_root(p, outs[i]);
        last[r] = p->n_ops;
        if (first[r] > p->n_ops) first[r] = p->n_ops;
    }
    for (int i = 1; i < n_in; i++) last[eng_root(p, ins[i])] = p->n_ops; /* R-CNN boxes: the post-processing reads them after their stage */
    int n = 0;
    for (int i = 0; i < nt; i++)
        if (p->tensors[i].alias < 0 && last[i] >= -1) order[n++] = i;
    /* place in order of first use; a buffer may reuse bytes of buffers dead before it starts */
    int64_t arena = 0;
    for (int a = 0; a < n; a++) {
        int i = order[a];
        int64_t size = (p->tensors[i].numel * 4 + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
        int64_t off = 0;
        for (int moved = 1; moved;) { /* lowest offset not overlapping a live placed buffer */
            moved = 0;
            for (int b = 0; b < a; b++) {
                int j = order[b];
                int64_t js = (p->tensors[j].numel * 4 + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
                int overlap_time = !(last[j] < first[i] || last[i] < first[j]);
                if (overlap_time && off < p->tensors[j].offset + js && p->tensors[j].offset < off + size) {
                    off = p->tensors[j].offset + js;
                    moved = 1;
                }
            }
        }
        p->tensors[i].offset = off;
        if (off + size > arena) arena = off + size;
    }
    for (int i = 0; i < nt; i++)
        if (p->tensors[i].alias >= 0) p->tensors[i].offset = p->tensors[eng_root(p, i)].offset;
    p->arena_bytes = arena;
    free(first), free(last), free(order);
    return ODRT_OK;
}

void eng_plan_free(eng_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->meta.n_labels; i++) free(p->meta.labels[i]);
    free(p->meta.labels);
    free(p->tensors);
    free(p->ops);
    if (p->owns_blob) free(p->blob);
    memset(p, 0, sizeof *p);
}

void *eng_alloc_aligned(size_t n) {
    size_t r = (n + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
    return aligned_alloc(ENG_ALIGN, r ? r : ENG_ALIGN);
}

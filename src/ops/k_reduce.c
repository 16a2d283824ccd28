/* Reductions, ArgMax/ArgMin, TopK, CumSum. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ } redop;

static odrt_status_t reduce(ex_node_ctx *c, redop op) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank;
    int64_t *axes = NULL, na = 0;
    int axes_from_input = c->opset >= 18 || (op == R_SUM && c->opset >= 13);
    if (axes_from_input) {
        if (c->n_in > 1 && c->in[1]) ODRT_TRY(ex_read_ints(c, 1, &axes, &na));
    } else {
        const ir_attr *a = ir_node_attr(c->node, "axes");
        if (a) {
            na = a->n;
            axes = malloc(sizeof(int64_t) * (size_t)(na + 1));
            if (!axes) return ODRT_ERR_NOMEM;
            memcpy(axes, a->ints, sizeof(int64_t) * (size_t)na);
        }
    }
    int keep = (int)ir_attr_int(c->node, "keepdims", 1);
    int red[ODRT_MAX_RANK] = {0};
    odrt_status_t rc = ODRT_OK;
    if (na == 0) {
        if (ir_attr_int(c->node, "noop_with_empty_axes", 0)) {
            free(axes);
            c->out[0] = ex_val_clone(c->in[0]);
            return c->out[0] ? ODRT_OK : ODRT_ERR_NOMEM;
        }
        for (int i = 0; i < r; i++) red[i] = 1;
    }
    for (int64_t i = 0; i < na && rc == ODRT_OK; i++) {
        int a;
        rc = ex_axis(c, axes[i], r, &a);
        if (rc == ODRT_OK) red[a] = 1;
    }
    free(axes);
    ODRT_TRY(rc);
    int64_t d[ODRT_MAX_RANK], kd[ODRT_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < r; i++) {
        kd[i] = red[i] ? 1 : x->dims[i];
        if (!red[i]) d[orank++] = x->dims[i];
        else if (keep) d[orank++] = 1;
    }
    odrt_dtype_t dt = x->dtype;
    ODRT_TRY(ex_out(c, 0, dt, orank, d));
    int64_t no = ex_numel(c->out[0]), n = odrt_tensor_numel(x);
    double *acc = malloc(sizeof(double) * (size_t)(no + 1));
    int64_t *cntv = calloc((size_t)no + 1, sizeof(int64_t));
    if (!acc || !cntv) {
        free(acc);
        free(cntv);
        return ODRT_ERR_NOMEM;
    }
    double init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1 : 0;
    for (int64_t i = 0; i < no; i++) acc[i] = init;
    double mx_for_lse = 0;
    (void)mx_for_lse;
    int64_t ks[ODRT_MAX_RANK], s = 1, cnt[ODRT_MAX_RANK] = {0};
    for (int i = r - 1; i >= 0; i--) ks[i] = red[i] ? 0 : s, s *= kd[i];
    /* float sums accumulate in float like onnxruntime's Eigen path; others in double */
    float *facc = NULL;
    if (dt == ODRT_DT_FLOAT && (op == R_SUM || op == R_MEAN)) {
        facc = calloc((size_t)no + 1, sizeof(float));
        if (!facc) {
            free(acc);
            free(cntv);
            return ODRT_ERR_NOMEM;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t o = 0;
        for (int k = 0; k < r; k++) o += cnt[k] * ks[k];
        double v = ex_get_f(x, i);
        switch (op) {
        case R_SUM: case R_MEAN: if (facc) facc[o] += (float)v; else acc[o] += v; break;
        case R_MAX: if (v > acc[o] || isnan(v)) acc[o] = v; break;
        case R_MIN: if (v < acc[o] || isnan(v)) acc[o] = v; break;
        case R_PROD: acc[o] *= v; break;
        case R_L1: acc[o] += fabs(v); break;
        case R_L2: case R_SUMSQ: acc[o] += v * v; break;
        case R_LOGSUM: acc[o] += v; break;
        case R_LOGSUMEXP: acc[o] += exp(v); break;
        }
        cntv[o]++;
        for (int k = r - 1; k >= 0; k--)
            if (++cnt[k] < x->dims[k]) break;
            else cnt[k] = 0;
    }
    for (int64_t i = 0; i < no; i++) {
        double v = facc ? facc[i] : acc[i];
        if (!cntv[i] && (op == R_MAX || op == R_MIN) && dt != ODRT_DT_FLOAT && dt != ODRT_DT_DOUBLE) {
            /* empty set: identity of the element type (bool false/true, integer min/max) */
            if (dt == ODRT_DT_BOOL) v = op == R_MIN;
            else if (dt == ODRT_DT_INT64 || dt == ODRT_DT_INT32) {
                int64_t iv = op == R_MAX ? (dt == ODRT_DT_INT64 ? INT64_MIN : INT32_MIN) : (dt == ODRT_DT_INT64 ? INT64_MAX : INT32_MAX);
                if (dt == ODRT_DT_INT64) ((int64_t *)c->out[0]->t.data)[i] = iv;
                else ((int32_t *)c->out[0]->t.data)[i] = (int32_t)iv;
                continue;
            } else v = op == R_MAX ? 0 : 255;
        }
        if (op == R_MEAN) v = facc ? (double)(facc[i] / (float)(cntv[i] ? cntv[i] : 1)) : v / (double)(cntv[i] ? cntv[i] : 1);
        if (op == R_L2) v = sqrt(v);
        if (op == R_LOGSUM || op == R_LOGSUMEXP) v = log(v);
        ex_set_f(&c->out[0]->t, i, v);
    }
    free(acc);
    free(cntv);
    free(facc);
    return ODRT_OK;
}

#define RED(name, op) static odrt_status_t k_##name(ex_node_ctx *c) { return reduce(c, op); }
RED(rsum, R_SUM) RED(rmean, R_MEAN) RED(rmax, R_MAX) RED(rmin, R_MIN) RED(rprod, R_PROD) RED(rl1, R_L1)
RED(rl2, R_L2) RED(rlogsum, R_LOGSUM) RED(rlse, R_LOGSUMEXP) RED(rsumsq, R_SUMSQ)

static odrt_status_t argext(ex_node_ctx *c, int is_max) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    int keep = (int)ir_attr_int(c->node, "keepdims", 1), last = (int)ir_attr_int(c->node, "select_last_index", 0);
    int64_t d[ODRT_MAX_RANK], outer = 1, n = x->dims[axis], inner = 1;
    int orank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis) d[orank++] = x->dims[i];
        else if (keep) d[orank++] = 1;
        if (i < axis) outer *= x->dims[i];
        if (i > axis) inner *= x->dims[i];
    }
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, orank, d));
    int64_t *o = c->out[0]->t.data;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t best = 0;
            double bv = ex_get_f(x, a * n * inner + b);
            for (int64_t j = 1; j < n; j++) {
                double v = ex_get_f(x, (a * n + j) * inner + b);
                if (is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv))) bv = v, best = j;
            }
            o[a * inner + b] = best;
        }
    return ODRT_OK;
}
static odrt_status_t k_argmax(ex_node_ctx *c) { return argext(c, 1); }
static odrt_status_t k_argmin(ex_node_ctx *c) { return argext(c, 0); }

/* TopK: ties keep the lower index first (onnxruntime's comparator) */
static odrt_status_t k_topk(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", -1), x->rank, &axis));
    if (c->opset >= 10) ODRT_TRY(ex_need(c, 1));
    int64_t k = c->opset < 10 ? ir_attr_int(c->node, "k", 0) : ex_scalar_i(c->in[1]);
    int largest = (int)ir_attr_int(c->node, "largest", 1);
    int64_t n = x->dims[axis];
    if (k < 0 || k > n) return ex_fail_node(c, ODRT_ERR_INVALID, "k = %lld for axis of %lld", (long long)k, (long long)n);
    int64_t d[ODRT_MAX_RANK], outer = 1, inner = 1;
    memcpy(d, x->dims, sizeof d);
    d[axis] = k;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    ODRT_TRY(ex_out(c, 0, x->dtype, x->rank, d));
    ODRT_TRY(ex_out(c, 1, ODRT_DT_INT64, x->rank, d));
    ex_scored *buf = malloc(sizeof(ex_scored) * (size_t)(n + 1));
    if (!buf) return ODRT_ERR_NOMEM;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            for (int64_t j = 0; j < n; j++) buf[j] = (ex_scored){ex_get_f(x, (a * n + j) * inner + b), j};
            qsort(buf, (size_t)n, sizeof *buf, largest ? ex_scored_desc : ex_scored_asc);
            for (int64_t j = 0; j < k; j++) {
                int64_t o = (a * k + j) * inner + b;
                if (x->dtype == ODRT_DT_INT64) ((int64_t *)c->out[0]->t.data)[o] = ((const int64_t *)x->data)[(a * n + buf[j].i) * inner + b];
                else ex_set_f(&c->out[0]->t, o, buf[j].v);
                ((int64_t *)c->out[1]->t.data)[o] = buf[j].i;
            }
        }
    free(buf);
    return ODRT_OK;
}

static odrt_status_t k_cumsum(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ex_scalar_i(c->in[1]), x->rank, &axis));
    int excl = (int)ir_attr_int(c->node, "exclusive", 0), rev = (int)ir_attr_int(c->node, "reverse", 0);
    ODRT_TRY(ex_out(c, 0, x->dtype, x->rank, x->dims));
    int64_t outer = 1, n = x->dims[axis], inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            double acc = 0;
            int64_t iacc = 0;
            for (int64_t jj = 0; jj < n; jj++) {
                int64_t j = rev ? n - 1 - jj : jj, idx = (a * n + j) * inner + b;
                double v = ex_get_f(x, idx);
                int64_t iv = ex_get_i(x, idx);
                if (!excl) acc += v, iacc += iv;
                if (x->dtype == ODRT_DT_INT64) ((int64_t *)c->out[0]->t.data)[idx] = iacc;
                else ex_set_f(&c->out[0]->t, idx, acc);
                if (excl) acc += v, iacc += iv;
            }
        }
    return ODRT_OK;
}

const ex_kernel ex_kernels_reduce[] = {
    {"", "ReduceSum", k_rsum, sh_reduce}, {"", "ReduceMean", k_rmean, sh_reduce}, {"", "ReduceMax", k_rmax, sh_reduce}, {"", "ReduceMin", k_rmin, sh_reduce},
    {"", "ReduceProd", k_rprod, sh_reduce}, {"", "ReduceL1", k_rl1, sh_reduce}, {"", "ReduceL2", k_rl2, sh_reduce}, {"", "ReduceLogSum", k_rlogsum, sh_reduce},
    {"", "ReduceLogSumExp", k_rlse, sh_reduce}, {"", "ReduceSumSquare", k_rsumsq, sh_reduce}, {"", "ArgMax", k_argmax, sh_reduce},
    {"", "ArgMin", k_argmin, sh_reduce}, {"", "TopK", k_topk, sh_topk}, {"", "CumSum", k_cumsum, sh_same},
    {NULL, NULL, NULL, NULL},
};

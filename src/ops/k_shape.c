/* Shape and data-movement kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Copy a strided view of src into dense dst: element (i0..ir-1) of the output (dims d) reads
 * src[off + sum ik * str[k]] (element units). Shared by Transpose, Slice and Expand. */
static void strided_copy(char *dst, const char *src, size_t es, int r, const int64_t *d, const int64_t *str, int64_t off) {
    int64_t n = 1, cnt[ODRT_MAX_RANK] = {0};
    for (int k = 0; k < r; k++) n *= d[k];
    if (n == 0) return;
    if (r == 0) {
        memcpy(dst, src + (size_t)off * es, es);
        return;
    }
    int64_t inner = d[r - 1], sin = str[r - 1];
    for (int64_t o = 0; o < n; o += inner) {
        if (sin == 1) memcpy(dst + (size_t)o * es, src + (size_t)off * es, (size_t)inner * es);
        else if (es == 4) {
            const uint32_t *s4 = (const uint32_t *)src + off;
            uint32_t *d4 = (uint32_t *)dst + o;
            for (int64_t j = 0; j < inner; j++) d4[j] = s4[j * sin];
        } else
            for (int64_t j = 0; j < inner; j++) memcpy(dst + (size_t)(o + j) * es, src + (size_t)(off + j * sin) * es, es);
        for (int k = r - 2; k >= 0; k--) {
            off += str[k];
            if (++cnt[k] < d[k]) break;
            off -= str[k] * d[k];
            cnt[k] = 0;
        }
    }
}

static odrt_status_t k_shape(ex_node_ctx *c) {
    if (c->n_in < 1 || !c->in[0] || c->in[0]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "tensor input required");
    int r = c->in[0]->t.rank;
    int64_t start = ir_attr_int(c->node, "start", 0), end = ir_attr_int(c->node, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = clamp64(start, 0, r);
    end = clamp64(end, 0, r);
    int64_t n = end > start ? end - start : 0;
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 1, &n));
    for (int64_t i = 0; i < n; i++) ((int64_t *)c->out[0]->t.data)[i] = c->in[0]->t.dims[start + i];
    return ODRT_OK;
}

static odrt_status_t k_size(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 0, NULL));
    *(int64_t *)c->out[0]->t.data = ex_numel(c->in[0]);
    return ODRT_OK;
}

/* copy input 0 into a new output with another shape */
static odrt_status_t reshaped(ex_node_ctx *c, int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (n != ex_numel(c->in[0]))
        return ex_fail_node(c, ODRT_ERR_SHAPE, "cannot reshape %lld elements into %lld", (long long)ex_numel(c->in[0]),
                            (long long)n);
    ODRT_TRY(ex_out(c, 0, c->in[0]->t.dtype, rank, dims));
    memcpy(c->out[0]->t.data, c->in[0]->t.data, c->in[0]->t.nbytes);
    return ODRT_OK;
}

static odrt_status_t k_reshape(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int64_t *sh = NULL, n = 0;
    if (c->opset < 5) {
        const ir_attr *a = ir_node_attr(c->node, "shape");
        if (!a) return ex_fail_node(c, ODRT_ERR_INVALID, "shape attribute missing");
        n = a->n;
        sh = malloc(sizeof(int64_t) * (size_t)(n + 1));
        if (!sh) return ODRT_ERR_NOMEM;
        memcpy(sh, a->ints, sizeof(int64_t) * (size_t)n);
    } else ODRT_TRY(ex_read_ints(c, 1, &sh, &n));
    if (n > ODRT_MAX_RANK) {
        free(sh);
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %lld", (long long)n);
    }
    int allowzero = (int)ir_attr_int(c->node, "allowzero", 0);
    int64_t dims[ODRT_MAX_RANK], known = 1;
    int infer = -1;
    odrt_status_t rc = ODRT_OK;
    for (int i = 0; i < n; i++) {
        dims[i] = sh[i];
        if (sh[i] == 0 && !allowzero) {
            if (i >= c->in[0]->t.rank) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "0 at dim %d beyond input rank", i);
            else dims[i] = c->in[0]->t.dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "more than one -1");
            infer = i;
        } else if (dims[i] < 0) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "negative dim %lld", (long long)dims[i]);
        else known *= dims[i];
    }
    free(sh);
    ODRT_TRY(rc);
    if (infer >= 0) {
        if (known == 0 || ex_numel(c->in[0]) % known)
            return ex_fail_node(c, ODRT_ERR_SHAPE, "cannot infer -1 dim for %lld elements", (long long)ex_numel(c->in[0]));
        dims[infer] = ex_numel(c->in[0]) / known;
    }
    return reshaped(c, (int)n, dims);
}

static odrt_status_t k_flatten(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int r = c->in[0]->t.rank, axis;
    int64_t a = ir_attr_int(c->node, "axis", 1);
    if (a < -r || a > r) return ex_fail_node(c, ODRT_ERR_INVALID, "axis %lld", (long long)a);
    axis = (int)(a < 0 ? a + r : a);
    int64_t d[2] = {1, 1};
    for (int i = 0; i < r; i++) d[i >= axis] *= c->in[0]->t.dims[i];
    return reshaped(c, 2, d);
}

static odrt_status_t axes_of(ex_node_ctx *c, int input, int64_t **axes, int64_t *n) {
    *axes = NULL;
    *n = 0;
    if (c->opset >= 13) {
        if (c->n_in > input && c->in[input]) return ex_read_ints(c, input, axes, n);
        return ODRT_OK;
    }
    const ir_attr *a = ir_node_attr(c->node, "axes");
    if (!a) return ODRT_OK;
    *axes = malloc(sizeof(int64_t) * (size_t)(a->n + 1));
    if (!*axes) return ODRT_ERR_NOMEM;
    memcpy(*axes, a->ints, sizeof(int64_t) * (size_t)a->n);
    *n = a->n;
    return ODRT_OK;
}

static odrt_status_t k_squeeze(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int64_t *axes, na;
    ODRT_TRY(axes_of(c, 1, &axes, &na));
    const odrt_tensor_t *x = &c->in[0]->t;
    int drop[ODRT_MAX_RANK] = {0};
    odrt_status_t rc = ODRT_OK;
    for (int64_t i = 0; i < na && rc == ODRT_OK; i++) {
        int ax;
        rc = ex_axis(c, axes[i], x->rank, &ax);
        if (rc == ODRT_OK && x->dims[ax] != 1) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "cannot squeeze dim %d of size %lld", ax, (long long)x->dims[ax]);
        if (rc == ODRT_OK) drop[ax] = 1;
    }
    free(axes);
    ODRT_TRY(rc);
    int64_t d[ODRT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(na ? drop[i] : x->dims[i] == 1)) d[r++] = x->dims[i];
    return reshaped(c, r, d);
}

static odrt_status_t k_unsqueeze(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int64_t *axes, na;
    ODRT_TRY(axes_of(c, 1, &axes, &na));
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank + (int)na;
    if (r > ODRT_MAX_RANK) {
        free(axes);
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %d", r);
    }
    int ins[ODRT_MAX_RANK] = {0};
    odrt_status_t rc = ODRT_OK;
    for (int64_t i = 0; i < na && rc == ODRT_OK; i++) {
        int ax;
        rc = ex_axis(c, axes[i], r, &ax);
        if (rc == ODRT_OK && ins[ax]) rc = ex_fail_node(c, ODRT_ERR_INVALID, "repeated axis");
        if (rc == ODRT_OK) ins[ax] = 1;
    }
    free(axes);
    ODRT_TRY(rc);
    int64_t d[ODRT_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) d[i] = ins[i] ? 1 : x->dims[k++];
    return reshaped(c, r, d);
}

static odrt_status_t k_transpose(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank, perm[ODRT_MAX_RANK];
    const ir_attr *pa = ir_node_attr(c->node, "perm");
    if (pa && pa->n != r) return ex_fail_node(c, ODRT_ERR_INVALID, "perm has %d entries for rank %d", pa->n, r);
    int seen[ODRT_MAX_RANK] = {0};
    for (int i = 0; i < r; i++) {
        int64_t pv = pa ? pa->ints[i] : r - 1 - i;
        if (pv < 0 || pv >= r || seen[pv]++) return ex_fail_node(c, ODRT_ERR_INVALID, "bad perm");
        perm[i] = (int)pv;
    }
    int64_t d[ODRT_MAX_RANK], in_str[ODRT_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) in_str[i] = s, s *= x->dims[i];
    for (int i = 0; i < r; i++) d[i] = x->dims[perm[i]];
    ODRT_TRY(ex_out(c, 0, x->dtype, r, d));
    int64_t str[ODRT_MAX_RANK];
    for (int i = 0; i < r; i++) str[i] = in_str[perm[i]];
    strided_copy(c->out[0]->t.data, x->data, odrt_dtype_size(x->dtype), r, d, str, 0);
    return ODRT_OK;
}

static odrt_status_t k_concat(ex_node_ctx *c) {
    int first = -1;
    for (int k = 0; k < c->n_in; k++)
        if (c->in[k]) { first = k; break; }
    if (first < 0) return ex_fail_node(c, ODRT_ERR_INVALID, "no inputs");
    ODRT_TRY(ex_need(c, first));
    const odrt_tensor_t *x0 = &c->in[first]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x0->rank, &axis));
    int64_t d[ODRT_MAX_RANK];
    memcpy(d, x0->dims, sizeof d);
    d[axis] = 0;
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k]) continue;
        ODRT_TRY(ex_need(c, k));
        const odrt_tensor_t *x = &c->in[k]->t;
        if (x->rank != x0->rank || x->dtype != x0->dtype)
            return ex_fail_node(c, ODRT_ERR_SHAPE, "input %d rank/type differs", k);
        for (int i = 0; i < x->rank; i++)
            if (i != axis && x->dims[i] != x0->dims[i])
                return ex_fail_node(c, ODRT_ERR_SHAPE, "input %d dim %d is %lld, expected %lld", k, i,
                                    (long long)x->dims[i], (long long)x0->dims[i]);
        d[axis] += x->dims[axis];
    }
    ODRT_TRY(ex_out(c, 0, x0->dtype, x0->rank, d));
    size_t es = odrt_dtype_size(x0->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= d[i];
    for (int i = axis + 1; i < x0->rank; i++) inner *= d[i];
    char *dst = c->out[0]->t.data;
    size_t row = (size_t)(d[axis] * inner) * es, off = 0;
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k]) continue;
        const odrt_tensor_t *x = &c->in[k]->t;
        size_t chunk = (size_t)(x->dims[axis] * inner) * es;
        for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * row + off, (const char *)x->data + (size_t)o * chunk, chunk);
        off += chunk;
    }
    return ODRT_OK;
}

static odrt_status_t k_split(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    int64_t *sp = NULL, ns = 0;
    if (c->opset >= 13 && c->n_in > 1 && c->in[1]) ODRT_TRY(ex_read_ints(c, 1, &sp, &ns));
    else if (c->opset < 13) {
        const ir_attr *a = ir_node_attr(c->node, "split");
        if (a) {
            ns = a->n;
            sp = malloc(sizeof(int64_t) * (size_t)(ns + 1));
            if (!sp) return ODRT_ERR_NOMEM;
            memcpy(sp, a->ints, sizeof(int64_t) * (size_t)ns);
        }
    }
    int n_out = c->n_out;
    int64_t total = x->dims[axis];
    if (!sp) {
        sp = malloc(sizeof(int64_t) * (size_t)(n_out + 1));
        if (!sp) return ODRT_ERR_NOMEM;
        int64_t per = (total + n_out - 1) / n_out; /* opset 18: last chunk may be smaller */
        if (c->opset < 18 && total % n_out) {
            free(sp);
            return ex_fail_node(c, ODRT_ERR_SHAPE, "dim %lld not divisible into %d outputs", (long long)total, n_out);
        }
        for (int i = 0; i < n_out; i++) sp[i] = clamp64(total - per * i, 0, per);
        ns = n_out;
    }
    int64_t sum = 0;
    for (int i = 0; i < ns; i++) sum += sp[i];
    if (ns != n_out || sum != total) {
        free(sp);
        return ex_fail_node(c, ODRT_ERR_SHAPE, "split sizes do not add up to %lld", (long long)total);
    }
    size_t es = odrt_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t row = (size_t)(total * inner) * es, off = 0;
    odrt_status_t rc = ODRT_OK;
    for (int k = 0; k < n_out && rc == ODRT_OK; k++) {
        int64_t d[ODRT_MAX_RANK];
        memcpy(d, x->dims, sizeof d);
        d[axis] = sp[k];
        rc = ex_out(c, k, x->dtype, x->rank, d);
        if (rc != ODRT_OK) break;
        size_t chunk = (size_t)(sp[k] * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)c->out[k]->t.data + (size_t)o * chunk, (const char *)x->data + (size_t)o * row + off, chunk);
        off += chunk;
    }
    free(sp);
    return rc;
}

/* Slice: opset < 10 attributes starts/ends/axes; >= 10 inputs starts, ends, axes, steps */
static odrt_status_t k_slice(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int64_t *st = NULL, *en = NULL, *ax = NULL, *sp = NULL, ns = 0, ne = 0, na = 0, np = 0;
    odrt_status_t rc = ODRT_OK;
    if (c->opset < 10) {
        const ir_attr *a = ir_node_attr(c->node, "starts"), *b = ir_node_attr(c->node, "ends"),
                      *d = ir_node_attr(c->node, "axes");
        if (!a || !b) return ex_fail_node(c, ODRT_ERR_INVALID, "starts/ends missing");
        st = a->ints, ns = a->n, en = b->ints, ne = b->n;
        if (d) ax = d->ints, na = d->n;
    } else {
        if ((rc = ex_read_ints(c, 1, &st, &ns)) != ODRT_OK) goto done;
        if ((rc = ex_read_ints(c, 2, &en, &ne)) != ODRT_OK) goto done;
        if (c->n_in > 3 && c->in[3] && (rc = ex_read_ints(c, 3, &ax, &na)) != ODRT_OK) goto done;
        if (c->n_in > 4 && c->in[4] && (rc = ex_read_ints(c, 4, &sp, &np)) != ODRT_OK) goto done;
    }
    if (ns != ne || (ax && na != ns) || (sp && np != ns)) {
        rc = ex_fail_node(c, ODRT_ERR_INVALID, "starts/ends/axes/steps lengths differ");
        goto done;
    }
    int64_t start[ODRT_MAX_RANK], step[ODRT_MAX_RANK], d[ODRT_MAX_RANK];
    for (int i = 0; i < x->rank; i++) start[i] = 0, step[i] = 1, d[i] = x->dims[i];
    int seen[ODRT_MAX_RANK] = {0};
    for (int64_t i = 0; i < ns && rc == ODRT_OK; i++) {
        int a;
        if ((rc = ex_axis(c, ax ? ax[i] : i, x->rank, &a)) != ODRT_OK) break;
        if (seen[a]++) { rc = ex_fail_node(c, ODRT_ERR_INVALID, "repeated axis"); break; }
        int64_t dim = x->dims[a], s = sp ? sp[i] : 1, b = st[i], e = en[i];
        if (s == 0) { rc = ex_fail_node(c, ODRT_ERR_INVALID, "step 0"); break; }
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (s > 0) {
            b = clamp64(b, 0, dim);
            e = clamp64(e, 0, dim);
            d[a] = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = clamp64(b, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
            d[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
        }
        start[a] = b;
        step[a] = s;
    }
    if (rc != ODRT_OK) goto done;
    if ((rc = ex_out(c, 0, x->dtype, x->rank, d)) != ODRT_OK) goto done;
    {
        int64_t str[ODRT_MAX_RANK], sstr[ODRT_MAX_RANK], sz = 1, off = 0;
        for (int i = x->rank - 1; i >= 0; i--) str[i] = sz, sz *= x->dims[i];
        for (int i = 0; i < x->rank; i++) off += start[i] * str[i], sstr[i] = step[i] * str[i];
        strided_copy(c->out[0]->t.data, x->data, odrt_dtype_size(x->dtype), x->rank, d, sstr, off);
    }
done:
    if (c->opset >= 10) free(st), free(en), free(ax), free(sp);
    return rc;
}

static odrt_status_t k_gather(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *ind = &c->in[1]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    int r = x->rank - 1 + ind->rank;
    if (r > ODRT_MAX_RANK) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %d", r);
    int64_t d[ODRT_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) d[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++) d[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++) d[k++] = x->dims[i];
    ODRT_TRY(ex_out(c, 0, x->dtype, r, d));
    size_t es = odrt_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, ni = odrt_tensor_numel(ind), dim = x->dims[axis];
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t chunk = (size_t)inner * es;
    char *dst = c->out[0]->t.data;
    for (int64_t j = 0; j < ni; j++) {
        int64_t idx = ex_get_i(ind, j);
        if (idx < 0) idx += dim;
        if (idx < 0 || idx >= dim)
            return ex_fail_node(c, ODRT_ERR_INVALID, "index %lld out of range [0, %lld)", (long long)ex_get_i(ind, j), (long long)dim);
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + (size_t)(o * ni + j) * chunk, (const char *)x->data + (size_t)(o * dim + idx) * chunk, chunk);
    }
    return ODRT_OK;
}

static odrt_status_t k_gather_elements(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *ind = &c->in[1]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    if (ind->rank != x->rank) return ex_fail_node(c, ODRT_ERR_SHAPE, "indices rank differs");
    ODRT_TRY(ex_out(c, 0, x->dtype, ind->rank, ind->dims));
    size_t es = odrt_dtype_size(x->dtype);
    int64_t n = odrt_tensor_numel(ind), xs[ODRT_MAX_RANK], s = 1, cnt[ODRT_MAX_RANK] = {0};
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int64_t j = 0; j < n; j++) {
        int64_t idx = ex_get_i(ind, j), off = 0;
        if (idx < 0) idx += x->dims[axis];
        if (idx < 0 || idx >= x->dims[axis]) return ex_fail_node(c, ODRT_ERR_INVALID, "index out of range");
        for (int i = 0; i < x->rank; i++) off += (i == axis ? idx : cnt[i]) * xs[i];
        memcpy((char *)c->out[0]->t.data + (size_t)j * es, (const char *)x->data + (size_t)off * es, es);
        for (int i = x->rank - 1; i >= 0; i--)
            if (++cnt[i] < ind->dims[i]) break;
            else cnt[i] = 0;
    }
    return ODRT_OK;
}

static odrt_status_t k_gather_nd(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *ind = &c->in[1]->t;
    int b = (int)ir_attr_int(c->node, "batch_dims", 0);
    if (ind->rank < 1) return ex_fail_node(c, ODRT_ERR_SHAPE, "indices must have rank >= 1");
    int64_t q = ind->dims[ind->rank - 1];
    if (b < 0 || b + q > x->rank || b >= ind->rank) return ex_fail_node(c, ODRT_ERR_SHAPE, "bad indices shape");
    int64_t d[ODRT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < ind->rank - 1; i++) d[r++] = ind->dims[i];
    for (int i = b + (int)q; i < x->rank; i++) {
        if (r >= ODRT_MAX_RANK) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank too large");
        d[r++] = x->dims[i];
    }
    ODRT_TRY(ex_out(c, 0, x->dtype, r, d));
    size_t es = odrt_dtype_size(x->dtype);
    int64_t xs[ODRT_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    int64_t slice = 1, batch = 1, per_batch = 1;
    for (int i = b + (int)q; i < x->rank; i++) slice *= x->dims[i];
    for (int i = 0; i < b; i++) batch *= ind->dims[i];
    for (int i = b; i < ind->rank - 1; i++) per_batch *= ind->dims[i];
    int64_t xbatch = b ? xs[b - 1] : 0;
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t j = 0; j < per_batch; j++) {
            int64_t row = bi * per_batch + j, off = bi * xbatch;
            for (int64_t k = 0; k < q; k++) {
                int64_t idx = ex_get_i(ind, row * q + k), dim = x->dims[b + k];
                if (idx < 0) idx += dim;
                if (idx < 0 || idx >= dim) return ex_fail_node(c, ODRT_ERR_INVALID, "index out of range");
                off += idx * xs[b + k];
            }
            memcpy((char *)c->out[0]->t.data + (size_t)(row * slice) * es, (const char *)x->data + (size_t)off * es,
                   (size_t)slice * es);
        }
    return ODRT_OK;
}

static odrt_status_t k_scatter_nd(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *x = &c->in[0]->t, *ind = &c->in[1]->t, *up = &c->in[2]->t;
    const char *red = ir_attr_str(c->node, "reduction", "none");
    c->out[0] = ex_val_clone(c->in[0]);
    if (!c->out[0]) return ODRT_ERR_NOMEM;
    if (ind->rank < 1) return ex_fail_node(c, ODRT_ERR_SHAPE, "indices rank < 1");
    int64_t q = ind->dims[ind->rank - 1];
    if (q > x->rank) return ex_fail_node(c, ODRT_ERR_SHAPE, "index depth > rank");
    int64_t xs[ODRT_MAX_RANK], s = 1, slice = 1, n = 1;
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int i = (int)q; i < x->rank; i++) slice *= x->dims[i];
    for (int i = 0; i < ind->rank - 1; i++) n *= ind->dims[i];
    if (odrt_tensor_numel(up) != n * slice) return ex_fail_node(c, ODRT_ERR_SHAPE, "updates shape mismatch");
    for (int64_t j = 0; j < n; j++) {
        int64_t off = 0;
        for (int64_t k = 0; k < q; k++) {
            int64_t idx = ex_get_i(ind, j * q + k);
            if (idx < 0) idx += x->dims[k];
            if (idx < 0 || idx >= x->dims[k]) return ex_fail_node(c, ODRT_ERR_INVALID, "index out of range");
            off += idx * xs[k];
        }
        for (int64_t e = 0; e < slice; e++) {
            double u = ex_get_f(up, j * slice + e), v = ex_get_f(&c->out[0]->t, off + e);
            double r = !strcmp(red, "add") ? v + u : !strcmp(red, "mul") ? v * u : !strcmp(red, "max") ? (u > v ? u : v)
                     : !strcmp(red, "min") ? (u < v ? u : v) : u;
            if (x->dtype == ODRT_DT_INT64 && !strcmp(red, "none")) ((int64_t *)c->out[0]->t.data)[off + e] = ex_get_i(up, j * slice + e);
            else ex_set_f(&c->out[0]->t, off + e, r);
        }
    }
    return ODRT_OK;
}

static odrt_status_t k_scatter_elements(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *x = &c->in[0]->t, *ind = &c->in[1]->t, *up = &c->in[2]->t;
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 0), x->rank, &axis));
    const char *red = ir_attr_str(c->node, "reduction", "none");
    c->out[0] = ex_val_clone(c->in[0]);
    if (!c->out[0]) return ODRT_ERR_NOMEM;
    if (ind->rank != x->rank) return ex_fail_node(c, ODRT_ERR_SHAPE, "indices rank differs");
    int64_t xs[ODRT_MAX_RANK], s = 1, cnt[ODRT_MAX_RANK] = {0}, n = odrt_tensor_numel(ind);
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int64_t j = 0; j < n; j++) {
        int64_t idx = ex_get_i(ind, j), off = 0;
        if (idx < 0) idx += x->dims[axis];
        if (idx < 0 || idx >= x->dims[axis]) return ex_fail_node(c, ODRT_ERR_INVALID, "index out of range");
        for (int i = 0; i < x->rank; i++) off += (i == axis ? idx : cnt[i]) * xs[i];
        double u = ex_get_f(up, j), v = ex_get_f(&c->out[0]->t, off);
        double r = !strcmp(red, "add") ? v + u : !strcmp(red, "mul") ? v * u : !strcmp(red, "max") ? (u > v ? u : v)
                 : !strcmp(red, "min") ? (u < v ? u : v) : u;
        ex_set_f(&c->out[0]->t, off, r);
        for (int i = x->rank - 1; i >= 0; i--)
            if (++cnt[i] < ind->dims[i]) break;
            else cnt[i] = 0;
    }
    return ODRT_OK;
}

/* broadcast input 0 to shape d (rank r) */
static odrt_status_t broadcast_to(ex_node_ctx *c, int r, const int64_t *d) {
    const odrt_tensor_t *x = &c->in[0]->t;
    ODRT_TRY(ex_out(c, 0, x->dtype, r, d));
    int64_t st[ODRT_MAX_RANK];
    ex_bcast_strides(x->rank, x->dims, r, d, st);
    strided_copy(c->out[0]->t.data, x->data, odrt_dtype_size(x->dtype), r, d, st, 0);
    return ODRT_OK;
}

static odrt_status_t k_expand(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    int64_t *sh, n;
    ODRT_TRY(ex_read_ints(c, 1, &sh, &n));
    if (n > ODRT_MAX_RANK) {
        free(sh);
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %lld", (long long)n);
    }
    int r;
    int64_t d[ODRT_MAX_RANK];
    odrt_status_t rc = ex_broadcast(c, c->in[0]->t.rank, c->in[0]->t.dims, (int)n, sh, &r, d);
    free(sh);
    ODRT_TRY(rc);
    return broadcast_to(c, r, d);
}

static odrt_status_t k_tile(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int64_t *rep, n;
    ODRT_TRY(ex_read_ints(c, 1, &rep, &n));
    if (n != x->rank) {
        free(rep);
        return ex_fail_node(c, ODRT_ERR_SHAPE, "repeats has %lld entries for rank %d", (long long)n, x->rank);
    }
    int64_t d[ODRT_MAX_RANK];
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[i] * (rep[i] < 0 ? 0 : rep[i]);
    free(rep);
    ODRT_TRY(ex_out(c, 0, x->dtype, x->rank, d));
    size_t es = odrt_dtype_size(x->dtype);
    int64_t no = ex_numel(c->out[0]), cnt[ODRT_MAX_RANK] = {0}, xs[ODRT_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int64_t o = 0; o < no; o++) {
        int64_t off = 0;
        for (int i = 0; i < x->rank; i++) off += (cnt[i] % x->dims[i]) * xs[i];
        memcpy((char *)c->out[0]->t.data + (size_t)o * es, (const char *)x->data + (size_t)off * es, es);
        for (int i = x->rank - 1; i >= 0; i--)
            if (++cnt[i] < d[i]) break;
            else cnt[i] = 0;
    }
    return ODRT_OK;
}

static odrt_status_t k_pad(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int r = x->rank;
    int64_t *pads = NULL, np = 0, *axes = NULL, na = 0;
    double cval = 0;
    const char *mode = ir_attr_str(c->node, "mode", "constant");
    if (c->opset < 11) {
        const ir_attr *a = ir_node_attr(c->node, "pads");
        if (!a) return ex_fail_node(c, ODRT_ERR_INVALID, "pads missing");
        np = a->n;
        pads = malloc(sizeof(int64_t) * (size_t)(np + 1));
        if (!pads) return ODRT_ERR_NOMEM;
        memcpy(pads, a->ints, sizeof(int64_t) * (size_t)np);
        cval = ir_attr_float(c->node, "value", 0);
    } else {
        ODRT_TRY(ex_read_ints(c, 1, &pads, &np));
        if (c->n_in > 2 && c->in[2] && ex_numel(c->in[2])) cval = ex_scalar_f(c->in[2]);
        if (c->n_in > 3 && c->in[3]) {
            odrt_status_t rc = ex_read_ints(c, 3, &axes, &na);
            if (rc != ODRT_OK) {
                free(pads);
                return rc;
            }
        }
    }
    int64_t pb[ODRT_MAX_RANK] = {0}, pe[ODRT_MAX_RANK] = {0};
    int64_t nax = axes ? na : r;
    odrt_status_t rc = ODRT_OK;
    if (np != 2 * nax) rc = ex_fail_node(c, ODRT_ERR_INVALID, "pads has %lld entries, expected %lld", (long long)np, (long long)(2 * nax));
    for (int64_t i = 0; i < nax && rc == ODRT_OK; i++) {
        int a = (int)i;
        if (axes) rc = ex_axis(c, axes[i], r, &a);
        pb[a] = pads[i];
        pe[a] = pads[i + nax];
    }
    free(pads);
    free(axes);
    ODRT_TRY(rc);
    int64_t d[ODRT_MAX_RANK];
    for (int i = 0; i < r; i++) {
        d[i] = x->dims[i] + pb[i] + pe[i];
        if (d[i] < 0) return ex_fail_node(c, ODRT_ERR_SHAPE, "negative padded dim");
    }
    int m = !strcmp(mode, "constant") ? 0 : !strcmp(mode, "reflect") ? 1 : !strcmp(mode, "edge") ? 2 : !strcmp(mode, "wrap") ? 3 : -1;
    if (m < 0) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "pad mode '%s'", mode);
    ODRT_TRY(ex_out(c, 0, x->dtype, r, d));
    size_t es = odrt_dtype_size(x->dtype);
    int64_t no = ex_numel(c->out[0]), cnt[ODRT_MAX_RANK] = {0}, xs[ODRT_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int64_t o = 0; o < no; o++) {
        int64_t off = 0;
        int outside = 0;
        for (int i = 0; i < r; i++) {
            int64_t p = cnt[i] - pb[i], n = x->dims[i];
            if (p < 0 || p >= n) {
                if (m == 0 || n == 0) outside = 1;
                else if (m == 2) p = p < 0 ? 0 : n - 1;
                else if (m == 3) p = ((p % n) + n) % n;
                else {
                    if (n == 1) p = 0;
                    else {
                        int64_t period = 2 * (n - 1);
                        p = ((p % period) + period) % period;
                        if (p >= n) p = period - p;
                    }
                }
            }
            off += p * xs[i];
        }
        if (outside) ex_set_f(&c->out[0]->t, o, cval);
        else memcpy((char *)c->out[0]->t.data + (size_t)o * es, (const char *)x->data + (size_t)off * es, es);
        for (int i = r - 1; i >= 0; i--)
            if (++cnt[i] < d[i]) break;
            else cnt[i] = 0;
    }
    return ODRT_OK;
}

static odrt_status_t tensor_from_ir(ex_node_ctx *c, const ir_tensor *t) {
    if (t->dtype == ODRT_DT_STRING) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "string tensors");
    if (t->rank > ODRT_MAX_RANK) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %d", t->rank);
    ODRT_TRY(ex_out(c, 0, (odrt_dtype_t)t->dtype, t->rank, t->dims));
    memcpy(c->out[0]->t.data, t->data, t->nbytes);
    return ODRT_OK;
}

static odrt_status_t k_constant(ex_node_ctx *c) {
    const ir_attr *a;
    if ((a = ir_node_attr(c->node, "value")) && a->type == IR_ATTR_TENSOR) return tensor_from_ir(c, a->t);
    int64_t one = 1;
    if ((a = ir_node_attr(c->node, "value_float"))) {
        ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, 0, NULL));
        *(float *)c->out[0]->t.data = a->f;
        return ODRT_OK;
    }
    if ((a = ir_node_attr(c->node, "value_int"))) {
        ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 0, NULL));
        *(int64_t *)c->out[0]->t.data = a->i;
        return ODRT_OK;
    }
    if ((a = ir_node_attr(c->node, "value_floats"))) {
        one = a->n;
        ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, 1, &one));
        memcpy(c->out[0]->t.data, a->floats, sizeof(float) * (size_t)a->n);
        return ODRT_OK;
    }
    if ((a = ir_node_attr(c->node, "value_ints"))) {
        one = a->n;
        ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 1, &one));
        memcpy(c->out[0]->t.data, a->ints, sizeof(int64_t) * (size_t)a->n);
        return ODRT_OK;
    }
    return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "Constant without a supported value attribute");
}

static odrt_status_t k_constant_of_shape(ex_node_ctx *c) {
    int64_t *sh, n;
    ODRT_TRY(ex_read_ints(c, 0, &sh, &n));
    if (n > ODRT_MAX_RANK) {
        free(sh);
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "rank %lld", (long long)n);
    }
    const ir_attr *a = ir_node_attr(c->node, "value");
    odrt_dtype_t dt = a && a->t ? (odrt_dtype_t)a->t->dtype : ODRT_DT_FLOAT;
    odrt_status_t rc = ex_out(c, 0, dt, (int)n, sh);
    free(sh);
    ODRT_TRY(rc);
    if (a && a->t && a->t->numel == 1) {
        size_t es = odrt_dtype_size(dt);
        for (int64_t i = 0; i < ex_numel(c->out[0]); i++) memcpy((char *)c->out[0]->t.data + (size_t)i * es, a->t->data, es);
    }
    return ODRT_OK;
}

static odrt_status_t k_range(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    odrt_dtype_t dt = c->in[0]->t.dtype;
    double st = ex_scalar_f(c->in[0]), lim = ex_scalar_f(c->in[1]), dl = ex_scalar_f(c->in[2]);
    if (dl == 0) return ex_fail_node(c, ODRT_ERR_INVALID, "delta is 0");
    double cnt = ceil((lim - st) / dl);
    int64_t n = cnt > 0 ? (int64_t)cnt : 0;
    if (n > ((int64_t)1 << 32)) return ex_fail_node(c, ODRT_ERR_NOMEM, "range of %lld elements", (long long)n);
    ODRT_TRY(ex_out(c, 0, dt, 1, &n));
    if (dt == ODRT_DT_INT64 || dt == ODRT_DT_INT32) {
        int64_t s = ex_scalar_i(c->in[0]), d = ex_scalar_i(c->in[2]);
        for (int64_t i = 0; i < n; i++) ex_set_f(&c->out[0]->t, i, (double)(s + i * d));
        if (dt == ODRT_DT_INT64)
            for (int64_t i = 0; i < n; i++) ((int64_t *)c->out[0]->t.data)[i] = s + i * d;
    } else {
        for (int64_t i = 0; i < n; i++) ex_set_f(&c->out[0]->t, i, st + (double)i * dl);
        if (dt == ODRT_DT_FLOAT) { /* float accumulation as ORT: start + i*delta in float */
            float fs = (float)st, fd = (float)dl;
            for (int64_t i = 0; i < n; i++) ((float *)c->out[0]->t.data)[i] = fs + (float)i * fd;
        }
    }
    return ODRT_OK;
}

static odrt_status_t k_nonzero(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    int64_t n = odrt_tensor_numel(x), cntnz = 0;
    for (int64_t i = 0; i < n; i++) cntnz += ex_get_f(x, i) != 0;
    int r = x->rank ? x->rank : 1;
    int64_t d[2] = {r, cntnz};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT64, 2, d));
    int64_t *o = c->out[0]->t.data, k = 0, cnt[ODRT_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (ex_get_f(x, i) != 0) {
            for (int j = 0; j < x->rank; j++) o[j * cntnz + k] = cnt[j];
            if (!x->rank) o[k] = 0;
            k++;
        }
        for (int j = x->rank - 1; j >= 0; j--)
            if (++cnt[j] < x->dims[j]) break;
            else cnt[j] = 0;
    }
    return ODRT_OK;
}

static odrt_status_t depth_space(ex_node_ctx *c, int to_space) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->rank != 4 || x->dtype != ODRT_DT_FLOAT) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "needs 4-D float");
    int64_t b = ir_attr_int(c->node, "blocksize", 0), N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (b <= 0) return ex_fail_node(c, ODRT_ERR_INVALID, "blocksize");
    int crd = !strcmp(ir_attr_str(c->node, "mode", "DCR"), "CRD");
    const float *in = x->data;
    if (to_space) {
        if (C % (b * b)) return ex_fail_node(c, ODRT_ERR_SHAPE, "channels not divisible");
        int64_t Co = C / (b * b), d[4] = {N, Co, H * b, W * b};
        ODRT_TRY(ex_out(c, 0, x->dtype, 4, d));
        float *o = c->out[0]->t.data;
        for (int64_t n = 0; n < N; n++) for (int64_t co = 0; co < Co; co++) for (int64_t h = 0; h < H * b; h++)
            for (int64_t w = 0; w < W * b; w++) {
                int64_t bh = h % b, bw = w % b;
                int64_t ci = crd ? co * b * b + bh * b + bw : (bh * b + bw) * Co + co;
                o[((n * Co + co) * H * b + h) * W * b + w] = in[((n * C + ci) * H + h / b) * W + w / b];
            }
    } else {
        if (H % b || W % b) return ex_fail_node(c, ODRT_ERR_SHAPE, "spatial dims not divisible");
        int64_t d[4] = {N, C * b * b, H / b, W / b};
        ODRT_TRY(ex_out(c, 0, x->dtype, 4, d));
        float *o = c->out[0]->t.data;
        for (int64_t n = 0; n < N; n++) for (int64_t ci = 0; ci < C; ci++) for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                int64_t co = crd ? ci * b * b + (h % b) * b + (w % b) : ((h % b) * b + (w % b)) * C + ci;
                o[((n * d[1] + co) * d[2] + h / b) * d[3] + w / b] = in[((n * C + ci) * H + h) * W + w];
            }
    }
    return ODRT_OK;
}
static odrt_status_t k_depth_to_space(ex_node_ctx *c) { return depth_space(c, 1); }
static odrt_status_t k_space_to_depth(ex_node_ctx *c) { return depth_space(c, 0); }

const ex_kernel ex_kernels_shape[] = {
    {"", "Shape", k_shape, sh_shape}, {"", "Size", k_size, NULL}, {"", "Reshape", k_reshape, sh_reshape}, {"", "Flatten", k_flatten, sh_flatten},
    {"", "Squeeze", k_squeeze, sh_squeeze}, {"", "Unsqueeze", k_unsqueeze, sh_unsqueeze}, {"", "Transpose", k_transpose, sh_transpose},
    {"", "Concat", k_concat, sh_concat}, {"", "Split", k_split, sh_split}, {"", "Slice", k_slice, sh_slice}, {"", "Gather", k_gather, sh_gather},
    {"", "GatherElements", k_gather_elements, sh_gather_elements}, {"", "GatherND", k_gather_nd, sh_gather_nd}, {"", "ScatterND", k_scatter_nd, sh_dtype_only},
    {"", "ScatterElements", k_scatter_elements, sh_dtype_only}, {"", "Expand", k_expand, sh_dtype_only}, {"", "Tile", k_tile, sh_keep_rank}, {"", "Pad", k_pad, sh_pad},
    {"", "Constant", k_constant, NULL}, {"", "ConstantOfShape", k_constant_of_shape, sh_constant_of_shape}, {"", "Range", k_range, sh_range},
    {"", "NonZero", k_nonzero, sh_nonzero}, {"", "DepthToSpace", k_depth_to_space, NULL}, {"", "SpaceToDepth", k_space_to_depth, NULL},
    {NULL, NULL, NULL, NULL},
};

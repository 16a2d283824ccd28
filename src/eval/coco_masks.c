/* COCO masks as pycocotools computes them (its maskApi semantics, written here): run-length
 * encodings (column-major runs, zeros first) from the compressed string form, from uncompressed
 * count lists and from polygons (rasterised at 5x, boundary points sampled per column, as
 * rleFrPoly; a first polygon of exactly 4 numbers makes them boxes, as frPyObjects decides), their
 * union (several polygons of one object), areas, boxes and IoUs (a crowd's union is the detection's
 * area; no overlap of the boxes, or no intersection, gives 0). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "eval/coco.h"

void coco_rle_free(coco_rle *r) {
    if (!r) return;
    free(r->cnts);
    memset(r, 0, sizeof *r);
}

static int rle_check(const coco_rle *r) {
    uint64_t sum = 0;
    for (size_t i = 0; i < r->m; i++) sum += r->cnts[i];
    return sum == (uint64_t)r->h * (uint64_t)r->w;
}

odrt_status_t coco_rle_from_string(const char *s, int64_t h, int64_t w, coco_rle *r) {
    memset(r, 0, sizeof *r);
    size_t len = strlen(s);
    if (h < 0 || w < 0 || h > (1 << 20) || w > (1 << 20)) return odrt_fail(ODRT_ERR_INVALID, "mask size %lldx%lld", (long long)h, (long long)w);
    r->cnts = malloc(sizeof(uint32_t) * (len + 1));
    if (!r->cnts) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    r->h = h, r->w = w;
    for (size_t p = 0; p < len;) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len || k > 6) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask counts string is cut short or malformed");
            int c = (unsigned char)s[p] - 48;
            if (c < 0 || c > 63) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask counts string has a character out of range");
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20, p++, k++;
            if (!more && (c & 0x10)) x |= (int64_t)-1 * ((int64_t)1 << (5 * k));
        }
        if (r->m > 2) x += r->cnts[r->m - 2];
        if (x < 0 || x > UINT32_MAX) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask counts string has a negative run");
        r->cnts[r->m++] = (uint32_t)x;
    }
    if (!rle_check(r)) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask runs do not cover its %lldx%lld pixels", (long long)h, (long long)w);
    return ODRT_OK;
}

odrt_status_t coco_rle_from_counts(const double *c, size_t n, int64_t h, int64_t w, coco_rle *r) {
    memset(r, 0, sizeof *r);
    if (!(r->cnts = malloc(sizeof(uint32_t) * (n + 1)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    r->h = h, r->w = w, r->m = n;
    for (size_t i = 0; i < n; i++) {
        if (!(c[i] >= 0 && c[i] <= UINT32_MAX) || c[i] != floor(c[i])) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask counts bad");
        r->cnts[i] = (uint32_t)c[i];
    }
    if (!rle_check(r)) return coco_rle_free(r), odrt_fail(ODRT_ERR_PARSE, "mask runs do not cover its %lldx%lld pixels", (long long)h, (long long)w);
    return ODRT_OK;
}

/* runs of a column-major bitmap */
static odrt_status_t rle_encode(const uint8_t *m, int64_t h, int64_t w, coco_rle *r) {
    memset(r, 0, sizeof *r);
    int64_t n = h * w;
    if (!(r->cnts = malloc(sizeof(uint32_t) * (size_t)(n + 2)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    r->h = h, r->w = w;
    uint8_t v = 0;
    uint32_t run = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((m[i] != 0) != v) r->cnts[r->m++] = run, run = 0, v = !v;
        run++;
    }
    r->cnts[r->m++] = run;
    return ODRT_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* one polygon (k points) rasterised as rleFrPoly does */
static odrt_status_t rle_from_poly(const double *xy, int64_t k, int64_t h, int64_t w, coco_rle *r) {
    const double scale = 5;
    memset(r, 0, sizeof *r);
    int64_t *x = malloc(sizeof(int64_t) * (size_t)(k + 1)), *y = malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (!x || !y) {
        free(x), free(y);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t j = 0; j < k; j++) {
        double a = scale * xy[2 * j] + .5, b = scale * xy[2 * j + 1] + .5;
        if (!(fabs(a) < 1e12 && fabs(b) < 1e12)) {
            free(x), free(y);
            return odrt_fail(ODRT_ERR_PARSE, "polygon coordinate out of range");
        }
        x[j] = (int64_t)a, y[j] = (int64_t)b; /* truncation, as the C cast */
    }
    x[k] = x[0], y[k] = y[0];
    /* every boundary point, densely */
    int64_t m = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t dx = llabs(x[j] - x[j + 1]), dy = llabs(y[j] - y[j + 1]);
        m += (dx > dy ? dx : dy) + 1;
    }
    int64_t *u = malloc(sizeof(int64_t) * (size_t)(m + 1)), *v = malloc(sizeof(int64_t) * (size_t)(m + 1));
    if (!u || !v || m > ((int64_t)1 << 31)) {
        free(x), free(y), free(u), free(v);
        return odrt_fail(ODRT_ERR_NOMEM, "polygon too large");
    }
    m = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx = llabs(xe - xs), dy = llabs(ys - ye), t;
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) t = xs, xs = xe, xe = t, t = ys, ys = ye, ye = t;
        double s = dx >= dy ? (double)(ye - ys) / (double)(dx ? dx : 1) : (double)(xe - xs) / (double)(dy ? dy : 1);
        if (dx >= dy)
            for (int64_t d = 0; d <= dx; d++) {
                t = flip ? dx - d : d;
                u[m] = t + xs, v[m] = (int64_t)((double)ys + s * (double)t + .5), m++;
            }
        else
            for (int64_t d = 0; d <= dy; d++) {
                t = flip ? dy - d : d;
                v[m] = t + ys, u[m] = (int64_t)((double)xs + s * (double)t + .5), m++;
            }
    }
    /* the points where the boundary crosses a column, downsampled */
    free(x), free(y);
    x = malloc(sizeof(int64_t) * (size_t)(m + 1)), y = malloc(sizeof(int64_t) * (size_t)(m + 1));
    if (!x || !y) {
        free(x), free(y), free(u), free(v);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    int64_t n = 0;
    for (int64_t j = 1; j < m; j++) {
        if (u[j] == u[j - 1]) continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > (double)(w - 1)) continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0) yd = 0;
        else if (yd > (double)h) yd = (double)h;
        yd = ceil(yd);
        x[n] = (int64_t)xd, y[n] = (int64_t)yd, n++;
    }
    free(u), free(v);
    /* runs from the crossings */
    uint64_t *a = malloc(sizeof(uint64_t) * (size_t)(n + 2));
    uint32_t *b = malloc(sizeof(uint32_t) * (size_t)(n + 2));
    if (!a || !b) {
        free(x), free(y), free(a), free(b);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t j = 0; j < n; j++) a[j] = (uint64_t)(x[j] * h + y[j]);
    free(x), free(y);
    a[n++] = (uint64_t)(h * w);
    qsort(a, (size_t)n, sizeof *a, cmp_u64);
    uint64_t p = 0;
    for (int64_t j = 0; j < n; j++) {
        uint64_t t = a[j];
        a[j] -= p, p = t;
    }
    int64_t nb = 1, j = 1;
    b[0] = (uint32_t)a[0];
    while (j < n) {
        if (a[j] > 0) b[nb++] = (uint32_t)a[j++];
        else {
            j++;
            if (j < n) b[nb - 1] += (uint32_t)a[j++];
        }
    }
    free(a);
    r->h = h, r->w = w, r->m = (size_t)nb, r->cnts = b;
    return ODRT_OK;
}

static odrt_status_t rle_decode(const coco_rle *r, uint8_t *m) {
    size_t at = 0, n = (size_t)(r->h * r->w);
    for (size_t i = 0; i < r->m; i++) {
        if (r->cnts[i] > n - at) return odrt_fail(ODRT_ERR_PARSE, "mask runs overflow");
        memset(m + at, (int)(i & 1), r->cnts[i]);
        at += r->cnts[i];
    }
    return ODRT_OK;
}

odrt_status_t coco_rle_from_polygons(const double *const *polys, const size_t *lens, size_t n, int64_t h, int64_t w, coco_rle *r) {
    memset(r, 0, sizeof *r);
    int boxes = n && lens[0] == 4; /* frPyObjects: a first list of 4 numbers makes them all boxes */
    if (h < 0 || w < 0 || h * w > ((int64_t)1 << 31)) return odrt_fail(ODRT_ERR_INVALID, "mask size %lldx%lld", (long long)h, (long long)w);
    uint8_t *acc = calloc((size_t)(h * w) + 1, 1), *one = malloc((size_t)(h * w) + 1);
    odrt_status_t rc = acc && one ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == ODRT_OK; i++) {
        coco_rle p;
        if (boxes) {
            if (lens[i] != 4) rc = odrt_fail(ODRT_ERR_PARSE, "segmentation box %zu has %zu numbers", i, lens[i]);
            const double *q = polys[i];
            double xy[8] = {q[0], q[1], q[0], q[1] + q[3], q[0] + q[2], q[1] + q[3], q[0] + q[2], q[1]};
            if (rc == ODRT_OK) rc = rle_from_poly(xy, 4, h, w, &p);
        } else {
            if (lens[i] < 2 || lens[i] % 2) rc = odrt_fail(ODRT_ERR_PARSE, "segmentation polygon %zu has %zu numbers", i, lens[i]);
            if (rc == ODRT_OK) rc = rle_from_poly(polys[i], (int64_t)(lens[i] / 2), h, w, &p);
        }
        if (rc == ODRT_OK) rc = rle_decode(&p, one);
        if (rc == ODRT_OK) coco_rle_free(&p);
        for (int64_t z = 0; rc == ODRT_OK && z < h * w; z++) acc[z] |= one[z];
    }
    if (rc == ODRT_OK) rc = rle_encode(acc, h, w, r);
    free(acc), free(one);
    return rc;
}

uint64_t coco_rle_area(const coco_rle *r) {
    uint64_t a = 0;
    for (size_t i = 1; i < r->m; i += 2) a += r->cnts[i];
    return a;
}

void coco_rle_bbox(const coco_rle *r, double bb[4]) { /* x, y, w, h of the foreground, as rleToBbox */
    memset(bb, 0, sizeof(double) * 4);
    size_t m = r->m & ~(size_t)1;
    if (!m || !r->h) return;
    int64_t xs = r->w, ys = r->h, xe = 0, ye = 0, cc = 0, xp = 0;
    for (size_t j = 0; j < m; j++) {
        cc += r->cnts[j];
        int64_t t = cc - (int64_t)(j % 2);
        int64_t y = t % r->h, x = (t - y) / r->h;
        if (j % 2 == 0) xp = x;
        else if (xp < x) ys = 0, ye = r->h - 1;
        xs = x < xs ? x : xs, xe = x > xe ? x : xe, ys = y < ys ? y : ys, ye = y > ye ? y : ye;
    }
    bb[0] = (double)xs, bb[2] = (double)(xe - xs + 1), bb[1] = (double)ys, bb[3] = (double)(ye - ys + 1);
}

double coco_rle_iou(const coco_rle *d, const coco_rle *g, int crowd) {
    if (d->h != g->h || d->w != g->w) return -1;
    if (!d->m || !g->m) return 0;
    size_t a = 1, b = 1;
    uint64_t ca = d->cnts[0], cb = g->cnts[0], i = 0, u = 0, ct = 1;
    int va = 0, vb = 0;
    while (ct > 0) {
        uint64_t c = ca < cb ? ca : cb;
        if (va || vb) {
            u += c;
            if (va && vb) i += c;
        }
        ct = 0;
        ca -= c;
        if (!ca && a < d->m) ca = d->cnts[a++], va = !va;
        ct += ca;
        cb -= c;
        if (!cb && b < g->m) cb = g->cnts[b++], vb = !vb;
        ct += cb;
    }
    if (i == 0) return 0;
    if (crowd) u = coco_rle_area(d);
    return (double)i / (double)u;
}

odrt_status_t coco_rle_from_json(const cJSON *seg, int64_t h, int64_t w, coco_rle *r) {
    memset(r, 0, sizeof *r);
    if (cJSON_IsArray(seg)) { /* polygons [[x, y, ...], ...] */
        int n = cJSON_GetArraySize(seg);
        const double **polys = calloc((size_t)n + 1, sizeof *polys);
        size_t *lens = calloc((size_t)n + 1, sizeof *lens);
        double *all = NULL;
        size_t total = 0;
        for (const cJSON *p = seg->child; p; p = p->next) total += cJSON_IsArray(p) ? (size_t)cJSON_GetArraySize(p) : 0;
        all = malloc(sizeof(double) * (total + 1));
        odrt_status_t rc = polys && lens && all ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        size_t at = 0;
        int i = 0;
        for (const cJSON *p = seg->child; p && rc == ODRT_OK; p = p->next, i++) {
            if (!cJSON_IsArray(p)) {
                rc = odrt_fail(ODRT_ERR_PARSE, "segmentation polygon %d is not an array of numbers", i);
                break;
            }
            polys[i] = all + at;
            for (const cJSON *v = p->child; v && rc == ODRT_OK; v = v->next) {
                if (!cJSON_IsNumber(v)) rc = odrt_fail(ODRT_ERR_PARSE, "segmentation polygon %d has a non-number", i);
                else all[at++] = v->valuedouble, lens[i]++;
            }
        }
        if (rc == ODRT_OK) rc = coco_rle_from_polygons(polys, lens, (size_t)n, h, w, r);
        free(polys), free(lens), free(all);
        return rc;
    }
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(seg, "counts"), *size = cJSON_GetObjectItemCaseSensitive(seg, "size");
    if (!cJSON_IsObject(seg) || !counts) return odrt_fail(ODRT_ERR_PARSE, "segmentation is neither polygons nor an RLE object");
    if (size) {
        if (!cJSON_IsArray(size) || cJSON_GetArraySize(size) != 2 || !cJSON_IsNumber(size->child) || !cJSON_IsNumber(size->child->next))
            return odrt_fail(ODRT_ERR_PARSE, "segmentation 'size' is not [h, w]");
        h = (int64_t)size->child->valuedouble, w = (int64_t)size->child->next->valuedouble;
    }
    if (cJSON_IsString(counts)) return coco_rle_from_string(counts->valuestring, h, w, r);
    if (!cJSON_IsArray(counts)) return odrt_fail(ODRT_ERR_PARSE, "segmentation 'counts' is neither a string nor a list");
    int n = cJSON_GetArraySize(counts), i = 0;
    double *c = malloc(sizeof(double) * (size_t)(n + 1));
    if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (const cJSON *v = counts->child; v; v = v->next) c[i++] = cJSON_IsNumber(v) ? v->valuedouble : -1;
    odrt_status_t rc = coco_rle_from_counts(c, (size_t)n, h, w, r);
    free(c);
    return rc;
}

odrt_status_t coco_rle_to_string(const coco_rle *r, char **out) {
    odrt_sb_t sb = {0};
    for (size_t i = 0; i < r->m; i++) {
        int64_t x = (int64_t)r->cnts[i];
        if (i > 2) x -= (int64_t)r->cnts[i - 2]; /* deltas from the fourth count on, as COCO's */
        for (int more = 1; more;) {
            int64_t c = x & 0x1f;
            x >>= 5;
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            char ch[2] = {(char)(c + 48), 0};
            odrt_sb_puts(&sb, ch);
        }
    }
    *out = odrt_sb_take(&sb);
    if (!*out) *out = calloc(1, 1);
    return *out ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

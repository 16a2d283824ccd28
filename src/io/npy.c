/* .npy reader/writer (format versions 1.0-3.0, little-endian, C order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
    const char *descr;
    odrt_dtype_t dt;
} DESCR[] = {{"f4", ODRT_DT_FLOAT}, {"f8", ODRT_DT_DOUBLE}, {"f2", ODRT_DT_FLOAT16}, {"i1", ODRT_DT_INT8},
             {"i2", ODRT_DT_INT16}, {"i4", ODRT_DT_INT32},  {"i8", ODRT_DT_INT64},  {"u1", ODRT_DT_UINT8},
             {"u2", ODRT_DT_UINT16}, {"u4", ODRT_DT_UINT32}, {"u8", ODRT_DT_UINT64}, {"b1", ODRT_DT_BOOL}};

#define NPY_MAX_BYTES ((size_t)1 << 34)

odrt_status_t odrt_npy_load(const char *path, odrt_tensor_t **out) {
    *out = NULL;
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, NPY_MAX_BYTES, &buf, &len));
    odrt_status_t rc = ODRT_OK;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6)) {
        rc = odrt_fail(ODRT_ERR_PARSE, "'%s' is not a .npy file", path);
        goto done;
    }
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) hlen = (size_t)buf[8] | (size_t)buf[9] << 8, hoff = 10;
    else if (major == 2 || major == 3) {
        if (len < 12) {
            rc = odrt_fail(ODRT_ERR_PARSE, "'%s': truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, hoff = 12;
    } else {
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': .npy version %d", path, major);
        goto done;
    }
    if (hlen > len - hoff || hlen > 65536) {
        rc = odrt_fail(ODRT_ERR_PARSE, "'%s': truncated .npy header", path);
        goto done;
    }
    char *h = malloc(hlen + 1);
    if (!h) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(h, buf + hoff, hlen);
    h[hlen] = 0;
    const char *d = strstr(h, "'descr'"), *f = strstr(h, "'fortran_order'"), *s = strstr(h, "'shape'");
    odrt_dtype_t dt = ODRT_DT_UNDEFINED;
    int rank = 0;
    int64_t dims[ODRT_MAX_RANK];
    if (!d || !f || !s) rc = odrt_fail(ODRT_ERR_PARSE, "'%s': .npy header lacks descr/fortran_order/shape", path);
    if (rc == ODRT_OK) {
        const char *q = strchr(d + 7, '\'');
        if (!q || (q[1] != '<' && q[1] != '|' && q[1] != '>')) rc = odrt_fail(ODRT_ERR_PARSE, "'%s': bad descr", path);
        else if (q[1] == '>' && strncmp(q + 2, "u1", 2) && strncmp(q + 2, "i1", 2) && strncmp(q + 2, "b1", 2))
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': big-endian data", path);
        else {
            for (size_t i = 0; i < sizeof DESCR / sizeof *DESCR; i++)
                if (!strncmp(q + 2, DESCR[i].descr, 2) && q[4] == '\'') dt = DESCR[i].dt;
            if (!dt) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': unsupported dtype '%.8s'", path, q + 1);
        }
    }
    if (rc == ODRT_OK && strncmp(f + 15 + strspn(f + 15, ": "), "False", 5))
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': Fortran-order arrays", path);
    if (rc == ODRT_OK) {
        const char *p = strchr(s, '(');
        const char *e = p ? strchr(p, ')') : NULL;
        if (!p || !e) rc = odrt_fail(ODRT_ERR_PARSE, "'%s': bad shape", path);
        for (p = p ? p + 1 : NULL; rc == ODRT_OK && p && p < e;) {
            while (p < e && (*p == ' ' || *p == ',')) p++;
            if (p >= e) break;
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p || v < 0) rc = odrt_fail(ODRT_ERR_PARSE, "'%s': bad shape", path);
            else if (rank >= ODRT_MAX_RANK) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': rank > %d", path, ODRT_MAX_RANK);
            else dims[rank++] = v, p = end;
        }
    }
    free(h);
    if (rc != ODRT_OK) goto done;
    odrt_tensor_t *t;
    if ((rc = odrt_tensor_create(dt, rank, dims, &t)) != ODRT_OK) goto done;
    if (len - hoff - hlen != t->nbytes) {
        rc = odrt_fail(ODRT_ERR_PARSE, "'%s': %zu data bytes, shape needs %zu", path, len - hoff - hlen, t->nbytes);
        odrt_tensor_free(t);
        goto done;
    }
    memcpy(t->data, buf + hoff + hlen, t->nbytes);
    *out = t;
done:
    free(buf);
    return rc;
}

odrt_status_t odrt_npy_save(const char *path, const odrt_tensor_t *t) {
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof DESCR / sizeof *DESCR; i++)
        if (DESCR[i].dt == t->dtype) descr = DESCR[i].descr;
    if (!descr) return odrt_fail(ODRT_ERR_UNSUPPORTED, "cannot write %s as .npy", odrt_dtype_name(t->dtype));
    char shape[256] = "", h[512];
    size_t sl = 0;
    for (int i = 0; i < t->rank; i++)
        sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%lld%s", (long long)t->dims[i], t->rank == 1 ? "," : i + 1 < t->rank ? ", " : "");
    int n = snprintf(h, sizeof h, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%s), }",
                     descr[1] == '1' ? '|' : '<', descr, shape);
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return odrt_fail(ODRT_ERR_IO, "cannot write '%s'", path);
    size_t hl = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(path);
        return odrt_fail(ODRT_ERR_IO, "short write on '%s'", path);
    }
    return ODRT_OK;
}

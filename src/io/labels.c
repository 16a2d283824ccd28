/* Label files: the TF OD API label_map.pbtxt (text protobuf: item { id: 1 name: "x"
 * display_name: "y" }) or one name per line. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void odrt_labels_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

static int set_name(char ***names, int *n, int64_t c, const char *s, size_t len) {
    if (c < 0 || c >= 100000) return 0;
    if (c >= *n) {
        char **nn = realloc(*names, sizeof(char *) * (size_t)(c + 1));
        if (!nn) return 0;
        for (int64_t i = *n; i <= c; i++) nn[i] = NULL;
        *names = nn, *n = (int)c + 1;
    }
    free((*names)[c]);
    (*names)[c] = strndup(s, len);
    return (*names)[c] != NULL;
}

/* pbtxt: a tiny reader for the label-map subset (items of id / name / display_name fields) */
static odrt_status_t parse_pbtxt(const char *path, const char *t, char ***names, int *n) {
    const char *p = t;
    int line = 1;
#define SKIP()                                                                                 \
    for (;;) {                                                                                 \
        while (*p && isspace((unsigned char)*p)) line += *p++ == '\n';                         \
        if (*p == '#') { while (*p && *p != '\n') p++; continue; }                             \
        break;                                                                                 \
    }
    for (;;) {
        SKIP();
        if (!*p) break;
        if (strncmp(p, "item", 4)) return odrt_fail(ODRT_ERR_PARSE, "%s:%d: expected 'item {'", path, line);
        p += 4;
        SKIP();
        if (*p != '{') return odrt_fail(ODRT_ERR_PARSE, "%s:%d: expected '{' after item", path, line);
        p++;
        int64_t id = -1;
        const char *nm = NULL, *dn = NULL;
        size_t nml = 0, dnl = 0;
        for (;;) {
            SKIP();
            if (*p == '}') { p++; break; }
            const char *k = p;
            while (*p && (isalnum((unsigned char)*p) || *p == '_')) p++;
            size_t kl = (size_t)(p - k);
            SKIP();
            if (!kl || *p != ':') return odrt_fail(ODRT_ERR_PARSE, "%s:%d: expected 'field: value' in item", path, line);
            p++;
            SKIP();
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                const char *s = p;
                while (*p && *p != q && *p != '\n') p++;
                if (*p != q) return odrt_fail(ODRT_ERR_PARSE, "%s:%d: unterminated string", path, line);
                if (kl == 4 && !strncmp(k, "name", 4)) nm = s, nml = (size_t)(p - s);
                if (kl == 12 && !strncmp(k, "display_name", 12)) dn = s, dnl = (size_t)(p - s);
                p++;
            } else {
                char *end;
                long long v = strtoll(p, &end, 10);
                if (end == p) return odrt_fail(ODRT_ERR_PARSE, "%s:%d: bad value", path, line);
                if (kl == 2 && !strncmp(k, "id", 2)) id = v;
                p = end;
            }
        }
        if (id < 1 || id > 100000) return odrt_fail(ODRT_ERR_PARSE, "%s:%d: item without a positive id", path, line);
        if ((dn || nm) && !set_name(names, n, id - 1, dn ? dn : nm, dn ? dnl : nml)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
#undef SKIP
    return ODRT_OK;
}

odrt_status_t odrt_labels_load(const char *path, char ***names, int *n) {
    if (!path || !names || !n) return odrt_fail(ODRT_ERR_ARG, "odrt_labels_load: NULL argument");
    *names = NULL, *n = 0;
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, (size_t)64 << 20, &buf, &len));
    char *t = malloc(len + 1);
    if (!t) {
        free(buf);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    memcpy(t, buf, len);
    t[len] = 0;
    free(buf);
    if (strlen(t) != len) {
        free(t);
        return odrt_fail(ODRT_ERR_PARSE, "%s: labels file has NUL bytes", path);
    }
    odrt_status_t rc = ODRT_OK;
    const char *s = t;
    while (*s && isspace((unsigned char)*s)) s++;
    if (!strncmp(s, "item", 4) && strchr(s, '{')) rc = parse_pbtxt(path, t, names, n);
    else { /* one name per line */
        int64_t c = 0;
        for (const char *p = t; *p && rc == ODRT_OK; c++) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            size_t k = l;
            while (k && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t')) k--;
            if (k && !set_name(names, n, c, p, k)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            if (c >= 100000) rc = odrt_fail(ODRT_ERR_PARSE, "%s: more than 100000 labels", path);
            p += l + (e ? 1 : 0);
        }
    }
    free(t);
    if (rc == ODRT_OK && *n == 0) rc = odrt_fail(ODRT_ERR_PARSE, "%s: no labels found", path);
    if (rc != ODRT_OK) odrt_labels_free(*names, *n), *names = NULL, *n = 0;
    return rc;
}

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static _Thread_local char g_err[1024];

const char *odrt_last_error(void) { return g_err; }

ODRT_PRINTF(1, 0) static void vset(const char *fmt, va_list ap) {
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    for (char *p = g_err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' '; /* errors are one line */
}

odrt_status_t odrt_fail(odrt_status_t s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(fmt, ap);
    va_end(ap);
    return s;
}

odrt_status_t odrt_fail_ctx(odrt_status_t s, const char *fmt, ...) {
    char prev[sizeof g_err];
    memcpy(prev, g_err, sizeof prev);
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    /* "ctx: prev", truncated to the buffer */
    size_t a = strlen(ctx), b = strlen(prev), cap = sizeof g_err - 1;
    if (a > cap) a = cap;
    memcpy(g_err, ctx, a);
    size_t n = a;
    if (n + 2 <= cap) g_err[n++] = ':', g_err[n++] = ' ';
    if (b > cap - n) b = cap - n;
    memcpy(g_err + n, prev, b);
    g_err[n + b] = 0;
    return s;
}

const char *odrt_status_str(odrt_status_t s) {
    switch (s) {
    case ODRT_OK: return "ok";
    case ODRT_ERR_IO: return "io error";
    case ODRT_ERR_PARSE: return "parse error";
    case ODRT_ERR_INVALID: return "invalid model";
    case ODRT_ERR_UNSUPPORTED: return "unsupported";
    case ODRT_ERR_SHAPE: return "shape error";
    case ODRT_ERR_NOMEM: return "out of memory";
    case ODRT_ERR_ARG: return "bad argument";
    case ODRT_ERR_NOT_FOUND: return "not found";
    case ODRT_ERR_DEVICE: return "device error";
    }
    return "unknown status";
}

#define STR_(x) #x
#define STR(x) STR_(x)
const char *odrt_version(void) { return STR(ODRT_VERSION_MAJOR) "." STR(ODRT_VERSION_MINOR) "." STR(ODRT_VERSION_PATCH); }
int odrt_version_number(void) { return ODRT_VERSION_NUMBER; }

/* a caller's options struct read as this library's (fields past its struct_size: defaults) */
odrt_status_t odrt_read_options(const void *src, size_t size, void *dst, void (*init)(void *), const char *what) {
    init(dst);
    if (!src) return ODRT_OK;
    size_t given = *(const size_t *)src;
    if (given < sizeof(size_t))
        return odrt_fail(ODRT_ERR_ARG, "%s: struct_size is %zu (set it with its _init function)", what, given);
    memcpy(dst, src, given < size ? given : size);
    *(size_t *)dst = size;
    if (given > size) { /* a newer caller: its extra fields must be unset */
        for (size_t i = size; i < given; i++)
            if (((const uint8_t *)src)[i])
                return odrt_fail(ODRT_ERR_ARG, "%s: struct_size %zu is larger than this odrt's (%zu): a field it does not know is set",
                                 what, given, size);
    }
    return ODRT_OK;
}

void odrt_options_clear(void *o, size_t size) {
    if (!o) return;
    memset(o, 0, size);
    *(size_t *)o = size;
}

/* ---- log ---- */
static odrt_log_fn g_log;
static void *g_log_user;

void odrt_set_log(odrt_log_fn fn, void *user) { g_log = fn, g_log_user = user; }

int odrt_log_enabled(void) { return g_log != NULL; }

void odrt_log(odrt_log_level_t level, const char *fmt, ...) {
    if (!g_log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log(level, buf, g_log_user);
}

void odrt_log_text(odrt_log_level_t level, odrt_sb_t *sb) {
    char *text = odrt_sb_take(sb);
    if (!text) return;
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n') text[--n] = 0;
    if (g_log) g_log(level, text, g_log_user);
    free(text);
}

/* ---- arena ---- */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct odrt_arena {
    chunk_t *head;
};

odrt_arena_t *odrt_arena_init(void) { return calloc(1, sizeof(odrt_arena_t)); }

void odrt_arena_free(odrt_arena_t *a) {
    if (!a) return;
    for (chunk_t *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *odrt_arena_alloc(odrt_arena_t *a, size_t n) {
    if (n > ((size_t)1 << 40)) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        chunk_t *nc = malloc(sizeof(chunk_t) + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && n > 65536) { /* big block: keep the current chunk at the head */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            memset(nc->data, 0, n);
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *odrt_arena_strndup(odrt_arena_t *a, const char *s, size_t n) {
    char *p = odrt_arena_alloc(a, n + 1);
    if (p && n) memcpy(p, s, n);
    return p;
}

char *odrt_arena_strdup(odrt_arena_t *a, const char *s) {
    return s ? odrt_arena_strndup(a, s, strlen(s)) : NULL;
}

void *odrt_arena_memdup(odrt_arena_t *a, const void *p, size_t n) {
    void *q = odrt_arena_alloc(a, n);
    if (q && n) memcpy(q, p, n);
    return q;
}

int odrt_mul_ok(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ---- string map ---- */
static size_t hash_str(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void odrt_smap_free(odrt_smap_t *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static const char TOMB[] = "";

static int smap_rehash(odrt_smap_t *m, size_t cap) {
    odrt_smap_t n = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(void *)), cap, 0};
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return 0;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB) odrt_smap_put(&n, m->keys[i], m->vals[i]);
    odrt_smap_free(m);
    *m = n;
    return 1;
}

int odrt_smap_put(odrt_smap_t *m, const char *key, void *val) {
    if ((m->n + 1) * 2 > m->cap && !smap_rehash(m, m->cap ? m->cap * 2 : 64)) return 0;
    size_t i = hash_str(key) & (m->cap - 1), tomb = (size_t)-1;
    while (m->keys[i]) {
        if (m->keys[i] == TOMB) {
            if (tomb == (size_t)-1) tomb = i;
        } else if (strcmp(m->keys[i], key) == 0) {
            m->vals[i] = val;
            return 1;
        }
        i = (i + 1) & (m->cap - 1);
    }
    if (tomb != (size_t)-1) i = tomb;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

static size_t smap_find(const odrt_smap_t *m, const char *key) {
    if (!m->cap) return (size_t)-1;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->keys[i] != TOMB && strcmp(m->keys[i], key) == 0) return i;
        i = (i + 1) & (m->cap - 1);
    }
    return (size_t)-1;
}

void *odrt_smap_get(const odrt_smap_t *m, const char *key) {
    size_t i = smap_find(m, key);
    return i == (size_t)-1 ? NULL : m->vals[i];
}

void odrt_smap_del(odrt_smap_t *m, const char *key) {
    size_t i = smap_find(m, key);
    if (i == (size_t)-1) return;
    m->keys[i] = TOMB; /* n stays: tombstones count towards load */
    m->vals[i] = NULL;
}

/* ---- string builder ---- */
void odrt_sb_printf(odrt_sb_t *sb, const char *fmt, ...) {
    if (sb->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = sb->cap - sb->len;
        int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < room) {
            sb->len += (size_t)n;
            return;
        }
        size_t cap = sb->cap ? sb->cap * 2 : 256;
        while (cap < sb->len + (size_t)n + 1) cap *= 2;
        char *nb = realloc(sb->buf, cap);
        if (!nb) {
            sb->oom = 1;
            return;
        }
        sb->buf = nb;
        sb->cap = cap;
    }
}

void odrt_sb_puts(odrt_sb_t *sb, const char *s) { odrt_sb_printf(sb, "%s", s); }

char *odrt_sb_take(odrt_sb_t *sb) {
    if (sb->oom || !sb->buf) {
        free(sb->buf);
        sb->buf = NULL;
        if (sb->oom) return NULL;
        char *e = malloc(1);
        if (e) *e = 0;
        return e;
    }
    char *r = sb->buf;
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return r;
}

odrt_status_t odrt_read_file(const char *path, size_t max, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return odrt_fail(ODRT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return odrt_fail(ODRT_ERR_IO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return odrt_fail(ODRT_ERR_NOMEM, "'%s' is too large (%lld bytes)", path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    if (n && fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return odrt_fail(ODRT_ERR_IO, "short read on '%s'", path);
    }
    fclose(f);
    *buf = b;
    *len = n;
    return ODRT_OK;
}

int odrt_grow(void **arr, size_t elem, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    size_t bytes;
    if (!odrt_mul_ok(nc, elem, &bytes)) return 0;
    void *p = realloc(*arr, bytes);
    if (!p) return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

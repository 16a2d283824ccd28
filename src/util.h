/* Internal helpers: error reporting, arena allocation, string map, string builder. */
#ifndef ODRT_UTIL_H
#define ODRT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "odrt.h"

#if defined(__GNUC__)
#define ODRT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ODRT_PRINTF(a, b)
#endif

/* Record a one-line error for odrt_last_error() and return `s`. */
odrt_status_t odrt_fail(odrt_status_t s, const char *fmt, ...) ODRT_PRINTF(2, 3);
/* Prefix the current error with context: "ctx: previous message". Returns `s`. */
odrt_status_t odrt_fail_ctx(odrt_status_t s, const char *fmt, ...) ODRT_PRINTF(2, 3);

#define ODRT_TRY(expr)                                                                             \
    do {                                                                                           \
        odrt_status_t _st = (expr);                                                                \
        if (_st != ODRT_OK) return _st;                                                            \
    } while (0)

/* Arena: many small allocations freed together. Allocations are 16-byte aligned, zeroed. */
typedef struct odrt_arena odrt_arena_t;
odrt_arena_t *odrt_arena_init(void);
void odrt_arena_free(odrt_arena_t *a);
void *odrt_arena_alloc(odrt_arena_t *a, size_t n); /* NULL on overflow/OOM */
char *odrt_arena_strdup(odrt_arena_t *a, const char *s);
char *odrt_arena_strndup(odrt_arena_t *a, const char *s, size_t n);
void *odrt_arena_memdup(odrt_arena_t *a, const void *p, size_t n);

/* Checked size arithmetic: return 0 on overflow. */
int odrt_mul_ok(size_t a, size_t b, size_t *out);

/* String -> pointer map (open addressing; keys borrowed). */
typedef struct odrt_smap {
    const char **keys;
    void **vals;
    size_t cap, n;
} odrt_smap_t;
void odrt_smap_free(odrt_smap_t *m);
int odrt_smap_put(odrt_smap_t *m, const char *key, void *val); /* 0 on OOM */
void *odrt_smap_get(const odrt_smap_t *m, const char *key);
void odrt_smap_del(odrt_smap_t *m, const char *key);

/* Growable string. */
typedef struct odrt_sb {
    char *buf;
    size_t len, cap;
    int oom;
} odrt_sb_t;
void odrt_sb_printf(odrt_sb_t *sb, const char *fmt, ...) ODRT_PRINTF(2, 3);
void odrt_sb_puts(odrt_sb_t *sb, const char *s);
char *odrt_sb_take(odrt_sb_t *sb); /* caller frees; NULL if OOM */

/* A caller's options struct (its first field a size_t struct_size) read into dst, this library's
 * `size`-byte version: init(dst) sets the defaults, then the caller's first struct_size bytes are
 * copied (a caller built against an older header leaves the newer fields at their defaults). A
 * struct_size below sizeof(size_t), or a larger struct with a field this library lacks set, is
 * refused naming `what`. src NULL: defaults. */
odrt_status_t odrt_read_options(const void *src, size_t size, void *dst, void (*init)(void *), const char *what);
/* an options struct of `size` bytes zeroed, its struct_size set (NULL: nothing) */
void odrt_options_clear(void *o, size_t size);

/* Messages to the callback of odrt_set_log (dropped when none is set): one formatted line, or a
 * whole builder's text (taken and freed). */
void odrt_log(odrt_log_level_t level, const char *fmt, ...) ODRT_PRINTF(2, 3);
void odrt_log_text(odrt_log_level_t level, odrt_sb_t *sb);
int odrt_log_enabled(void);

/* Read a whole file (caller frees *buf). Refuses files over `max` bytes. */
odrt_status_t odrt_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/* Growable pointer array helper: ensure room for one more element. */
int odrt_grow(void **arr, size_t elem, size_t *cap, size_t need);

#endif

/* A TensorFlow checkpoint bundle (a SavedModel's variables/): `variables.index` is a LevelDB-format
 * table (data blocks of prefix-compressed keys, an index block, a 48-byte footer; every block
 * followed by its compression byte and masked crc32c) mapping each tensor's key to a
 * BundleEntryProto (shard, offset, size, masked crc32c of the bytes); `variables.data-K-of-N` hold
 * the bytes. Every block and every tensor read is checked against its crc32c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_bundle.h"

#define MAX_INDEX_BYTES ((size_t)1 << 30)
#define MAX_SHARD_BYTES ((size_t)16 << 30)
#define TABLE_MAGIC 0xdb4775248b80fb57ull

typedef struct {
    int dtype; /* TensorFlow DataType */
    int rank;
    int64_t dims[16];
    int shard;
    int64_t offset, size;
    uint32_t crc;
} entry;

struct tf_bundle {
    char prefix[PATH_MAX];
    int num_shards;
    odrt_smap_t entries; /* key -> entry* (malloc'ed) */
    uint8_t **shard;     /* read on first use */
    size_t *shard_len;
    char *path_buf;
};

/* ---- crc32c (Castagnoli), and LevelDB's mask ---- */
static uint32_t crc_table[256];
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

/* crc32c of n more bytes after a crc of earlier ones (0: none) */
static uint32_t crc_extend(uint32_t crc, const uint8_t *p, size_t n) {
    if (!crc_table[1]) crc_init();
    uint32_t c = crc ^ 0xffffffffu;
    while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t crc32c(const uint8_t *p, size_t n) { return crc_extend(0, p, n); }

static uint32_t crc_unmask(uint32_t m) {
    uint32_t r = m - 0xa282ead8u;
    return (r >> 17) | (r << 15);
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return *v = r, 1;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* a block of the table: bounds, trailer (uncompressed only), crc */
static odrt_status_t block_at(const char *file, const uint8_t *buf, size_t len, uint64_t off, uint64_t size, const uint8_t **b, size_t *n) {
    if (off > len || size > len - off || len - off - size < 5)
        return odrt_fail(ODRT_ERR_PARSE, "%s: a block lies outside the file (truncated?)", file);
    const uint8_t *t = buf + off + size;
    if (t[0] != 0) return odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: a compressed block (type %d); TensorFlow writes them uncompressed", file, t[0]);
    /* the crc covers the block and its type byte */
    uint8_t *tmp = malloc(size + 1);
    if (!tmp) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    memcpy(tmp, buf + off, size);
    tmp[size] = 0;
    uint32_t crc = crc32c(tmp, size + 1);
    free(tmp);
    if (crc != crc_unmask(le32(t + 1))) return odrt_fail(ODRT_ERR_PARSE, "%s: a block fails its crc32c check", file);
    *b = buf + off, *n = size;
    return ODRT_OK;
}

typedef odrt_status_t (*kv_fn)(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen);

static odrt_status_t each_entry(const char *file, const uint8_t *b, size_t n, kv_fn fn, void *ctx) {
    if (n < 4) return odrt_fail(ODRT_ERR_PARSE, "%s: a block is too short", file);
    uint32_t restarts = le32(b + n - 4);
    if (restarts > (n - 4) / 4) return odrt_fail(ODRT_ERR_PARSE, "%s: a block's restart count is out of range", file);
    const uint8_t *p = b, *end = b + n - 4 - 4 * (size_t)restarts;
    char key[4096];
    size_t klen = 0;
    while (p < end) {
        uint64_t shared, ns, vl;
        if (!varint(&p, end, &shared) || !varint(&p, end, &ns) || !varint(&p, end, &vl) || shared > klen ||
            ns > (uint64_t)(end - p) || shared + ns >= sizeof key || vl > (uint64_t)(end - p) - ns)
            return odrt_fail(ODRT_ERR_PARSE, "%s: a malformed table entry", file);
        memcpy(key + shared, p, ns);
        klen = shared + ns;
        key[klen] = 0;
        p += ns;
        ODRT_TRY(fn(ctx, key, klen, p, vl));
        p += vl;
    }
    return ODRT_OK;
}

typedef struct {
    tf_bundle *b;
    const char *file;
    const uint8_t *buf;
    size_t len;
} idx_ctx;

static odrt_status_t on_entry(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen) {
    idx_ctx *x = ctx;
    if (klen == 0) { /* the header */
        OdrtTf__BundleHeaderProto *h = odrt_tf__bundle_header_proto__unpack(NULL, vlen, val);
        if (!h) return odrt_fail(ODRT_ERR_PARSE, "%s: the bundle header is corrupt", x->file);
        x->b->num_shards = h->num_shards;
        int big = h->endianness != 0;
        odrt_tf__bundle_header_proto__free_unpacked(h, NULL);
        if (big) return odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: a big-endian bundle", x->file);
        if (x->b->num_shards < 1 || x->b->num_shards > 100000) return odrt_fail(ODRT_ERR_PARSE, "%s: %d shards", x->file, x->b->num_shards);
        return ODRT_OK;
    }
    OdrtTf__BundleEntryProto *e = odrt_tf__bundle_entry_proto__unpack(NULL, vlen, val);
    if (!e) return odrt_fail(ODRT_ERR_PARSE, "%s: the entry of '%s' is corrupt", x->file, key);
    entry *en = calloc(1, sizeof *en);
    char *k = malloc(klen + 1);
    odrt_status_t rc = ODRT_OK;
    if (!en || !k) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    else if (e->n_slices) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "%s: '%s' is stored in slices (a partitioned variable)", x->file, key);
    else if (e->shape && e->shape->n_dim > 16) rc = odrt_fail(ODRT_ERR_PARSE, "%s: '%s' has more than 16 dims", x->file, key);
    else if (e->offset < 0 || e->size < 0 || e->shard_id < 0) rc = odrt_fail(ODRT_ERR_PARSE, "%s: '%s' has a negative offset, size or shard", x->file, key);
    if (rc == ODRT_OK) {
        en->dtype = e->dtype, en->shard = e->shard_id, en->offset = e->offset, en->size = e->size, en->crc = e->crc32c;
        en->rank = e->shape ? (int)e->shape->n_dim : 0;
        for (int i = 0; i < en->rank; i++) {
            en->dims[i] = e->shape->dim[i]->size;
            if (en->dims[i] < 0) rc = odrt_fail(ODRT_ERR_PARSE, "%s: '%s' has a negative dim", x->file, key);
        }
        memcpy(k, key, klen + 1);
    }
    odrt_tf__bundle_entry_proto__free_unpacked(e, NULL);
    if (rc == ODRT_OK && odrt_smap_get(&x->b->entries, k)) rc = odrt_fail(ODRT_ERR_PARSE, "%s: '%s' is listed twice", x->file, key);
    if (rc == ODRT_OK && !odrt_smap_put(&x->b->entries, k, en)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc != ODRT_OK) free(en), free(k);
    return rc;
}

static odrt_status_t on_index(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen) {
    (void)key, (void)klen;
    idx_ctx *x = ctx;
    uint64_t off, size;
    const uint8_t *p = val;
    if (!varint(&p, val + vlen, &off) || !varint(&p, val + vlen, &size)) return odrt_fail(ODRT_ERR_PARSE, "%s: a malformed block handle", x->file);
    const uint8_t *b;
    size_t n;
    ODRT_TRY(block_at(x->file, x->buf, x->len, off, size, &b, &n));
    return each_entry(x->file, b, n, on_entry, x);
}

void tf_bundle_free(tf_bundle *b) {
    if (!b) return;
    for (size_t i = 0; i < b->entries.cap; i++)
        if (b->entries.keys && b->entries.keys[i] && b->entries.vals[i]) free((void *)b->entries.keys[i]), free(b->entries.vals[i]);
    odrt_smap_free(&b->entries);
    for (int i = 0; b->shard && i < b->num_shards; i++) free(b->shard[i]);
    free(b->shard);
    free(b->shard_len);
    free(b);
}

odrt_status_t tf_bundle_open(const char *prefix, tf_bundle **out) {
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s.index", prefix);
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(file, MAX_INDEX_BYTES, &buf, &len));
    odrt_status_t rc = tf_bundle_open_buffer(prefix, buf, len, out);
    free(buf);
    return rc;
}

odrt_status_t tf_bundle_open_buffer(const char *prefix, const uint8_t *buf, size_t len, tf_bundle **out) {
    *out = NULL;
    tf_bundle *b = calloc(1, sizeof *b);
    if (!b) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    snprintf(b->prefix, sizeof b->prefix, "%s", prefix);
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s.index", prefix);
    odrt_status_t rc = ODRT_OK;
    idx_ctx x = {b, file, buf, len};
    uint64_t mo = 0, ms = 0, io = 0, is = 0;
    const uint8_t *p = buf + (len >= 48 ? len - 48 : 0);
    uint64_t magic = 0;
    for (int i = 0; len >= 48 && i < 8; i++) magic |= (uint64_t)buf[len - 8 + i] << (8 * i);
    if (len < 48 || magic != TABLE_MAGIC) rc = odrt_fail(ODRT_ERR_PARSE, "%s: not a checkpoint index (no table footer)", file);
    else if (!varint(&p, buf + len - 8, &mo) || !varint(&p, buf + len - 8, &ms) || !varint(&p, buf + len - 8, &io) || !varint(&p, buf + len - 8, &is))
        rc = odrt_fail(ODRT_ERR_PARSE, "%s: a malformed table footer", file);
    const uint8_t *ib;
    size_t in;
    if (rc == ODRT_OK) rc = block_at(file, buf, len, io, is, &ib, &in);
    if (rc == ODRT_OK) rc = each_entry(file, ib, in, on_index, &x);
    if (rc == ODRT_OK && !b->num_shards) rc = odrt_fail(ODRT_ERR_PARSE, "%s: no bundle header", file);
    if (rc == ODRT_OK && (!(b->shard = calloc((size_t)b->num_shards, sizeof *b->shard)) || !(b->shard_len = calloc((size_t)b->num_shards, sizeof(size_t)))))
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc != ODRT_OK) {
        tf_bundle_free(b);
        return rc;
    }
    *out = b;
    return ODRT_OK;
}

/* the bytes of key, crc-checked (strings: by the caller, their crc covers other bytes) */
static odrt_status_t bytes_of(tf_bundle *b, const char *key, const entry **e, const uint8_t **p) {
    *e = odrt_smap_get(&b->entries, key);
    if (!*e) return odrt_fail(ODRT_ERR_NOT_FOUND, "%s.index: no tensor '%s'", b->prefix, key);
    int s = (*e)->shard;
    if (s >= b->num_shards) return odrt_fail(ODRT_ERR_PARSE, "%s.index: '%s' is in shard %d of %d", b->prefix, key, s, b->num_shards);
    if (!b->shard[s]) {
        char file[PATH_MAX + 40];
        snprintf(file, sizeof file, "%s.data-%05d-of-%05d", b->prefix, s, b->num_shards);
        ODRT_TRY(odrt_read_file(file, MAX_SHARD_BYTES, &b->shard[s], &b->shard_len[s]));
    }
    if ((uint64_t)(*e)->offset > b->shard_len[s] || (uint64_t)(*e)->size > b->shard_len[s] - (uint64_t)(*e)->offset)
        return odrt_fail(ODRT_ERR_PARSE, "%s.data-%05d-of-%05d: '%s' runs past the end of the shard (truncated?)", b->prefix, s, b->num_shards, key);
    *p = b->shard[s] + (*e)->offset;
    if ((*e)->dtype != TF_DT_STRING && crc32c(*p, (size_t)(*e)->size) != crc_unmask((*e)->crc))
        return odrt_fail(ODRT_ERR_PARSE, "%s.data-%05d-of-%05d: '%s' fails its crc32c check", b->prefix, s, b->num_shards, key);
    return ODRT_OK;
}

odrt_status_t tf_bundle_tensor(tf_bundle *b, const char *key, ir_model *m, ir_tensor **out) {
    const entry *e;
    const uint8_t *p;
    ODRT_TRY(bytes_of(b, key, &e, &p));
    int dt = tf_dtype_to_odrt(e->dtype);
    if (!dt || dt == ODRT_DT_STRING) return odrt_fail(ODRT_ERR_UNSUPPORTED, "%s.index: '%s' has TensorFlow dtype %d", b->prefix, key, e->dtype);
    ir_tensor *t = ir_tensor_new(m, dt, e->rank, e->dims);
    if (!t) return odrt_fail(ODRT_ERR_NOMEM, "%s.index: '%s' is too large", b->prefix, key);
    if ((int64_t)t->nbytes != e->size) return odrt_fail(ODRT_ERR_PARSE, "%s.index: '%s' has %lld bytes for its shape's %zu", b->prefix, key, (long long)e->size, t->nbytes);
    memcpy(t->data, p, t->nbytes);
    *out = t;
    return ODRT_OK;
}

odrt_status_t tf_bundle_string(tf_bundle *b, const char *key, const uint8_t **data, size_t *len) {
    const entry *e;
    const uint8_t *p;
    ODRT_TRY(bytes_of(b, key, &e, &p));
    /* a scalar string: varint length, 4-byte checksum of the lengths, the bytes */
    const uint8_t *q = p, *end = p + e->size;
    uint64_t n;
    if (e->dtype != TF_DT_STRING || e->rank != 0 || !varint(&q, end, &n) || (uint64_t)(end - q) < 4 || n > (uint64_t)(end - q) - 4)
        return odrt_fail(ODRT_ERR_PARSE, "%s.index: '%s' is not a scalar string", b->prefix, key);
    /* the crc covers each length as 4 little-endian bytes, the stored (masked) checksum of those,
     * then the bytes */
    uint8_t n4[4];
    for (int i = 0; i < 4; i++) n4[i] = (uint8_t)(n >> (8 * i));
    uint32_t crc = crc_extend(0, n4, 4);
    if (crc_unmask(le32(q)) != crc || crc_unmask(e->crc) != crc_extend(crc_extend(crc, q, 4), q + 4, (size_t)n))
        return odrt_fail(ODRT_ERR_PARSE, "%s.index: '%s' fails its crc32c check", b->prefix, key);
    *data = q + 4, *len = (size_t)n;
    return ODRT_OK;
}

size_t tf_bundle_count(const tf_bundle *b) { return b->entries.n; }

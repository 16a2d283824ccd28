/* Public engine API: build (plan -> file bytes -> the same validated load path as a file), save,
 * mmap load, detect. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "runtime/runtime.h"
#include "ir/model.h"
#include "util.h"
#include "io/io.h"
#include "engine/engine.h"
#include "engine/plan_util.h"
#include "runtime/engine_handle.h"

double eng_handle_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the backend's state for the engine: made at load (eagerly) or at first use (an engine built in
 * memory for a device this machine lacks can still be inspected and saved) */
/* the raw outputs' views: into a host arena, or host copies a device backend fills on request */
static odrt_status_t bind_raw(odrt_engine_t *e) {
    uint8_t *arena = e->be->arena(e->ctx);
    const eng_meta *m = &e->plan.meta;
    int ts[ENG_MAX_OUTPUTS];
    e->n_raw = eng_network_outputs(m, ts);
    for (int i = 0; i < e->n_raw; i++) {
        const eng_tensor *t = &e->plan.tensors[ts[i]];
        void *data = arena ? (void *)(arena + t->offset) : (void *)(e->raw_host[i] = malloc(sizeof(float) * (size_t)t->numel));
        if (!data) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        e->raw[i] = (odrt_tensor_t){ODRT_DT_FLOAT, t->rank, {0}, data, (size_t)t->numel * 4};
        memcpy(e->raw[i].dims, t->dims, sizeof t->dims);
    }
    if (m->post_kind != ENG_POST_RCNN) return ODRT_OK;
    int ins[ENG_MAX_INPUTS], n_in = eng_network_inputs(m, ins);
    e->stage_owned = !arena;
    for (int i = 1; i < n_in; i++) /* the stage inputs: in the arena, or host copies written to the device */
        if (!(e->stage_in[i - 1] = arena ? (float *)(arena + e->plan.tensors[ins[i]].offset)
                                         : calloc((size_t)e->plan.tensors[ins[i]].numel + 1, sizeof(float))))
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (!arena && !(e->input_host = malloc(sizeof(float) * (size_t)e->plan.tensors[m->t_input].numel + 16)))
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    e->n_masks = m->mask_h > 0 ? m->batch : 0;
    if (!(e->n_props = calloc((size_t)m->batch, sizeof(int))) || (e->n_masks && !(e->masks = calloc((size_t)m->batch, sizeof(float *)))))
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int b = 0; b < e->n_masks; b++)
        if (!(e->masks[b] = malloc(sizeof(float) * (size_t)m->max_total * m->mask_h * m->mask_w + 16)))
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return ODRT_OK;
}

odrt_status_t eng_handle_ready(odrt_engine_t *e) {
    if (e->ctx) return ODRT_OK;
    ODRT_TRY(e->be->prepare(&e->plan, &e->opt, &e->ctx));
    return bind_raw(e);
}

void odrt_engine_options_init(odrt_engine_options_t *o) {
    if (!o) return;
    odrt_options_clear(o, sizeof *o);
    o->cpu_half_last = -1;
}

static void engine_options_init_v(void *o) { odrt_engine_options_init(o); }

static odrt_status_t open_bytes(const uint8_t *b, size_t len, int mapped, const odrt_engine_options_t *o, int eager,
                                odrt_engine_t **out) {
    odrt_engine_t *e = calloc(1, sizeof *e);
    if (!e) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    e->opt = *o;
    e->bytes = b, e->len = len, e->mapped = mapped;
    if (!(e->refs = malloc(sizeof *e->refs))) {
        free(e);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    atomic_init(e->refs, 1);
    odrt_status_t rc = eng_deserialize(b, len, &e->plan);
    if (rc == ODRT_OK) rc = eng_validate_plan(&e->plan);
    if (rc == ODRT_OK && !(e->be = eng_backend_for(e->plan.meta.device))) rc = ODRT_ERR_UNSUPPORTED;
    for (int k = 0; rc == ODRT_OK && k < e->plan.n_ops; k++)
        if (!e->be->supports_op(&e->plan, k)) rc = ODRT_ERR_UNSUPPORTED;
    if (e->opt.threads <= 0) e->opt.threads = e->plan.meta.threads;
    if (e->opt.threads <= 0) e->opt.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (e->opt.threads > 256) e->opt.threads = 256;
    if (rc == ODRT_OK && (eager || !e->be->dev->lazy_prepare)) rc = eng_handle_ready(e);
    if (rc == ODRT_OK && e->opt.profile && !(e->prof = calloc(3, sizeof(double)))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc != ODRT_OK) {
        e->bytes = NULL; /* the caller still owns the bytes on failure */
        odrt_engine_free(e);
        return rc;
    }
    *out = e;
    return ODRT_OK;
}

odrt_status_t odrt_engine_load_buffer(const void *buf, size_t len, int threads, odrt_engine_t **out) {
    odrt_engine_options_t o;
    odrt_engine_options_init(&o);
    o.threads = threads;
    return odrt_engine_load_buffer_ex(buf, len, &o, out);
}

odrt_status_t odrt_engine_load_buffer_ex(const void *buf, size_t len, const odrt_engine_options_t *opts, odrt_engine_t **out) {
    if (!buf || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_load_buffer: NULL argument");
    *out = NULL;
    odrt_engine_options_t o;
    ODRT_TRY(odrt_read_options(opts, sizeof o, &o, engine_options_init_v, "odrt_engine_options_t"));
    /* an aligned private copy: blob parts must be ENG_ALIGN-aligned in memory */
    uint8_t *copy = eng_alloc_aligned((len + ENG_ALIGN) / ENG_ALIGN * ENG_ALIGN);
    if (!copy) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    memcpy(copy, buf, len);
    odrt_status_t rc = open_bytes(copy, len, 0, &o, 0, out);
    if (rc != ODRT_OK) free(copy);
    return rc;
}

odrt_status_t odrt_engine_load(const char *path, int threads, odrt_engine_t **out) {
    odrt_engine_options_t o;
    odrt_engine_options_init(&o);
    o.threads = threads;
    return odrt_engine_load_ex(path, &o, out);
}

odrt_status_t odrt_engine_load_ex(const char *path, const odrt_engine_options_t *opts, odrt_engine_t **out) {
    if (!path || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_load: NULL argument");
    *out = NULL;
    odrt_engine_options_t o;
    ODRT_TRY(odrt_read_options(opts, sizeof o, &o, engine_options_init_v, "odrt_engine_options_t"));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return odrt_fail(ODRT_ERR_IO, "cannot open '%s'", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return odrt_fail(ODRT_ERR_IO, "'%s' is not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        close(fd);
        return odrt_fail(ODRT_ERR_PARSE, "%s: engine: file is empty", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return odrt_fail(ODRT_ERR_IO, "cannot map '%s'", path);
    odrt_status_t rc = open_bytes(map, len, 1, &o, 0, out);
    if (rc != ODRT_OK) {
        munmap(map, len);
        return odrt_fail_ctx(rc, "%s", path);
    }
    return ODRT_OK;
}

void odrt_build_options_init(odrt_build_options_t *o) { odrt_options_clear(o, sizeof *o); }

static void build_options_init_v(void *o) { odrt_build_options_init(o); }

odrt_status_t odrt_engine_build(odrt_model_t *m, const odrt_build_options_t *opts, odrt_engine_t **out) {
    if (!m || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_build: NULL argument");
    *out = NULL;
    odrt_build_options_t bo;
    odrt_engine_options_t eo;
    ODRT_TRY(odrt_read_options(opts, sizeof bo, &bo, build_options_init_v, "odrt_build_options_t"));
    ODRT_TRY(odrt_read_options(bo.engine, sizeof eo, &eo, engine_options_init_v, "odrt_engine_options_t"));
    if (!eo.threads) eo.threads = bo.threads;
    eng_plan p;
    memset(&p, 0, sizeof p);
    p.owns_blob = 1;
    odrt_status_t rc = eng_build_plan(m, &bo, &p);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rc == ODRT_OK) rc = eng_serialize(&p, &buf, &len);
    eng_plan_free(&p);
    if (rc != ODRT_OK) return rc;
    /* the bytes go through the validating loader a file goes through; a device engine's backend
     * starts at first use */
    uint8_t *copy = rc == ODRT_OK ? eng_alloc_aligned((len + ENG_ALIGN) / ENG_ALIGN * ENG_ALIGN) : NULL;
    if (!copy) {
        free(buf);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, buf, len);
    free(buf);
    rc = open_bytes(copy, len, 0, &eo, 0, out);
    if (rc != ODRT_OK) free(copy);
    return rc;
}

odrt_status_t odrt_engine_save(const odrt_engine_t *e, const char *path) {
    if (!e || !path) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_save: NULL argument");
    FILE *f = fopen(path, "wb");
    if (!f) return odrt_fail(ODRT_ERR_IO, "cannot write '%s'", path);
    size_t w = fwrite(e->bytes, 1, e->len, f);
    if (fclose(f) != 0 || w != e->len) {
        remove(path);
        return odrt_fail(ODRT_ERR_IO, "short write on '%s'", path);
    }
    return ODRT_OK;
}

void odrt_engine_free(odrt_engine_t *e) {
    if (!e) return;
    if (e->prof && e->prof_runs)
        odrt_log(ODRT_LOG_INFO, "odrt profile: %d detects: preprocessing %.3f ms, network %.3f ms, post-processing %.3f ms",
                 e->prof_runs, e->prof[0] * 1e3 / e->prof_runs, e->prof[1] * 1e3 / e->prof_runs, e->prof[2] * 1e3 / e->prof_runs);
    if (e->pending) { /* a submission never waited for: finished, its detections dropped */
        odrt_detections_t *d = e->pend_device ? calloc((size_t)e->pending, sizeof *d) : e->pend_out;
        if (d && e->pend_device && e->be->wait(e->ctx, &e->plan, e->pending, d) != ODRT_OK) memset(d, 0, sizeof *d * (size_t)e->pending);
        for (int b = 0; d && b < e->pending; b++) odrt_detections_clear(&d[b]);
        if (e->pend_device) free(d);
    }
    free(e->pend_out);
    free(e->prof);
    eng_post_ws_free(e->post_ws);
    if (e->ctx) e->be->free(e->ctx);
    for (int i = 0; i < ENG_MAX_OUTPUTS; i++) free(e->raw_host[i]);
    if (e->stage_owned) free(e->stage_in[0]), free(e->stage_in[1]);
    for (int b = 0; e->masks && b < e->n_masks; b++) free(e->masks[b]);
    free(e->masks), free(e->n_props), free(e->input_host);
    eng_plan_free(&e->plan);
    if (e->refs && atomic_fetch_sub(e->refs, 1) == 1) { /* the last handle of these bytes */
        if (e->bytes) {
            if (e->mapped) munmap((void *)e->bytes, e->len);
            else free((void *)e->bytes);
        }
        free(e->refs);
    }
    free(e);
}

int odrt_engine_batch(const odrt_engine_t *e) { return e ? e->plan.meta.batch : 0; }
int odrt_engine_num_classes(const odrt_engine_t *e) { return e ? e->plan.meta.n_classes : 0; }
int odrt_engine_class_offset(const odrt_engine_t *e) { return e ? e->plan.meta.class_offset : 0; }

const char *odrt_engine_label(const odrt_engine_t *e, int class_id) {
    if (!e) return NULL;
    int c = class_id - e->plan.meta.class_offset;
    return c >= 0 && c < e->plan.meta.n_labels ? e->plan.meta.labels[c] : NULL;
}

static const char *engine_label(const void *e, int class_id) { return odrt_engine_label(e, class_id); }

odrt_status_t odrt_image_draw_detections(odrt_tensor_t *img, const odrt_detections_t *d, const odrt_engine_t *e, float threshold) {
    return io_draw_detections(img, d, e ? engine_label : NULL, e, threshold);
}

odrt_status_t odrt_engine_set_labels(odrt_engine_t *e, const char *path) {
    if (!e || !path) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_set_labels: NULL argument");
    char **names;
    int n;
    ODRT_TRY(odrt_labels_load(path, &names, &n));
    odrt_labels_free(e->plan.meta.labels, e->plan.meta.n_labels);
    e->plan.meta.labels = names, e->plan.meta.n_labels = n;
    return ODRT_OK;
}

odrt_status_t odrt_engine_info_json(const odrt_engine_t *e, char **json) {
    if (!e || !json) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_info_json: NULL argument");
    /* the metadata section as stored, without the network tables */
    const uint8_t *meta = e->bytes + 64 + 64; /* the first section follows the header and table */
    uint64_t ml;
    memcpy(&ml, e->bytes + 64 + 16, 8);
    cJSON *r = cJSON_ParseWithLength((const char *)meta, (size_t)ml);
    if (!r) return odrt_fail(ODRT_ERR_PARSE, "engine: metadata");
    cJSON *net = cJSON_GetObjectItemCaseSensitive(r, "network");
    if (net) {
        cJSON_AddNumberToObject(r, "network_ops", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(net, "ops")));
        cJSON_AddNumberToObject(r, "network_tensors", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(net, "tensors")));
        cJSON_AddNumberToObject(r, "arena_bytes", (double)e->plan.arena_bytes);
        cJSON_DeleteItemFromObjectCaseSensitive(r, "network");
    }
    cJSON_AddNumberToObject(r, "weights_bytes", (double)e->plan.blob_len);
    cJSON_AddNumberToObject(r, "file_bytes", (double)e->len);
    *json = cJSON_Print(r);
    cJSON_Delete(r);
    return *json ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

static const char *const raw_names[3][ENG_MAX_OUTPUTS] = {
    {"box_encodings", "class_logits"},
    {"heatmap_logits", "offsets", "sizes"},
    {"box_encodings", "class_logits", "proposal_box_encodings", "objectness_logits", "mask_logits"}};

int odrt_engine_num_outputs(const odrt_engine_t *e) {
    int t[ENG_MAX_OUTPUTS];
    return e ? eng_network_outputs(&e->plan.meta, t) : 0;
}

odrt_status_t odrt_engine_output(odrt_engine_t *e, int i, const odrt_tensor_t **t, const char **name) {
    if (!e || !t) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_output: NULL argument");
    if (i < 0 || i >= odrt_engine_num_outputs(e)) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_output: no output %d", i);
    ODRT_TRY(eng_handle_ready(e));
    const eng_meta *m = &e->plan.meta;
    int ts[ENG_MAX_OUTPUTS];
    eng_network_outputs(m, ts);
    if (e->be->read_tensor) ODRT_TRY(e->be->read_tensor(e->ctx, &e->plan, ts[i], e->raw_host[i])); /* device memory: copied out */
    *t = &e->raw[i];
    if (name) *name = raw_names[m->post_kind >= 0 && m->post_kind < 3 ? m->post_kind : 0][i];
    return ODRT_OK;
}

odrt_status_t odrt_engine_raw_outputs(odrt_engine_t *e, const odrt_tensor_t **codes, const odrt_tensor_t **logits) {
    if (!e || !codes || !logits) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_raw_outputs: NULL argument");
    if (e->plan.meta.post_kind != ENG_POST_SSD)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "odrt_engine_raw_outputs: a %s engine has other outputs (odrt_engine_output)",
                         e->plan.meta.family);
    ODRT_TRY(odrt_engine_output(e, 0, codes, NULL));
    return odrt_engine_output(e, 1, logits, NULL);
}

odrt_status_t odrt_engine_share(odrt_engine_t *e, odrt_engine_t **out) {
    if (!e || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_share: NULL argument");
    *out = NULL;
    ODRT_TRY(eng_handle_ready(e));
    odrt_engine_t *s = calloc(1, sizeof *s);
    if (!s) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    s->bytes = e->bytes, s->len = e->len, s->mapped = e->mapped, s->refs = e->refs, s->be = e->be, s->opt = e->opt;
    atomic_fetch_add(e->refs, 1);
    odrt_status_t rc = eng_deserialize(e->bytes, e->len, &s->plan); /* validated before: the same bytes */
    if (rc == ODRT_OK && e->plan.meta.labels) { /* labels set on the handle after load */
        odrt_labels_free(s->plan.meta.labels, s->plan.meta.n_labels);
        s->plan.meta.labels = calloc((size_t)e->plan.meta.n_labels + 1, sizeof(char *));
        s->plan.meta.n_labels = s->plan.meta.labels ? e->plan.meta.n_labels : 0;
        for (int i = 0; i < s->plan.meta.n_labels; i++)
            s->plan.meta.labels[i] = e->plan.meta.labels[i] ? strdup(e->plan.meta.labels[i]) : NULL;
    }
    if (rc == ODRT_OK) {
        if (s->be->share) { /* the device weights are shared; the rest is the new context's own */
            rc = s->be->share(e->ctx, &s->plan, &s->opt, &s->ctx);
            if (rc == ODRT_OK) rc = bind_raw(s);
        } else {
            rc = eng_handle_ready(s);
        }
    }
    if (rc == ODRT_OK && s->opt.profile && !(s->prof = calloc(3, sizeof(double)))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc != ODRT_OK) {
        odrt_engine_free(s);
        return rc;
    }
    *out = s;
    return ODRT_OK;
}

odrt_status_t odrt_engine_prepare(odrt_engine_t *e) {
    if (!e) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_prepare: NULL argument");
    return eng_handle_ready(e);
}

double odrt_engine_device_ms(const odrt_engine_t *e) {
    return e && e->ctx && e->be->last_device_ms ? e->be->last_device_ms(e->ctx) : -1;
}

const char *odrt_engine_device(const odrt_engine_t *e) { return e ? e->plan.meta.device : NULL; }

const char *odrt_engine_kernels(odrt_engine_t *e) {
    if (!e) return NULL;
    return e->ctx && e->be->kernels ? e->be->kernels(e->ctx) : e->be->name;
}

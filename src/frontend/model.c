/* Public model API: load/save/free and input/output queries. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sha2.h>

#include "frontend/model.h"
#include "frontend/tf/tf_graph.h"

odrt_status_t odrt_model_load_buffer(const void *buf, size_t len, const char *dir, odrt_model_t **out) {
    if (!buf || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_model_load_buffer: NULL argument");
    *out = NULL;
    odrt_model_t *m = calloc(1, sizeof *m);
    if (!m) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = ir_import_onnx(buf, len, dir, &m->ir);
    if (rc != ODRT_OK) {
        free(m);
        return rc;
    }
    SHA256Data(buf, len, m->sha256);
    *out = m;
    return ODRT_OK;
}

enum { TF_SAVEDMODEL, TF_GRAPHDEF, TF_JS };

/* a model from TensorFlow files (src/frontend/tf): a SavedModel directory (or its saved_model.pb), a
 * frozen GraphDef, a TF.js model.json whose bytes are given */
static odrt_status_t load_tf(int kind, const char *path, const uint8_t *json, size_t len, odrt_model_t **out) {
    odrt_model_t *m = calloc(1, sizeof *m);
    if (!m) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    size_t pl = strlen(path);
    char dir[PATH_MAX];
    if (kind == TF_SAVEDMODEL && pl >= 14 && !strcmp(path + pl - 14, "saved_model.pb")) /* its folder */
        snprintf(dir, sizeof dir, "%.*s", pl > 15 ? (int)(pl - 15) : 1, pl > 15 ? path : ".");
    else
        snprintf(dir, sizeof dir, "%s", path);
    odrt_status_t rc = kind == TF_SAVEDMODEL ? tf_read_savedmodel(dir, &m->ir, m->sha256)
                       : kind == TF_GRAPHDEF ? tf_read_graphdef(path, &m->ir, m->sha256)
                                             : tf_read_tfjs(path, json, len, &m->ir, m->sha256);
    if (rc != ODRT_OK) {
        free(m);
        return rc;
    }
    *out = m;
    return ODRT_OK;
}

odrt_status_t odrt_model_load(const char *path, odrt_model_t **out) {
    if (!path || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_model_load: NULL argument");
    size_t pl = strlen(path);
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    int is_sm = pl >= 14 && !strcmp(path + pl - 14, "saved_model.pb") && (pl == 14 || path[pl - 15] == '/');
    if (is_dir || is_sm || (pl > 3 && !strcmp(path + pl - 3, ".pb"))) /* TensorFlow: SavedModel, frozen GraphDef */
        return load_tf(is_dir || is_sm ? TF_SAVEDMODEL : TF_GRAPHDEF, path, NULL, 0, out);
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, (size_t)4 << 30, &buf, &len));
    size_t at = 0;
    while (at < len && (buf[at] == ' ' || buf[at] == '\n' || buf[at] == '\r' || buf[at] == '\t')) at++;
    if (at < len && buf[at] == '{') { /* JSON: a TF.js graph model (an ONNX file starts with a field tag) */
        odrt_status_t rc = load_tf(TF_JS, path, buf, len, out);
        free(buf);
        return rc;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char dir[PATH_MAX];
    if (!realpath(dirname(tmp), dir)) snprintf(dir, sizeof dir, ".");
    odrt_status_t rc = odrt_model_load_buffer(buf, len, dir, out);
    free(buf);
    if (rc != ODRT_OK) return odrt_fail_ctx(rc, "%s", path);
    return ODRT_OK;
}

odrt_status_t odrt_model_save(const odrt_model_t *m, const char *path) {
    if (!m || !path) return odrt_fail(ODRT_ERR_ARG, "odrt_model_save: NULL argument");
    uint8_t *buf;
    size_t len;
    ODRT_TRY(ir_export_onnx(m->ir, &buf, &len));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return odrt_fail(ODRT_ERR_IO, "cannot write '%s'", path);
    }
    size_t w = fwrite(buf, 1, len, f);
    free(buf);
    if (fclose(f) != 0 || w != len) {
        remove(path);
        return odrt_fail(ODRT_ERR_IO, "short write on '%s'", path);
    }
    return ODRT_OK;
}

void odrt_model_free(odrt_model_t *m) {
    if (!m) return;
    ir_model_free(m->ir);
    free(m);
}

/* graph inputs that are not initializers (IR >= 4 lists initializer defaults as inputs too) */
static ir_value *real_input(const odrt_model_t *m, int i) {
    const ir_graph *g = m->ir->graph;
    int k = 0;
    for (int j = 0; j < g->n_inputs; j++)
        if (!g->inputs[j]->init && k++ == i) return g->inputs[j];
    return NULL;
}

int odrt_model_num_inputs(const odrt_model_t *m) {
    int k = 0;
    for (int j = 0; j < m->ir->graph->n_inputs; j++) k += !m->ir->graph->inputs[j]->init;
    return k;
}

int odrt_model_num_outputs(const odrt_model_t *m) { return m->ir->graph->n_outputs; }

const char *odrt_model_input_name(const odrt_model_t *m, int i) {
    ir_value *v = real_input(m, i);
    return v ? v->name : NULL;
}

const char *odrt_model_output_name(const odrt_model_t *m, int i) {
    return i >= 0 && i < m->ir->graph->n_outputs ? m->ir->graph->outputs[i]->name : NULL;
}

static odrt_status_t info(const ir_value *v, odrt_dtype_t *dt, int *rank, int64_t dims[ODRT_MAX_RANK]) {
    if (!v) return odrt_fail(ODRT_ERR_ARG, "index out of range");
    *dt = (odrt_dtype_t)v->type.dtype;
    *rank = v->type.rank > ODRT_MAX_RANK ? -1 : v->type.rank;
    for (int i = 0; i < *rank; i++) dims[i] = v->type.dims[i].value;
    return ODRT_OK;
}

odrt_status_t odrt_model_input_info(const odrt_model_t *m, int i, odrt_dtype_t *dt, int *rank, int64_t dims[ODRT_MAX_RANK]) {
    return info(real_input(m, i), dt, rank, dims);
}

odrt_status_t odrt_model_output_info(const odrt_model_t *m, int i, odrt_dtype_t *dt, int *rank, int64_t dims[ODRT_MAX_RANK]) {
    return info(i >= 0 && i < m->ir->graph->n_outputs ? m->ir->graph->outputs[i] : NULL, dt, rank, dims);
}

/* The public session API over the reference executor. */
#include <stdlib.h>
#include <string.h>

#include "ir/model.h"
#include "ops/exec.h"

odrt_status_t odrt_session_create(const odrt_model_t *m, odrt_session_t **out) {
    if (!m || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_session_create: NULL argument");
    *out = NULL;
    ODRT_TRY(ir_model_check_runnable(m->ir));
    ex_session *s;
    ODRT_TRY(ex_session_new(m->ir, &s));
    *out = (odrt_session_t *)s;
    return ODRT_OK;
}

void odrt_session_free(odrt_session_t *os) { ex_session_free((ex_session *)os); }

static int dims_match(const ir_type *t, const odrt_tensor_t *x) {
    if (t->rank < 0) return 1;
    if (t->rank != x->rank) return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i].value >= 0 && t->dims[i].value != x->dims[i]) return 0;
    return 1;
}

odrt_status_t odrt_session_run(odrt_session_t *os, int n_inputs, const char *const *names,
                               const odrt_tensor_t *const *inputs, odrt_tensor_t **outputs) {
    ex_session *s = (ex_session *)os;
    const ir_graph *g = ex_session_model(s)->graph;
    ex_val **in = calloc((size_t)g->n_inputs + 1, sizeof(ex_val *));
    ex_val **out = calloc((size_t)g->n_outputs + 1, sizeof(ex_val *));
    odrt_status_t rc = ODRT_OK;
    if (!in || !out) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_inputs && rc == ODRT_OK; i++) {
        const ir_value *v = g->inputs[i];
        int found = -1;
        for (int k = 0; k < n_inputs; k++)
            if (!strcmp(names[k], v->name)) found = k;
        if (found < 0) {
            if (!v->init) rc = odrt_fail(ODRT_ERR_ARG, "model input '%s' was not given", v->name);
            continue;
        }
        const odrt_tensor_t *x = inputs[found];
        if (v->type.kind == IR_TYPE_TENSOR && v->type.dtype && (int)x->dtype != v->type.dtype) {
            rc = odrt_fail(ODRT_ERR_ARG, "input '%s' must be %s, got %s", v->name,
                           odrt_dtype_name((odrt_dtype_t)v->type.dtype), odrt_dtype_name(x->dtype));
            break;
        }
        if (!dims_match(&v->type, x)) {
            rc = odrt_fail(ODRT_ERR_SHAPE, "input '%s' has a shape the model does not accept (rank %d)", v->name,
                           x->rank);
            break;
        }
        in[i] = calloc(1, sizeof(ex_val));
        if (!in[i]) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        in[i]->t = *x;
        in[i]->borrowed = 1;
    }
    for (int k = 0; k < n_inputs && rc == ODRT_OK; k++) {
        int found = 0;
        for (int i = 0; i < g->n_inputs; i++) found |= !strcmp(names[k], g->inputs[i]->name);
        if (!found) rc = odrt_fail(ODRT_ERR_ARG, "model has no input named '%s'", names[k]);
    }
    if (rc == ODRT_OK) rc = ex_run_graph(s, g, NULL, in, g->n_inputs, out);
    for (int o = 0; o < g->n_outputs && rc == ODRT_OK; o++) {
        if (out[o]->is_seq) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "output '%s' is a sequence", g->outputs[o]->name);
            break;
        }
        outputs[o] = malloc(sizeof(odrt_tensor_t));
        if (!outputs[o]) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        *outputs[o] = out[o]->t;
        out[o]->t.data = NULL;
    }
    if (rc != ODRT_OK)
        for (int o = 0; o < g->n_outputs; o++) odrt_tensor_free(outputs[o]), outputs[o] = NULL;
done:
    if (in)
        for (int i = 0; i < g->n_inputs; i++) free(in[i]);
    if (out)
        for (int o = 0; o < g->n_outputs; o++) ex_val_free(out[o]);
    free(in);
    free(out);
    return rc;
}

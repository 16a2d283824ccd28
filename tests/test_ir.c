/* IR surgery API: structural edits must keep the model's results bit-identical to the untouched
 * model run by the same executor (the reference), and invalid edits must be caught. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ir/ir.h"
#include "ir/model.h"

/* every check is a REQUIRE: each step reads what the earlier ones made, so going on after a
 * failure would dereference what it left NULL */

static odrt_tensor_t *input_image(void) {
    int64_t d[4] = {1, 48, 64, 3};
    odrt_tensor_t *t;
    if (odrt_tensor_create(ODRT_DT_UINT8, 4, d, &t) != ODRT_OK) return NULL;
    uint32_t s = 12345;
    for (size_t i = 0; i < t->nbytes; i++) s = s * 1103515245u + 12345u, ((uint8_t *)t->data)[i] = (uint8_t)(s >> 16);
    return t;
}

static int run(odrt_model_t *m, odrt_tensor_t **out) {
    odrt_session_t *s;
    if (odrt_session_create(m, &s) != ODRT_OK) return 0;
    odrt_tensor_t *x = input_image();
    const char *name = odrt_model_input_name(m, 0);
    odrt_status_t st = odrt_session_run(s, 1, &name, (const odrt_tensor_t *const *)&x, out);
    odrt_tensor_free(x);
    odrt_session_free(s);
    return st == ODRT_OK;
}

static int same_outputs(odrt_model_t *m, odrt_tensor_t **a, odrt_tensor_t **b) {
    int ok = 1;
    for (int i = 0; i < odrt_model_num_outputs(m); i++)
        ok &= a[i]->nbytes == b[i]->nbytes && !memcmp(a[i]->data, b[i]->data, a[i]->nbytes);
    return ok;
}

static void free_outputs(odrt_model_t *m, odrt_tensor_t **o) {
    for (int i = 0; i < odrt_model_num_outputs(m); i++) odrt_tensor_free(o[i]), o[i] = NULL;
}

static void test_edits_keep_results(const char *path) {
    odrt_model_t *m = NULL, *m2 = NULL;
    odrt_tensor_t *ref[16] = {0}, *got[16] = {0};
    REQUIRE(odrt_model_load(path, &m) == ODRT_OK, "load %s", path);
    REQUIRE(odrt_model_num_outputs(m) <= 16, "at most 16 outputs");
    ir_graph *g = m->ir->graph;
    REQUIRE(run(m, ref), "reference run");
    size_t n0 = g->n_nodes;

    /* 1. a dead branch: Relu(Relu(first Conv output)) feeding nothing */
    ir_node *conv = NULL;
    REQUIRE(ir_graph_find_op(g, "Conv", &conv, 1) > 0 && conv, "a Conv exists");
    ir_node *r1 = ir_node_new(g, "Relu", "", "dead1", 1, 1), *r2 = ir_node_new(g, "Relu", "", "dead2", 1, 1);
    ir_value *d1 = ir_value_new(g, "dead1_out"), *d2 = ir_value_new(g, "dead2_out");
    REQUIRE(r1 && r2 && d1 && d2, "new nodes and values");
    ir_node_set_input(r1, 0, conv->out[0]);
    ir_node_set_output(r1, 0, d1);
    ir_node_set_input(r2, 0, d1);
    ir_node_set_output(r2, 0, d2);
    REQUIRE(g->n_nodes == n0 + 2, "two nodes added");

    /* 2. reverse the node order: toposort must restore a valid order */
    for (size_t i = 0; i < g->n_nodes / 2; i++) {
        ir_node *t = g->nodes[i];
        g->nodes[i] = g->nodes[g->n_nodes - 1 - i];
        g->nodes[g->n_nodes - 1 - i] = t;
    }
    REQUIRE(ir_graph_toposort(g) == ODRT_OK, "toposort");
    REQUIRE(ir_graph_validate(g) == ODRT_OK, "validate after toposort");
    for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->mark = (int)i;
    int ordered = 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++) {
            ir_value *v = g->nodes[i]->in[k];
            if (v && v->producer && v->graph == g && v->producer->mark >= (int)i) ordered = 0;
        }
    REQUIRE(ordered, "every producer precedes its consumers");

    /* 3. cleanup removes exactly the dead branch */
    ir_graph_cleanup(g);
    REQUIRE(g->n_nodes == n0, "cleanup leaves %zu nodes, expected %zu", g->n_nodes, n0);
    REQUIRE(!ir_graph_find_node(g, "dead1") && !ir_graph_find_node(g, "dead2"), "dead nodes gone");

    /* 4. insert an Identity after the Conv and move every use onto it */
    ir_value *v = conv->out[0];
    ir_value *v2 = ir_value_new(g, "conv_copy");
    ir_node *id = ir_node_new(g, "Identity", "", "copy", 1, 1);
    REQUIRE(v2 && id, "new Identity");
    ir_node_set_output(id, 0, v2);
    REQUIRE(ir_value_replace_uses(v, v2) == ODRT_OK, "replace uses");
    ir_node_set_input(id, 0, v);
    REQUIRE(v->n_uses == 1 && v->uses[0].node == id, "only the Identity reads the Conv now");
    REQUIRE(ir_graph_toposort(g) == ODRT_OK && ir_graph_validate(g) == ODRT_OK, "valid after rewire");
    REQUIRE(run(m, got), "run after edits");
    REQUIRE(same_outputs(m, ref, got), "outputs bit-identical after edits");
    free_outputs(m, got);

    /* 5. export and re-import: still identical */
    REQUIRE(odrt_model_save(m, "test_ir_edited.onnx") == ODRT_OK, "save");
    REQUIRE(odrt_model_load("test_ir_edited.onnx", &m2) == ODRT_OK, "reload");
    remove("test_ir_edited.onnx");
    REQUIRE(m2->ir->graph->n_nodes == n0 + 1, "reloaded node count");
    REQUIRE(run(m2, got), "run reloaded");
    REQUIRE(same_outputs(m2, ref, got), "reloaded outputs bit-identical");
    free_outputs(m2, got);

    /* 6. a cycle is refused */
    ir_node *a = ir_node_new(g, "Relu", "", "cyc_a", 1, 1), *b = ir_node_new(g, "Relu", "", "cyc_b", 1, 1);
    ir_value *va = ir_value_new(g, "cyc_a_out"), *vb = ir_value_new(g, "cyc_b_out");
    REQUIRE(a && b && va && vb, "cycle nodes");
    ir_node_set_output(a, 0, va);
    ir_node_set_output(b, 0, vb);
    ir_node_set_input(a, 0, vb);
    ir_node_set_input(b, 0, va);
    REQUIRE(ir_graph_validate(g) == ODRT_ERR_INVALID && strstr(odrt_last_error(), "cycle"), "cycle detected");
    REQUIRE(ir_graph_toposort(g) == ODRT_ERR_INVALID, "toposort refuses a cycle");
    ir_node_remove(a);
    ir_node_remove(b);
    REQUIRE(ir_graph_validate(g) == ODRT_OK, "valid once the cycle is removed");

    /* 7. a value name cannot be defined twice in a scope */
    REQUIRE(ir_value_new(g, "conv_copy") == NULL, "duplicate name refused");
out:
    remove("test_ir_edited.onnx");
    if (m) free_outputs(m, ref), free_outputs(m, got);
    odrt_model_free(m2);
    odrt_model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_ir MODEL\n");
        return 2;
    }
    test_edits_keep_results(argv[1]);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}

/* Partial evaluation and constant folding over the IR with the reference executor's kernels. */
#ifndef ODRT_EVAL_H
#define ODRT_EVAL_H

#include "ops/exec.h"
#include "ir/ir.h"

/* Evaluate `targets` in graph g (main graph only: no sub-graph reads) given values for `seeds`;
 * every other leaf must be an initializer. out[i] are new values (caller frees with ex_val_free).
 * Fails (error set) when a target depends on a graph input that is not seeded. */
odrt_status_t ir_eval(ir_model *m, ir_graph *g, int n_seeds, ir_value *const *seeds, ex_val *const *seed_vals,
                      int n_targets, ir_value *const *targets, ex_val **out);

/* Replace every node whose inputs are all initializers by initializers holding its outputs (when
 * no output has more elements than max(65536, the largest input's): no Expand/Tile blow-ups, but a
 * weight stored as uint8 and cast to float folds). Returns nodes folded. */
int ir_fold_constants(ir_model *m, ir_graph *g);


/* Can n be evaluated on constant inputs (no sub-graphs, deterministic, has a kernel)? */
int ir_node_foldable(const ir_node *n);
/* Run n's kernel on ins (outs receive new values). With quiet, a failure leaves the caller's last
 * error untouched (speculative evaluation during folding). */
odrt_status_t ir_run_node(ir_model *m, const ir_node *n, ex_val **ins, ex_val **outs, int quiet);

/* New initializer from an executor value (copied), with a unique name from `base`. */
ir_value *ir_const_from_val(ir_graph *g, const char *base, const ex_val *v);

#endif

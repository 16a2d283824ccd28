/* odrt convert --precision fp16 (half.c), and the network region the precision passes share */
#ifndef ODRT_PASSES_HALF_H
#define ODRT_PASSES_HALF_H

#include "ir/ir.h"

/* the network feeding heads[0..n) in float16, the rest in float32, explicit Casts between;
 * *n_half: the nodes that compute in float16 */
/* the network: in_net[i] (g->n_nodes entries) = 1 for node i if a float32 output of it flows, through
 * data inputs, into heads[0..n); node marks are set to their indices */
odrt_status_t tfod_net_nodes(ir_graph *g, ir_value *const *heads, int n_heads, char *in_net);
/* 1 if input k of n is tensor data (not a shape, size, scale or index) */
int tfod_data_input(const ir_node *n, int k);
odrt_status_t tfod_to_half(ir_model *m, ir_value *const *heads, int n_heads, int *n_half);

#endif

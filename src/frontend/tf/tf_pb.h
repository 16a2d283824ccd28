/* The protobuf side of the TensorFlow readers (graphdef.c, savedmodel.c, bundle.c, tf_funcs.c):
 * NodeDefs, TensorProtos and function libraries into tf_graph. */
#ifndef ODRT_TF_PB_H
#define ODRT_TF_PB_H

#include "frontend/tf/tf_graph.h"
#include "odrt_tf.pb-c.h"

/* NodeDefs -> tf_nodes in g's arena; nodes read by control edges go into ctrl_read (may be NULL) */
odrt_status_t tf_pb_nodes(tf_graph *g, OdrtTf__NodeDef *const *nds, size_t count, tf_node **out, int *n_out, odrt_smap_t *ctrl_read);
/* a TensorProto's values as a tensor in g's arena */
odrt_status_t tf_pb_tensor(tf_graph *g, const OdrtTf__TensorProto *tp, ir_tensor **out);
/* every FunctionDef into g->funcs (inputs normalised to "node:k"), indexed by name */
odrt_status_t tf_pb_functions(tf_graph *g, const OdrtTf__FunctionLibrary *lib);

#endif

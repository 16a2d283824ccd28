/* Helpers to grow a plan while building it. */
#ifndef ODRT_ENGINE_PLAN_UTIL_H
#define ODRT_ENGINE_PLAN_UTIL_H

#include "engine/engine.h"

/* Append len bytes (zeros when data is NULL) at an ENG_ALIGN-aligned offset; -1 on OOM. */
int64_t eng_blob_append(eng_plan *p, const void *data, size_t len);
/* New tensor; -1 (error set) on failure. */
int eng_add_tensor(eng_plan *p, int rank, const int64_t *dims, int layout);
/* New op of kind (zeroed, residual -1); NULL (error set) on failure. Pointers into p->ops are
 * invalidated by the next call. */
eng_op *eng_add_op(eng_plan *p, int kind);
/* root tensor of an alias chain */
int eng_root(const eng_plan *p, int t);

#endif

/* A small pthread pool for parallel loops: workers spin briefly for the next loop, then sleep. */
#ifndef ODRT_THREADPOOL_H
#define ODRT_THREADPOOL_H

#include <stdint.h>

typedef struct tp_pool tp_pool;
typedef void (*tp_task)(void *arg, int64_t task, int thread);

/* n_threads >= 1 (the caller's thread is one of them). NULL on failure. */
tp_pool *tp_create(int n_threads);
void tp_free(tp_pool *p);
int tp_threads(const tp_pool *p);
/* run fn(arg, i, thread) for i in [0, n) on all threads; returns when all are done */
void tp_run(tp_pool *p, int64_t n, tp_task fn, void *arg);

/* x86: the calling thread's float environment set to flush denormals to zero (FTZ) and read them
 * as zero (DAZ), returning the previous one for tp_restore_fp (the pool's workers run so from their
 * start). A denormal operand costs an x86 core a microcode assist of ~100+ cycles per instruction:
 * EfficientDet's squeeze-excite products hold thousands per frame. Values below 1.2e-38 cannot
 * move a sum of normal terms, so results are unchanged. Elsewhere these do nothing. */
unsigned tp_flush_denormals(void);
void tp_restore_fp(unsigned saved);

#endif

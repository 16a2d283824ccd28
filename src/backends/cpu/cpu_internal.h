/* CPU backend internals: the context of one loaded engine, and the pieces of the backend
 * (cpu_backend.c: prepare and the run loop; cpu_ops.c: one runner per op kind; cpu_fuse.c: fused
 * conv chains; cpu_profile.c: per-op times; cpu_half.c: the fp16 emulation). */
#ifndef ODRT_CPU_INTERNAL_H
#define ODRT_CPU_INTERNAL_H

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/threadpool.h"
#include "engine/groups.h"

#define MB 48 /* GEMM rows per task (8 micro-tiles) */

typedef struct cpu_ctx {
    const cpu_kernels *k;
    const cpu_i8_kernels *k8; /* int8 convs' GEMM */
    tp_pool *pool;
    uint8_t *arena;
    const uint8_t *blob; /* the plan's weights, or (options.cpu_half_weights) a copy with conv weights in fp16 */
    uint8_t *blob_copy;
    float **scratch; /* per thread, im2col tiles */
    uint8_t **qscratch; /* per thread, an int8 conv's quantized row block [MB][Kp] */
    uint8_t *qall;      /* an int8 conv's whole quantized input [M][Kp], where column groups share rows */
    float *zeros;    /* read-only zero row for depthwise borders */
    odrt_model_t **ref_models;
    odrt_session_t **ref_sessions;
    int n_ops;
    int *chain;      /* per op: length of a fused chain starting here (2 or 3), 0 none, -1 inside one */
    int *grp;        /* per op: 1 runs groups[k], -1 ran inside a group, 0 neither */
    eng_group *groups; /* engine/groups.h, run by cpu_fuse_elt.c */
    float *se_w;     /* a scaled conv's weights for one image */
    float **fscratch; /* per thread: ring of 3 expanded rows, one depthwise row, one row of im2col patches */
    int64_t ring_max, row_max;
    double *prof; /* options.profile: seconds per op, summed over runs (logged at free) */
    /* options.cpu_half: op outputs [half_lo, half_hi] rounded to fp16, or with half_bits their
     * mantissas to that many bits (a diagnostic: how a model takes fp16) */
    int half, half_lo, half_hi, half_bits;
    int prof_runs;
    const eng_plan *plan;
} cpu_ctx;

static inline float *cpu_tensor(const cpu_ctx *c, const eng_plan *p, int t) { return (float *)(c->arena + p->tensors[t].offset); }

/* cpu_ops.c: the runner of each op kind (NULL: none), indexed by kind */
typedef odrt_status_t (*cpu_op_fn)(cpu_ctx *c, const eng_plan *p, int k);
extern const cpu_op_fn cpu_ops[]; /* EOP_COUNT entries: cpu_ops.c checks it */
/* im2col rows of conv o for output pixels [m0, m1) (m = (n * OH + oy) * OW + ox) into dst [m1 - m0][K] */
void cpu_im2col_rows(const eng_op *o, const float *x, const eng_tensor *xt, const eng_tensor *yt, int64_t m0, int64_t m1,
                     float *dst);

/* a 1x1 conv's GEMM split into tasks: row blocks of MB, and column groups of 16-column panels when
 * the row blocks are too few for the threads (cpu_gemm_split); task t's rows [m0, m1) and columns
 * [n0, n1) (cpu_gemm_block: n0 >= n1 for a group past the last panel) */
static inline int64_t cpu_gemm_split(int64_t M, int cout, int threads, int64_t *m_blocks) {
    int64_t panels = (cout + 15) / 16;
    *m_blocks = (M + MB - 1) / MB;
    return *m_blocks >= threads * 4 ? 1 : panels < threads * 4 ? panels : threads * 4;
}
static inline void cpu_gemm_block(int64_t t, int64_t n_groups, int64_t M, int cout, int64_t *m0, int64_t *m1, int64_t *n0, int64_t *n1) {
    int64_t mb = t / n_groups, ng = t % n_groups, per = ((cout + 15) / 16 + n_groups - 1) / n_groups;
    *m0 = mb * MB, *m1 = *m0 + MB < M ? *m0 + MB : M;
    *n0 = ng * per * 16, *n1 = (ng + 1) * per * 16 < cout ? (ng + 1) * per * 16 : cout;
}

/* y = the epilogue of 1x1 conv o's GEMM on rows [0, M) of x (cin floats each), columns [n0, n1)
 * (y and r cout apart); an int8 conv quantizes the rows into thread th's scratch first */
void cpu_gemm_rows(cpu_ctx *c, const eng_op *o, int th, int64_t M, int64_t n0, int64_t n1, const float *x, float *y, const float *r);

/* cpu_fuse.c: [1x1 expand ->] depthwise 3x3 [-> 1x1 project] chains marked in c->chain, with the
 * per-thread scratch sizes they need; a chain starting at op k run */
void cpu_find_chains(cpu_ctx *c, const eng_plan *p, int64_t *ring_max, int64_t *row_max, int64_t *patch_max);
void cpu_run_chain(cpu_ctx *c, const eng_plan *p, int k);

/* cpu_fuse_elt.c: scaled convs and weighted sums marked in c->grp / c->groups (se_max: floats of
 * scaled weights needed); the group ending at op k run */
void cpu_find_groups(cpu_ctx *c, const eng_plan *p, int64_t *se_max);
void cpu_run_group(cpu_ctx *c, const eng_plan *p, int k);

/* cpu_profile.c: monotonic seconds; the profile through odrt's log */
double cpu_now(void);
void cpu_log_profile(const cpu_ctx *c, const eng_plan *p);

/* cpu_half.c: y rounded to fp16 (bits = 0) or its mantissas to bits bits (round half up, fp32's range) */
void cpu_round_half(float *y, int64_t n, int bits);
/* a copy of p's blob with every conv's weights rounded as cpu_round_half rounds (caller frees) */
uint8_t *cpu_half_weights(const eng_plan *p, int bits);

#endif

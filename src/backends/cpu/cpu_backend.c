/* The CPU backend: prepares a validated plan (arena, thread pool, per-thread scratch, reference
 * sessions, fused chains) and runs its ops in order, each by its kind's runner (cpu_ops.c), with
 * the ISA-specific kernels of kernels.c chosen per engine (odrt_engine_options_t.cpu_isa). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"

/* every kind with a runner runs here (validate.c has checked the op) */
static int cpu_supports_op(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    if (o->kind > EOP_NONE && o->kind < EOP_COUNT && cpu_ops[o->kind]) return 1;
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: op %d (%s): the CPU backend has no %s runner", k, o->name, eng_op_kind_name(o->kind));
    return 0;
}

static void cpu_free(void *vc) {
    cpu_ctx *c = vc;
    if (!c) return;
    if (c->prof && c->prof_runs) cpu_log_profile(c, c->plan);
    free(c->prof);
    free(c->chain);
    free(c->grp), free(c->groups), free(c->se_w);
    if (c->fscratch)
        for (int i = 0; i < 256; i++) free(c->fscratch[i]);
    free(c->fscratch);
    tp_free(c->pool);
    if (c->scratch)
        for (int i = 0; i < 256; i++) free(c->scratch[i]);
    free(c->scratch);
    if (c->qscratch)
        for (int i = 0; i < 256; i++) free(c->qscratch[i]);
    free(c->qscratch);
    free(c->qall);
    for (int i = 0; c->ref_sessions && i < c->n_ops; i++) odrt_session_free(c->ref_sessions[i]), odrt_model_free(c->ref_models[i]);
    free(c->ref_sessions);
    free(c->ref_models);
    free(c->zeros);
    free(c->arena);
    free(c->blob_copy);
    free(c);
}


static odrt_status_t cpu_prepare(const eng_plan *p, const odrt_engine_options_t *o, void **out) {
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int threads = o->threads;
    c->k = cpu_kernels_pick(o->cpu_isa);
    c->k8 = cpu_i8_kernels_pick(o->cpu_isa);
    c->n_ops = p->n_ops, c->plan = p;
    if (o->profile) c->prof = calloc((size_t)p->n_ops + 1, sizeof(double));
    c->half = o->cpu_half, c->half_lo = o->cpu_half_first, c->half_hi = o->cpu_half_last < 0 ? INT32_MAX : o->cpu_half_last;
    c->half_bits = o->cpu_half_bits >= 1 && o->cpu_half_bits <= 22 ? o->cpu_half_bits : 0;
    c->blob = p->blob;
    if (c->half && o->cpu_half_weights && !(c->blob = c->blob_copy = cpu_half_weights(p, c->half_bits))) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    size_t ab = ((size_t)p->arena_bytes + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN + ENG_ALIGN;
    c->arena = eng_alloc_aligned(ab);
    c->scratch = calloc(256, sizeof(float *));
    c->qscratch = calloc(256, sizeof(uint8_t *));
    c->ref_models = calloc((size_t)p->n_ops + 1, sizeof(odrt_model_t *));
    c->ref_sessions = calloc((size_t)p->n_ops + 1, sizeof(odrt_session_t *));
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    c->pool = tp_create(threads);
    if (!c->arena || !c->scratch || !c->qscratch || !c->ref_models || !c->ref_sessions || !c->pool) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory (activation arena %lld bytes)", (long long)p->arena_bytes);
    }
    int64_t kmax = 0, zmax = 8, qmax = 0, qrows = MB, qall = 0;
    for (int i = 0; i < p->n_ops; i++) {
        const eng_op *op = &p->ops[i];
        if (op->kind == EOP_CONV && op->conv_kind == CONV_IM2COL && eng_conv_k(op) > kmax) kmax = eng_conv_k(op);
        if (op->kind == EOP_CONV && op->q_scale != 0 && eng_conv_i8_kp(op) > qmax) qmax = eng_conv_i8_kp(op);
        if (op->kind == EOP_CONV && op->q_scale != 0) { /* a fused chain's GEMM rows: one image row */
            int64_t w = p->tensors[op->in[0]].dims[3], all = p->tensors[op->out].numel / op->cout * eng_conv_i8_kp(op);
            if (w > qrows) qrows = w;
            if (all > qall) qall = all;
        }
        if (op->kind == EOP_CONV && op->conv_kind == CONV_DW) {
            int64_t wc = p->tensors[op->in[0]].dims[3] * op->cin;
            if (wc > zmax) zmax = wc;
        }
        if (op->kind != EOP_REF) continue;
        odrt_status_t rc = odrt_model_load_buffer(p->blob + op->w_off, (size_t)op->w_len, NULL, &c->ref_models[i]);
        if (rc == ODRT_OK) rc = odrt_session_create(c->ref_models[i], &c->ref_sessions[i]);
        if (rc == ODRT_OK && (odrt_model_num_inputs(c->ref_models[i]) != op->n_in || odrt_model_num_outputs(c->ref_models[i]) != 1))
            rc = odrt_fail(ODRT_ERR_PARSE, "inputs/outputs do not match the op");
        if (rc != ODRT_OK) {
            cpu_free(c);
            return odrt_fail_ctx(ODRT_ERR_PARSE, "engine: reference op %d (%s)", i, op->name);
        }
    }
    int64_t ring_max = 0, row_max = 0, patch_max = 0;
    c->fscratch = calloc(256, sizeof(float *));
    int64_t se_max = 0;
    c->chain = calloc((size_t)p->n_ops + 1, sizeof(int)), c->grp = calloc((size_t)p->n_ops + 1, sizeof(int));
    if (c->chain && c->grp && c->fscratch && !o->cpu_no_fuse) {
        cpu_find_chains(c, p, &ring_max, &row_max, &patch_max);
        cpu_find_groups(c, p, &se_max);
    }
    if (se_max && !(c->se_w = eng_alloc_aligned((size_t)se_max * sizeof(float)))) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    c->ring_max = ring_max, c->row_max = row_max;
    for (int t = 0; c->fscratch && (ring_max || row_max) && t < tp_threads(c->pool); t++)
        if (!(c->fscratch[t] = eng_alloc_aligned((size_t)(ring_max + row_max + patch_max + 64) * sizeof(float)))) {
            cpu_free(c);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    if (!c->chain || !c->grp || !c->fscratch || !(c->zeros = calloc((size_t)zmax + 16, sizeof(float)))) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; kmax && t < tp_threads(c->pool); t++)
        if (!(c->scratch[t] = eng_alloc_aligned((size_t)(MB * kmax + 16) * sizeof(float)))) {
            cpu_free(c);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    for (int t = 0; qmax && t < tp_threads(c->pool); t++)
        if (!(c->qscratch[t] = eng_alloc_aligned((size_t)(qrows * qmax + 64)))) {
            cpu_free(c);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    if (qall && !(c->qall = eng_alloc_aligned((size_t)qall + 64))) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return ODRT_OK;
}

static odrt_status_t run_ops(cpu_ctx *c, const eng_plan *p, int k0, int k1) {
    if (c->prof && k0 == 0) c->prof_runs++;
    for (int k = k0; k < k1; k++) {
        if (c->chain[k] < 0 || c->grp[k] < 0) continue; /* ran inside a fused chain or group */
        const eng_op *o = &p->ops[k];
        double t0 = c->prof ? cpu_now() : 0;
        int out = o->out;
        if (c->chain[k] > 0) {
            cpu_run_chain(c, p, k);
            out = p->ops[k + c->chain[k] - 1].out;
        } else if (c->grp[k] > 0) {
            cpu_run_group(c, p, k);
        } else {
            ODRT_TRY(cpu_ops[o->kind](c, p, k));
        }
        if (c->prof) c->prof[k] += cpu_now() - t0;
        if (c->half && k >= c->half_lo && k <= c->half_hi) cpu_round_half(cpu_tensor(c, p, out), p->tensors[out].numel, c->half_bits);
    }
    return ODRT_OK;
}

/* the network with denormals flushed (threadpool.h says why), the caller's float environment
 * restored after */
static odrt_status_t cpu_run(void *vc, const eng_plan *p, int k0, int k1) {
    if (k0 < 0 || k1 > p->n_ops || k0 > k1) return odrt_fail(ODRT_ERR_ARG, "engine: ops [%d, %d) of %d", k0, k1, p->n_ops);
    unsigned saved = tp_flush_denormals();
    odrt_status_t rc = run_ops(vc, p, k0, k1);
    tp_restore_fp(saved);
    return rc;
}

static uint8_t *cpu_arena(void *vc) { return ((cpu_ctx *)vc)->arena; }

static void cpu_parallel_for(void *vc, int64_t n, void (*fn)(void *, int64_t, int), void *arg) {
    tp_run(((cpu_ctx *)vc)->pool, n, fn, arg);
}

static void cpu_sigmoid(void *vc, const float *x, float *y, int64_t n) {
    const k_epi e = {EACT_SIGMOID, 0, 0};
    ((cpu_ctx *)vc)->k->act(x, y, n, &e);
}

static const char *cpu_kernel_set(void *vc) { return ((cpu_ctx *)vc)->k->isa; }

const eng_backend_i eng_backend_cpu = {
    .name = "cpu",
    .dev = &eng_device_cpu,
    .supports_op = cpu_supports_op,
    .prepare = cpu_prepare,
    .run = cpu_run,
    .arena = cpu_arena,
    .parallel_for = cpu_parallel_for,
    .sigmoid = cpu_sigmoid,
    .free = cpu_free,
    .kernels = cpu_kernel_set,
};

/* The CPU backend's profile (odrt_engine_options_t.profile): seconds per op summed over runs,
 * logged when the context is freed: one line per op (a fused chain's line covers its ops), then
 * the total per op class. */
#include <time.h>

#include "util.h"
#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"

double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* multiply-adds of op k (a fused chain: of all its ops), for the profile's GFLOP/s column */
static double op_macs(const cpu_ctx *c, const eng_plan *p, int k) {
    double m = 0;
    for (int i = k; i < k + (c->chain[k] > 0 ? c->chain[k] : 1); i++) {
        const eng_op *o = &p->ops[i];
        if (o->kind == EOP_CONV) m += (double)p->tensors[o->out].numel * (double)eng_conv_k(o);
    }
    return m;
}

void cpu_log_profile(const cpu_ctx *c, const eng_plan *p) {
    double tot = 0, by[ENG_OP_CLASSES] = {0};
    odrt_sb_t sb = {0};
    for (int k = 0; k < c->n_ops; k++) tot += c->prof[k];
    odrt_sb_printf(&sb, "odrt profile: %d runs, network %.3f ms/run\n", c->prof_runs, tot * 1e3 / c->prof_runs);
    for (int k = 0; k < c->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        by[eng_op_class(o)] += c->prof[k];
        if (c->chain[k] < 0) continue;
        const eng_tensor *y = &p->tensors[p->ops[k + (c->chain[k] > 1 ? c->chain[k] - 1 : 0)].out]; /* a chain's last */
        double ms = c->prof[k] * 1e3 / c->prof_runs, gf = ms > 0 ? 2 * op_macs(c, p, k) / (ms * 1e6) : 0;
        odrt_sb_printf(&sb, "  %3d %-11s %8.3f ms %6.1f GFLOP/s%s out %lldx%lldx%lldx%lld  %s\n", k,
                       eng_op_class_name(eng_op_class(o)), ms, gf, c->chain[k] > 0 ? (c->chain[k] == 3 ? " chain3" : " chain2") : "       ",
                       (long long)y->dims[0], (long long)(y->rank > 1 ? y->dims[1] : 1), (long long)(y->rank > 2 ? y->dims[2] : 1),
                       (long long)(y->rank > 3 ? y->dims[3] : 1), o->name);
    }
    for (int i = 0; i < ENG_OP_CLASSES; i++)
        if (by[i] > 0) odrt_sb_printf(&sb, "  total %-11s %8.3f ms\n", eng_op_class_name(i), by[i] * 1e3 / c->prof_runs);
    odrt_log_text(ODRT_LOG_INFO, &sb);
}

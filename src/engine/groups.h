/* Elementwise patterns a backend may run as one launch or pass (found by structure on a finished
 * plan; the plan keeps every op, and eng_plan_memory keeps each pattern's inputs alive to the op
 * that ends it, so a backend may take or leave each group):
 *   - a scaled conv: x * s (s a per-image channel vector, BC_CHANNEL) read only by a float 1x1
 *     conv, which may run on x with each input channel k of image n scaled by s[n, k]
 *     (squeeze-and-excite: the scaled map is never written);
 *   - a weighted sum: adds of tensors or their scalar multiples (each intermediate read only by the
 *     next add), y = act(sum_i w_i x_i) in the adds' order (BiFPN's fast normalised fusion). */
#ifndef ODRT_ENGINE_GROUPS_H
#define ODRT_ENGINE_GROUPS_H

#include "engine/engine.h"

enum { EGRP_NONE = 0, EGRP_SCALED_CONV, EGRP_WSUM };
typedef struct eng_group {
    int kind;
    int n, in[ENG_MAX_IN]; /* EGRP_SCALED_CONV: the map x and its channel vector s; EGRP_WSUM: the terms */
    float w[ENG_MAX_IN];   /* EGRP_WSUM: each term's factor (1 for a plain term) */
} eng_group;

/* Marks the groups of p: grp[k] = 1 where op k ends one (groups[k] describes it), -1 for the ops
 * that run inside it (to be skipped), 0 elsewhere. Ops with busy[k] != 0 (busy may be NULL: taken
 * by the backend already, e.g. a fused conv chain) join none. grp and groups hold p->n_ops
 * entries, zeroed by the caller. Bounded against hostile plans (recursion depth, span); an R-CNN
 * stage boundary is never crossed. Returns 0, or -1 when out of memory (nothing marked). */
int eng_find_groups(const eng_plan *p, const int *busy, int *grp, eng_group *groups);

#endif

#include "backends/cpu/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct tp_pool {
    int n;
    pthread_t *th;
    atomic_uint gen;
    atomic_long next;
    atomic_int done;
    atomic_int stop;
    int64_t n_tasks;
    tp_task fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct {
    tp_pool *p;
    int id;
} worker_arg;

static void work(tp_pool *p, int id) {
    for (;;) {
        int64_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks) break;
        p->fn(p->arg, i, id);
    }
}

static void *worker(void *a) {
    worker_arg *wa = a;
    tp_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    tp_flush_denormals();
    unsigned seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load(&p->gen) == seen) {
#if defined(__x86_64__) || defined(__i386__)
            if (++spins < 200000) {
                __builtin_ia32_pause();
                continue;
            }
#else /* a syscall in the spin: emulators (qemu-user) need it to make progress on other threads */
            if (++spins < 2000) {
                sched_yield();
                continue;
            }
#endif
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen) pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = atomic_load(&p->gen);
        if (atomic_load(&p->stop)) return NULL;
        work(p, id);
        atomic_fetch_add(&p->done, 1);
    }
}

tp_pool *tp_create(int n) {
    tp_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n < 1 ? 1 : n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->th = calloc((size_t)p->n, sizeof(pthread_t));
    if (!p->th) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < p->n; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) wa->p = p, wa->id = i;
        if (!wa || pthread_create(&p->th[i], NULL, worker, wa)) {
            free(wa);
            p->n = i;
            break;
        }
    }
    return p;
}

int tp_threads(const tp_pool *p) { return p ? p->n : 1; }

void tp_run(tp_pool *p, int64_t n, tp_task fn, void *arg) {
    if (!p || p->n == 1 || n == 1) {
        for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
        return;
    }
    p->fn = fn, p->arg = arg, p->n_tasks = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->done, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    while (atomic_load(&p->done) < p->n - 1) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        sched_yield();
#endif
    }
}

void tp_free(tp_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->th);
    free(p);
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
unsigned tp_flush_denormals(void) {
    unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return saved;
}
void tp_restore_fp(unsigned saved) { _mm_setcsr(saved); }
#else
unsigned tp_flush_denormals(void) { return 0; }
void tp_restore_fp(unsigned saved) { (void)saved; }
#endif

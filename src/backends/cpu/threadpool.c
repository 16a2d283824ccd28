#include "backends/cpu/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A loop (a job) is tasks [0, n): every thread, the caller included, claims the next unclaimed task
 * with a compare-and-swap on `claim` = (job << 32) | next index, and the caller returns when the
 * job's tasks are finished, counted in `finished`. Nobody waits for a thread that has not started:
 * a worker the scheduler keeps off its core (a busy machine) simply claims nothing, and the caller
 * (or another worker) runs its share. A worker that wakes late sees a later job's claim word or a
 * closed one and cannot take a task of a job that is over. Between jobs workers spin a little
 * (back-to-back loops of one network), yield, then sleep on a condition variable. */
#define TP_CLOSED 0xFFFFFFFFu
struct tp_pool {
    int n;
    pthread_t *th;
    _Atomic uint64_t claim;   /* (job << 32) | next task; index TP_CLOSED while a job is set up */
    atomic_uint job;          /* the newest job: workers wait for it to change */
    atomic_llong finished;    /* tasks of the current job done */
    _Atomic int64_t n_tasks;
    _Atomic(tp_task) fn;
    _Atomic(void *) arg;
    atomic_int sleepers;      /* workers asleep (or going to sleep) on cv */
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct {
    tp_pool *p;
    int id;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* claim and run tasks of the current job until none is left */
static void help(tp_pool *p, int id) {
    for (;;) {
        uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
        uint32_t i = (uint32_t)v;
        int64_t n = atomic_load_explicit(&p->n_tasks, memory_order_relaxed);
        if (i == TP_CLOSED || (int64_t)i >= n) return;
        tp_task fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
        /* the claim word unchanged since it was read: fn, arg and n are this job's */
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel, memory_order_relaxed)) continue;
        fn(arg, i, id);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

/* spin (about 20-50 us), then yield the core for a while, then sleep until the job changes */
static unsigned wait_job(tp_pool *p, unsigned seen) {
    unsigned j;
    for (int spins = 0; (j = atomic_load_explicit(&p->job, memory_order_acquire)) == seen; spins++) {
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
        if (spins < 512) {
            cpu_relax();
            continue;
        }
#endif
        if (spins < 640) { /* also what lets emulators (qemu-user) run the other threads */
            sched_yield();
            continue;
        }
        atomic_fetch_add(&p->sleepers, 1);
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->job) == seen) pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        atomic_fetch_sub(&p->sleepers, 1);
    }
    return j;
}

static void *worker(void *a) {
    worker_arg *wa = a;
    tp_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    tp_flush_denormals();
    unsigned seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->stop)) return NULL;
        help(p, id);
    }
}

tp_pool *tp_create(int n) {
    tp_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n < 1 ? 1 : n;
    atomic_init(&p->claim, TP_CLOSED);
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

/* a new job's number visible to the workers, and the sleeping ones woken */
static void publish(tp_pool *p, unsigned job) {
    atomic_store(&p->job, job);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

void tp_run(tp_pool *p, int64_t n, tp_task fn, void *arg) {
    if (!p || p->n == 1 || n <= 1 || n >= (int64_t)TP_CLOSED) {
        for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
        return;
    }
    unsigned job = atomic_load(&p->job) + 1;
    /* closed while the job is set up: a worker holding an old claim word fails its exchange */
    atomic_store(&p->claim, ((uint64_t)(job - 1) << 32) | TP_CLOSED);
    atomic_store_explicit(&p->n_tasks, n, memory_order_relaxed);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (uint64_t)job << 32, memory_order_release);
    publish(p, job);
    help(p, 0);
    /* the tasks other threads claimed and are still running: their owners are on a core */
    for (int spins = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < n; spins++)
        if (spins < 4096) cpu_relax();
        else sched_yield();
}

void tp_free(tp_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    unsigned job = atomic_load(&p->job) + 1;
    atomic_store(&p->job, job);
    pthread_mutex_lock(&p->mu);
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

/* Single-precision GEMM for the reference executor: cache-blocked, written so the compiler
 * vectorises the inner loop; rows split across threads for large problems. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/exec.h"

#define NB 256 /* column tile */
#define KB 256 /* depth tile */

typedef struct {
    int64_t m0, m1, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
} gemm_job;

/* C[m0:m1, :] += alpha * A[m0:m1, :] * B, A and B not transposed */
EX_HOT static void gemm_rows(const gemm_job *j) {
    const int64_t N = j->N, K = j->K;
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
        int64_t k1 = k0 + KB < K ? k0 + KB : K;
        for (int64_t n0 = 0; n0 < N; n0 += NB) {
            int64_t nn = n0 + NB < N ? NB : N - n0;
            int64_t i = j->m0;
            for (; i + 4 <= j->m1; i += 4) {
                float *c0 = j->C + i * j->ldc + n0, *c1 = c0 + j->ldc, *c2 = c1 + j->ldc, *c3 = c2 + j->ldc;
                const float *a = j->A + i * j->lda;
                for (int64_t k = k0; k < k1; k++) {
                    const float a0 = j->alpha * a[k], a1 = j->alpha * a[j->lda + k], a2 = j->alpha * a[2 * j->lda + k],
                                a3 = j->alpha * a[3 * j->lda + k];
                    const float *restrict b = j->B + k * j->ldb + n0;
                    for (int64_t x = 0; x < nn; x++) {
                        const float bv = b[x];
                        c0[x] += a0 * bv;
                        c1[x] += a1 * bv;
                        c2[x] += a2 * bv;
                        c3[x] += a3 * bv;
                    }
                }
            }
            for (; i < j->m1; i++) {
                float *c0 = j->C + i * j->ldc + n0;
                const float *a = j->A + i * j->lda;
                for (int64_t k = k0; k < k1; k++) {
                    const float a0 = j->alpha * a[k];
                    const float *restrict b = j->B + k * j->ldb + n0;
                    for (int64_t x = 0; x < nn; x++) c0[x] += a0 * b[x];
                }
            }
        }
    }
}

static void *gemm_thread(void *p) {
    gemm_rows(p);
    return NULL;
}

static int g_threads; /* odrt_set_reference_threads; 0: the CPU count, at most 16 */

void odrt_set_reference_threads(int n) { g_threads = n > 0 ? (n > 256 ? 256 : n) : 0; }

static int n_threads(void) {
    int n = g_threads;
    if (!n) {
        long c = 2;
#ifdef _SC_NPROCESSORS_ONLN
        c = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        n = c > 0 ? (int)(c > 16 ? 16 : c) : 1;
    }
    return n;
}

void ex_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0) memset(c, 0, sizeof(float) * (size_t)N);
        else if (beta != 1)
            for (int64_t x = 0; x < N; x++) c[x] *= beta;
    }
    float *At = NULL, *Bt = NULL;
    if (transA) { /* materialise A (M x K) */
        At = malloc(sizeof(float) * (size_t)(M * K + 1));
        if (!At) return;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) At[i * K + k] = A[k * lda + i];
        A = At, lda = K;
    }
    if (transB) {
        Bt = malloc(sizeof(float) * (size_t)(K * N + 1));
        if (!Bt) {
            free(At);
            return;
        }
        for (int64_t k = 0; k < K; k++)
            for (int64_t x = 0; x < N; x++) Bt[k * N + x] = B[x * ldb + k];
        B = Bt, ldb = N;
    }
    int nt = n_threads();
    double work = (double)M * (double)N * (double)K;
    if (nt > 1 && work > 4e6 && M >= 8) {
        gemm_job jobs[16];
        pthread_t th[16];
        int started[16] = {0};
        int64_t per = ((M + nt - 1) / nt + 3) / 4 * 4;
        int used = 0;
        for (int t = 0; t < nt; t++) {
            int64_t m0 = t * per, m1 = m0 + per < M ? m0 + per : M;
            if (m0 >= M) break;
            jobs[t] = (gemm_job){m0, m1, N, K, alpha, A, lda, B, ldb, C, ldc};
            used = t + 1;
        }
        for (int t = 1; t < used; t++) started[t] = pthread_create(&th[t], NULL, gemm_thread, &jobs[t]) == 0;
        gemm_rows(&jobs[0]);
        for (int t = 1; t < used; t++) {
            if (started[t]) pthread_join(th[t], NULL);
            else gemm_rows(&jobs[t]);
        }
    } else {
        gemm_job j = {0, M, N, K, alpha, A, lda, B, ldb, C, ldc};
        gemm_rows(&j);
    }
    free(At);
    free(Bt);
}

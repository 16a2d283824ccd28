/* odrt bench: load time, first inference, latency percentiles, throughput and peak RSS, in the
 * spirit of trtexec's performance summary. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *s, int n, double p) { /* nearest rank */
    int k = (int)(p / 100.0 * n + 0.999999) - 1;
    return s[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* --streams N: N handles on one engine (odrt_engine_share: on a GPU each its own stream, graph and
 * buffers) detecting concurrently from N threads, as a server keeps several batches in flight
 * (trtexec --streams): one batch's upload and host work overlap another's network */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, go; /* streams warm (or failed); timing started */
} stream_gate;
typedef struct {
    odrt_engine_t *e;
    const odrt_tensor_t **frames;
    int B, iters, warmup, rc;
    stream_gate *g;
    char err[256]; /* the stream's error (odrt's error is per thread) */
} stream_job;

/* a stream is warm, or failed before: count it, and wait for the start unless it failed */
static void stream_arrive(stream_gate *g, int wait) {
    pthread_mutex_lock(&g->mu);
    g->ready++;
    pthread_cond_broadcast(&g->cv);
    while (wait && !g->go) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void *stream_run(void *arg) {
    stream_job *j = arg;
    odrt_detections_t *d = calloc((size_t)j->B, sizeof *d);
    int it = 0;
    if (!d) snprintf(j->err, sizeof j->err, "out of memory"), j->rc = 1;
    for (; it < j->warmup + j->iters && !j->rc; it++) {
        if (it == j->warmup) stream_arrive(j->g, 1);
        if (odrt_engine_detect(j->e, j->B, j->frames, d) != ODRT_OK) snprintf(j->err, sizeof j->err, "%s", odrt_last_error()), j->rc = 1;
        for (int i = 0; i < j->B; i++) odrt_detections_clear(&d[i]);
    }
    if (j->rc && it <= j->warmup) stream_arrive(j->g, 0); /* failed while warming up */
    free(d);
    return NULL;
}

/* a CUDA engine's streams from this one thread: every handle's batch submitted
 * (odrt_engine_submit returns once the work is queued), then round robin: wait for handle i's,
 * submit its next; iters batches each after warmup ones; -1 on failure */
/* handle e's submitted batch waited for and its detections dropped; 1 (reported) on failure */
static int wait_drop(odrt_engine_t *e, odrt_detections_t *d, int B) {
    if (odrt_engine_wait(e, d) != ODRT_OK) return cli_error("bench: stream");
    for (int b = 0; b < B; b++) odrt_detections_clear(&d[b]);
    return 0;
}

static double streams_async(odrt_engine_t **hs, int n, const odrt_tensor_t **frames, int B, int iters, int warmup) {
    odrt_frame_t fr[256];
    odrt_detections_t d[256];
    for (int i = 0; i < B; i++) fr[i] = (odrt_frame_t){frames[i]->data, (int)frames[i]->dims[1], (int)frames[i]->dims[2], ODRT_MEM_HOST};
    double t0 = 0;
    int in_flight = 0, bad = 0;
    for (int it = 0; it < warmup + iters && !bad; it++) {
        if (it == warmup) { /* timing starts with every stream drained */
            for (int i = 0; i < in_flight && !bad; i++) bad = wait_drop(hs[i], d, B);
            in_flight = 0, t0 = cli_now();
        }
        for (int i = 0; i < n && !bad; i++) {
            if (in_flight > i) bad = wait_drop(hs[i], d, B);
            if (!bad && odrt_engine_submit(hs[i], B, fr) != ODRT_OK) bad = cli_error("bench: stream");
            if (!bad && in_flight <= i) in_flight = i + 1;
        }
    }
    for (int i = 0; i < in_flight && !bad; i++) bad = wait_drop(hs[i], d, B);
    return bad ? -1 : (double)n * iters * B / (cli_now() - t0);
}

/* images/s of n streams, each iters batches after warmup ones, timed from the moment every stream
 * is warm (CUDA: from one thread through the asynchronous API; CPU: a thread per handle); -1 on
 * failure (reported on stderr) */
static double streams_throughput(odrt_engine_t *e, int n, const odrt_tensor_t **frames, int B, int iters, int warmup) {
    if (!strcmp(odrt_engine_device(e), "cuda")) {
        odrt_engine_t *hs[16] = {e};
        int bad = 0;
        for (int i = 1; i < n && !bad; i++)
            if (odrt_engine_share(e, &hs[i]) != ODRT_OK) bad = cli_error("bench: a handle per stream");
        double ips = bad ? -1 : streams_async(hs, n, frames, B, iters, warmup);
        for (int i = 1; i < n; i++) odrt_engine_free(hs[i]);
        return ips;
    }
    stream_job jobs[16];
    pthread_t th[16];
    stream_gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int started = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        jobs[i] = (stream_job){i ? NULL : e, frames, B, iters, warmup, 0, &g, ""};
        if (i && !bad && odrt_engine_share(e, &jobs[i].e) != ODRT_OK) bad = cli_error("bench: a handle per stream");
    }
    for (; !bad && started < n; started++)
        if (pthread_create(&th[started], NULL, stream_run, &jobs[started])) {
            fprintf(stderr, "odrt: bench: could not start a thread per stream\n");
            bad = 1;
            break;
        }
    pthread_mutex_lock(&g.mu);
    while (g.ready < started) pthread_cond_wait(&g.cv, &g.mu);
    double t0 = cli_now();
    g.go = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    double dt = cli_now() - t0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].rc && !bad) fprintf(stderr, "odrt: bench: stream %d: %s\n", i, jobs[i].err), bad = 1;
        if (i && jobs[i].e) odrt_engine_free(jobs[i].e);
    }
    return bad ? -1 : (double)n * iters * B / dt;
}

int cmd_bench(int argc, char **argv) {
    const char *target = NULL, *image = NULL;
    int iters = 50, warmup = 5, json = 0, threads = 0, streams = 1;
    odrt_build_options_t o;
    cli_build_options_init(&o);
    for (int i = 1; i < argc; i++) {
        int r = cli_build_flag(argc, argv, &i, &o, "bench");
        if (r < 0) return 2;
        if (r) {
            if (!strcmp(argv[i - 1], "--threads")) threads = o.threads;
            continue;
        }
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--image") && i + 1 < argc) image = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc) streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "odrt bench: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else target = argv[i];
    }
    if (!target || iters < 1 || iters > 1000000 || warmup < 0 || warmup > 100000 || streams < 1 || streams > 16) {
        fprintf(stderr, "odrt bench: usage: odrt bench MODEL|ENGINE [--iterations N>=1] [--warmup N] [--batch N] [--threads N] "
                        "[--streams 1..16] [--image FILE] [--json]\n");
        return 2;
    }
    odrt_engine_t *e;
    int built;
    double open_s, load_ms[7];
    int n_load = 0;
    if (cli_open_engine(target, &o, threads, &e, &open_s, &built)) return 1;
    double t_prep = cli_now();
    if (odrt_engine_prepare(e) != ODRT_OK) return cli_error(""); /* a CUDA engine: context, upload */
    double prep_ms = (cli_now() - t_prep) * 1e3;
    if (!built) { /* file -> ready, page cache warm (device context already made): the median of several loads */
        for (; n_load < 7; n_load++) {
            odrt_engine_t *e2;
            double t0 = cli_now();
            if (cli_load_engine(target, threads, &e2) != ODRT_OK || odrt_engine_prepare(e2) != ODRT_OK) return cli_error("");
            load_ms[n_load] = (cli_now() - t0) * 1e3;
            odrt_engine_free(e2);
        }
        qsort(load_ms, (size_t)n_load, sizeof(double), cmp_d);
    }
    int B = odrt_engine_batch(e);
    odrt_tensor_t *frame = NULL;
    if (image) {
        if (odrt_image_load(image, 0, 0, &frame) != ODRT_OK) return cli_error("");
    } else { /* synthetic frame at the network size, from the engine's metadata */
        char *js;
        int h = 320, w = 320;
        if (odrt_engine_info_json(e, &js) == ODRT_OK) {
            cJSON *j = cJSON_Parse(js), *in = cJSON_GetObjectItem(j, "input");
            cJSON *fs = cJSON_GetObjectItem(in, "frame_size"), *ns = cJSON_GetObjectItem(in, "network_size");
            cJSON *use = cJSON_GetArrayItem(fs, 0) && cJSON_GetArrayItem(fs, 0)->valuedouble > 0 ? fs : ns;
            h = (int)cJSON_GetArrayItem(use, 0)->valuedouble, w = (int)cJSON_GetArrayItem(use, 1)->valuedouble;
            cJSON_Delete(j);
            free(js);
        }
        int64_t d[4] = {1, h, w, 3};
        if (odrt_tensor_create(ODRT_DT_UINT8, 4, d, &frame) != ODRT_OK) return cli_error("");
        uint32_t s = 12345;
        for (size_t i = 0; i < frame->nbytes; i++) s = s * 1664525u + 1013904223u, ((uint8_t *)frame->data)[i] = (uint8_t)(s >> 24);
    }
    const odrt_tensor_t **frames = malloc(sizeof(*frames) * (size_t)B);
    odrt_detections_t *dets = calloc((size_t)B, sizeof *dets);
    double *lat = malloc(sizeof(double) * (size_t)iters);
    if (!frames || !dets || !lat) return fprintf(stderr, "odrt bench: out of memory\n"), 1;
    for (int i = 0; i < B; i++) frames[i] = frame;
    int rc = 0, n_dev = 0;
    double first = 0, since_start = 0, *dev = malloc(sizeof(double) * (size_t)iters);
    if (!dev) return fprintf(stderr, "odrt bench: out of memory\n"), 1;
    for (int it = -1 - warmup; it < iters && !rc; it++) {
        double t0 = cli_now();
        if (odrt_engine_detect(e, B, frames, dets) != ODRT_OK) rc = cli_error("detect");
        double dt = (cli_now() - t0) * 1e3;
        for (int i = 0; i < B; i++) odrt_detections_clear(&dets[i]);
        if (it == -1 - warmup) first = dt, since_start = (cli_now() - cli_start) * 1e3;
        if (it >= 0) lat[it] = dt;
        if (it >= 0 && odrt_engine_device_ms(e) >= 0) dev[n_dev++] = odrt_engine_device_ms(e);
    }
    if (n_dev) qsort(dev, (size_t)n_dev, sizeof(double), cmp_d);
    double st_ips = 0;
    if (!rc && streams > 1 && (st_ips = streams_throughput(e, streams, frames, B, iters, warmup > 2 ? warmup : 2)) < 0) rc = 1;
    if (!rc) {
        double mean = 0;
        for (int i = 0; i < iters; i++) mean += lat[i];
        mean /= iters;
        qsort(lat, (size_t)iters, sizeof(double), cmp_d);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss = (double)ru.ru_maxrss / 1024.0;
        int th = threads ? threads : o.threads;
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "target", target);
            cJSON_AddBoolToObject(j, "built_in_memory", built);
            cJSON_AddNumberToObject(j, built ? "build_ms" : "open_ms", open_s * 1e3);
            if (!built) cJSON_AddNumberToObject(j, "load_ms", load_ms[n_load / 2]), cJSON_AddNumberToObject(j, "load_min_ms", load_ms[0]);
            cJSON_AddNumberToObject(j, "batch", B);
            cJSON_AddNumberToObject(j, "threads", th);
            cJSON_AddNumberToObject(j, "first_ms", first);
            cJSON_AddStringToObject(j, "device", odrt_engine_device(e));
            if (!strcmp(odrt_engine_device(e), "cpu")) cJSON_AddStringToObject(j, "cpu_kernels", odrt_engine_kernels(e));
            cJSON_AddNumberToObject(j, "prepare_ms", prep_ms);
            cJSON_AddNumberToObject(j, "process_start_to_first_detection_ms", since_start);
            if (n_dev) {
                cJSON_AddNumberToObject(j, "device_median_ms", pct(dev, n_dev, 50));
                cJSON_AddNumberToObject(j, "device_min_ms", dev[0]);
            }
            cJSON_AddNumberToObject(j, "min_ms", lat[0]);
            cJSON_AddNumberToObject(j, "mean_ms", mean);
            cJSON_AddNumberToObject(j, "median_ms", pct(lat, iters, 50));
            cJSON_AddNumberToObject(j, "p90_ms", pct(lat, iters, 90));
            cJSON_AddNumberToObject(j, "p99_ms", pct(lat, iters, 99));
            cJSON_AddNumberToObject(j, "max_ms", lat[iters - 1]);
            cJSON_AddNumberToObject(j, "throughput_ips", B * 1e3 / mean);
            if (streams > 1) cJSON_AddNumberToObject(j, "streams", streams), cJSON_AddNumberToObject(j, "streams_throughput_ips", st_ips);
            cJSON_AddNumberToObject(j, "peak_rss_mib", rss);
            char *s = cJSON_Print(j);
            puts(s);
            free(s);
            cJSON_Delete(j);
        } else {
            printf("=== Performance summary: %s ===\n", target);
            if (built) printf("Build (model -> engine in memory): %.1f ms\n", open_s * 1e3);
            else printf("Engine load (file -> ready, page cache warm): median %.2f ms, min %.2f ms over %d loads\n",
                        load_ms[n_load / 2], load_ms[0], n_load);
            printf("Frames: batch %d, %s; threads %s\n", B, image ? image : "synthetic at the network size",
                   th ? "as given" : "engine default");
            if (!strcmp(odrt_engine_device(e), "cpu")) printf("Device: cpu, %s kernels", odrt_engine_kernels(e));
            else printf("Device: %s", odrt_engine_device(e));
            printf("; first use (context, upload, allocation): %.2f ms\n", prep_ms);
            printf("First inference: %.2f ms; process start -> first detection: %.1f ms\n", first, since_start);
            printf("Latency: min = %.2f ms, max = %.2f ms, mean = %.2f ms, median = %.2f ms, percentile(90%%) = %.2f ms, "
                   "percentile(99%%) = %.2f ms (%d iterations after %d warm-up)\n",
                   lat[0], lat[iters - 1], mean, pct(lat, iters, 50), pct(lat, iters, 90), pct(lat, iters, 99), iters, warmup);
            printf("Throughput: %.1f images/s\n", B * 1e3 / mean);
            if (streams > 1)
                printf("Throughput with %d streams (handles detecting concurrently, %d batches each): %.1f images/s\n", streams,
                       iters, st_ips);
            if (n_dev)
                printf("GPU time per inference (device events: upload, preprocessing, network, NMS, download): median %.3f ms, "
                       "min %.3f ms\n", pct(dev, n_dev, 50), dev[0]);
            printf("Peak RSS: %.1f MiB\n", rss);
        }
    }
    free(frames), free(dets), free(lat), free(dev);
    odrt_tensor_free(frame);
    odrt_engine_free(e);
    return rc;
}

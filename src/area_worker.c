/* area_worker.c -- polygons' areas in square metres on a second thread.
 *
 * Density over Shanghai's 636,000 grid cells spent a third of its time decoding
 * each cell and projecting it to the metric CRS (PROJ's transverse Mercator is
 * all sines and logarithms), one cell at a time after SQLite had stepped to it.
 * The two are independent, so the caller keeps stepping while this thread
 * computes: it fills one batch of BLOBs while the worker measures the other. */
#include "area_worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 2048

typedef struct {
    size_t n;
    size_t index[BATCH];
    size_t off[BATCH + 1]; /* blob i is bytes[off[i] .. off[i + 1]) */
    double area[BATCH];
    unsigned char *bytes;
    size_t cap;
    int failed; /* the worker's error for item `failed_at` is in `err` */
    size_t failed_at;
    em_error err;
} batch;

struct em_area_worker {
    em_metric *metric; /* the worker's own: a PROJ object is not shared between threads */
    em_area_store store;
    void *ctx;
    batch batches[2];
    int filling;   /* the batch the caller fills */
    int busy;      /* the worker has a batch (the other one) */
    int stopping;  /* no more batches */
    int delivered; /* the other batch's results went to `store` (or there were none) */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void measure(em_area_worker *w, batch *b) {
    em_shape shape = {0};
    for (size_t i = 0; i < b->n; i++) {
        if (em_shape_from_blob(&shape, b->bytes + b->off[i], (int)(b->off[i + 1] - b->off[i]),
                               &b->err) < 0 ||
            em_shape_project(&shape, w->metric, &b->err) < 0) {
            b->failed = 1;
            b->failed_at = b->index[i];
            break;
        }
        b->area[i] = em_shape_area(&shape);
    }
    em_shape_free(&shape);
}

static void *run(void *arg) {
    em_area_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->busy)
            break;
        batch *b = &w->batches[1 - w->filling];
        pthread_mutex_unlock(&w->lock);
        measure(w, b);
        pthread_mutex_lock(&w->lock);
        w->busy = 0;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

em_area_worker *em_area_worker_new(em_area_store store, void *ctx, em_error *err) {
    em_area_worker *w = calloc(1, sizeof *w);
    if (!w) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    if (!(w->metric = em_metric_new(err))) {
        free(w);
        return NULL;
    }
    w->store = store;
    w->ctx = ctx;
    w->delivered = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        em_metric_free(w->metric);
        free(w);
        em_fail(err, EM_ERR_RUNTIME, "cannot start a thread");
        return NULL;
    }
    return w;
}

/* Wait for the worker's batch and hand its results to `store`; -1 with its error. */
static int collect(em_area_worker *w, em_error *err) {
    pthread_mutex_lock(&w->lock);
    while (w->busy)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    if (w->delivered)
        return 0;
    w->delivered = 1;
    batch *b = &w->batches[1 - w->filling];
    if (b->failed) {
        *err = b->err;
        w->store(w->ctx, b->failed_at, 0, err);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++)
        w->store(w->ctx, b->index[i], b->area[i], NULL);
    return 0;
}

/* Give the filled batch to the worker (after collecting the one it had). */
static int hand_over(em_area_worker *w, em_error *err) {
    if (collect(w, err) < 0)
        return -1;
    pthread_mutex_lock(&w->lock);
    w->filling = 1 - w->filling;
    w->busy = 1;
    w->delivered = 0;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    batch *next = &w->batches[w->filling];
    next->n = 0;
    next->off[0] = 0;
    next->failed = 0;
    return 0;
}

int em_area_worker_add(em_area_worker *w, size_t index, const void *blob, int size, em_error *err) {
    batch *b = &w->batches[w->filling];
    size_t need = b->off[b->n] + (size > 0 ? (size_t)size : 0);
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < need)
            cap *= 2;
        unsigned char *bytes = realloc(b->bytes, cap);
        if (!bytes)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        b->bytes = bytes;
        b->cap = cap;
    }
    if (size > 0)
        memcpy(b->bytes + b->off[b->n], blob, (size_t)size);
    b->index[b->n] = index;
    b->off[++b->n] = need;
    return b->n == BATCH ? hand_over(w, err) : 0;
}

int em_area_worker_finish(em_area_worker *w, em_error *err) {
    if (w->batches[w->filling].n > 0 && hand_over(w, err) < 0)
        return -1;
    return collect(w, err);
}

void em_area_worker_free(em_area_worker *w) {
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    em_metric_free(w->metric);
    free(w->batches[0].bytes);
    free(w->batches[1].bytes);
    free(w);
}

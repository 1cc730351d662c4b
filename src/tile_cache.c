#include "tile_cache.h"

#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct em_tile_cache {
    pthread_mutex_t lock;
    size_t cap, bytes, entries;
    unsigned long long evictions;
    em_tile_entry **buckets;
    size_t nbuckets;
    em_tile_entry *head, *tail; /* most recently used first */
};

static unsigned long long hash_key(const char *s) {
    unsigned long long h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

em_tile_cache *em_tile_cache_new(size_t cap) {
    em_tile_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->cap = cap;
    c->nbuckets = 1024;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

static void entry_free(em_tile_entry *e) {
    free((void *)e->gzip);
    free(e); /* key, etag and body live in the same block */
}

void em_tile_cache_free(em_tile_cache *c) {
    if (!c)
        return;
    for (em_tile_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- with the lock held ------------------------------------------------------- */

static void lru_unlink(em_tile_cache *c, em_tile_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(em_tile_cache *c, em_tile_entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Take `e` out of the cache; it is freed now or by its last release. */
static void remove_entry(em_tile_cache *c, em_tile_entry *e) {
    em_tile_entry **p = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*p && *p != e)
        p = &(*p)->chain;
    if (*p)
        *p = e->chain;
    lru_unlink(c, e);
    c->bytes -= e->bytes;
    c->entries--;
    e->linked = 0;
    if (e->refs == 0)
        entry_free(e);
}

static void grow_buckets(em_tile_cache *c) {
    size_t n = c->nbuckets * 2;
    em_tile_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++)
        for (em_tile_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static void evict_to(em_tile_cache *c, size_t limit) {
    while (c->bytes > limit && c->tail) {
        remove_entry(c, c->tail);
        c->evictions++;
        em_metrics_counter_add("estatemap_tile_cache_evictions_total",
                               "Tiles evicted from the cache to stay under --tile-cache-mb", 1);
    }
}

/* ---- public ------------------------------------------------------------------- */

em_tile_entry *em_tile_cache_get(em_tile_cache *c, const char *key, const char *etag) {
    if (!c || c->cap == 0)
        return NULL;
    unsigned long long h = hash_key(key);
    pthread_mutex_lock(&c->lock);
    em_tile_entry *e = c->buckets[h & (c->nbuckets - 1)];
    while (e && !(e->hash == h && strcmp(e->key, key) == 0))
        e = e->chain;
    if (e && strcmp(e->etag, etag) != 0) {
        remove_entry(c, e); /* made before a write: never to be served again */
        e = NULL;
    }
    if (e) {
        lru_unlink(c, e);
        lru_push_front(c, e);
        e->refs++;
    }
    pthread_mutex_unlock(&c->lock);
    return e;
}

em_tile_entry *em_tile_cache_put(em_tile_cache *c, const char *key, const char *etag,
                                 const void *body, size_t len, long dropped) {
    if (!c || c->cap == 0)
        return NULL;
    size_t klen = strlen(key) + 1, elen = strlen(etag) + 1;
    size_t bytes = sizeof(em_tile_entry) + klen + elen + len;
    if (bytes > c->cap)
        return NULL;
    em_tile_entry *e = malloc(bytes);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    char *p = (char *)(e + 1);
    memcpy(p, key, klen);
    e->key = p;
    memcpy(p + klen, etag, elen);
    e->etag = p + klen;
    if (len) {
        memcpy(p + klen + elen, body, len);
        e->body = (const unsigned char *)(p + klen + elen);
    }
    e->len = len;
    e->dropped = dropped;
    e->bytes = bytes;
    e->hash = hash_key(key);
    e->refs = 1;
    e->linked = 1;

    pthread_mutex_lock(&c->lock);
    /* Another worker may have made the same tile meanwhile: replace it. */
    em_tile_entry *old = c->buckets[e->hash & (c->nbuckets - 1)];
    while (old && !(old->hash == e->hash && strcmp(old->key, key) == 0))
        old = old->chain;
    if (old)
        remove_entry(c, old);
    evict_to(c, c->cap - bytes);
    if (c->entries + 1 > c->nbuckets)
        grow_buckets(c);
    em_tile_entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->chain = *b;
    *b = e;
    lru_push_front(c, e);
    c->bytes += bytes;
    c->entries++;
    pthread_mutex_unlock(&c->lock);
    return e;
}

void em_tile_cache_set_gzip(em_tile_cache *c, em_tile_entry *e, const void *gz, size_t len) {
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, gz, len);
    pthread_mutex_lock(&c->lock);
    if (!e->gzip && e->linked && e->bytes + len <= c->cap) {
        e->gzip = copy;
        e->gzip_len = len;
        e->bytes += len;
        c->bytes += len;
        copy = NULL;
        /* the entry is the most recent one: older ones make room */
        lru_unlink(c, e);
        lru_push_front(c, e);
        evict_to(c, c->cap);
    }
    pthread_mutex_unlock(&c->lock);
    free(copy);
}

int em_tile_cache_gzip(em_tile_cache *c, em_tile_entry *e, const unsigned char **gz, size_t *len) {
    pthread_mutex_lock(&c->lock);
    *gz = e->gzip;
    *len = e->gzip_len;
    pthread_mutex_unlock(&c->lock);
    return *gz != NULL;
}

void em_tile_cache_release(em_tile_cache *c, em_tile_entry *e) {
    if (!c || !e)
        return;
    pthread_mutex_lock(&c->lock);
    int gone = --e->refs == 0 && !e->linked;
    pthread_mutex_unlock(&c->lock);
    if (gone)
        entry_free(e);
}

void em_tile_cache_stats_get(em_tile_cache *c, em_tile_cache_stats *out) {
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    out->bytes = c->bytes;
    out->cap = c->cap;
    out->entries = c->entries;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->lock);
}

void em_tile_cache_render_metrics(em_tile_cache *c, em_strbuf *out) {
    em_tile_cache_stats s;
    em_tile_cache_stats_get(c, &s);
    em_strbuf_printf(out,
                     "# HELP estatemap_tile_cache_bytes Memory held by the tile cache: bodies, "
                     "gzip copies, keys, ETags and bookkeeping.\n"
                     "# TYPE estatemap_tile_cache_bytes gauge\n"
                     "estatemap_tile_cache_bytes %zu\n"
                     "# HELP estatemap_tile_cache_limit_bytes The cap, from --tile-cache-mb (0: "
                     "no cache).\n"
                     "# TYPE estatemap_tile_cache_limit_bytes gauge\n"
                     "estatemap_tile_cache_limit_bytes %zu\n"
                     "# HELP estatemap_tile_cache_entries Tiles in the cache.\n"
                     "# TYPE estatemap_tile_cache_entries gauge\n"
                     "estatemap_tile_cache_entries %zu\n",
                     s.bytes, s.cap, s.entries);
}

#include "geom_cache.h"

#include "metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct em_geom_cache {
    pthread_mutex_t lock;
    size_t cap, bytes;
    unsigned long long hits, misses, evictions;
    em_geom **table; /* chained by (layer, id) */
    size_t nbuckets;
    em_geom **clock; /* every entry, in no order; `hand` sweeps it */
    size_t n, clockcap, hand;
    unsigned building; /* layers whose point set a worker is reading (bit per layer) */
};

#define TABLE_BYTES(c) ((c)->nbuckets * sizeof *(c)->table + (c)->clockcap * sizeof *(c)->clock)

static size_t bucket_of(const em_geom_cache *c, int layer, long long id) {
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull ^ (uint64_t)layer << 58;
    return (size_t)(h >> 20) & (c->nbuckets - 1);
}

em_geom_cache *em_geom_cache_new(size_t cap) {
    em_geom_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = cap;
    c->nbuckets = 256;
    c->table = calloc(c->nbuckets, sizeof *c->table);
    if (!c->table) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->bytes = TABLE_BYTES(c);
    return c;
}

void em_geom_cache_free(em_geom_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        em_geom_free(c->clock[i]);
    free(c->clock);
    free(c->table);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- with the lock held ------------------------------------------------------- */

static em_geom **find(em_geom_cache *c, int layer, long long id) {
    em_geom **p = &c->table[bucket_of(c, layer, id)];
    while (*p && !((*p)->layer == layer && (*p)->id == id))
        p = &(*p)->chain;
    return p;
}

/* Take the entry out; it is freed now or by its last release. */
static void drop(em_geom_cache *c, em_geom **link) {
    em_geom *g = *link;
    *link = g->chain;
    c->clock[g->slot] = c->clock[--c->n];
    c->clock[g->slot]->slot = g->slot;
    c->bytes -= g->bytes;
    g->linked = 0;
    if (g->refs == 0)
        em_geom_free(g);
}

/* Evict until `need` more bytes fit; 0 when they cannot. */
static int make_room(em_geom_cache *c, size_t need) {
    while (c->bytes + need > c->cap && c->n > 0) {
        if (c->hand >= c->n)
            c->hand = 0;
        em_geom *g = c->clock[c->hand];
        if (g->used) {
            g->used = 0; /* a second chance */
            c->hand++;
            continue;
        }
        drop(c, find(c, g->layer, g->id));
        c->evictions++;
    }
    return c->bytes + need <= c->cap;
}

static void grow(em_geom_cache *c) {
    if (c->n < c->clockcap)
        return;
    size_t cap = c->clockcap ? c->clockcap * 2 : 64;
    em_geom **k = realloc(c->clock, cap * sizeof *k);
    if (!k)
        return;
    c->clock = k;
    c->bytes += (cap - c->clockcap) * sizeof *k;
    c->clockcap = cap;
    if (c->n < c->nbuckets)
        return;
    size_t nb = c->nbuckets * 2;
    em_geom **t = calloc(nb, sizeof *t);
    if (!t)
        return; /* longer chains, still correct */
    em_geom **old = c->table;
    size_t oldn = c->nbuckets;
    c->table = t;
    c->nbuckets = nb;
    for (size_t i = 0; i < oldn; i++)
        for (em_geom *g = old[i], *next; g; g = next) {
            next = g->chain;
            em_geom **b = &t[bucket_of(c, g->layer, g->id)];
            g->chain = *b;
            *b = g;
        }
    free(old);
    c->bytes += (nb - oldn) * sizeof *t;
}

/* ---- public ------------------------------------------------------------------- */

em_geom *em_geom_cache_get(em_geom_cache *c, int layer, long long id, long long version) {
    if (!c || c->cap == 0)
        return NULL;
    pthread_mutex_lock(&c->lock);
    em_geom *g = *find(c, layer, id);
    if (g && g->version == version) {
        g->refs++;
        g->used = 1;
        c->hits++;
    } else {
        g = NULL;
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return g;
}

em_geom *em_geom_cache_put(em_geom_cache *c, int layer, long long id, long long version,
                           em_geom *g) {
    g->layer = layer;
    g->id = id;
    g->version = version;
    g->refs = 1;
    g->linked = 0;
    if (!c || c->cap == 0)
        return g;
    pthread_mutex_lock(&c->lock);
    em_geom **link = find(c, layer, id);
    if (*link && (*link)->version > version) {
        pthread_mutex_unlock(&c->lock); /* made from an older snapshot: use it once */
        return g;
    }
    if (*link)
        drop(c, link);
    grow(c);
    if (c->n < c->clockcap && make_room(c, g->bytes)) {
        link = &c->table[bucket_of(c, layer, id)];
        g->chain = *link;
        *link = g;
        g->slot = c->n;
        c->clock[c->n++] = g;
        g->linked = 1;
        g->used = 1;
        c->bytes += g->bytes;
    }
    pthread_mutex_unlock(&c->lock);
    return g;
}

void em_geom_cache_release(em_geom_cache *c, em_geom *g) {
    if (!g)
        return;
    int gone;
    if (c)
        pthread_mutex_lock(&c->lock);
    gone = --g->refs == 0 && !g->linked;
    if (c)
        pthread_mutex_unlock(&c->lock);
    if (gone)
        em_geom_free(g);
}

size_t em_geom_cache_min_bytes(em_geom_cache *c) {
    if (!c || c->cap == 0)
        return SIZE_MAX;
    pthread_mutex_lock(&c->lock);
    size_t min = c->bytes < c->cap / 2 ? 0 : EM_GEOM_CACHE_MIN_BYTES;
    pthread_mutex_unlock(&c->lock);
    return min;
}

/* A point set, a layer set or the marker of one too big (tile_source.c). */
static int whole_layer(const em_geom *g) {
    return g->ids || g->set || g->too_big;
}

size_t em_geom_cache_layer_room(em_geom_cache *c, int layer, long long key) {
    if (!c || c->cap == 0)
        return 0;
    pthread_mutex_lock(&c->lock);
    size_t others = 0;
    for (size_t i = 0; i < c->n; i++)
        if (whole_layer(c->clock[i]) && !(c->clock[i]->layer == layer && c->clock[i]->id == key))
            others += c->clock[i]->bytes;
    size_t room = others < c->cap ? c->cap - others : 0;
    pthread_mutex_unlock(&c->lock);
    return room < c->cap / 2 ? room : c->cap / 2;
}

int em_geom_cache_claim(em_geom_cache *c, int layer) {
    if (!c || layer < 0 || layer >= 32)
        return 0;
    pthread_mutex_lock(&c->lock);
    int free_now = !(c->building & 1u << layer);
    c->building |= 1u << layer;
    pthread_mutex_unlock(&c->lock);
    return free_now;
}

void em_geom_cache_unclaim(em_geom_cache *c, int layer) {
    if (!c || layer < 0 || layer >= 32)
        return;
    pthread_mutex_lock(&c->lock);
    c->building &= ~(1u << layer);
    pthread_mutex_unlock(&c->lock);
}

void em_geom_cache_stats_get(em_geom_cache *c, em_geom_cache_stats *out) {
    *out = (em_geom_cache_stats){0, 0, 0, 0, 0, 0};
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *out = (em_geom_cache_stats){c->bytes, c->cap, c->n, c->hits, c->misses, c->evictions};
    pthread_mutex_unlock(&c->lock);
}

void em_geom_cache_render_metrics(em_geom_cache *c, em_strbuf *out) {
    em_geom_cache_stats s;
    em_geom_cache_stats_get(c, &s);
    static const struct {
        const char *type, *name, *help;
    } m[] = {
        {"gauge", "estatemap_geom_cache_bytes",
         "Memory held by the geometry cache: coordinates, weights, bookkeeping "
         "and its table."},
        {"gauge", "estatemap_geom_cache_limit_bytes",
         "The cap, from --geom-cache-mb (0: no cache)."},
        {"gauge", "estatemap_geom_cache_entries", "Features in the geometry cache."},
        {"counter", "estatemap_geom_cache_hits_total",
         "Features a tile took from the geometry cache."},
        {"counter", "estatemap_geom_cache_misses_total",
         "Features a tile had to decode (and offered to the cache)."},
        {"counter", "estatemap_geom_cache_evictions_total",
         "Features evicted to stay under --geom-cache-mb."},
    };
    double v[] = {(double)s.bytes, (double)s.cap,    (double)s.entries,
                  (double)s.hits,  (double)s.misses, (double)s.evictions};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        em_metrics_write(out, m[i].type, m[i].name, m[i].help, v[i]);
}

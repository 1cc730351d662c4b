/* geom_cache.h -- features' geometry, decoded and prepared once for every tile,
 * shared by all workers.
 *
 * A tile of a layer with a few large polygons (Minhang's towns, long corridors)
 * would otherwise read, decode, project and weigh the same thousands of vertices
 * for every tile they cross. The cache keeps em_geom (tiles.h) by layer and
 * feature id, each made under one data version of its layer: looked up under
 * another version (a write bumped it), an entry is a miss, and is replaced --
 * a tile never sees a stale geometry. While the cache is under half its cap it
 * takes every line and polygon feature a tile reads (a layer of many small
 * estates is then decoded, projected and weighed once, as geojson-vt's index
 * does); past half, only features whose BLOB has at least EM_GEOM_CACHE_MIN_BYTES
 * (em_geom_cache_min_bytes), for which sharing pays most. Memory is capped (entries, their
 * coordinates and the table), and when the cap is reached the entries not used since the clock hand
 * last passed go first. Entries are reference counted, so a worker can use one while another evicts
 * it. */
#ifndef ESTATEMAP_GEOM_CACHE_H
#define ESTATEMAP_GEOM_CACHE_H

#include "strbuf.h"
#include "tiles.h"

#include <stddef.h>

#define EM_GEOM_CACHE_MIN_BYTES 1024
#define EM_GEOM_CACHE_DEFAULT_MB 128

/* cap_bytes 0: a cache that keeps nothing. */
em_geom_cache *em_geom_cache_new(size_t cap_bytes);
void em_geom_cache_free(em_geom_cache *cache);

/* Feature `id` of layer `layer` (em_tile_layer_index) made under `version`,
 * referenced (release it), or NULL. */
em_geom *em_geom_cache_get(em_geom_cache *cache, int layer, long long id, long long version);
/* Keep `g` (made from feature `id` under `version`) unless an entry of a newer
 * version is there already. The cache owns `g` now; it comes back referenced, so
 * release it in every case. */
em_geom *em_geom_cache_put(em_geom_cache *cache, int layer, long long id, long long version,
                           em_geom *g);
void em_geom_cache_release(em_geom_cache *cache, em_geom *g);
/* The BLOB size from which a line or polygon feature should be taken from (and
 * put in) the cache now: 0 while it is under half its cap, then
 * EM_GEOM_CACHE_MIN_BYTES; SIZE_MAX for no cache. */
size_t em_geom_cache_min_bytes(em_geom_cache *cache);
/* The most the whole-layer entry `key` of `layer` (a point set or a layer set,
 * tile_source.c) may take: half the cap, less what the other whole-layer entries
 * hold, so that one set never evicts another (which would then be read again,
 * and evict this one, tile after tile). 0 without a cache. */
size_t em_geom_cache_layer_room(em_geom_cache *cache, int layer, long long key);
/* One worker at a time reads a layer's point set (tile_source.c), so that its
 * transient memory is not multiplied by the workers: 1 when the caller may
 * (then em_geom_cache_unclaim), 0 when another worker is at it (or no cache). */
int em_geom_cache_claim(em_geom_cache *cache, int layer);
void em_geom_cache_unclaim(em_geom_cache *cache, int layer);

typedef struct {
    size_t bytes, cap, entries;
    unsigned long long hits, misses, evictions;
} em_geom_cache_stats;

void em_geom_cache_stats_get(em_geom_cache *cache, em_geom_cache_stats *out);
/* For /metrics: estatemap_geom_cache_bytes, _limit_bytes, _entries gauges and the
 * _hits_total, _misses_total, _evictions_total counters. */
void em_geom_cache_render_metrics(em_geom_cache *cache, em_strbuf *out);

#endif

/* tile_cache.h -- the in-memory LRU cache of encoded tiles, shared by all workers.
 *
 * Keyed by the request's layers, z/x/y and format ("towns,estates/12/3425/1672.mvt").
 * Each entry remembers the ETag it was made under: the ETag carries the layers'
 * data versions, so after a write the request's ETag differs and the entry is a
 * miss (and is replaced) -- a stale tile is never served. Memory is capped: the
 * accounting counts bodies, gzip copies, keys, ETags and each entry's bookkeeping,
 * and the least recently used entries go first. An entry is reference counted,
 * so a worker can send one while another evicts it. */
#ifndef ESTATEMAP_TILE_CACHE_H
#define ESTATEMAP_TILE_CACHE_H

#include "strbuf.h"

#include <stddef.h>

typedef struct em_tile_cache em_tile_cache;

typedef struct em_tile_entry {
    /* read-only for users */
    const char *key;
    const char *etag;
    const unsigned char *body; /* NULL for an empty tile (204) */
    size_t len;
    const unsigned char *gzip; /* the gzip copy: read it with em_tile_cache_gzip() */
    size_t gzip_len;
    long dropped; /* features the byte cap left out */
    /* private */
    size_t bytes;
    int refs;
    int linked;
    struct em_tile_entry *prev, *next, *chain;
    unsigned long long hash;
} em_tile_entry;

/* cap_bytes 0: a cache that keeps nothing. */
em_tile_cache *em_tile_cache_new(size_t cap_bytes);
void em_tile_cache_free(em_tile_cache *cache);

/* The entry for `key` made under `etag`, referenced (release it), or NULL. An
 * entry made under another ETag is dropped. */
em_tile_entry *em_tile_cache_get(em_tile_cache *cache, const char *key, const char *etag);
/* Store a copy of body; returns the new entry, referenced, or NULL when it
 * cannot be kept (too large for the cap, no memory, cache off). */
em_tile_entry *em_tile_cache_put(em_tile_cache *cache, const char *key, const char *etag,
                                 const void *body, size_t len, long dropped);
/* Attach a gzip copy to an entry that has none (takes a copy). */
void em_tile_cache_set_gzip(em_tile_cache *cache, em_tile_entry *e, const void *gz, size_t len);
/* The entry's gzip copy (another worker may be attaching it), or 0 when it has none
 * yet; it lives as long as the caller's reference. */
int em_tile_cache_gzip(em_tile_cache *cache, em_tile_entry *e, const unsigned char **gz,
                       size_t *len);
void em_tile_cache_release(em_tile_cache *cache, em_tile_entry *e);

typedef struct {
    size_t bytes, cap, entries;
    unsigned long long evictions;
} em_tile_cache_stats;

void em_tile_cache_stats_get(em_tile_cache *cache, em_tile_cache_stats *out);
/* Gauges for /metrics: estatemap_tile_cache_bytes, _limit_bytes, _entries. */
void em_tile_cache_render_metrics(em_tile_cache *cache, em_strbuf *out);

#endif

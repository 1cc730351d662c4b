/* tile_http.h -- /tiles: vector tiles and TileJSON over HTTP.
 *
 *   /tiles/{layers}/{z}/{x}/{y}.mvt      Mapbox Vector Tile 2.1
 *   /tiles/{layers}/{z}/{x}/{y}.geojson  geojson-vt's tile JSON
 *   ...?as-of=YYYY-MM-DD                  violations as of that date (tiles.h)
 *   /tiles/{layers}.json[?f=geojson]     TileJSON 3.0.0
 *
 * {layers} is one layer or several joined by commas ("towns,estates"), each one of
 * the six spatial layers. The server-wide part (em_tile_service) holds the cache,
 * the byte cap and the ETag salt; each worker has its own em_tile_source (tiles.h)
 * on its own connection. Every tile answer carries a strong ETag made of the salt
 * (new each time the server starts) and the data versions of its layers, which
 * the triggers bump on every write: If-None-Match gets a 304, the cache keeps an
 * entry only while its ETag holds, and a stale tile is never served. */
#ifndef ESTATEMAP_TILE_HTTP_H
#define ESTATEMAP_TILE_HTTP_H

#include "errors.h"
#include "http.h"
#include "layers.h"
#include "strbuf.h"
#include "tiles.h"

#include <stddef.h>

#define EM_TILE_CACHE_DEFAULT_MB 64
#define EM_TILE_CACHE_MAX_MB (1024 * 1024)
#define EM_TILE_MAX_BYTES_DEFAULT 500000
#define EM_TILE_MAX_BYTES_MIN 1024
/* TileJSON's zoom range: tiles exist up to EM_TILE_MAX_ZOOM, but past 18 they only
 * magnify (a unit is 4 cm there), so clients overzoom from 18. */
#define EM_TILEJSON_MAX_ZOOM 18

typedef struct em_tile_service em_tile_service;

/* cache_bytes 0: no tile cache; geom_bytes 0: no geometry cache (geom_cache.h);
 * max_bytes 0: EM_TILE_MAX_BYTES_DEFAULT. */
em_tile_service *em_tile_service_new(size_t cache_bytes, size_t geom_bytes, size_t max_bytes,
                                     em_error *err);
void em_tile_service_free(em_tile_service *svc);
/* The cache's gauges, appended to /metrics. */
void em_tile_service_metrics(em_tile_service *svc, em_strbuf *out);

/* Answer a request under /tiles/; `rest` is the decoded path after "/tiles/". */
int em_tile_handle(em_http_request *req, em_tile_service *svc, em_tile_source *src,
                   const char *rest);

/* ---- shared with tilejson.c ---------------------------------------------- */

/* A strong ETag for the layers' current data ("\"salt.v1.v2\"", "." and `suffix`
 * added before the closing quote when not NULL: the as-of date, "gz"). */
void em_tile_etag(const em_tile_service *svc, const long long *versions, const int *index, size_t n,
                  const char *suffix, char *out, size_t len);
/* Whether If-None-Match names one of the two tags (or is "*"). */
int em_tile_etag_matches(const char *if_none_match, const char *etag, const char *etag_gz);

/* TileJSON for `layers` (already checked), format "mvt" or "geojson". */
int em_tilejson_respond(em_http_request *req, em_tile_service *svc, em_tile_source *src,
                        const em_layer *const *layers, size_t n, const char *names);

#endif

/* tiles.h -- vector tiles: Web Mercator tile addressing, and the geometry of a
 * tile's features (projection, clipping, simplification, quantisation).
 *
 * A tile is built in memory as em_tile: its layers, each a list of features in
 * tile coordinates (0..4096, with a 64-unit buffer on every side), and then written
 * out as MVT (mvt.c) or as geojson-vt's JSON (tile_geojson.c). Both writers see the
 * same features, so the two formats never disagree.
 *
 * The geometry follows geojson-vt, so that our GeoJSON tiles match its output:
 * coordinates are projected to the unit square ("world" coordinates), each ring or
 * line gets Douglas-Peucker weights over its whole length, the part inside the
 * buffered tile is cut out by Sutherland-Hodgman clipping on each axis, and the
 * vertices whose weight is at most the zoom's tolerance are dropped before rounding
 * to tile units. Unlike geojson-vt we then drop what MVT forbids: repeated points,
 * rings of fewer than 4 points or no area, lines of one point, and polygons whose
 * outer ring lost its area (with their holes). Outer rings have a positive area in
 * tile coordinates (y down) and holes a negative one, as MVT 2.1 requires.
 *
 * Everything a tile holds lives in its arena, freed at once by em_tile_free(). */
#ifndef ESTATEMAP_TILES_H
#define ESTATEMAP_TILES_H

#include "errors.h"
#include "layers.h"
#include "strbuf.h"

#include <sqlite3.h>

#include <stddef.h>
#include <stdint.h>

#define EM_TILE_EXTENT 4096
#define EM_TILE_BUFFER 64
#define EM_TILE_MAX_ZOOM 22
/* Simplification tolerance in tile units: half a pixel of a 256-pixel tile. */
#define EM_TILE_TOLERANCE 8
/* Violations are clustered up to this zoom, in cells of EM_TILE_CLUSTER_CELL units. */
#define EM_TILE_CLUSTER_MAX_ZOOM 14
#define EM_TILE_CLUSTER_CELL 512
#define EM_TILE_MAX_LAYERS 6

typedef struct {
    int z;
    uint32_t x, y;
} em_tile_id;

typedef enum { EM_TV_STRING, EM_TV_INT, EM_TV_DOUBLE, EM_TV_BOOL } em_tile_value_type;

typedef struct {
    em_tile_value_type type;
    union {
        const char *s; /* NUL-terminated, in the arena */
        long long i;
        double d;
        int b;
    } v;
    size_t len; /* string length in bytes */
} em_tile_value;

typedef struct {
    const char *key; /* a string literal */
    em_tile_value value;
} em_tile_prop;

enum { EM_TILE_POINT = 1, EM_TILE_LINE = 2, EM_TILE_POLYGON = 3 }; /* MVT GeomType */

typedef struct {
    int type; /* EM_TILE_POINT, _LINE or _POLYGON */
    int has_id;
    long long id;
    int32_t *xy;        /* x, y pairs of every part in turn */
    uint32_t *part_len; /* points per part: one part of points, or a line, or a ring */
    size_t nparts;
    size_t npoints;
    em_tile_prop *props;
    size_t nprops;
    double size; /* what the byte cap drops first: smallest size (see em_tile_drop_order) */
    int dropped; /* left out by the byte cap */
} em_tile_feature;

typedef struct {
    const char *name; /* the layer's name, as in the URL */
    em_tile_feature *features;
    size_t nfeatures, cap;
} em_tile_layer;

typedef struct em_tile_arena em_tile_arena;

typedef struct {
    double *x, *y, *w; /* world coordinates and simplification weights */
    size_t n, cap;
    /* When not NULL: the least and greatest x of each run of EM_GEOM_CHUNK segments
     * (run j: points j*EM_GEOM_CHUNK to (j+1)*EM_GEOM_CHUNK), so that clipping can
     * step over runs that lie wholly left or right of the tile. */
    const double *xlo, *xhi;
} em_tile_path;

#define EM_GEOM_CHUNK 32

typedef struct {
    em_tile_id id;
    em_tile_layer layers[EM_TILE_MAX_LAYERS];
    size_t nlayers;
    em_tile_arena *arena;
    /* Scratch space reused from feature to feature (not part of the result). */
    em_tile_path work[3];
    int32_t *ixy;
    size_t icap;
    double *gx, *gy; /* a feature's parsed coordinates */
    size_t gcap;
    struct em_tile_part *parts;
    size_t partcap;
    int failed; /* out of memory somewhere: the tile is unusable */
} em_tile;

/* ---- addressing ---------------------------------------------------------- */

/* z 0-22 and x, y below 2^z. */
int em_tile_id_valid(const em_tile_id *id);
/* Lon/lat of the tile grown by `buffer` tile units on every side: w, s, e, n. */
void em_tile_bounds(const em_tile_id *id, double buffer, double out[4]);
/* Web Mercator "world" coordinates in the unit square, y down (geojson-vt's). */
double em_tile_world_x(double lon);
double em_tile_world_y(double lat);

/* ---- building a tile ----------------------------------------------------- */

em_tile *em_tile_new(const em_tile_id *id);
void em_tile_free(em_tile *tile);
void *em_tile_alloc(em_tile *tile, size_t n);
const char *em_tile_strdup(em_tile *tile, const char *s, size_t len);

/* Add a layer (its name must outlive the tile); NULL when out of memory. */
em_tile_layer *em_tile_add_layer(em_tile *tile, const char *name);

/* Clip, simplify and quantise a SpatiaLite geometry BLOB for the tile and append
 * what is left to `layer` as up to three features (points, lines, polygons; one
 * for ordinary geometries). `*first` gets the first new feature, or NULL when
 * nothing of the geometry is in the tile. The caller then sets ids and
 * properties on the features from *first to the layer's end. -1 with `err` when
 * the BLOB is not a geometry or memory ran out. */
int em_tile_add_geometry(em_tile *tile, em_tile_layer *layer, const void *blob, int size,
                         size_t *first, em_error *err);

/* ---- prepared geometries --------------------------------------------------- */

/* A geometry decoded once for every tile: world coordinates, rings turned as MVT
 * wants them, and geojson-vt's simplification weights over each whole part (the
 * same weights em_tile_add_geometry computes for the vertices one tile needs).
 * Adding it to a tile gives exactly the features the BLOB gives, without the
 * decoding, projection and weighting: what the geometry cache keeps for big
 * features (geom_cache.h). One block of `bytes` bytes. */
typedef struct {
    int kind, outer; /* EM_TILE_POINT, _LINE or _POLYGON (a ring); a polygon's first ring */
    size_t off, n;   /* its points in x, y, w */
    double box[4];   /* min x, min y, max x, max y in world coordinates */
    double measure;  /* a ring: sqrt of its area; a line: its length (world units) */
    size_t chunk;    /* its first run in xlo, xhi (em_tile_path) */
} em_geom_part;

#define EM_POINT_GRID 64

typedef struct em_geom {
    em_geom_part *parts;
    size_t nparts;
    double *x, *y, *w;
    size_t npoints;
    double *xlo, *xhi; /* per run of EM_GEOM_CHUNK segments of each part */
    size_t nchunks;
    size_t bytes;
    /* A point layer's point set instead (tile_source.c, clustering): npoints points
     * in x, y, ascending ids in `ids`, `open` 1 for a report with status open;
     * bucket b of a grid of EM_POINT_GRID^2 over `grid` (min x, min y, cell width,
     * cell height) holds items[bucket[b] .. bucket[b + 1]), in id order. too_big:
     * the layer has more points than the cache lets it keep (an empty marker). */
    long long *ids;
    unsigned char *open;
    uint32_t *bucket, *items;
    double grid[4];
    int too_big;
    /* A layer set instead (tile_layer_set.c): the whole layer, freed with the entry. */
    struct em_layer_set *set;
    /* the geometry cache's bookkeeping (geom_cache.c) */
    int layer, refs, linked, used;
    long long id, version;
    size_t slot;
    struct em_geom *chain;
} em_geom;

/* The BLOB prepared for every tile (`t` lends its scratch space), or NULL with `err`. */
em_geom *em_tile_prepare(em_tile *t, const void *blob, int size, em_error *err);
void em_geom_free(em_geom *g);
/* As em_tile_add_geometry, from a prepared geometry. */
int em_tile_add_prepared(em_tile *t, em_tile_layer *layer, const em_geom *g, size_t *first,
                         em_error *err);

/* Add a single point at world coordinates (wx, wy) if it lies in the buffered
 * tile; returns the feature or NULL (outside, or out of memory: tile->failed). */
em_tile_feature *em_tile_add_point(em_tile *tile, em_tile_layer *layer, double wx, double wy);

/* Number of features in all layers, and of those not dropped. */
size_t em_tile_count(const em_tile *tile, int kept_only);

/* The byte cap: every feature not yet dropped, in the order the cap drops them --
 * smallest `size` first (points and clusters: their count of points; lines and
 * polygons: the area of their bounding box in the tile, in square units); on a
 * tie the later layer of the request first, then the later feature. The caller
 * frees the array. */
em_tile_feature **em_tile_drop_order(em_tile *tile, size_t *n);

/* ---- reading a tile from the database (tile_source.c) --------------------- */

/* One worker's prepared statements on its own connection: the per-layer tile
 * queries (R*Tree, then the rows in id order) and the data versions. */
typedef struct em_tile_source em_tile_source;

em_tile_source *em_tile_source_new(void);
void em_tile_source_free(em_tile_source *src);

/* The attributes a tile carries for `layer`, NULL-terminated: what styles a
 * feature and fills its popup ("id" is the row id, which is also the feature id). */
const char *const *em_tile_layer_props(const em_layer *layer);
/* Whether the layer's tiles take an as-of date (violations). */
int em_tile_layer_dated(const em_layer *layer);
/* Index of a spatial layer in em_layer_at() order (0-5), or -1. */
int em_tile_layer_index(const em_layer *layer);

/* The data version of each spatial layer, by em_tile_layer_index(). Costs one
 * PRAGMA data_version while nothing was written since the last call. */
int em_tile_source_versions(em_tile_source *src, sqlite3 *db,
                            long long versions[EM_TILE_MAX_LAYERS], em_error *err);

/* A read transaction for one tile's versions and layers, on prepared statements
 * (a tile is small enough that parsing BEGIN and COMMIT showed in profiles). */
int em_tile_source_begin(em_tile_source *src, sqlite3 *db, em_error *err);
void em_tile_source_commit(em_tile_source *src, sqlite3 *db);

typedef struct em_geom_cache em_geom_cache;

/* How to read one layer of a tile. */
typedef struct {
    em_geom_cache *geoms; /* big features' prepared geometry (geom_cache.h); NULL: none */
    long long version;    /* the layer's data version in this read (the cache's key) */
    const char *as_of;    /* violations: "YYYY-MM-DD" (see below), or NULL: as stored */
} em_tile_read_opts;

/* Read `layer`'s features in the tile into a new layer of `tile`. Violations up
 * to EM_TILE_CLUSTER_MAX_ZOOM come clustered: a cell of EM_TILE_CLUSTER_CELL
 * units holding more than one report becomes one point at their mean position
 * with the tags cluster=true, point_count and open_count. With `as_of`, only the
 * violations reported by the end of that date are read, and each has its status
 * on that date: resolved when resolved_at is on or before it, else open (and its
 * resolved_at only when resolved by then); clusters count these. */
int em_tile_read_layer(em_tile_source *src, sqlite3 *db, em_tile *tile, const em_layer *layer,
                       const em_tile_read_opts *opts, em_error *err);

/* ---- output -------------------------------------------------------------- */

/* geojson-vt's tile JSON, grouped by layer:
 * {"towns":{"features":[{"id":1,"type":3,"geometry":[[[x,y],...]],"tags":{...}}]}}.
 * Layers without features are left out. */
void em_tile_geojson(const em_tile *tile, em_strbuf *out);

#endif

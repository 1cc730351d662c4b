/* tile_source_priv.h -- what tile_source.c shares with tile_layer_set.c, and
 * nothing else. */
#ifndef ESTATEMAP_TILE_SOURCE_PRIV_H
#define ESTATEMAP_TILE_SOURCE_PRIV_H

#include "tiles.h"

#include <limits.h>

struct em_tile_source {
    sqlite3 *db;
    sqlite3_stmt *query[EM_TILE_MAX_LAYERS];
    sqlite3_stmt *geom[EM_TILE_MAX_LAYERS];   /* one feature's geometry by id */
    sqlite3_stmt *props[EM_TILE_MAX_LAYERS];  /* one feature's tags by id (point sets) */
    sqlite3_stmt *points[EM_TILE_MAX_LAYERS]; /* a point layer's every point (point sets) */
    sqlite3_stmt *all[EM_TILE_MAX_LAYERS];    /* a layer's every row (layer sets) */
    sqlite3_stmt *data_version, *versions, *begin, *commit;
    long long last_data_version;
    int have_versions;
    long long version[EM_TILE_MAX_LAYERS];
};

/* Geometry cache keys of a layer's whole-layer entries (never a row id). */
#define EM_POINT_SET_KEY LLONG_MIN
#define EM_LAYER_SET_KEY (LLONG_MIN + 1)

/* A statement on the source's connection, kept across tiles. */
sqlite3_stmt *em_tile_source_prepare(sqlite3 *db, const char *sql, em_error *err);
/* The tile query's columns (id, geometry, tags) FROM the layer, then `where`
 * (a format: the table, the polygon size and the as-of conditions). */
sqlite3_stmt *em_tile_select_query(sqlite3 *db, const em_layer *layer, const char *where,
                                   em_error *err);
/* Id and tags of `f` from a row of em_tile_select_query(), in `t`'s arena. */
int em_tile_set_props(em_tile *t, em_tile_feature *f, const em_layer *layer, sqlite3_stmt *st);
/* A plain point BLOB (XY) -> lon, lat; -1 for anything else. */
int em_tile_point_of(const unsigned char *blob, int size, double *lon, double *lat);
/* Whether the layer's tiles leave out rings too small for the zoom (size_bounds). */
int em_tile_layer_polygonal(const em_layer *layer);
/* R*Tree box sides below which a polygon layer's feature is too small for the tile. */
void em_tile_size_bounds(const em_tile_id *id, double out[2]);

/* Reads a whole-layer entry for the geometry cache (a point set, a layer set): at
 * most `limit` bytes, else a too_big marker; NULL with `err` on failure. */
typedef em_geom *(*em_whole_layer_reader)(em_tile_source *src, sqlite3 *db, const em_layer *layer,
                                          int k, size_t limit, em_error *err);
/* The whole-layer entry `key` of `layer` from the cache, or read now by `read` (one
 * worker at a time) and kept; *out NULL (not an error) without a cache, with an as-of
 * date, while another worker reads it, or when it is a too_big marker. */
int em_tile_whole_layer(em_tile_source *src, sqlite3 *db, const em_layer *layer,
                        const em_tile_read_opts *opts, long long key, em_whole_layer_reader read,
                        em_geom **out, em_error *err);

/* ---- layer sets (tile_layer_set.c) ----------------------------------------------
 * A layer's every feature -- R*Tree box, prepared geometry, tags --
 * kept in the geometry cache under the layer's data version, so that a tile of it
 * runs no SQL but the version check: what geojson-vt's index is to its getTile. */
typedef struct em_layer_set em_layer_set;
void em_layer_set_free(em_layer_set *set);
/* The layer's set from the cache, or read now in the caller's read transaction;
 * *out NULL (not an error) without a cache, with an as-of date, while another
 * worker reads it, or when the layer is too big for the cache
 * (em_geom_cache_layer_room) or has a row the set cannot take (a broken BLOB). */
int em_layer_set_get(em_tile_source *src, sqlite3 *db, const em_layer *layer,
                     const em_tile_read_opts *opts, em_geom **out, em_error *err);
/* The features of the set `g` (from em_layer_set_get) in the tile, into `l`, in id
 * order: the rows and features the tile query would give. */
int em_layer_set_read(const em_geom *g, em_tile *t, em_tile_layer *l, const em_layer *layer,
                      em_error *err);
/* Feature `id`'s id and tags from the set onto `f` (in the tile's arena): 1, or 0
 * when the set has no such feature, -1 out of memory. */
int em_layer_set_props_by_id(const em_geom *g, long long id, em_tile *t, em_tile_feature *f);

#endif

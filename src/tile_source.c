/* tile_source.c -- a tile's features from the database.
 *
 * One statement per layer, prepared once per worker connection: the R*Tree gives
 * the rows whose box meets the buffered tile, and their geometry BLOBs are clipped
 * and simplified in C (tiles.c) rather than by SQL functions, which would cost a
 * GEOS round trip per feature. A line or polygon BLOB of the cache's size
 * threshold or more (em_geom_cache_min_bytes: every one while the cache has room)
 * comes back as NULL (SQLite reads a BLOB's length without its pages): that
 * feature's geometry is taken from the geometry cache, or read by id and prepared
 * once. A plain point goes straight to the tile.
 * Table and column names come only from the fixed layer list; the tile's bounds,
 * the size threshold and the as-of date are bound parameters. */
#include "tile_source_priv.h"

#include "geom_cache.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What styles each layer and fills its popup; the web app asks /ogc for the rest. */
static const char *const towns_props[] = {"code", "name", NULL};
static const char *const estates_props[] = {
    "id", "code", "name", "town_code", "built_year", "tier", "stage", "housing_type", NULL};
static const char *const grid_props[] = {"id", "code", NULL};
static const char *const violations_props[] = {"id",          "code",        "category", "status",
                                               "reported_at", "resolved_at", NULL};
static const char *const corridors_props[] = {"type", "name", NULL};
static const char *const zones_props[] = {"kind", "name", NULL};
static const char *const no_props[] = {NULL};

const char *const *em_tile_layer_props(const em_layer *layer) {
    static const struct {
        const char *layer;
        const char *const *props;
    } table[] = {
        {"towns", towns_props},           {"estates", estates_props},     {"grid", grid_props},
        {"violations", violations_props}, {"corridors", corridors_props}, {"zones", zones_props},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].layer, layer->name) == 0)
            return table[i].props;
    return no_props;
}

int em_tile_layer_index(const em_layer *layer) {
    int k = 0;
    for (size_t i = 0; i < em_layer_count() && k < EM_TILE_MAX_LAYERS; i++) {
        const em_layer *l = em_layer_at(i);
        if (!em_layer_is_spatial(l))
            continue;
        if (l == layer)
            return k;
        k++;
    }
    return -1;
}

em_tile_source *em_tile_source_new(void) {
    return calloc(1, sizeof(em_tile_source));
}

static void finalize_all(em_tile_source *s) {
    for (int i = 0; i < EM_TILE_MAX_LAYERS; i++) {
        sqlite3_finalize(s->query[i]);
        sqlite3_finalize(s->geom[i]);
        sqlite3_finalize(s->props[i]);
        sqlite3_finalize(s->points[i]);
        sqlite3_finalize(s->all[i]);
        s->query[i] = s->geom[i] = s->props[i] = s->points[i] = s->all[i] = NULL;
    }
    sqlite3_finalize(s->data_version);
    sqlite3_finalize(s->versions);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    s->data_version = s->versions = s->begin = s->commit = NULL;
    s->have_versions = 0;
}

void em_tile_source_free(em_tile_source *s) {
    if (!s)
        return;
    finalize_all(s);
    free(s);
}

static void attach(em_tile_source *s, sqlite3 *db) {
    if (s->db != db) {
        finalize_all(s);
        s->db = db;
    }
}

sqlite3_stmt *em_tile_source_prepare(sqlite3 *db, const char *sql, em_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        em_fail(err, EM_ERR_RUNTIME, "preparing a tile query: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return st;
}

int em_tile_source_versions(em_tile_source *s, sqlite3 *db, long long out[EM_TILE_MAX_LAYERS],
                            em_error *err) {
    attach(s, db);
    if (!s->data_version &&
        !(s->data_version = em_tile_source_prepare(db, "PRAGMA data_version", err)))
        return -1;
    if (sqlite3_step(s->data_version) != SQLITE_ROW) {
        sqlite3_reset(s->data_version);
        return em_fail(err, EM_ERR_RUNTIME, "reading the data version: %s", sqlite3_errmsg(db));
    }
    long long dv = sqlite3_column_int64(s->data_version, 0);
    sqlite3_reset(s->data_version);
    if (!s->have_versions || dv != s->last_data_version) {
        if (!s->versions && !(s->versions = em_tile_source_prepare(
                                  db, "SELECT layer, version FROM layer_versions", err)))
            return -1;
        for (int i = 0; i < EM_TILE_MAX_LAYERS; i++)
            s->version[i] = 0;
        int rc;
        while ((rc = sqlite3_step(s->versions)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(s->versions, 0);
            const em_layer *l = name ? em_layer_find(name) : NULL;
            /* layer_versions is keyed by table name; the six spatial layers'
             * names are their table names. */
            int k = l ? em_tile_layer_index(l) : -1;
            if (k >= 0)
                s->version[k] = sqlite3_column_int64(s->versions, 1);
        }
        sqlite3_reset(s->versions);
        if (rc != SQLITE_DONE)
            return em_fail(err, EM_ERR_RUNTIME, "reading layer versions: %s", sqlite3_errmsg(db));
        s->last_data_version = dv;
        s->have_versions = 1;
    }
    memcpy(out, s->version, sizeof s->version);
    return 0;
}

static int step_once(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

int em_tile_source_begin(em_tile_source *s, sqlite3 *db, em_error *err) {
    attach(s, db);
    if (!s->begin && !(s->begin = em_tile_source_prepare(db, "BEGIN", err)))
        return -1;
    if (step_once(s->begin) != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "starting a read: %s", sqlite3_errmsg(db));
    return 0;
}

void em_tile_source_commit(em_tile_source *s, sqlite3 *db) {
    attach(s, db);
    if (s->commit || (s->commit = em_tile_source_prepare(db, "COMMIT", NULL)) != NULL)
        step_once(s->commit);
    if (!sqlite3_get_autocommit(db)) /* no statement, or COMMIT failed: end it anyway */
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- violations as of a date ------------------------------------------------------ */

/* ?6 is the date (YYYY-MM-DD) or NULL: reported by the end of it; resolved when
 * resolved_at is on or before it, else open; resolved_at only once resolved. */
#define AS_OF_WHERE " AND (?6 IS NULL OR substr(t.reported_at, 1, 10) <= ?6)"
static const struct {
    const char *prop, *expr;
} as_of_columns[] = {
    {"status", "CASE WHEN ?6 IS NULL THEN t.status WHEN substr(t.resolved_at, 1, 10) <= ?6"
               " THEN 'resolved' ELSE 'open' END"},
    {"resolved_at", "CASE WHEN ?6 IS NULL OR substr(t.resolved_at, 1, 10) <= ?6"
                    " THEN t.resolved_at END"},
};

int em_tile_layer_dated(const em_layer *layer) {
    return strcmp(layer->name, "violations") == 0;
}

static const char *as_of_column(const char *prop) {
    for (size_t i = 0; i < sizeof as_of_columns / sizeof as_of_columns[0]; i++)
        if (strcmp(as_of_columns[i].prop, prop) == 0)
            return as_of_columns[i].expr;
    return NULL;
}

/* ?7, ?8: a polygon layer's R*Tree boxes narrower than ?7 and lower than ?8 (degrees)
 * hold only rings smaller than the zoom's tolerance, which the tile drops
 * (size_bounds): a low zoom tile does not read its many tiny estates at all. */
#define SIZE_WHERE " AND (xmax - xmin >= ?7 OR ymax - ymin >= ?8)"

int em_tile_layer_polygonal(const em_layer *layer) {
    return layer->geom == EM_GEOM_POLYGON || layer->geom == EM_GEOM_MULTIPOLYGON;
}

/* A ring's measure (tiles.c: sqrt of its area) is at most the larger side of its
 * box, so a box whose sides are both under the tolerance in world units holds only
 * dropped rings. Degrees to world units: x is lon / 360; y grows by at most
 * 1 / (360 cos lat) a degree, lat taken at the tile's far edge plus the largest
 * box that can pass (boxes meet the tile), capped at Web Mercator's limit. A
 * margin of 0.1% keeps the rounding on the safe side (more rows read, never
 * fewer); the R*Tree's own boxes are rounded outwards. */
void em_tile_size_bounds(const em_tile_id *id, double out[2]) {
    double tol =
        id->z >= EM_TILE_MAX_ZOOM ? 0 : EM_TILE_TOLERANCE / (ldexp(1, id->z) * EM_TILE_EXTENT);
    double b[4];
    em_tile_bounds(id, EM_TILE_BUFFER, b);
    double lat = fmax(fabs(b[1]), fabs(b[3])) + 360 * tol;
    lat = fmin(lat, 85.0511287798) * M_PI / 180;
    out[0] = 0.999 * 360 * tol;
    out[1] = 0.999 * 360 * tol * cos(lat);
}

/* The tile query's columns (id, geometry, tags) FROM the layer, then `where`: the
 * R*Tree query, or one row by id for a point set's singletons. */
sqlite3_stmt *em_tile_select_query(sqlite3 *db, const em_layer *layer, const char *where,
                                   em_error *err) {
    em_strbuf sql;
    em_strbuf_init(&sql);
    /* ?5: BLOBs this long or longer come back NULL (taken from the geometry cache) */
    em_strbuf_puts(&sql, "SELECT t.id, CASE WHEN length(t.geom) >= ?5 THEN NULL ELSE t.geom END");
    int dated = em_tile_layer_dated(layer);
    for (const char *const *p = em_tile_layer_props(layer); *p; p++) {
        const char *expr = dated ? as_of_column(*p) : NULL;
        if (expr)
            em_strbuf_printf(&sql, ", %s", expr);
        else if (strcmp(*p, "id") != 0)
            em_strbuf_printf(&sql, ", t.\"%s\"", *p);
    }
    em_strbuf_printf(&sql, " FROM \"%s\" AS t WHERE ", layer->table);
    em_strbuf_printf(&sql, where, layer->table, em_tile_layer_polygonal(layer) ? SIZE_WHERE : "",
                     dated ? AS_OF_WHERE : "");
    if (sql.failed) {
        em_strbuf_free(&sql);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    sqlite3_stmt *st = em_tile_source_prepare(db, em_strbuf_cstr(&sql), err);
    em_strbuf_free(&sql);
    return st;
}

static sqlite3_stmt *layer_query(em_tile_source *s, sqlite3 *db, const em_layer *layer, int k,
                                 em_error *err) {
    attach(s, db);
    /* ?1 east, ?2 west, ?3 north, ?4 south: the R*Tree boxes that meet the tile's. */
    if (!s->query[k])
        s->query[k] =
            em_tile_select_query(db, layer,
                                 "t.id IN (SELECT pkid FROM \"idx_%s_geom\""
                                 " WHERE xmin <= ?1 AND xmax >= ?2 AND ymin <= ?3 AND ymax >= ?4%s)"
                                 "%s ORDER BY t.id",
                                 err);
    return s->query[k];
}

/* Column `col` of the current row as a property of `f` (NULLs are left out:
 * MVT has no null). */
static int put_prop(em_tile *t, em_tile_feature *f, const em_layer *layer, const char *name,
                    sqlite3_stmt *st, int col) {
    em_tile_value v;
    memset(&v, 0, sizeof v);
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER: {
        const em_column *c = em_layer_column(layer, name);
        long long i = sqlite3_column_int64(st, col);
        if (c && c->type == EM_COL_BOOL) {
            v.type = EM_TV_BOOL;
            v.v.b = i != 0;
        } else {
            v.type = EM_TV_INT;
            v.v.i = i;
        }
        break;
    }
    case SQLITE_FLOAT:
        v.type = EM_TV_DOUBLE;
        v.v.d = sqlite3_column_double(st, col);
        if (!isfinite(v.v.d))
            return 0;
        break;
    default: {
        const char *s = (const char *)sqlite3_column_text(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (!s)
            return 0;
        v.type = EM_TV_STRING;
        v.v.s = em_tile_strdup(t, s, (size_t)n);
        v.len = (size_t)n;
        if (!v.v.s)
            return -1;
    }
    }
    f->props[f->nprops].key = name;
    f->props[f->nprops].value = v;
    f->nprops++;
    return 0;
}

static size_t count_props(const char *const *props) {
    size_t n = 0;
    while (props[n])
        n++;
    return n;
}

int em_tile_set_props(em_tile *t, em_tile_feature *f, const em_layer *layer, sqlite3_stmt *st) {
    const char *const *props = em_tile_layer_props(layer);
    f->props = em_tile_alloc(t, (count_props(props) + 1) * sizeof *f->props);
    if (!f->props)
        return -1;
    f->nprops = 0;
    f->has_id = 1;
    f->id = sqlite3_column_int64(st, 0);
    int col = 2;
    for (const char *const *p = props; *p; p++) {
        if (strcmp(*p, "id") == 0) {
            f->props[f->nprops].key = *p;
            f->props[f->nprops].value.type = EM_TV_INT;
            f->props[f->nprops].value.v.i = f->id;
            f->nprops++;
        } else if (put_prop(t, f, layer, *p, st, col++) < 0) {
            return -1;
        }
    }
    return 0;
}

static void bind_bounds(sqlite3_stmt *st, const em_tile_id *id, double buffer) {
    double b[4];
    em_tile_bounds(id, buffer, b);
    sqlite3_bind_double(st, 1, b[2]);
    sqlite3_bind_double(st, 2, b[0]);
    sqlite3_bind_double(st, 3, b[3]);
    sqlite3_bind_double(st, 4, b[1]);
}

/* Point BLOB (XY, as SpatiaLite stores a POINT column) -> lon, lat. */
int em_tile_point_of(const unsigned char *b, int size, double *lon, double *lat) {
    if (!b || size < 60 || b[0] != 0x00 || (b[1] != 0 && b[1] != 1) || b[38] != 0x7C)
        return -1;
    int little = b[1] == 1;
    uint32_t cls = 0;
    for (int i = 0; i < 4; i++)
        cls |= (uint32_t)b[39 + (little ? i : 3 - i)] << (8 * i);
    if (cls % 1000 != 1 || cls >= 4000)
        return -1;
    uint64_t u[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 8; i++)
            u[k] |= (uint64_t)b[43 + 8 * k + (little ? i : 7 - i)] << (8 * i);
    memcpy(lon, &u[0], sizeof *lon);
    memcpy(lat, &u[1], sizeof *lat);
    return 0;
}

/* A cached feature (its BLOB came back NULL): from the geometry cache, or read by id,
 * prepared, and kept for the next tile. */
static int add_big(em_tile_source *s, sqlite3 *db, em_tile *t, em_tile_layer *l,
                   const em_layer *layer, long long id, const em_tile_read_opts *o, size_t *first,
                   em_error *err) {
    int k = em_tile_layer_index(layer);
    em_geom *g = em_geom_cache_get(o->geoms, k, id, o->version);
    if (!g) {
        if (!s->geom[k]) {
            char sql[128];
            snprintf(sql, sizeof sql, "SELECT geom FROM \"%s\" WHERE id = ?1", layer->table);
            if (!(s->geom[k] = em_tile_source_prepare(db, sql, err)))
                return -1;
        }
        sqlite3_bind_int64(s->geom[k], 1, id);
        int rc = sqlite3_step(s->geom[k]);
        if (rc == SQLITE_ROW)
            g = em_tile_prepare(t, sqlite3_column_blob(s->geom[k], 0),
                                sqlite3_column_bytes(s->geom[k], 0), err);
        else
            em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name, sqlite3_errmsg(db));
        sqlite3_reset(s->geom[k]);
        if (!g)
            return -1;
        g = em_geom_cache_put(o->geoms, k, id, o->version, g);
    }
    int rc = em_tile_add_prepared(t, l, g, first, err);
    em_geom_cache_release(o->geoms, g);
    return rc;
}

static int read_plain(em_tile_source *s, em_tile *t, em_tile_layer *l, const em_layer *layer,
                      sqlite3_stmt *st, const em_tile_read_opts *o, em_error *err) {
    bind_bounds(st, &t->id, EM_TILE_BUFFER);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t first = l->nfeatures;
        int added;
        double lon, lat;
        if (sqlite3_column_type(st, 1) == SQLITE_NULL)
            added = add_big(s, sqlite3_db_handle(st), t, l, layer, sqlite3_column_int64(st, 0), o,
                            &first, err);
        else if (em_tile_point_of(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), &lon,
                                  &lat) ==
                 0) /* a plain point, the most common row: straight to the tile */
            added =
                em_tile_add_point(t, l, em_tile_world_x(lon), em_tile_world_y(lat)) || !t->failed
                    ? 0
                    : em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
        else
            added = em_tile_add_geometry(t, l, sqlite3_column_blob(st, 1),
                                         sqlite3_column_bytes(st, 1), &first, err);
        if (added < 0) {
            em_error_prefix(err, "%s %lld: ", layer->name, sqlite3_column_int64(st, 0));
            sqlite3_reset(st);
            return -1;
        }
        for (size_t i = first; i < l->nfeatures; i++)
            if (em_tile_set_props(t, &l->features[i], layer, st) < 0) {
                sqlite3_reset(st);
                return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
            }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name,
                       sqlite3_errmsg(sqlite3_db_handle(st)));
    return 0;
}

/* ---- clustering -------------------------------------------------------------- */

/* Cells -1 .. CELLS-2 on each axis: the tile's own and one more all round, so a
 * cell that reaches into the buffer is counted whole, the same in every tile that
 * shows it. */
#define CELLS (EM_TILE_EXTENT / EM_TILE_CLUSTER_CELL + 2)

typedef struct {
    long count, open;
    double sx, sy;
    em_tile_feature first; /* the first report's id and tags, for a cell of one */
    double fx, fy;
} cell;

/* ---- a point layer's point set ---------------------------------------------------
 *
 * Clustering reads every point of a tile and the cells round it: at low zooms the
 * whole layer. The point set keeps a point layer's positions (projected), ids and
 * open flags in the geometry cache under the layer's data version, with a grid of
 * buckets to find a tile's points, so a clustered tile reads no rows but the tags
 * of its cells of one. Only without an as-of date, and only while the set fits in
 * half the cache's cap: a bigger layer leaves a marker and is read row by row.
 * One worker at a time reads a set; the others' tiles read rows meanwhile. */

#define GRID EM_POINT_GRID

static size_t grid_index(const em_geom *g, double v, int axis) {
    double k = floor((v - g->grid[axis]) / g->grid[2 + axis]);
    return k < 0 ? 0 : k >= GRID ? GRID - 1 : (size_t)k;
}

/* The set's block: ids, x, y, bucket starts, items, open flags. */
static em_geom *point_set_block(size_t n) {
    size_t bytes = sizeof(em_geom) + n * (3 * sizeof(double) + sizeof(uint32_t) + 1) +
                   (GRID * GRID + 1) * sizeof(uint32_t);
    em_geom *g = calloc(1, bytes);
    if (!g)
        return NULL;
    g->bytes = bytes;
    g->npoints = n;
    g->ids = (long long *)(g + 1);
    g->x = (double *)(g->ids + n);
    g->y = g->x + n;
    g->bucket = (uint32_t *)(g->y + n);
    g->items = g->bucket + GRID * GRID + 1;
    g->open = (unsigned char *)(g->items + n);
    return g;
}

/* Index the set's points (in id order) by bucket. */
static void point_set_index(em_geom *g) {
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i < g->npoints; i++) {
        minx = fmin(minx, g->x[i]);
        maxx = fmax(maxx, g->x[i]);
        miny = fmin(miny, g->y[i]);
        maxy = fmax(maxy, g->y[i]);
    }
    g->grid[0] = g->npoints ? minx : 0;
    g->grid[1] = g->npoints ? miny : 0;
    g->grid[2] = g->npoints && maxx > minx ? (maxx - minx) / GRID : 1;
    g->grid[3] = g->npoints && maxy > miny ? (maxy - miny) / GRID : 1;
    for (size_t i = 0; i < g->npoints; i++)
        g->bucket[grid_index(g, g->y[i], 1) * GRID + grid_index(g, g->x[i], 0) + 1]++;
    for (size_t b = 0; b < GRID * GRID; b++)
        g->bucket[b + 1] += g->bucket[b];
    for (size_t i = 0; i < g->npoints; i++) { /* items[] counts up as the starts fill */
        size_t b = grid_index(g, g->y[i], 1) * GRID + grid_index(g, g->x[i], 0);
        g->items[g->bucket[b]++] = (uint32_t)i;
    }
    for (size_t b = GRID * GRID; b > 0; b--) /* every start moved one bucket on: back */
        g->bucket[b] = g->bucket[b - 1];
    g->bucket[0] = 0;
}

/* Read the layer's every point into a new set; a too_big marker past `limit` bytes. */
static em_geom *point_set_read(em_tile_source *s, sqlite3 *db, const em_layer *layer, int k,
                               size_t limit, em_error *err) {
    if (!s->points[k]) {
        int has_status = 0;
        for (const char *const *p = em_tile_layer_props(layer); *p; p++)
            has_status |= strcmp(*p, "status") == 0;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT id, geom, %s FROM \"%s\" ORDER BY id",
                 has_status ? "status = 'open'" : "0", layer->table);
        if (!(s->points[k] = em_tile_source_prepare(db, sql, err)))
            return NULL;
    }
    sqlite3_stmt *st = s->points[k];
    size_t n = 0, cap = 0, per = 3 * sizeof(double) + sizeof(uint32_t) + 1;
    long long *ids = NULL;
    double *xy = NULL;
    unsigned char *open = NULL;
    int rc, too_big = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double lon, lat;
        if (em_tile_point_of(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), &lon, &lat) <
            0)
            continue; /* not a plain point: as read_clustered */
        if ((n + 1) * per + (GRID * GRID + 1) * sizeof(uint32_t) + sizeof(em_geom) > limit) {
            too_big = 1;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            long long *i2 = realloc(ids, cap * sizeof *ids);
            ids = i2 ? i2 : ids;
            double *xy2 = i2 ? realloc(xy, 2 * cap * sizeof *xy) : NULL;
            xy = xy2 ? xy2 : xy;
            unsigned char *o2 = xy2 ? realloc(open, cap) : NULL;
            open = o2 ? o2 : open;
            if (!o2) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        ids[n] = sqlite3_column_int64(st, 0);
        xy[2 * n] = em_tile_world_x(lon);
        xy[2 * n + 1] = em_tile_world_y(lat);
        open[n] = sqlite3_column_int(st, 2) != 0;
        n++;
    }
    sqlite3_reset(st);
    em_geom *g = NULL;
    if (too_big)
        g = point_set_block(0);
    else if (rc == SQLITE_DONE && (g = point_set_block(n)) != NULL) {
        memcpy(g->ids, ids, n * sizeof *ids);
        memcpy(g->open, open, n);
        for (size_t i = 0; i < n; i++) {
            g->x[i] = xy[2 * i];
            g->y[i] = xy[2 * i + 1];
        }
        point_set_index(g);
    }
    free(ids);
    free(xy);
    free(open);
    if (g)
        g->too_big = too_big;
    else if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
        em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name, sqlite3_errmsg(db));
    else
        em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    return g;
}

int em_tile_whole_layer(em_tile_source *s, sqlite3 *db, const em_layer *layer,
                        const em_tile_read_opts *o, long long key, em_whole_layer_reader read,
                        em_geom **out, em_error *err) {
    *out = NULL;
    if (!o->geoms || o->as_of)
        return 0;
    int k = em_tile_layer_index(layer);
    em_geom *g = em_geom_cache_get(o->geoms, k, key, o->version);
    if (!g) {
        if (!em_geom_cache_claim(o->geoms, k))
            return 0; /* another worker is reading it: this tile reads rows */
        g = read(s, db, layer, k, em_geom_cache_layer_room(o->geoms, k, key), err);
        em_geom_cache_unclaim(o->geoms, k);
        if (!g)
            return -1;
        g = em_geom_cache_put(o->geoms, k, key, o->version, g);
    }
    if (g->too_big)
        em_geom_cache_release(o->geoms, g);
    else
        *out = g;
    return 0;
}

/* The layer's point set from the cache, or read now; NULL (not an error) when
 * there is no cache or the layer is too big for it. */
static int point_set(em_tile_source *s, sqlite3 *db, const em_layer *layer,
                     const em_tile_read_opts *o, em_geom **out, em_error *err) {
    return em_tile_whole_layer(s, db, layer, o, EM_POINT_SET_KEY, point_set_read, out, err);
}

/* The cell of the tile's grid that world point (wx, wy) falls in, or NULL. */
static cell *cell_at(cell *cells, const em_tile *t, double z2, double wx, double wy) {
    double ux = (wx * z2 - t->id.x) * EM_TILE_EXTENT, uy = (wy * z2 - t->id.y) * EM_TILE_EXTENT;
    int cx = (int)floor(ux / EM_TILE_CLUSTER_CELL) + 1;
    int cy = (int)floor(uy / EM_TILE_CLUSTER_CELL) + 1;
    if (cx < 0 || cy < 0 || cx >= CELLS || cy >= CELLS)
        return NULL;
    return &cells[cy * CELLS + cx];
}

static int by_index(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Count point `i` of the set into its cell. */
static void count_set_point(cell *cells, const em_tile *t, double z2, const em_geom *g, size_t i) {
    cell *c = cell_at(cells, t, z2, g->x[i], g->y[i]);
    if (!c)
        return;
    if (c->count == 0) {
        c->fx = g->x[i];
        c->fy = g->y[i];
        c->first.id = g->ids[i];
    }
    c->count++;
    c->sx += g->x[i];
    c->sy += g->y[i];
    c->open += g->open[i];
}

/* The set's points in the tile's cells, in id order (as the rows come): a scan of
 * the whole set when the buckets that meet the cells hold over a quarter of it,
 * else those buckets' points, sorted. */
static int cluster_set(cell *cells, const em_tile *t, const em_geom *g) {
    double z2 = ldexp(1, t->id.z), m = (double)EM_TILE_CLUSTER_CELL / EM_TILE_EXTENT;
    size_t x0 = grid_index(g, (t->id.x - m) / z2, 0), x1 = grid_index(g, (t->id.x + 1 + m) / z2, 0);
    size_t y0 = grid_index(g, (t->id.y - m) / z2, 1), y1 = grid_index(g, (t->id.y + 1 + m) / z2, 1);
    size_t total = 0;
    for (size_t y = y0; y <= y1; y++)
        total += g->bucket[y * GRID + x1 + 1] - g->bucket[y * GRID + x0];
    if (total * 4 > g->npoints) {
        for (size_t i = 0; i < g->npoints; i++)
            count_set_point(cells, t, z2, g, i);
        return 0;
    }
    uint32_t *pick = malloc((total ? total : 1) * sizeof *pick);
    if (!pick)
        return -1;
    size_t n = 0;
    for (size_t y = y0; y <= y1; y++) {
        size_t from = g->bucket[y * GRID + x0], to = g->bucket[y * GRID + x1 + 1];
        memcpy(pick + n, g->items + from, (to - from) * sizeof *pick);
        n += to - from;
    }
    qsort(pick, n, sizeof *pick, by_index);
    for (size_t i = 0; i < n; i++)
        count_set_point(cells, t, z2, g, pick[i]);
    free(pick);
    return 0;
}

/* The tags of a point set's cell of one, read by id. */
static int set_props_by_id(em_tile_source *s, sqlite3 *db, em_tile *t, const em_layer *layer,
                           em_tile_feature *f, em_error *err) {
    int k = em_tile_layer_index(layer);
    if (!s->props[k] && !(s->props[k] = em_tile_select_query(db, layer, "t.id = ?9", err)))
        return -1;
    sqlite3_stmt *st = s->props[k];
    sqlite3_bind_int64(st, 9, f->id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && em_tile_set_props(t, f, layer, st) < 0)
        rc = SQLITE_NOMEM;
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_NOMEM ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                              : em_fail(err, EM_ERR_RUNTIME, "reading %s %lld: %s", layer->name,
                                        f->id, sqlite3_errmsg(db));
}

/* The rows in the tile's cells, from the R*Tree query. */
static int cluster_rows(cell *cells, em_tile *t, const em_layer *layer, sqlite3_stmt *st,
                        em_error *err) {
    bind_bounds(st, &t->id, EM_TILE_CLUSTER_CELL);
    double z2 = ldexp(1, t->id.z);
    int status_col = -1, col = 2;
    for (const char *const *p = em_tile_layer_props(layer); *p; p++) {
        if (strcmp(*p, "status") == 0)
            status_col = col;
        if (strcmp(*p, "id") != 0)
            col++;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double lon, lat;
        if (em_tile_point_of(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), &lon, &lat) <
            0)
            continue; /* not a plain point: violations are points */
        double wx = em_tile_world_x(lon), wy = em_tile_world_y(lat);
        cell *c = cell_at(cells, t, z2, wx, wy);
        if (!c)
            continue;
        if (c->count == 0) {
            c->fx = wx;
            c->fy = wy;
            if (em_tile_set_props(t, &c->first, layer, st) < 0) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        c->count++;
        c->sx += wx;
        c->sy += wy;
        const char *status = status_col > 0 ? (const char *)sqlite3_column_text(st, status_col) : 0;
        c->open += status && strcmp(status, "open") == 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    return rc == SQLITE_NOMEM ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                              : em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name,
                                        sqlite3_errmsg(sqlite3_db_handle(st)));
}

static int read_clustered(em_tile_source *s, sqlite3 *db, em_tile *t, em_tile_layer *l,
                          const em_layer *layer, sqlite3_stmt *st, const em_tile_read_opts *o,
                          em_error *err) {
    em_geom *set, *tags = NULL;
    if (point_set(s, db, layer, o, &set, err) < 0)
        return -1;
    /* the tags of cells of one, from the layer's set when it has one */
    if (set && em_layer_set_get(s, db, layer, o, &tags, err) < 0) {
        em_geom_cache_release(o->geoms, set);
        return -1;
    }
    cell *cells = calloc(CELLS * CELLS, sizeof *cells);
    int rc = !cells                                               ? -1
             : set && cluster_set(cells, t, set) < 0              ? -1
             : !set && cluster_rows(cells, t, layer, st, err) < 0 ? -2
                                                                  : 0;
    em_geom_cache_release(o->geoms, set);
    if (rc < 0) {
        em_geom_cache_release(o->geoms, tags);
        free(cells);
        return rc == -2 ? -1 : em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    }
    for (int i = 0; i < CELLS * CELLS && !t->failed; i++) {
        cell *c = &cells[i];
        if (c->count == 0)
            continue;
        if (c->count == 1) {
            em_tile_feature *f = em_tile_add_point(t, l, c->fx, c->fy);
            int found =
                f && set && tags ? em_layer_set_props_by_id(tags, c->first.id, t, &c->first) : 0;
            if (found < 0 ||
                (f && set && !found && set_props_by_id(s, db, t, layer, &c->first, err) < 0)) {
                em_geom_cache_release(o->geoms, tags);
                free(cells);
                return found < 0 ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                                 : -1;
            }
            if (f) {
                f->has_id = 1;
                f->id = c->first.id;
                f->props = c->first.props;
                f->nprops = c->first.nprops;
            }
            continue;
        }
        em_tile_feature *f = em_tile_add_point(t, l, c->sx / c->count, c->sy / c->count);
        if (!f)
            continue;
        f->props = em_tile_alloc(t, 3 * sizeof *f->props);
        if (!f->props)
            break;
        f->props[0] = (em_tile_prop){"cluster", {EM_TV_BOOL, {.b = 1}, 0}};
        f->props[1] = (em_tile_prop){"point_count", {EM_TV_INT, {.i = c->count}, 0}};
        f->props[2] = (em_tile_prop){"open_count", {EM_TV_INT, {.i = c->open}, 0}};
        f->nprops = 3;
        f->size = (double)c->count;
    }
    em_geom_cache_release(o->geoms, tags);
    free(cells);
    if (t->failed)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    return 0;
}

int em_tile_read_layer(em_tile_source *s, sqlite3 *db, em_tile *t, const em_layer *layer,
                       const em_tile_read_opts *opts, em_error *err) {
    int k = em_tile_layer_index(layer);
    if (k < 0)
        return em_fail(err, EM_ERR_NOTFOUND, "%s is not a spatial layer", layer->name);
    sqlite3_stmt *st = layer_query(s, db, layer, k, err);
    if (!st)
        return -1;
    em_tile_layer *l = em_tile_add_layer(t, layer->name);
    if (!l)
        return em_fail(err, EM_ERR_USAGE, "a tile holds at most %d layers", EM_TILE_MAX_LAYERS);
    static const em_tile_read_opts plain = {NULL, 0, NULL};
    const em_tile_read_opts *o = opts ? opts : &plain;
    /* points stay in the rows (a point is cheaper to decode than to share); lines and
     * polygons go through the cache while it has room for them */
    size_t min = layer->geom == EM_GEOM_POINT ? (o->geoms ? EM_GEOM_CACHE_MIN_BYTES : SIZE_MAX)
                                              : em_geom_cache_min_bytes(o->geoms);
    sqlite3_bind_int64(st, 5, min > INT64_MAX ? INT64_MAX : (long long)min);
    if (em_tile_layer_polygonal(layer)) {
        double size[2];
        em_tile_size_bounds(&t->id, size);
        sqlite3_bind_double(st, 7, size[0]);
        sqlite3_bind_double(st, 8, size[1]);
    }
    if (em_tile_layer_dated(layer)) {
        if (o->as_of)
            sqlite3_bind_text(st, 6, o->as_of, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 6);
    }
    if (layer->geom == EM_GEOM_POINT && t->id.z <= EM_TILE_CLUSTER_MAX_ZOOM)
        return read_clustered(s, db, t, l, layer, st, o, err);
    em_geom *set;
    if (em_layer_set_get(s, db, layer, o, &set, err) < 0)
        return -1;
    if (!set)
        return read_plain(s, t, l, layer, st, o, err);
    int rc = em_layer_set_read(set, t, l, layer, err);
    em_geom_cache_release(o->geoms, set);
    return rc;
}

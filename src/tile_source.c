/* tile_source.c -- a tile's features from the database.
 *
 * One statement per layer, prepared once per worker connection: the R*Tree gives
 * the rows whose box meets the buffered tile, and their geometry BLOBs are clipped
 * and simplified in C (tiles.c) rather than by SQL functions, which would cost a
 * GEOS round trip per feature. A BLOB of EM_GEOM_CACHE_MIN_BYTES or more comes
 * back as NULL (SQLite reads a BLOB's length without its pages): that feature's
 * geometry is taken from the geometry cache, or read by id and prepared once.
 * Table and column names come only from the fixed layer list; the tile's bounds,
 * the size threshold and the as-of date are bound parameters. */
#include "tiles.h"

#include "geom_cache.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct em_tile_source {
    sqlite3 *db;
    sqlite3_stmt *query[EM_TILE_MAX_LAYERS];
    sqlite3_stmt *geom[EM_TILE_MAX_LAYERS]; /* one feature's geometry by id */
    sqlite3_stmt *data_version, *versions;
    long long last_data_version;
    int have_versions;
    long long version[EM_TILE_MAX_LAYERS];
};

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
        s->query[i] = s->geom[i] = NULL;
    }
    sqlite3_finalize(s->data_version);
    sqlite3_finalize(s->versions);
    s->data_version = s->versions = NULL;
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

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, em_error *err) {
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
    if (!s->data_version && !(s->data_version = prepare(db, "PRAGMA data_version", err)))
        return -1;
    if (sqlite3_step(s->data_version) != SQLITE_ROW) {
        sqlite3_reset(s->data_version);
        return em_fail(err, EM_ERR_RUNTIME, "reading the data version: %s", sqlite3_errmsg(db));
    }
    long long dv = sqlite3_column_int64(s->data_version, 0);
    sqlite3_reset(s->data_version);
    if (!s->have_versions || dv != s->last_data_version) {
        if (!s->versions &&
            !(s->versions = prepare(db, "SELECT layer, version FROM layer_versions", err)))
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

static sqlite3_stmt *layer_query(em_tile_source *s, sqlite3 *db, const em_layer *layer, int k,
                                 em_error *err) {
    attach(s, db);
    if (s->query[k])
        return s->query[k];
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
    /* ?1 east, ?2 west, ?3 north, ?4 south: the R*Tree boxes that meet the tile's. */
    em_strbuf_printf(&sql,
                     " FROM \"%s\" AS t WHERE t.id IN (SELECT pkid FROM \"idx_%s_geom\""
                     " WHERE xmin <= ?1 AND xmax >= ?2 AND ymin <= ?3 AND ymax >= ?4)%s"
                     " ORDER BY t.id",
                     layer->table, layer->table, dated ? AS_OF_WHERE : "");
    if (sql.failed) {
        em_strbuf_free(&sql);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    s->query[k] = prepare(db, em_strbuf_cstr(&sql), err);
    em_strbuf_free(&sql);
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

static int set_props(em_tile *t, em_tile_feature *f, const em_layer *layer, sqlite3_stmt *st) {
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

/* A big feature (its BLOB came back NULL): from the geometry cache, or read by id,
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
            if (!(s->geom[k] = prepare(db, sql, err)))
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
        size_t first;
        int added = sqlite3_column_type(st, 1) == SQLITE_NULL
                        ? add_big(s, sqlite3_db_handle(st), t, l, layer,
                                  sqlite3_column_int64(st, 0), o, &first, err)
                        : em_tile_add_geometry(t, l, sqlite3_column_blob(st, 1),
                                               sqlite3_column_bytes(st, 1), &first, err);
        if (added < 0) {
            em_error_prefix(err, "%s %lld: ", layer->name, sqlite3_column_int64(st, 0));
            sqlite3_reset(st);
            return -1;
        }
        for (size_t i = first; i < l->nfeatures; i++)
            if (set_props(t, &l->features[i], layer, st) < 0) {
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

/* Point BLOB (XY, as SpatiaLite stores a POINT column) -> lon, lat. */
static int point_of(const unsigned char *b, int size, double *lon, double *lat) {
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

static int read_clustered(em_tile *t, em_tile_layer *l, const em_layer *layer, sqlite3_stmt *st,
                          em_error *err) {
    cell *cells = calloc(CELLS * CELLS, sizeof *cells);
    if (!cells)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
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
        if (point_of(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), &lon, &lat) < 0)
            continue; /* not a plain point: violations are points */
        double wx = em_tile_world_x(lon), wy = em_tile_world_y(lat);
        double ux = (wx * z2 - t->id.x) * EM_TILE_EXTENT, uy = (wy * z2 - t->id.y) * EM_TILE_EXTENT;
        int cx = (int)floor(ux / EM_TILE_CLUSTER_CELL) + 1;
        int cy = (int)floor(uy / EM_TILE_CLUSTER_CELL) + 1;
        if (cx < 0 || cy < 0 || cx >= CELLS || cy >= CELLS)
            continue;
        cell *c = &cells[cy * CELLS + cx];
        if (c->count == 0) {
            c->fx = wx;
            c->fy = wy;
            if (set_props(t, &c->first, layer, st) < 0) {
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
    if (rc != SQLITE_DONE) {
        free(cells);
        return rc == SQLITE_NOMEM ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                                  : em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name,
                                            sqlite3_errmsg(sqlite3_db_handle(st)));
    }
    for (int i = 0; i < CELLS * CELLS && !t->failed; i++) {
        cell *c = &cells[i];
        if (c->count == 0)
            continue;
        if (c->count == 1) {
            em_tile_feature *f = em_tile_add_point(t, l, c->fx, c->fy);
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
    sqlite3_bind_int64(st, 5, o->geoms ? EM_GEOM_CACHE_MIN_BYTES : INT64_MAX);
    if (em_tile_layer_dated(layer)) {
        if (o->as_of)
            sqlite3_bind_text(st, 6, o->as_of, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 6);
    }
    if (layer->geom == EM_GEOM_POINT && t->id.z <= EM_TILE_CLUSTER_MAX_ZOOM)
        return read_clustered(t, l, layer, st, err);
    return read_plain(s, t, l, layer, st, o, err);
}

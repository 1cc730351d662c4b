/* tile_layer_set.c -- a layer's every feature in memory, for tiles that run no
 * SQL.
 *
 * A tile read row by row pays, before any geometry, for SQL: the R*Tree query,
 * an ephemeral index of its ids, the rows' tags. geojson-vt's getTile pays for
 * none of it, since its index is the data. A layer set is our index: each
 * feature's R*Tree box (read from the R*Tree, so the same floats the tile query
 * compares), its prepared geometry (tiles.h) or plain point, and its tags, with
 * a grid of buckets over the boxes. It lives in the geometry cache as one entry
 * under the layer's data version (a write makes it a miss, so a tile never sees
 * a stale set), and only while it fits in half the cache's cap; a bigger layer
 * leaves a marker and is read row by row. The features a set gives a tile are
 * the rows the tile query gives, in the same order, and tiles are byte-identical
 * either way (tests/unit/test_tiles.c and tests/integration/test_tiles.py). */
#include "tile_source_priv.h"

#include "geom_cache.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct em_layer_set {
    size_t n;
    long long *ids;        /* ascending */
    double *box;           /* per feature: R*Tree xmin, xmax, ymin, ymax (degrees) */
    em_geom **geoms;       /* prepared geometry, or NULL for a plain point at px, py */
    double *px, *py;       /* world coordinates */
    em_tile_feature *tags; /* id, props and nprops of each feature, in store's arena */
    em_tile *store;
    /* side x side buckets over the boxes' extent: bucket b holds
     * items[bucket[b] .. bucket[b + 1]), the features whose box meets it, in id order;
     * a feature meeting more than MAX_SPAN buckets a side is in `big` instead */
    size_t side;
    double grid[4]; /* min x, min y, cell width, cell height */
    uint32_t *bucket, *items, *big;
    size_t nitems, nbig;
};

#define MAX_SIDE 256
#define MAX_SPAN 4
/* What a set holds for every feature before its geometry and tags: id, box, geometry
 * pointer, point, tags header and (at least) one bucket item, with the box's id. */
#define FEATURE_BYTES                                                                              \
    (2 * sizeof(long long) + 4 * sizeof(double) + sizeof(em_geom *) + 2 * sizeof(double) +         \
     sizeof(em_tile_feature) + 2 * sizeof(uint32_t))

void em_layer_set_free(em_layer_set *s) {
    if (!s)
        return;
    for (size_t i = 0; s->geoms && i < s->n; i++)
        em_geom_free(s->geoms[i]);
    free(s->ids);
    free(s->box);
    free(s->geoms);
    free(s->px);
    free(s->py);
    free(s->tags);
    free(s->bucket);
    free(s->items);
    free(s->big);
    em_tile_free(s->store);
    free(s);
}

/* ---- building ---------------------------------------------------------------- */

static size_t cell_of(const em_layer_set *s, double v, int axis) {
    double k = floor((v - s->grid[axis]) / s->grid[2 + axis]);
    return k < 0 ? 0 : k >= (double)s->side ? s->side - 1 : (size_t)k;
}

/* Fill the buckets: count, then place (a second pass in id order keeps each
 * bucket's items in id order). */
static int index_boxes(em_layer_set *s) {
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        minx = fmin(minx, s->box[4 * i]);
        maxx = fmax(maxx, s->box[4 * i + 1]);
        miny = fmin(miny, s->box[4 * i + 2]);
        maxy = fmax(maxy, s->box[4 * i + 3]);
    }
    s->side = (size_t)ceil(sqrt((double)s->n));
    s->side = s->side < 1 ? 1 : s->side > MAX_SIDE ? MAX_SIDE : s->side;
    s->grid[0] = s->n ? minx : 0;
    s->grid[1] = s->n ? miny : 0;
    s->grid[2] = s->n && maxx > minx ? (maxx - minx) / (double)s->side : 1;
    s->grid[3] = s->n && maxy > miny ? (maxy - miny) / (double)s->side : 1;
    size_t nb = s->side * s->side;
    if (!(s->bucket = calloc(nb + 1, sizeof *s->bucket)))
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        s->nbig = 0;
        for (size_t i = 0; i < s->n; i++) {
            const double *b = &s->box[4 * i];
            size_t x0 = cell_of(s, b[0], 0), x1 = cell_of(s, b[1], 0);
            size_t y0 = cell_of(s, b[2], 1), y1 = cell_of(s, b[3], 1);
            if (x1 - x0 >= MAX_SPAN || y1 - y0 >= MAX_SPAN) {
                if (pass)
                    s->big[s->nbig] = (uint32_t)i;
                s->nbig++;
                continue;
            }
            for (size_t y = y0; y <= y1; y++)
                for (size_t x = x0; x <= x1; x++) {
                    if (pass)
                        s->items[s->bucket[y * s->side + x]++] = (uint32_t)i;
                    else
                        s->bucket[y * s->side + x + 1]++;
                }
        }
        if (pass)
            break;
        for (size_t b = 0; b < nb; b++)
            s->bucket[b + 1] += s->bucket[b];
        s->nitems = s->bucket[nb];
        s->items = malloc((s->nitems ? s->nitems : 1) * sizeof *s->items);
        s->big = malloc((s->nbig ? s->nbig : 1) * sizeof *s->big);
        if (!s->items || !s->big)
            return -1;
    }
    for (size_t b = nb; b > 0; b--) /* placing moved every start one bucket on: back */
        s->bucket[b] = s->bucket[b - 1];
    s->bucket[0] = 0;
    return 0;
}

/* The layer's R*Tree boxes by id, and how many. */
static int read_boxes(sqlite3 *db, const em_layer *layer, em_layer_set *s, size_t cap,
                      em_error *err) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT pkid, xmin, xmax, ymin, ymax FROM \"idx_%s_geom\" ORDER BY pkid",
             layer->table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return em_fail(err, EM_ERR_RUNTIME, "reading %s's index: %s", layer->name,
                       sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->n == cap) {
            cap = cap ? 2 * cap : 1024;
            long long *ids = realloc(s->ids, cap * sizeof *ids);
            s->ids = ids ? ids : s->ids;
            double *box = ids ? realloc(s->box, 4 * cap * sizeof *box) : NULL;
            s->box = box ? box : s->box;
            if (!box) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        s->ids[s->n] = sqlite3_column_int64(st, 0);
        for (int k = 0; k < 4; k++)
            s->box[4 * s->n + k] = sqlite3_column_double(st, 1 + k);
        s->n++;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    return rc == SQLITE_NOMEM ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                              : em_fail(err, EM_ERR_RUNTIME, "reading %s's index: %s", layer->name,
                                        sqlite3_errmsg(db));
}

/* Memory a feature's tags take in the store (props and their strings). */
static size_t tags_bytes(const em_tile_feature *f) {
    size_t bytes = f->nprops * sizeof *f->props;
    for (size_t i = 0; i < f->nprops; i++)
        if (f->props[i].value.type == EM_TV_STRING)
            bytes += f->props[i].value.len + 1;
    return bytes;
}

/* Every row of the layer (those in its R*Tree) into `s`; 1 when it outgrew `limit`. */
static int read_rows(em_tile_source *src, sqlite3 *db, const em_layer *layer, int k,
                     em_layer_set *s, size_t limit, em_error *err) {
    /* every row in id order, the geometry never left out (?5) and the stored
     * status (?6 NULL); the size and date conditions are not wanted here */
    if (!src->all[k] &&
        !(src->all[k] = em_tile_select_query(
              db, layer, "t.id IN (SELECT pkid FROM \"idx_%s_geom\"%.0s)%.0s ORDER BY t.id", err)))
        return -1;
    sqlite3_stmt *st = src->all[k];
    sqlite3_bind_int64(st, 5, INT64_MAX);
    size_t n = s->n;
    s->n = 0;
    size_t bytes = sizeof *s + n * FEATURE_BYTES;
    em_tile_id zero = {0, 0, 0};
    em_tile *scratch = em_tile_new(&zero);
    s->store = em_tile_new(&zero);
    s->geoms = calloc(n ? n : 1, sizeof *s->geoms);
    s->px = malloc((n ? n : 1) * sizeof *s->px);
    s->py = malloc((n ? n : 1) * sizeof *s->py);
    s->tags = calloc(n ? n : 1, sizeof *s->tags);
    int rc = !scratch || !s->store || !s->geoms || !s->px || !s->py || !s->tags ? SQLITE_NOMEM
                                                                                : SQLITE_ROW;
    size_t box = 0; /* the ids of boxes and rows are both ascending: walk them together */
    while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        while (box < n && s->ids[box] < id)
            box++;
        if (box == n || s->ids[box] != id)
            continue; /* not in the R*Tree: no tile query finds it either */
        /* the features before `box` with no row are gone: close the gap */
        s->ids[s->n] = id;
        memmove(&s->box[4 * s->n], &s->box[4 * box], 4 * sizeof *s->box);
        const unsigned char *blob = sqlite3_column_blob(st, 1);
        int size = sqlite3_column_bytes(st, 1);
        double lon, lat;
        if (em_tile_point_of(blob, size, &lon, &lat) == 0) {
            s->px[s->n] = em_tile_world_x(lon);
            s->py[s->n] = em_tile_world_y(lat);
        } else if ((s->geoms[s->n] = em_tile_prepare(scratch, blob, size, err)) != NULL) {
            bytes += s->geoms[s->n]->bytes;
        } else {
            em_error_prefix(err, "%s %lld: ", layer->name, id);
            rc = SQLITE_ABORT;
            break;
        }
        if (em_tile_set_props(s->store, &s->tags[s->n], layer, st) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        bytes += tags_bytes(&s->tags[s->n]);
        s->n++;
        box++;
        if (bytes > limit) {
            rc = SQLITE_FULL;
            break;
        }
    }
    sqlite3_reset(st);
    em_tile_free(scratch);
    if (rc == SQLITE_DONE)
        return index_boxes(s) < 0 ? em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile")
                                  : 0;
    if (rc == SQLITE_FULL)
        return 1;
    if (rc == SQLITE_NOMEM)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    if (rc != SQLITE_ABORT)
        em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", layer->name, sqlite3_errmsg(db));
    return -1;
}

/* Whether the layer's rows could fit in `limit` bytes, by their count alone: a layer
 * far too big (a million reports) is not read at all, after every write to it. */
static int rows_fit(sqlite3 *db, const em_layer *layer, size_t limit) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", layer->table);
    sqlite3_stmt *st = NULL;
    long long n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return (double)n * FEATURE_BYTES <= (double)limit; /* on an error: try, and read_rows says */
}

/* A new set in a cache entry: the layer's features, or an empty too_big marker
 * (past `limit` bytes, or a row it cannot take). NULL only out of memory. */
static em_geom *read_set(em_tile_source *src, sqlite3 *db, const em_layer *layer, int k,
                         size_t limit, em_error *err) {
    em_layer_set *s = calloc(1, sizeof *s);
    em_geom *g = calloc(1, sizeof *g);
    if (!s || !g) {
        free(s);
        free(g);
        em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
        return NULL;
    }
    int rc = rows_fit(db, layer, limit) ? read_boxes(db, layer, s, 0, err) : 1;
    if (rc == 0)
        rc = read_rows(src, db, layer, k, s, limit, err);
    g->bytes = sizeof *g;
    if (rc < 0) /* a row the set cannot take (a broken BLOB): the tiles read rows, and
                 * those that meet it report it by name */
        em_error_clear(err);
    if (rc != 0) {
        em_layer_set_free(s);
        g->too_big = 1;
        return g;
    }
    g->bytes += sizeof *s +
                s->n * (sizeof *s->ids + 4 * sizeof *s->box + sizeof *s->geoms + 2 * sizeof *s->px +
                        sizeof *s->tags) +
                (s->side * s->side + 1 + s->nitems + s->nbig) * sizeof(uint32_t);
    for (size_t i = 0; i < s->n; i++)
        g->bytes += (s->geoms[i] ? s->geoms[i]->bytes : 0) + tags_bytes(&s->tags[i]);
    g->set = s;
    return g;
}

int em_layer_set_get(em_tile_source *src, sqlite3 *db, const em_layer *layer,
                     const em_tile_read_opts *o, em_geom **out, em_error *err) {
    return em_tile_whole_layer(src, db, layer, o, EM_LAYER_SET_KEY, read_set, out, err);
}

/* ---- reading a tile ------------------------------------------------------------ */

static int by_position(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Copy feature i's id and tags onto `f`, strings into the tile's arena (the set may
 * be evicted before the tile is written). */
static int copy_tags(const em_layer_set *s, size_t i, em_tile *t, em_tile_feature *f) {
    const em_tile_feature *from = &s->tags[i];
    f->has_id = from->has_id;
    f->id = from->id;
    f->nprops = from->nprops;
    f->props = em_tile_alloc(t, (from->nprops + 1) * sizeof *f->props);
    if (!f->props)
        return -1;
    for (size_t j = 0; j < from->nprops; j++) {
        f->props[j] = from->props[j];
        if (from->props[j].value.type == EM_TV_STRING &&
            !(f->props[j].value.v.s =
                  em_tile_strdup(t, from->props[j].value.v.s, from->props[j].value.len)))
            return -1;
    }
    return 0;
}

/* Feature i into the tile when its box meets `b` (w, s, e, n) and, for a polygon
 * layer, is not too small (`size`): the tile query's WHERE, on the same doubles. */
static int add_feature(const em_layer_set *s, size_t i, em_tile *t, em_tile_layer *l,
                       const double b[4], const double size[2], em_error *err) {
    const double *box = &s->box[4 * i];
    if (!(box[0] <= b[2] && box[1] >= b[0] && box[2] <= b[3] && box[3] >= b[1]))
        return 0;
    if (size && !(box[1] - box[0] >= size[0] || box[3] - box[2] >= size[1]))
        return 0;
    size_t first = l->nfeatures;
    if (s->geoms[i]) {
        if (em_tile_add_prepared(t, l, s->geoms[i], &first, err) < 0) {
            em_error_prefix(err, "%s %lld: ", l->name, s->ids[i]);
            return -1;
        }
    } else if (!em_tile_add_point(t, l, s->px[i], s->py[i]) && t->failed) {
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    }
    for (size_t j = first; j < l->nfeatures; j++)
        if (copy_tags(s, i, t, &l->features[j]) < 0)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    return 0;
}

int em_layer_set_read(const em_geom *g, em_tile *t, em_tile_layer *l, const em_layer *layer,
                      em_error *err) {
    const em_layer_set *s = g->set;
    double b[4], size_buf[2], *size = NULL;
    em_tile_bounds(&t->id, EM_TILE_BUFFER, b);
    if (em_tile_layer_polygonal(layer)) {
        em_tile_size_bounds(&t->id, size_buf);
        size = size_buf;
    }
    size_t x0 = cell_of(s, b[0], 0), x1 = cell_of(s, b[2], 0);
    size_t y0 = cell_of(s, b[1], 1), y1 = cell_of(s, b[3], 1);
    size_t total = s->nbig;
    for (size_t y = y0; y <= y1; y++)
        total += s->bucket[y * s->side + x1 + 1] - s->bucket[y * s->side + x0];
    if (total * 4 > s->n) { /* most of the layer: a scan in id order beats a sort */
        for (size_t i = 0; i < s->n; i++)
            if (add_feature(s, i, t, l, b, size, err) < 0)
                return -1;
        return 0;
    }
    uint32_t *pick = malloc((total ? total : 1) * sizeof *pick);
    if (!pick)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    size_t n = s->nbig;
    memcpy(pick, s->big, s->nbig * sizeof *pick);
    for (size_t y = y0; y <= y1; y++) {
        size_t from = s->bucket[y * s->side + x0], to = s->bucket[y * s->side + x1 + 1];
        memcpy(pick + n, s->items + from, (to - from) * sizeof *pick);
        n += to - from;
    }
    qsort(pick, n, sizeof *pick, by_position);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (i == 0 || pick[i] != pick[i - 1]) /* a feature in several buckets */
            rc = add_feature(s, pick[i], t, l, b, size, err);
    free(pick);
    return rc;
}

int em_layer_set_props_by_id(const em_geom *g, long long id, em_tile *t, em_tile_feature *f) {
    const em_layer_set *s = g->set;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->n || s->ids[lo] != id)
        return 0;
    return copy_tags(s, lo, t, f) < 0 ? -1 : 1;
}

#include "rtree_bulk.h"
#include "spatialite_blob.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_SIZE 24  /* 8-byte id, then min x, max x, min y, max y as 32-bit floats */
#define NODE_HEADER 4 /* 2-byte tree depth (root only), 2-byte cell count */

/* SQLite's R*Tree rounds a box outwards to 32-bit floats this way; doing the same
 * stores the same values as its own inserts. */
#define ROUND_TOWARDS (1.0 - 1.0 / 8388608.0)
#define ROUND_AWAY (1.0 + 1.0 / 8388608.0)

static float round_down(double d) {
    float f = (float)d;
    if (f > d)
        f = (float)(d * (d < 0 ? ROUND_AWAY : ROUND_TOWARDS));
    return f;
}

static float round_up(double d) {
    float f = (float)d;
    if (f < d)
        f = (float)(d * (d < 0 ? ROUND_TOWARDS : ROUND_AWAY));
    return f;
}

/* A box as stored in a cell: min x, max x, min y, max y. */
typedef struct {
    long long id; /* a row's id in a leaf, a child node's number above */
    float cell[4];
    uint32_t key;    /* sort key: the centre along the axis being sorted */
    uint32_t origin; /* in a leaf: the entry's place in the caller's array */
} item;

typedef struct {
    em_db *db;
    size_t node_size, max_cells;
    long long next_node;
    unsigned char *node;
    item *tmp; /* room for every item, for sorting */
    sqlite3_stmt *put_node, *put_rowid, *put_parent;
    long long *leaf_of; /* per entry, in the caller's order: its leaf node */
    em_error *err;
} loader;

static void put_be16(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_float(unsigned char *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* The order of a float as an unsigned integer: negative ones flipped below. */
static uint32_t float_order(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Stable sort of items[0, n) by the centre along `axis` (0 x, 1 y): a radix sort,
 * a byte at a time, through `tmp` (room for n items). */
static void sort_by_centre(item *items, item *tmp, size_t n, int axis) {
    for (size_t i = 0; i < n; i++)
        items[i].key = float_order(items[i].cell[2 * axis] + items[i].cell[2 * axis + 1]);
    item *from = items, *to = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((from[i].key >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            to[count[(from[i].key >> shift) & 0xFF]++] = from[i];
        item *t = from;
        from = to;
        to = t;
    }
    /* four passes: the sorted items are back in `items` */
}

static int step_reset(loader *L, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return em_fail(L->err, EM_ERR_RUNTIME, "writing the spatial index: %s", em_db_error(L->db));
    return 0;
}

/* Write one node holding `count` items; `up` gets its number and box. */
static int write_node(loader *L, const item *items, size_t count, int leaf, int root, int depth,
                      item *up) {
    long long nodeno = root ? 1 : L->next_node++;
    memset(L->node, 0, L->node_size);
    put_be16(L->node, root ? (unsigned)depth : 0);
    put_be16(L->node + 2, (unsigned)count);
    up->id = nodeno;
    memcpy(up->cell, items[0].cell, sizeof up->cell);
    for (size_t i = 0; i < count; i++) {
        unsigned char *cell = L->node + NODE_HEADER + i * CELL_SIZE;
        put_be64(cell, (uint64_t)items[i].id);
        for (int k = 0; k < 4; k++)
            put_float(cell + 8 + 4 * k, items[i].cell[k]);
        up->cell[0] = fminf(up->cell[0], items[i].cell[0]);
        up->cell[1] = fmaxf(up->cell[1], items[i].cell[1]);
        up->cell[2] = fminf(up->cell[2], items[i].cell[2]);
        up->cell[3] = fmaxf(up->cell[3], items[i].cell[3]);
        if (leaf) {
            L->leaf_of[items[i].origin] = nodeno;
        } else {
            sqlite3_bind_int64(L->put_parent, 1, items[i].id);
            sqlite3_bind_int64(L->put_parent, 2, nodeno);
            if (step_reset(L, L->put_parent) < 0)
                return -1;
        }
    }
    sqlite3_bind_int64(L->put_node, 1, nodeno);
    sqlite3_bind_blob(L->put_node, 2, L->node, (int)L->node_size, SQLITE_STATIC);
    return step_reset(L, L->put_node);
}

/* Sort-Tile-Recursive: vertical slices of whole nodes by x, each cut into nodes by
 * y; then the same for the nodes, one level up, until one node (the root) is left. */
static int pack(loader *L, item *items, size_t n) {
    int depth = 0;
    for (;;) {
        size_t M = L->max_cells, nodes = (n + M - 1) / M;
        size_t slices = (size_t)ceil(sqrt((double)nodes)), per_slice = slices * M;
        item *up = malloc(nodes * sizeof *up);
        if (!up)
            return em_fail(L->err, EM_ERR_RUNTIME, "out of memory");
        sort_by_centre(items, L->tmp, n, 0);
        size_t made = 0;
        for (size_t s = 0; s < n; s += per_slice) {
            size_t len = n - s < per_slice ? n - s : per_slice;
            sort_by_centre(items + s, L->tmp, len, 1);
            for (size_t i = s; i < s + len; i += M, made++) {
                size_t count = s + len - i < M ? s + len - i : M;
                if (write_node(L, items + i, count, depth == 0, nodes == 1, depth, &up[made]) < 0) {
                    free(up);
                    if (depth > 0)
                        free(items);
                    return -1;
                }
            }
        }
        if (depth > 0)
            free(items);
        if (nodes == 1) {
            free(up);
            return 0;
        }
        items = up;
        n = nodes;
        depth++;
    }
}

static sqlite3_stmt *prepare_named(em_db *db, const char *fmt, const char *name, em_error *err) {
    char *sql = sqlite3_mprintf(fmt, name);
    if (!sql) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    sqlite3_free(sql);
    return st;
}

static long long query_int(em_db *db, const char *fmt, const char *name, em_error *err) {
    sqlite3_stmt *st = prepare_named(db, fmt, name, err);
    if (!st)
        return -1;
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

int em_rtree_bulk_load(em_db *db, const char *name, em_rtree_entry *entries, size_t n,
                       em_error *err) {
    loader L = {.db = db, .next_node = 2, .err = err};
    long long node_size =
        query_int(db, "SELECT length(data) FROM \"%w_node\" WHERE nodeno = 1", name, err);
    long long rows = query_int(db, "SELECT count(*) FROM \"%w_rowid\"", name, err);
    if (node_size < 0 || rows < 0)
        return em_fail(err, EM_ERR_RUNTIME, "%s is not an R*Tree", name);
    if (rows > 0 || node_size < NODE_HEADER + 4 * CELL_SIZE)
        return em_fail(err, EM_ERR_RUNTIME, "%s: bulk loading needs an empty 2-D R*Tree", name);
    if (n == 0)
        return 0;
    if (n > UINT32_MAX)
        return em_fail(err, EM_ERR_RUNTIME, "%s: too many rows for one index", name);
    L.node_size = (size_t)node_size;
    L.max_cells = (L.node_size - NODE_HEADER) / CELL_SIZE;
    item *items = malloc(n * sizeof *items);
    L.leaf_of = malloc(n * sizeof *L.leaf_of);
    L.node = malloc(L.node_size);
    L.tmp = malloc(n * sizeof *L.tmp);
    int rc = -1;
    if (!items || !L.leaf_of || !L.node || !L.tmp) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].id = entries[i].id;
        items[i].origin = (uint32_t)i;
        items[i].cell[0] = round_down(entries[i].box[0]);
        items[i].cell[1] = round_up(entries[i].box[2]);
        items[i].cell[2] = round_down(entries[i].box[1]);
        items[i].cell[3] = round_up(entries[i].box[3]);
    }
    L.put_node = prepare_named(
        db, "INSERT OR REPLACE INTO \"%w_node\" (nodeno, data) VALUES (?, ?)", name, err);
    L.put_parent = prepare_named(db, "INSERT INTO \"%w_parent\" (nodeno, parentnode) VALUES (?, ?)",
                                 name, err);
    L.put_rowid =
        prepare_named(db, "INSERT INTO \"%w_rowid\" (rowid, nodeno) VALUES (?, ?)", name, err);
    if (!L.put_node || !L.put_parent || !L.put_rowid || pack(&L, items, n) < 0)
        goto done;
    /* in the caller's order: by id when the rows were read by id */
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(L.put_rowid, 1, entries[i].id);
        sqlite3_bind_int64(L.put_rowid, 2, L.leaf_of[i]);
        if (step_reset(&L, L.put_rowid) < 0)
            goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(L.put_node);
    sqlite3_finalize(L.put_parent);
    sqlite3_finalize(L.put_rowid);
    free(items);
    free(L.leaf_of);
    free(L.node);
    free(L.tmp);
    return rc;
}

/* Every row's box, read from the BLOB header, or by SpatiaLite for a BLOB in
 * another form (compressed, TinyPoint). */
static em_rtree_entry *layer_boxes(em_db *db, const char *table, size_t *n, em_error *err) {
    *n = 0;
    sqlite3_stmt *rows =
        prepare_named(db, "SELECT id, geom FROM \"%w\" WHERE geom IS NOT NULL", table, err);
    sqlite3_stmt *other =
        em_db_prepare(db, "SELECT MbrMinX(?1), MbrMinY(?1), MbrMaxX(?1), MbrMaxY(?1)", err);
    size_t cap = 1024;
    em_rtree_entry *entries = malloc(cap * sizeof *entries);
    int rc = rows && other && entries ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (*n == cap) {
            em_rtree_entry *more = realloc(entries, 2 * cap * sizeof *entries);
            if (!more) {
                rc = SQLITE_NOMEM;
                break;
            }
            entries = more;
            cap *= 2;
        }
        em_rtree_entry *e = &entries[*n];
        e->id = sqlite3_column_int64(rows, 0);
        const unsigned char *blob = sqlite3_column_blob(rows, 1);
        size_t size = (size_t)sqlite3_column_bytes(rows, 1);
        if (!blob || em_splite_mbr(blob, size, e->box) < 0) {
            sqlite3_bind_value(other, 1, sqlite3_column_value(rows, 1));
            if (sqlite3_step(other) != SQLITE_ROW || sqlite3_column_type(other, 0) == SQLITE_NULL) {
                sqlite3_reset(other);
                continue; /* not a geometry: SpatiaLite would not index it either */
            }
            for (int k = 0; k < 4; k++)
                e->box[k] = sqlite3_column_double(other, k);
            sqlite3_reset(other);
        }
        (*n)++;
    }
    if (rc != SQLITE_DONE && (rows && other)) {
        em_fail(err, EM_ERR_RUNTIME, "reading %s for its spatial index: %s", table,
                rc == SQLITE_NOMEM ? "out of memory" : em_db_error(db));
    } else if (!entries) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
    }
    sqlite3_finalize(rows);
    sqlite3_finalize(other);
    if (rc != SQLITE_DONE) {
        free(entries);
        return NULL;
    }
    return entries;
}

static int exec_named(em_db *db, const char *fmt, const char *name, em_error *err) {
    char *sql = sqlite3_mprintf(fmt, name);
    if (!sql)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    int rc = em_db_exec(db, sql, err);
    sqlite3_free(sql);
    return rc;
}

int em_spatial_index_update(em_db *db, const char *table, long long first_new_id, em_error *err) {
    char idx[256];
    snprintf(idx, sizeof idx, "idx_%s_geom", table);
    char *sql = sqlite3_mprintf(
        "SELECT (SELECT count(*) FROM \"%w\" WHERE id >= ?1), (SELECT count(*) FROM \"%w\"),"
        " (SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?2)",
        table, table);
    sqlite3_stmt *st = sql ? em_db_prepare(db, sql, err) : NULL;
    sqlite3_free(sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, first_new_id);
    sqlite3_bind_text(st, 2, idx, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 2) == SQLITE_NULL) {
        sqlite3_finalize(st);
        return em_fail(err, EM_ERR_RUNTIME, "%s has no spatial index %s", table, idx);
    }
    long long added = sqlite3_column_int64(st, 0), total = sqlite3_column_int64(st, 1);
    char *ddl = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    if (!ddl)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    int rc = 0;
    if (added == 0) {
        /* nothing new */
    } else if (total - added > 8 * added) {
        /* A few rows into a large index: inserting them costs less than a rebuild. */
        sql = sqlite3_mprintf("INSERT INTO \"%w\" (pkid, xmin, xmax, ymin, ymax) SELECT id, "
                              "MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom) FROM "
                              "\"%w\" WHERE id >= ? AND geom IS NOT NULL",
                              idx, table);
        st = sql ? em_db_prepare(db, sql, err) : NULL;
        sqlite3_free(sql);
        if (!st) {
            rc = -1;
        } else {
            sqlite3_bind_int64(st, 1, first_new_id);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = em_fail(err, EM_ERR_RUNTIME, "updating %s: %s", idx, em_db_error(db));
            sqlite3_finalize(st);
        }
    } else {
        size_t n = 0;
        em_rtree_entry *entries = NULL;
        rc = exec_named(db, "DROP TABLE \"%w\"", idx, err) < 0 || em_db_exec(db, ddl, err) < 0 ||
                     !(entries = layer_boxes(db, table, &n, err)) ||
                     em_rtree_bulk_load(db, idx, entries, n, err) < 0
                 ? -1
                 : 0;
        free(entries);
    }
    sqlite3_free(ddl);
    return rc;
}

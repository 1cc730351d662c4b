#include "links.h"

#include <stdio.h>
#include <string.h>

/* Each lookup goes through the layer's R*Tree (idx_<table>_geom) to a handful of
 * candidates before the exact GEOS test. Updates write only the rows whose link
 * changes: rewriting 30,000 unchanged rows would cost more than finding them. */

#define ESTATE_TOWN                                                                                \
    "coalesce((SELECT t.code FROM towns t WHERE t.id IN ("                                         \
    " SELECT pkid FROM idx_towns_geom WHERE xmin <= MbrMaxX(e.geom)"                               \
    " AND xmax >= MbrMinX(e.geom) AND ymin <= MbrMaxY(e.geom) AND ymax >= MbrMinY(e.geom))"        \
    " AND ST_Contains(t.geom, ST_PointOnSurface(e.geom)) ORDER BY t.code LIMIT 1), e.town_code)"

#define TOWN_UPDATE(towns)                                                                         \
    "UPDATE estates SET town_code = c.town FROM (" towns ") AS c"                                  \
    " WHERE estates.id = c.id AND estates.town_code IS NOT c.town"

/* The same per town, through the estates' R*Tree (see BY_POLYGON below): the first
 * town by code holding the point on the estate's surface. */
#define TOWN_BY_POLYGON                                                                            \
    "SELECT e.id, coalesce(h.code, e.town_code) AS town FROM estates e LEFT JOIN ("                \
    " SELECT r.pkid AS eid, min(t.code) AS code FROM towns t CROSS JOIN idx_estates_geom r"        \
    " ON r.xmin <= MbrMaxX(t.geom) AND r.xmax >= MbrMinX(t.geom)"                                  \
    " AND r.ymin <= MbrMaxY(t.geom) AND r.ymax >= MbrMinY(t.geom)"                                 \
    " WHERE r.pkid >= ?1 AND ST_Contains(t.geom, ST_PointOnSurface("                               \
    " (SELECT g.geom FROM estates g WHERE g.id = r.pkid)))"                                        \
    " GROUP BY r.pkid) AS h ON h.eid = e.id WHERE e.id >= ?1"

/* A point on a shared boundary belongs to the lowest id: a stable, documented choice.
 * A point's MBR is the point: MbrMinX() reads it from the BLOB's header, where ST_X()
 * would decode the whole geometry, four times per row. */
#define POINT_IN(table, column)                                                                    \
    "(SELECT p." column " FROM " table " p WHERE p.id IN ("                                        \
    " SELECT pkid FROM idx_" table "_geom WHERE xmin <= MbrMinX(v.geom)"                           \
    " AND xmax >= MbrMinX(v.geom) AND ymin <= MbrMinY(v.geom) AND ymax >= MbrMinY(v.geom))"        \
    " AND ST_Intersects(p.geom, v.geom) ORDER BY p.id LIMIT 1)"

#define LINK_UPDATE(column, links)                                                                 \
    "UPDATE violations SET " column " = c.link FROM (" links ") AS c"                              \
    " WHERE violations.id = c.id AND violations." column " IS NOT c.link"

/* Per violation: look its point up in the polygons' R*Tree. */
#define BY_POINT(table)                                                                            \
    "SELECT v.id, " POINT_IN(table, "code") " AS link FROM violations v WHERE v.id >= ?1"

/* Per polygon: look up the violations inside its MBR in the violations' R*Tree, the
 * cheaper way round when there are more violations to link than polygons. The lowest
 * id among the polygons holding a point wins, as above; no polygon, no link. */
#define BY_POLYGON(table)                                                                          \
    "SELECT v.id, p.code AS link FROM violations v LEFT JOIN ("                                    \
    " SELECT r.pkid AS vid, min(q.id) AS pid FROM " table " q CROSS JOIN idx_violations_geom r"    \
    " ON r.xmin <= MbrMaxX(q.geom) AND r.xmax >= MbrMinX(q.geom)"                                  \
    " AND r.ymin <= MbrMaxY(q.geom) AND r.ymax >= MbrMinY(q.geom)"                                 \
    " WHERE r.pkid >= ?1 AND ST_Intersects(q.geom,"                                                \
    " (SELECT w.geom FROM violations w WHERE w.id = r.pkid))"                                      \
    " GROUP BY r.pkid) AS h ON h.vid = v.id LEFT JOIN " table " p ON p.id = h.pid"                 \
    " WHERE v.id >= ?1"

/* One link, as the same UPDATE written both ways round. */
typedef struct {
    const char *rows, *polygons; /* the layer linked, and the layer it links to */
    const char *per_row, *per_polygon;
} link_sql;

/* An estate keeps the town code it was given when no town holds it (check reports it). */
static const link_sql estate_town = {
    "estates", "towns",
    TOWN_UPDATE("SELECT e.id, " ESTATE_TOWN " AS town FROM estates e WHERE e.id >= ?1"),
    TOWN_UPDATE(TOWN_BY_POLYGON)};
static const link_sql violation_estate = {"violations", "estates",
                                          LINK_UPDATE("estate_code", BY_POINT("estates")),
                                          LINK_UPDATE("estate_code", BY_POLYGON("estates"))};
static const link_sql violation_grid = {"violations", "grid",
                                        LINK_UPDATE("grid_code", BY_POINT("grid")),
                                        LINK_UPDATE("grid_code", BY_POLYGON("grid"))};

static int run_from(em_db *db, const char *sql, long long first_id, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, first_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "updating derived links: %s", em_db_error(db));
    return 0;
}

static long long count_of(em_db *db, const char *sql, long long first_id, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    long long n = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, first_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Link the rows from first_id on, the cheaper way round; both give the same. */
static int link_rows(em_db *db, const link_sql *link, long long first_id, em_error *err) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", link->polygons);
    long long polygons = count_of(db, sql, 0, err);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE id >= ?", link->rows);
    long long rows = count_of(db, sql, first_id, err);
    if (polygons < 0 || rows < 0)
        return -1;
    return run_from(db, rows > polygons ? link->per_polygon : link->per_row, first_id, err);
}

int em_links_after_write(em_db *db, const char *layer, long long first_new_id, em_error *err) {
    if (strcmp(layer, "towns") == 0)
        return link_rows(db, &estate_town, 0, err);
    if (strcmp(layer, "estates") == 0)
        return link_rows(db, &estate_town, first_new_id, err) < 0 ||
                       link_rows(db, &violation_estate, 0, err) < 0
                   ? -1
                   : 0;
    if (strcmp(layer, "grid") == 0)
        return link_rows(db, &violation_grid, 0, err);
    if (strcmp(layer, "violations") == 0)
        return link_rows(db, &violation_estate, first_new_id, err) < 0 ||
                       link_rows(db, &violation_grid, first_new_id, err) < 0
                   ? -1
                   : 0;
    return 0; /* corridors and zones link to nothing */
}

int em_links_update_all(em_db *db, em_error *err) {
    if (link_rows(db, &estate_town, 0, err) < 0 || link_rows(db, &violation_estate, 0, err) < 0 ||
        link_rows(db, &violation_grid, 0, err) < 0)
        return -1;
    return 0;
}

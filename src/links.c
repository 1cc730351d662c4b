#include "links.h"

/* Each lookup goes through the layer's R*Tree (idx_<table>_geom) to a handful of
 * candidates before the exact GEOS test, so a full recompute over the demo's 30,000
 * violations takes a second, not minutes. An estate keeps the town code it was given
 * when no town holds it (check reports it as an orphan). */
static const char *const estate_town_sql =
    "UPDATE estates SET town_code = coalesce(("
    " SELECT t.code FROM towns t WHERE t.id IN ("
    "  SELECT pkid FROM idx_towns_geom WHERE xmin <= MbrMaxX(estates.geom)"
    "  AND xmax >= MbrMinX(estates.geom) AND ymin <= MbrMaxY(estates.geom)"
    "  AND ymax >= MbrMinY(estates.geom))"
    " AND ST_Contains(t.geom, ST_PointOnSurface(estates.geom)) ORDER BY t.code LIMIT 1),"
    " town_code)";

#define POINT_IN_LAYER(table, column)                                                              \
    "(SELECT p." column " FROM " table " p WHERE p.id IN ("                                        \
    " SELECT pkid FROM idx_" table "_geom WHERE xmin <= ST_X(violations.geom)"                     \
    " AND xmax >= ST_X(violations.geom) AND ymin <= ST_Y(violations.geom)"                         \
    " AND ymax >= ST_Y(violations.geom))"                                                          \
    " AND ST_Intersects(p.geom, violations.geom) ORDER BY p.id LIMIT 1)"

/* A point on a shared boundary belongs to the lowest id: a stable, documented choice. */
static const char *const violation_links_sql =
    "UPDATE violations SET estate_code = " POINT_IN_LAYER(
        "estates", "code") ","
                           " grid_code = " POINT_IN_LAYER("grid", "code");

static const char *const one_violation_links_sql =
    "UPDATE violations SET estate_code = " POINT_IN_LAYER(
        "estates", "code") ","
                           " grid_code = " POINT_IN_LAYER("grid", "code") " WHERE id = ?";

int em_links_update(em_db *db, em_error *err) {
    if (em_db_exec(db, estate_town_sql, err) < 0 || em_db_exec(db, violation_links_sql, err) < 0) {
        em_error_prefix(err, "updating derived links: ");
        return -1;
    }
    return 0;
}

int em_links_update_violation(em_db *db, long long violation_id, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db, one_violation_links_sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, violation_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "updating links of violation %lld: %s", violation_id,
                       sqlite3_errmsg(db->sql));
    return 0;
}

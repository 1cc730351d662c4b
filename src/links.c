#include "links.h"

#include <string.h>

/* Each lookup goes through the layer's R*Tree (idx_<table>_geom) to a handful of
 * candidates before the exact GEOS test. Updates write only the rows whose link
 * changes: rewriting 30,000 unchanged rows would cost more than finding them. */

#define ESTATE_TOWN                                                                                \
    "coalesce((SELECT t.code FROM towns t WHERE t.id IN ("                                         \
    " SELECT pkid FROM idx_towns_geom WHERE xmin <= MbrMaxX(e.geom)"                               \
    " AND xmax >= MbrMinX(e.geom) AND ymin <= MbrMaxY(e.geom) AND ymax >= MbrMinY(e.geom))"        \
    " AND ST_Contains(t.geom, ST_PointOnSurface(e.geom)) ORDER BY t.code LIMIT 1), e.town_code)"

/* An estate keeps the town code it was given when no town holds it (check reports it). */
static const char *const estate_town_sql =
    "UPDATE estates SET town_code = c.town FROM ("
    " SELECT e.id, " ESTATE_TOWN " AS town FROM estates e WHERE e.id >= ?) AS c"
    " WHERE estates.id = c.id AND estates.town_code IS NOT c.town";

/* A point on a shared boundary belongs to the lowest id: a stable, documented choice. */
#define POINT_IN(table, column)                                                                    \
    "(SELECT p." column " FROM " table " p WHERE p.id IN ("                                        \
    " SELECT pkid FROM idx_" table "_geom WHERE xmin <= ST_X(v.geom)"                              \
    " AND xmax >= ST_X(v.geom) AND ymin <= ST_Y(v.geom) AND ymax >= ST_Y(v.geom))"                 \
    " AND ST_Intersects(p.geom, v.geom) ORDER BY p.id LIMIT 1)"

static const char *const violation_estate_sql =
    "UPDATE violations SET estate_code = c.link FROM ("
    " SELECT v.id, " POINT_IN(
        "estates", "code") " AS link FROM violations v WHERE v.id >= ?) AS c"
                           " WHERE violations.id = c.id AND violations.estate_code IS NOT c.link";

static const char *const violation_grid_sql =
    "UPDATE violations SET grid_code = c.link FROM ("
    " SELECT v.id, " POINT_IN(
        "grid", "code") " AS link FROM violations v WHERE v.id >= ?) AS c"
                        " WHERE violations.id = c.id AND violations.grid_code IS NOT c.link";

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

int em_links_after_write(em_db *db, const char *layer, long long first_new_id, em_error *err) {
    if (strcmp(layer, "towns") == 0)
        return run_from(db, estate_town_sql, 0, err);
    if (strcmp(layer, "estates") == 0)
        return run_from(db, estate_town_sql, first_new_id, err) < 0 ||
                       run_from(db, violation_estate_sql, 0, err) < 0
                   ? -1
                   : 0;
    if (strcmp(layer, "grid") == 0)
        return run_from(db, violation_grid_sql, 0, err);
    if (strcmp(layer, "violations") == 0)
        return run_from(db, violation_estate_sql, first_new_id, err) < 0 ||
                       run_from(db, violation_grid_sql, first_new_id, err) < 0
                   ? -1
                   : 0;
    return 0; /* corridors and zones link to nothing */
}

int em_links_update_all(em_db *db, em_error *err) {
    if (run_from(db, estate_town_sql, 0, err) < 0 ||
        run_from(db, violation_estate_sql, 0, err) < 0 ||
        run_from(db, violation_grid_sql, 0, err) < 0)
        return -1;
    return 0;
}

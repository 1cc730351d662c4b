#include "dbcheck.h"
#include "layers.h"

#include <json-c/json.h>
#include <string.h>

static long count_query(em_db *db, const char *sql, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    if (!st)
        return -1;
    long n = -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        em_fail(err, EM_ERR_RUNTIME, "%s", sqlite3_errmsg(db->sql));
    sqlite3_finalize(st);
    return n;
}

/* Orphans are layer-specific; the other layers have none by definition. */
static const char *orphan_sql(const char *layer) {
    if (strcmp(layer, "violations") == 0)
        return "SELECT count(*) FROM violations WHERE grid_code IS NULL";
    if (strcmp(layer, "estates") == 0)
        return "SELECT count(*) FROM estates e WHERE NOT EXISTS (SELECT 1 FROM towns t WHERE "
               "t.id IN (SELECT pkid FROM idx_towns_geom WHERE xmin <= MbrMaxX(e.geom) AND "
               "xmax >= MbrMinX(e.geom) AND ymin <= MbrMaxY(e.geom) AND ymax >= MbrMinY(e.geom)) "
               "AND ST_Intersects(t.geom, ST_PointOnSurface(e.geom)))";
    return NULL;
}

static int check_layer(em_db *db, const em_layer *layer, em_check_layer *out, em_error *err) {
    char sql[1400];
    snprintf(out->layer, sizeof out->layer, "%s", layer->name);
    /* Table names below come from the compiled-in layer list. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", layer->table);
    if ((out->features = count_query(db, sql, err)) < 0)
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s WHERE geom IS NULL OR ST_IsValid(geom) IS NOT 1",
             layer->table);
    if ((out->invalid = count_query(db, sql, err)) < 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE ST_SRID(geom) IS NOT 4326",
             layer->table);
    if ((out->wrong_srid = count_query(db, sql, err)) < 0)
        return -1;
    /* The R*Tree against the table, read-only (SpatiaLite's CheckSpatialIndex() writes
     * to spatialite_history, so it fails on a read-only file): every row with a
     * geometry has an entry whose box holds the geometry's, no wider than the R*Tree's
     * 32-bit float rounding, and every entry has its row. */
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM %s t LEFT JOIN idx_%s_geom i ON i.pkid = t.rowid "
             "WHERE t.geom IS NOT NULL AND NOT ST_IsEmpty(t.geom) AND (i.pkid IS NULL OR "
             "i.xmin > MbrMinX(t.geom) OR i.xmax < MbrMaxX(t.geom) OR "
             "i.ymin > MbrMinY(t.geom) OR i.ymax < MbrMaxY(t.geom) OR "
             "MbrMinX(t.geom) - i.xmin > 1e-4 OR i.xmax - MbrMaxX(t.geom) > 1e-4 OR "
             "MbrMinY(t.geom) - i.ymin > 1e-4 OR i.ymax - MbrMaxY(t.geom) > 1e-4)) + "
             "(SELECT count(*) FROM idx_%s_geom i WHERE NOT EXISTS (SELECT 1 FROM %s t "
             "WHERE t.rowid = i.pkid AND t.geom IS NOT NULL))",
             layer->table, layer->table, layer->table, layer->table);
    long bad = count_query(db, sql, err);
    if (bad < 0)
        return -1;
    out->index_ok = bad == 0;
    const char *orphans = orphan_sql(layer->name);
    out->orphans = orphans ? count_query(db, orphans, err) : 0;
    return out->orphans < 0 ? -1 : 0;
}

int em_check(em_db *db, em_check_report *report, em_error *err) {
    memset(report, 0, sizeof *report);
    for (size_t i = 0; i < em_layer_count() && report->nlayers < 6; i++) {
        const em_layer *layer = em_layer_at(i);
        if (!em_layer_is_spatial(layer))
            continue;
        em_check_layer *l = &report->layers[report->nlayers++];
        if (check_layer(db, layer, l, err) < 0)
            return -1;
        report->problems +=
            (l->invalid > 0) + (l->wrong_srid > 0) + (l->orphans > 0) + !l->index_ok;
    }
    sqlite3_stmt *st = em_db_prepare(db, "PRAGMA integrity_check", err);
    if (!st)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(report->integrity, sizeof report->integrity, "%s",
                 (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(report->integrity, sizeof report->integrity, "%s", sqlite3_errmsg(db->sql));
    sqlite3_finalize(st);
    if (strcmp(report->integrity, "ok") != 0)
        report->problems++;
    return 0;
}

void em_check_print(const em_check_report *report, FILE *out) {
    fprintf(out, "%-12s %9s %8s %10s %8s %6s\n", "layer", "features", "invalid", "wrong_srid",
            "orphans", "index");
    for (int i = 0; i < report->nlayers; i++) {
        const em_check_layer *l = &report->layers[i];
        fprintf(out, "%-12s %9ld %8ld %10ld %8ld %6s\n", l->layer, l->features, l->invalid,
                l->wrong_srid, l->orphans, l->index_ok ? "ok" : "BROKEN");
    }
    fprintf(out, "integrity_check: %s\n", report->integrity);
    if (report->problems)
        fprintf(out, "%d problem%s found\n", report->problems, report->problems == 1 ? "" : "s");
    else
        fprintf(out, "no problems found\n");
}

void em_check_print_json(const em_check_report *report, FILE *out) {
    json_object *root = json_object_new_object();
    json_object *layers = json_object_new_object();
    for (int i = 0; i < report->nlayers; i++) {
        const em_check_layer *l = &report->layers[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "features", json_object_new_int64(l->features));
        json_object_object_add(o, "invalid", json_object_new_int64(l->invalid));
        json_object_object_add(o, "wrong_srid", json_object_new_int64(l->wrong_srid));
        json_object_object_add(o, "orphans", json_object_new_int64(l->orphans));
        json_object_object_add(o, "spatial_index_ok", json_object_new_boolean(l->index_ok));
        json_object_object_add(layers, l->layer, o);
    }
    json_object_object_add(root, "layers", layers);
    json_object_object_add(root, "integrity_check", json_object_new_string(report->integrity));
    json_object_object_add(root, "problems", json_object_new_int(report->problems));
    fprintf(out, "%s\n",
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
}

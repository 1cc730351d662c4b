/* export_polygon.c -- the `polygon` filter of a layer export: the area a planner drew
 * on the map (or saved from QGIS), as lon/lat WKT or GeoJSON, checked and turned into
 * WKB for a bound parameter. Every refusal names --polygon and says what is wrong:
 * text that is neither, a geometry that is not a (multi)polygon, an empty one, rings
 * that are not closed, coordinates that are not lon/lat degrees, more vertices than
 * EX_POLYGON_MAX_POINTS, or a polygon GEOS finds invalid (with GEOS's reason, e.g. a
 * self-intersection and where). */
#include "export_priv.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int bad(em_error *err, const char *fmt, const char *detail) {
    return em_fail(err, EM_ERR_USAGE, fmt, detail);
}

/* GeoJSON text: a geometry, a Feature, or a FeatureCollection of one Feature. */
static OGRGeometryH from_geojson(const char *text, em_error *err) {
    json_tokener *tok = json_tokener_new_ex(64);
    json_object *doc = tok ? json_tokener_parse_ex(tok, text, (int)strlen(text)) : NULL;
    int complete = doc && json_tokener_get_error(tok) == json_tokener_success &&
                   text[json_tokener_get_parse_end(tok) +
                        strspn(text + json_tokener_get_parse_end(tok), " \t\r\n")] == '\0';
    if (tok)
        json_tokener_free(tok);
    if (!complete) {
        json_object_put(doc);
        bad(err, "--polygon: not valid JSON (%s)", "GeoJSON starts with '{'; WKT with POLYGON");
        return NULL;
    }
    json_object *g = doc, *v = NULL;
    const char *type = json_object_object_get_ex(g, "type", &v) ? json_object_get_string(v) : "";
    if (type && strcmp(type, "FeatureCollection") == 0) {
        json_object *features = NULL;
        if (!json_object_object_get_ex(g, "features", &features) ||
            !json_object_is_type(features, json_type_array) ||
            json_object_array_length(features) != 1) {
            json_object_put(doc);
            bad(err, "--polygon: a FeatureCollection must hold exactly one Feature%s", "");
            return NULL;
        }
        g = json_object_array_get_idx(features, 0);
        type = json_object_object_get_ex(g, "type", &v) ? json_object_get_string(v) : "";
    }
    if (type && strcmp(type, "Feature") == 0) {
        if (!json_object_object_get_ex(g, "geometry", &g) || !g) {
            json_object_put(doc);
            bad(err, "--polygon: the Feature has no geometry%s", "");
            return NULL;
        }
    }
    OGRGeometryH geom = OGR_G_CreateGeometryFromJson(json_object_to_json_string(g));
    json_object_put(doc);
    if (!geom)
        bad(err, "--polygon: not a GeoJSON geometry (%s)",
            "{\"type\": \"Polygon\", \"coordinates\": [[[lon, lat], ...]]}");
    return geom;
}

static OGRGeometryH from_wkt(const char *text, em_error *err) {
    char *p = (char *)text;
    OGRGeometryH geom = NULL;
    if (OGR_G_CreateFromWkt(&p, NULL, &geom) != OGRERR_NONE || !geom) {
        bad(err, "--polygon: not WKT or GeoJSON (%s)", "e.g. POLYGON((lon lat, lon lat, ...))");
        return NULL;
    }
    p += strspn(p, " \t\r\n");
    if (*p) {
        OGR_G_DestroyGeometry(geom);
        bad(err, "--polygon: text after the WKT geometry: '%.40s'", p);
        return NULL;
    }
    return geom;
}

/* Rings closed, with 4 points or more, lon/lat in degrees; counts the points. */
static int check_rings(OGRGeometryH g, long *points, em_error *err) {
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbMultiPolygon || t == wkbPolygon) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            if (check_rings(OGR_G_GetGeometryRef(g, i), points, err) < 0)
                return -1;
        return 0;
    }
    int n = OGR_G_GetPointCount(g);
    *points += n;
    if (n < 4)
        return bad(err, "--polygon: a ring has fewer than 4 points%s", "");
    if (OGR_G_GetX(g, 0) != OGR_G_GetX(g, n - 1) || OGR_G_GetY(g, 0) != OGR_G_GetY(g, n - 1))
        return bad(err,
                   "--polygon: a ring is not closed (its last point must repeat the "
                   "first)%s",
                   "");
    for (int i = 0; i < n; i++) {
        double x = OGR_G_GetX(g, i), y = OGR_G_GetY(g, i);
        if (!isfinite(x) || !isfinite(y) || x < -180 || x > 180 || y < -90 || y > 90) {
            char where[96];
            snprintf(where, sizeof where, "%.6g %.6g", x, y);
            return bad(err,
                       "--polygon: point (%s) is not lon/lat in degrees (EPSG:4326, "
                       "longitude first)",
                       where);
        }
    }
    return 0;
}

int ex_polygon_parse(em_db *db, const char *text, unsigned char **wkb, size_t *len, em_error *err) {
    *wkb = NULL;
    *len = 0;
    text += strspn(text, " \t\r\n");
    if (!*text)
        return bad(err, "--polygon is empty: give POLYGON((lon lat, ...)) or GeoJSON%s", "");
    OGRGeometryH g = *text == '{' ? from_geojson(text, err) : from_wkt(text, err);
    if (!g)
        return -1;
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    int rc = 0;
    long points = 0;
    if (t != wkbPolygon && t != wkbMultiPolygon)
        rc = bad(err, "--polygon: a %s, not a POLYGON or MULTIPOLYGON", OGR_G_GetGeometryName(g));
    else if (OGR_G_IsEmpty(g))
        rc = bad(err, "--polygon is an empty %s", OGR_G_GetGeometryName(g));
    else if (check_rings(g, &points, err) < 0)
        rc = -1;
    else if (points > EX_POLYGON_MAX_POINTS) {
        char n[64];
        snprintf(n, sizeof n, "%ld vertices, at most %d", points, EX_POLYGON_MAX_POINTS);
        rc = bad(err, "--polygon is too large: %s", n);
    }
    if (rc == 0) {
        OGR_G_FlattenTo2D(g);
        *len = (size_t)OGR_G_WkbSize(g);
        *wkb = malloc(*len);
        if (!*wkb || OGR_G_ExportToWkb(g, wkbNDR, *wkb) != OGRERR_NONE)
            rc = em_fail(err, EM_ERR_RUNTIME, "--polygon: cannot write it as WKB");
    }
    OGR_G_DestroyGeometry(g);
    if (rc == 0) { /* GEOS, as SpatiaLite will use it, must find it valid */
        sqlite3_stmt *st = em_db_prepare(db,
                                         "SELECT ST_IsValid(g), ST_IsValidReason(g) FROM (SELECT "
                                         "GeomFromWKB(?, 4326) AS g)",
                                         err);
        if (!st)
            rc = -1;
        else {
            sqlite3_bind_blob(st, 1, *wkb, (int)*len, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_ROW)
                rc = em_fail(err, EM_ERR_RUNTIME, "--polygon: checking it: %s",
                             sqlite3_errmsg(db->sql));
            else if (sqlite3_column_int(st, 0) != 1) {
                const char *why = (const char *)sqlite3_column_text(st, 1);
                rc = bad(err, "--polygon is not a valid polygon: %s",
                         why ? why : "GEOS cannot read it");
            }
            sqlite3_finalize(st);
        }
    }
    if (rc < 0) {
        free(*wkb);
        *wkb = NULL;
        *len = 0;
    }
    return rc;
}

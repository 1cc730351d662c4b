/* tilejson.c -- /tiles/{layers}.json: TileJSON 3.0.0, so that MapLibre, QGIS and
 * Leaflet plugins can find the tiles, their zoom range, bounds and fields.
 *
 * TileJSON's "tiles" lists interchangeable URLs of one format, so one document
 * names one format: MVT by default, geojson-vt JSON with ?f=geojson. Bounds come
 * from the layers' R*Trees; the ETag follows the layers' data versions. */
#include "tile_http.h"

#include <civetweb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char osm_attribution[] =
    "© <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors";

static const char *field_type(const em_layer *layer, const char *name) {
    if (strcmp(name, "id") == 0)
        return "Number";
    const em_column *c = em_layer_column(layer, name);
    if (!c)
        return "String";
    switch (c->type) {
    case EM_COL_INTEGER:
    case EM_COL_REAL:
        return "Number";
    case EM_COL_BOOL:
        return "Boolean";
    default:
        return "String";
    }
}

/* The union of the layers' R*Tree extents; 0 when they hold no feature. */
static int layer_bounds(em_db *db, const em_layer *const *layers, size_t n, double b[4]) {
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM \"idx_%s_geom\"",
                 layers[i]->table);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            double v[4];
            for (int k = 0; k < 4; k++)
                v[k] = sqlite3_column_double(st, k);
            if (!any) {
                memcpy(b, v, sizeof v);
                any = 1;
            } else {
                b[0] = fmin(b[0], v[0]);
                b[1] = fmin(b[1], v[1]);
                b[2] = fmax(b[2], v[2]);
                b[3] = fmax(b[3], v[3]);
            }
        }
        sqlite3_finalize(st);
    }
    return any;
}

/* A degree value with 7 decimals (about 1 cm), written as such, not as %.17g. */
static json_object *number(double v, int decimals) {
    char buf[48];
    int n = snprintf(buf, sizeof buf, "%.*f", decimals, v);
    while (n > 1 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 1 && buf[n - 1] == '.')
        buf[--n] = '\0';
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

int em_tilejson_respond(em_http_request *req, em_tile_service *svc, em_tile_source *src,
                        const em_layer *const *layers, size_t n, const char *names) {
    static const char *const allowed[] = {"f", NULL};
    int rc = em_http_check_params(req, allowed, NULL, NULL);
    if (rc)
        return rc;
    const char *f = em_http_param(req, "f");
    if (f && strcmp(f, "mvt") != 0 && strcmp(f, "geojson") != 0)
        return em_http_error(req, 400, "invalid_parameter", "f",
                             "f must be mvt (the default) or geojson");
    const char *fmt = f ? f : "mvt";
    em_error err;
    em_error_clear(&err);
    em_db *db = em_http_db(req, &err);
    if (!db) {
        fprintf(stderr, "estatemap serve: %s\n", err.message);
        return em_http_error(req, 503, "unavailable", NULL, "the database cannot be opened");
    }
    long long versions[EM_TILE_MAX_LAYERS];
    if (em_tile_source_versions(src, db->sql, versions, &err) < 0)
        return em_http_error_from(req, &err, NULL);
    int index[EM_TILE_MAX_LAYERS];
    for (size_t i = 0; i < n; i++)
        index[i] = em_tile_layer_index(layers[i]);
    char etag[160];
    em_tile_etag(svc, versions, index, n, strcmp(fmt, "mvt") == 0 ? "tj" : "tjg", etag,
                 sizeof etag);
    char extra[200];
    snprintf(extra, sizeof extra, "ETag: %s\r\n", etag);
    if (em_tile_etag_matches(mg_get_header(req->conn, "If-None-Match"), etag, NULL)) {
        em_http_headers h = {NULL, "no-cache", extra, 0};
        return em_http_respond(req, 304, &h, NULL, 0);
    }

    double b[4] = {-180, -85.0511287798066, 180, 85.0511287798066};
    int has_data = layer_bounds(db, layers, n, b);

    json_object *root = json_object_new_object();
    json_object_object_add(root, "tilejson", json_object_new_string("3.0.0"));
    json_object_object_add(root, "name", json_object_new_string(names));
    char desc[256];
    size_t used = (size_t)snprintf(
        desc, sizeof desc,
        "estatemap %s tiles:", strcmp(fmt, "mvt") == 0 ? "vector (MVT 2.1)" : "geojson-vt JSON");
    for (size_t i = 0; i < n && used < sizeof desc; i++)
        used += (size_t)snprintf(desc + used, sizeof desc - used, "%s %s %s", i ? "," : "",
                                 layers[i]->label_zh, layers[i]->name);
    json_object_object_add(root, "description", json_object_new_string(desc));
    json_object_object_add(root, "version", json_object_new_string("1.0.0"));
    for (size_t i = 0; i < n; i++)
        if (strcmp(layers[i]->name, "corridors") == 0)
            json_object_object_add(root, "attribution", json_object_new_string(osm_attribution));
    json_object_object_add(root, "scheme", json_object_new_string("xyz"));
    char url[600];
    snprintf(url, sizeof url, "%s/tiles/%s/{z}/{x}/{y}.%s", req->base_url, names, fmt);
    json_object *tiles = json_object_new_array();
    json_object_array_add(tiles, json_object_new_string(url));
    json_object_object_add(root, "tiles", tiles);
    json_object_object_add(root, "minzoom", json_object_new_int(0));
    json_object_object_add(root, "maxzoom", json_object_new_int(EM_TILEJSON_MAX_ZOOM));
    json_object *bounds = json_object_new_array();
    for (int k = 0; k < 4; k++)
        json_object_array_add(bounds, number(b[k], 7));
    json_object_object_add(root, "bounds", bounds);
    /* The zoom at which the bounds fill about one 256-pixel tile's width. */
    double width = b[2] - b[0];
    int zoom = has_data && width > 0 ? (int)floor(log2(360.0 / width)) : 0;
    zoom = zoom < 0 ? 0 : zoom > EM_TILEJSON_MAX_ZOOM ? EM_TILEJSON_MAX_ZOOM : zoom;
    json_object *center = json_object_new_array();
    json_object_array_add(center, number((b[0] + b[2]) / 2, 7));
    json_object_array_add(center, number((b[1] + b[3]) / 2, 7));
    json_object_array_add(center, json_object_new_int(zoom));
    json_object_object_add(root, "center", center);

    json_object *vls = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const em_layer *l = layers[i];
        json_object *vl = json_object_new_object();
        json_object_object_add(vl, "id", json_object_new_string(l->name));
        char d[128];
        snprintf(d, sizeof d, "%s %s", l->label_zh, l->name);
        json_object_object_add(vl, "description", json_object_new_string(d));
        json_object_object_add(vl, "minzoom", json_object_new_int(0));
        json_object_object_add(vl, "maxzoom", json_object_new_int(EM_TILEJSON_MAX_ZOOM));
        json_object *fields = json_object_new_object();
        for (const char *const *p = em_tile_layer_props(l); *p; p++)
            json_object_object_add(fields, *p, json_object_new_string(field_type(l, *p)));
        if (l->geom == EM_GEOM_POINT) {
            /* clusters, up to EM_TILE_CLUSTER_MAX_ZOOM */
            json_object_object_add(fields, "cluster", json_object_new_string("Boolean"));
            json_object_object_add(fields, "point_count", json_object_new_string("Number"));
            json_object_object_add(fields, "open_count", json_object_new_string("Number"));
        }
        json_object_object_add(vl, "fields", fields);
        json_object_array_add(vls, vl);
    }
    json_object_object_add(root, "vector_layers", vls);
    /* Not part of TileJSON 3.0.0: the query parameters the tile URLs take. */
    for (size_t i = 0; i < n; i++)
        if (em_tile_layer_dated(layers[i])) {
            json_object *ps = json_object_new_object(), *p = json_object_new_object();
            json_object_object_add(p, "format", json_object_new_string("date"));
            json_object_object_add(
                p, "description",
                json_object_new_string("YYYY-MM-DD: only the violations reported by the end of "
                                       "the date, with their status on it (open unless resolved "
                                       "by then); clusters count these"));
            json_object_object_add(ps, "as-of", p);
            json_object_object_add(root, "query_parameters", ps);
            break;
        }
    size_t len = 0;
    const char *text = em_http_json_text(root, &len);
    em_http_headers h = {"application/json", "no-cache", extra, 0};
    rc = em_http_respond(req, 200, &h, text, len);
    json_object_put(root);
    return rc;
}

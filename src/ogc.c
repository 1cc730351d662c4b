#include "ogc.h"

#include "crs.h"
#include "fields.h"
#include "geojson.h"
#include "strbuf.h"
#include "timespan.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MT_JSON "application/json"
#define MT_GEOJSON "application/geo+json"
#define MT_OPENAPI "application/vnd.oai.openapi+json;version=3.0"
#define MT_SCHEMA "application/schema+json"

#define CONF_PREFIX "http://www.opengis.net/spec/ogcapi-features-"

static const char *const conformance_classes[] = {
    CONF_PREFIX "1/1.0/conf/core",
    CONF_PREFIX "1/1.0/conf/geojson",
    CONF_PREFIX "1/1.0/conf/oas30",
    CONF_PREFIX "2/1.0/conf/crs",
    NULL,
};

/* ---- collections ------------------------------------------------------- */

size_t em_ogc_collection_count(void) {
    size_t n = 0;
    for (size_t i = 0; i < em_layer_count(); i++)
        n += em_layer_is_spatial(em_layer_at(i)) ? 1 : 0;
    return n;
}

const em_layer *em_ogc_collection_at(size_t i) {
    for (size_t k = 0; k < em_layer_count(); k++) {
        const em_layer *l = em_layer_at(k);
        if (em_layer_is_spatial(l) && i-- == 0)
            return l;
    }
    return NULL;
}

static const em_layer *find_collection(const char *name) {
    const em_layer *l = em_layer_find(name);
    return l && em_layer_is_spatial(l) ? l : NULL;
}

const char *em_ogc_temporal_column(const em_layer *layer) {
    return strcmp(layer->name, "violations") == 0 ? "reported_at" : NULL;
}

static const char *layer_title_en(const em_layer *l) {
    static const struct {
        const char *name, *title;
    } titles[] = {
        {"towns", "Towns and subdistricts"},
        {"estates", "Residential estates"},
        {"grid", "Urban-management grid cells"},
        {"violations", "Violation reports (五违 and 六乱)"},
        {"corridors", "Railway, expressway, river and rail-transit corridors"},
        {"zones", "Key remediation and civilised-district areas"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i].name, l->name) == 0)
            return titles[i].title;
    return l->name;
}

/* ---- small JSON helpers ------------------------------------------------ */

static json_object *jlink(const char *href, const char *rel, const char *type, const char *title) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "href", json_object_new_string(href));
    json_object_object_add(o, "rel", json_object_new_string(rel));
    if (type)
        json_object_object_add(o, "type", json_object_new_string(type));
    if (title)
        json_object_object_add(o, "title", json_object_new_string(title));
    return o;
}

/* A number written with `precision` decimals rather than json-c's %.17g. */
static json_object *jnum(double v, int precision) {
    em_strbuf b;
    em_strbuf_init(&b);
    em_geojson_number(&b, v, precision);
    json_object *o = json_object_new_double_s(v, em_strbuf_cstr(&b));
    em_strbuf_free(&b);
    return o;
}

static json_object *jcrs_list(void) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < em_crs_count(); i++)
        json_object_array_add(a, json_object_new_string(em_crs_at(i)->uri));
    return a;
}

static void url_of(const em_http_request *req, const char *path, char *out, size_t len) {
    snprintf(out, len, "%s/ogc%s", req->base_url, path);
}

/* Append `s` %-encoded for a query string (RFC 3986 unreserved, plus ",:/" kept). */
static void put_query_encoded(em_strbuf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-_.~,:/", *p))
            em_strbuf_putc(b, (char)*p);
        else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            em_strbuf_append(b, e, 3);
        }
    }
}

static void rfc3339_now(char *out, size_t len) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- common checks ----------------------------------------------------- */

static const char *const only_f[] = {"f", NULL};

/* 0 when f is absent or json; otherwise the 400 already sent. */
static int check_format(em_http_request *req) {
    const char *f = em_http_param(req, "f");
    if (f && strcmp(f, "json") != 0)
        return em_http_error(req, 400, "invalid_parameter", "f",
                             "f='%s' is not supported; this API answers in JSON only (f=json)", f);
    return 0;
}

static int check_plain_params(em_http_request *req) {
    int rc = em_http_check_params(req, only_f, NULL, NULL);
    return rc ? rc : check_format(req);
}

static em_db *db_or_fail(em_http_request *req, int *rc) {
    em_error err;
    em_error_clear(&err);
    em_db *db = em_http_db(req, &err);
    if (!db) {
        fprintf(stderr, "estatemap serve: %s\n", err.message);
        *rc = em_http_error(req, 503, "unavailable", NULL,
                            "the database cannot be opened; see the server log");
    }
    return db;
}

static int internal_error(em_http_request *req, const char *what, const char *detail) {
    em_error err;
    em_fail(&err, EM_ERR_RUNTIME, "%s: %s", what, detail);
    return em_http_error_from(req, &err, NULL);
}

/* ---- landing page, conformance, API ------------------------------------ */

static int landing_page(em_http_request *req) {
    int rc = check_plain_params(req);
    if (rc)
        return rc;
    char self[512], api[512], conf[512], data[512];
    url_of(req, "", self, sizeof self);
    url_of(req, "/api", api, sizeof api);
    url_of(req, "/conformance", conf, sizeof conf);
    url_of(req, "/collections", data, sizeof data);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "title",
                           json_object_new_string("estatemap: 闵行区美丽家园 Beautiful Homes"));
    json_object_object_add(
        root, "description",
        json_object_new_string("Towns, residential estates, grid cells, violation reports, "
                               "corridors and key areas of Minhang District, Shanghai, for the "
                               "2016 Beautiful Homes (美丽家园) programme. OGC API - Features."));
    json_object *links = json_object_new_array();
    json_object_array_add(links, jlink(self, "self", MT_JSON, "this document"));
    json_object_array_add(
        links, jlink(api, "service-desc", MT_OPENAPI, "the API definition (OpenAPI 3.0)"));
    json_object_array_add(
        links, jlink(conf, "conformance", MT_JSON, "the OGC API conformance classes implemented"));
    json_object_array_add(links, jlink(conf, "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                                       MT_JSON, "the OGC API conformance classes implemented"));
    json_object_array_add(links, jlink(data, "data", MT_JSON, "the feature collections"));
    json_object_array_add(links, jlink(data, "http://www.opengis.net/def/rel/ogc/1.0/data", MT_JSON,
                                       "the feature collections"));
    json_object_object_add(root, "links", links);
    return em_http_respond_json(req, 200, MT_JSON, root, NULL);
}

static int conformance(em_http_request *req) {
    int rc = check_plain_params(req);
    if (rc)
        return rc;
    json_object *root = json_object_new_object();
    json_object *list = json_object_new_array();
    for (int i = 0; conformance_classes[i]; i++)
        json_object_array_add(list, json_object_new_string(conformance_classes[i]));
    json_object_object_add(root, "conformsTo", list);
    return em_http_respond_json(req, 200, MT_JSON, root, NULL);
}

static int api_document(em_http_request *req) {
    int rc = check_plain_params(req);
    if (rc)
        return rc;
    return em_http_respond_json(req, 200, MT_OPENAPI, em_ogc_openapi(req->base_url), NULL);
}

/* ---- collection metadata ------------------------------------------------ */

/* The layer's lon/lat extent from its R*Tree (whose float bounds round outward),
 * or 0 when the layer is empty. */
static int layer_extent(em_db *db, const em_layer *l, double bbox[4]) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM \"idx_%s_geom\"", l->table);
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        for (int i = 0; i < 4; i++)
            bbox[i] = sqlite3_column_double(st, i);
        /* Widen to the 7 decimals we print, so the printed box still contains all. */
        bbox[0] = floor(bbox[0] * 1e7) / 1e7;
        bbox[1] = floor(bbox[1] * 1e7) / 1e7;
        bbox[2] = ceil(bbox[2] * 1e7) / 1e7;
        bbox[3] = ceil(bbox[3] * 1e7) / 1e7;
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

static json_object *temporal_extent(em_db *db, const em_layer *l) {
    const char *col = em_ogc_temporal_column(l);
    if (!col)
        return NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT min(\"%s\"), max(\"%s\") FROM \"%s\"", col, col, l->table);
    sqlite3_stmt *st = NULL;
    json_object *interval = json_object_new_array();
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < 2; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            char text[40];
            if (v) {
                em_timespan_rfc3339(v, text, sizeof text);
                json_object_array_add(interval, json_object_new_string(text));
            } else {
                json_object_array_add(interval, NULL);
            }
        }
    } else {
        json_object_array_add(interval, NULL);
        json_object_array_add(interval, NULL);
    }
    sqlite3_finalize(st);
    json_object *t = json_object_new_object();
    json_object *intervals = json_object_new_array();
    json_object_array_add(intervals, interval);
    json_object_object_add(t, "interval", intervals);
    json_object_object_add(
        t, "trs", json_object_new_string("http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"));
    return t;
}

static json_object *collection_json(em_http_request *req, em_db *db, const em_layer *l) {
    char path[128], self[512], items[512];
    snprintf(path, sizeof path, "/collections/%s", l->name);
    url_of(req, path, self, sizeof self);
    snprintf(path, sizeof path, "/collections/%s/items", l->name);
    url_of(req, path, items, sizeof items);

    json_object *c = json_object_new_object();
    json_object_object_add(c, "id", json_object_new_string(l->name));
    char title[128];
    snprintf(title, sizeof title, "%s %s", l->label_zh, l->name);
    json_object_object_add(c, "title", json_object_new_string(title));
    json_object_object_add(c, "description", json_object_new_string(layer_title_en(l)));
    json_object_object_add(c, "itemType", json_object_new_string("feature"));

    json_object *extent = json_object_new_object();
    double bbox[4];
    if (layer_extent(db, l, bbox)) {
        json_object *spatial = json_object_new_object();
        json_object *boxes = json_object_new_array();
        json_object *box = json_object_new_array();
        for (int i = 0; i < 4; i++)
            json_object_array_add(box, jnum(bbox[i], 7));
        json_object_array_add(boxes, box);
        json_object_object_add(spatial, "bbox", boxes);
        json_object_object_add(spatial, "crs", json_object_new_string(EM_CRS84_URI));
        json_object_object_add(extent, "spatial", spatial);
    }
    json_object *temporal = temporal_extent(db, l);
    if (temporal)
        json_object_object_add(extent, "temporal", temporal);
    json_object_object_add(c, "extent", extent);
    json_object_object_add(c, "crs", jcrs_list());
    json_object_object_add(c, "storageCrs", json_object_new_string(EM_CRS84_URI));

    json_object *links = json_object_new_array();
    json_object_array_add(links, jlink(self, "self", MT_JSON, "this collection"));
    json_object_array_add(links, jlink(items, "items", MT_GEOJSON, "the features, as GeoJSON"));
    snprintf(path, sizeof path, "/collections/%s/schema", l->name);
    char schema[512];
    url_of(req, path, schema, sizeof schema);
    json_object_array_add(
        links, jlink(schema, "describedby", MT_SCHEMA, "the JSON Schema of the features"));
    /* GDAL up to 3.6 looks for the relation spelt "describedBy". */
    json_object_array_add(
        links, jlink(schema, "describedBy", MT_SCHEMA, "the JSON Schema of the features"));
    json_object_object_add(c, "links", links);
    return c;
}

static int collections(em_http_request *req) {
    int rc = check_plain_params(req);
    if (rc)
        return rc;
    em_db *db = db_or_fail(req, &rc);
    if (!db)
        return rc;
    char self[512];
    url_of(req, "/collections", self, sizeof self);
    json_object *root = json_object_new_object();
    json_object *links = json_object_new_array();
    json_object_array_add(links, jlink(self, "self", MT_JSON, "the feature collections"));
    json_object_object_add(root, "links", links);
    json_object_object_add(root, "crs", jcrs_list());
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < em_ogc_collection_count(); i++)
        json_object_array_add(list, collection_json(req, db, em_ogc_collection_at(i)));
    json_object_object_add(root, "collections", list);
    return em_http_respond_json(req, 200, MT_JSON, root, NULL);
}

static int collection(em_http_request *req, const em_layer *l) {
    int rc = check_plain_params(req);
    if (rc)
        return rc;
    em_db *db = db_or_fail(req, &rc);
    if (!db)
        return rc;
    return em_http_respond_json(req, 200, MT_JSON, collection_json(req, db, l), NULL);
}

/* ---- items ------------------------------------------------------------- */

typedef struct {
    const em_layer *layer;
    int nboxes;
    double box[2][4]; /* lon/lat: west, south, east, north */
    int nfilters;
    const em_column *filter_col[EM_HTTP_MAX_PARAMS];
    const char *filter_val[EM_HTTP_MAX_PARAMS];
    const char *time_col;
    em_timespan time;
    long long id; /* > 0: one feature */
} items_query;

/* A bbox with no width or no height is a line or a point, which BuildMbr() would
 * turn into a degenerate polygon: give GEOS the real shape. A point binds w, s;
 * the others w, s, e, n. */
static int box_is_point(const double *b) {
    return b[0] == b[2] && b[1] == b[3];
}

static const char *box_shape_sql(const double *b) {
    if (box_is_point(b))
        return "MakePoint(?, ?, 4326)";
    if (b[0] == b[2] || b[1] == b[3])
        return "MakeLine(MakePoint(?, ?, 4326), MakePoint(?, ?, 4326))";
    return "BuildMbr(?, ?, ?, ?, 4326)";
}

static void put_where(const items_query *q, em_strbuf *sql) {
    em_strbuf_puts(sql, " WHERE 1");
    if (q->id > 0)
        em_strbuf_puts(sql, " AND t.id = ?");
    if (q->nboxes > 0) {
        em_strbuf_puts(sql, " AND (");
        for (int i = 0; i < q->nboxes; i++)
            em_strbuf_printf(sql,
                             "%s(t.id IN (SELECT pkid FROM \"idx_%s_geom\" WHERE xmin <= ? AND "
                             "xmax >= ? AND ymin <= ? AND ymax >= ?) AND "
                             "ST_Intersects(t.geom, %s) = 1)",
                             i ? " OR " : "", q->layer->table, box_shape_sql(q->box[i]));
        em_strbuf_puts(sql, ")");
    }
    for (int i = 0; i < q->nfilters; i++)
        em_strbuf_printf(sql, " AND t.\"%s\" = ?", q->filter_col[i]->name);
    if (q->time_col && q->time.has_lo)
        em_strbuf_printf(sql, " AND t.\"%s\" >= ?", q->time_col);
    if (q->time_col && q->time.has_hi)
        em_strbuf_printf(sql, " AND t.\"%s\" <= ?", q->time_col);
}

/* Bind in the order put_where() wrote the placeholders. On a filter value that
 * does not fit its column, returns -1 with `why` and the column in `*bad`. */
static int bind_where(const items_query *q, sqlite3_stmt *st, int *idx, char *why, size_t whylen,
                      const char **bad) {
    if (q->id > 0)
        sqlite3_bind_int64(st, (*idx)++, q->id);
    for (int i = 0; i < q->nboxes; i++) {
        const double *b = q->box[i];
        /* R*Tree: the entry's box overlaps the query box. */
        sqlite3_bind_double(st, (*idx)++, b[2]);
        sqlite3_bind_double(st, (*idx)++, b[0]);
        sqlite3_bind_double(st, (*idx)++, b[3]);
        sqlite3_bind_double(st, (*idx)++, b[1]);
        for (int k = 0; k < (box_is_point(b) ? 2 : 4); k++)
            sqlite3_bind_double(st, (*idx)++, b[k]);
    }
    for (int i = 0; i < q->nfilters; i++) {
        if (em_field_bind(st, (*idx)++, q->filter_col[i], q->filter_val[i], why, whylen) < 0) {
            *bad = q->filter_col[i]->name;
            return -1;
        }
    }
    if (q->time_col && q->time.has_lo)
        sqlite3_bind_text(st, (*idx)++, q->time.lo, -1, SQLITE_TRANSIENT);
    if (q->time_col && q->time.has_hi)
        sqlite3_bind_text(st, (*idx)++, q->time.hi, -1, SQLITE_TRANSIENT);
    return 0;
}

static json_object *column_value(sqlite3_stmt *st, int i, const em_column *col) {
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL || type == SQLITE_BLOB)
        return NULL;
    /* Read a number before its text: the text form is made on demand from it. */
    double real = type == SQLITE_FLOAT || type == SQLITE_INTEGER ? sqlite3_column_double(st, i) : 0;
    long long whole = type == SQLITE_INTEGER ? sqlite3_column_int64(st, i) : 0;
    const char *text = (const char *)sqlite3_column_text(st, i);
    int len = sqlite3_column_bytes(st, i);
    if (!text)
        return NULL;
    if (col) {
        switch (col->type) {
        case EM_COL_TEXT:
        case EM_COL_DATE:
        case EM_COL_DATETIME:
            return json_object_new_string_len(text, len);
        case EM_COL_BOOL:
            if (type == SQLITE_INTEGER)
                return json_object_new_boolean(whole != 0);
            break;
        case EM_COL_REAL:
            if (type == SQLITE_INTEGER || type == SQLITE_FLOAT)
                return isfinite(real) ? json_object_new_double_s(real, text) : NULL;
            break;
        case EM_COL_INTEGER:
            break;
        }
    }
    if (type == SQLITE_INTEGER)
        return json_object_new_int64(whole);
    if (type == SQLITE_FLOAT)
        return isfinite(real) ? json_object_new_double_s(real, text) : NULL;
    return json_object_new_string_len(text, len);
}

/* Row layout: id, the layer's columns, extra, geom. */
static int put_feature(em_strbuf *out, sqlite3_stmt *st, const em_layer *l,
                       const em_geojson_opts *g, json_object *links) {
    em_strbuf_printf(out, "{\"type\":\"Feature\",\"id\":%lld,\"geometry\":",
                     (long long)sqlite3_column_int64(st, 0));
    int gi = (int)l->ncolumns + 2;
    if (em_geojson_geometry(out, sqlite3_column_blob(st, gi), sqlite3_column_bytes(st, gi), g) < 0)
        return -1;
    json_object *props = json_object_new_object();
    for (size_t i = 0; i < l->ncolumns; i++)
        json_object_object_add(props, l->columns[i].name,
                               column_value(st, (int)i + 1, &l->columns[i]));
    int xi = (int)l->ncolumns + 1;
    if (sqlite3_column_type(st, xi) == SQLITE_TEXT) {
        const char *text = (const char *)sqlite3_column_text(st, xi);
        json_object *extra = json_tokener_parse(text);
        if (extra && !json_object_is_type(extra, json_type_object)) {
            json_object_put(extra);
            extra = NULL;
        }
        json_object_object_add(props, "extra", extra ? extra : json_object_new_string(text));
    }
    size_t len;
    const char *text = em_http_json_text(props, &len);
    em_strbuf_puts(out, ",\"properties\":");
    em_strbuf_append(out, text, len);
    json_object_put(props);
    if (links) {
        text = em_http_json_text(links, &len);
        em_strbuf_puts(out, ",\"links\":");
        em_strbuf_append(out, text, len);
    }
    em_strbuf_putc(out, '}');
    return 0;
}

static void put_select(const items_query *q, em_strbuf *sql) {
    em_strbuf_puts(sql, "SELECT t.id");
    for (size_t i = 0; i < q->layer->ncolumns; i++)
        em_strbuf_printf(sql, ", t.\"%s\"", q->layer->columns[i].name);
    em_strbuf_printf(sql, ", t.extra, t.geom FROM \"%s\" AS t", q->layer->table);
}

static int column_is_param(const void *ctx, const char *name) {
    return em_layer_column((const em_layer *)ctx, name) != NULL;
}

/* A whole number made only of digits; -1 if not, -2 if too long to hold. */
static int parse_digits(const char *s, long long *out) {
    size_t n = strlen(s);
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    if (n > 18)
        return -2;
    *out = strtoll(s, NULL, 10);
    return 0;
}

static int parse_numbers(const char *s, double *v, int max, int *count) {
    int n = 0;
    const char *p = s;
    for (;;) {
        if (n == max)
            return -1;
        if (!*p || isspace((unsigned char)*p))
            return -1;
        /* plain decimal numbers only: strtod also takes hex, "inf" and "nan" */
        size_t len = strcspn(p, ",");
        if (strspn(p, "0123456789+-.eE") < len)
            return -1;
        char *end = NULL;
        double d = strtod(p, &end);
        if (end == p || !isfinite(d))
            return -1;
        v[n++] = d;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    *count = n;
    return 0;
}

/* Fill q->box from bbox and bbox-crs; 0, or the status of the 400 sent. */
static int parse_bbox(em_http_request *req, items_query *q) {
    const char *text = em_http_param(req, "bbox");
    const char *crs_uri = em_http_param(req, "bbox-crs");
    const em_crs *crs = em_crs_at(0);
    if (crs_uri && !(crs = em_crs_find_uri(crs_uri)))
        return em_http_error(req, 400, "invalid_parameter", "bbox-crs",
                             "bbox-crs '%s' is not one of this API's CRS URIs (see the "
                             "collection's crs list)",
                             crs_uri);
    if (!text)
        return 0;
    double v[6];
    int n = 0;
    if (parse_numbers(text, v, 6, &n) < 0 || (n != 4 && n != 6))
        return em_http_error(req, 400, "invalid_parameter", "bbox",
                             "bbox must be 4 (or 6) comma-separated numbers: lower corner, then "
                             "upper corner, in the axis order of bbox-crs");
    double in[4] = {v[0], v[1], n == 6 ? v[3] : v[2], n == 6 ? v[4] : v[3]};
    if (em_crs_is_crs84(crs)) {
        if (in[0] < -180 || in[0] > 180 || in[2] < -180 || in[2] > 180 || in[1] < -90 ||
            in[1] > 90 || in[3] < -90 || in[3] > 90)
            return em_http_error(req, 400, "invalid_parameter", "bbox",
                                 "bbox is outside -180..180 longitude, -90..90 latitude");
        if (in[1] > in[3])
            return em_http_error(req, 400, "invalid_parameter", "bbox",
                                 "bbox: the south edge is north of the north edge");
        if (in[0] > in[2]) { /* across the antimeridian */
            double east[4] = {in[0], in[1], 180, in[3]}, west[4] = {-180, in[1], in[2], in[3]};
            memcpy(q->box[0], east, sizeof east);
            memcpy(q->box[1], west, sizeof west);
            q->nboxes = 2;
            return 0;
        }
        memcpy(q->box[0], in, sizeof in);
        q->nboxes = 1;
        return 0;
    }
    if (in[0] > in[2] || in[1] > in[3])
        return em_http_error(req, 400, "invalid_parameter", "bbox",
                             "bbox: each lower-corner value must not exceed the upper corner's");
    if (crs->geographic && (in[0] < -90 || in[2] > 90 || in[1] < -180 || in[3] > 180))
        return em_http_error(req, 400, "invalid_parameter", "bbox",
                             "bbox is outside -90..90 latitude, -180..180 longitude (%s is "
                             "latitude first)",
                             crs->code);
    em_error err;
    em_error_clear(&err);
    em_crs_cache *cache = em_http_crs(req, &err);
    if (!cache || em_crs_bbox_to_crs84(cache, crs, in, q->box[0], &err) < 0)
        return em_http_error_from(req, &err, "bbox");
    q->nboxes = 1;
    return 0;
}

static const char *const items_params[] = {"bbox",   "bbox-crs", "crs", "limit",
                                           "offset", "datetime", "f",   NULL};
static const char *const item_params[] = {"crs", "f", NULL};

/* Output CRS and geometry options; 0, or the status of the error sent. */
static int output_crs(em_http_request *req, const em_crs **crs, em_geojson_opts *g) {
    const char *uri = em_http_param(req, "crs");
    *crs = em_crs_at(0);
    if (uri && !(*crs = em_crs_find_uri(uri)))
        return em_http_error(req, 400, "invalid_parameter", "crs",
                             "crs '%s' is not one of this API's CRS URIs (see the collection's "
                             "crs list)",
                             uri);
    g->transform = NULL;
    g->precision = (*crs)->geographic ? 7 : 3;
    if (!em_crs_is_crs84(*crs)) {
        em_error err;
        em_error_clear(&err);
        em_crs_cache *cache = em_http_crs(req, &err);
        g->transform = cache ? em_crs_from_crs84(cache, *crs, &err) : NULL;
        if (!g->transform)
            return em_http_error_from(req, &err, "crs");
    }
    return 0;
}

static void put_page_link(em_strbuf *out, const em_http_request *req, const em_layer *l,
                          const char *rel, long long limit, long long offset, int first) {
    em_strbuf href;
    em_strbuf_init(&href);
    em_strbuf_printf(&href, "%s/ogc/collections/%s/items?", req->base_url, l->name);
    for (int i = 0; i < req->nparams; i++) {
        const char *name = req->params[i].name;
        if (strcmp(name, "limit") == 0 || strcmp(name, "offset") == 0)
            continue;
        put_query_encoded(&href, name);
        em_strbuf_putc(&href, '=');
        put_query_encoded(&href, req->params[i].value);
        em_strbuf_putc(&href, '&');
    }
    em_strbuf_printf(&href, "limit=%lld&offset=%lld", limit, offset);
    json_object *link = jlink(em_strbuf_cstr(&href), rel, MT_GEOJSON, NULL);
    size_t len;
    const char *text = em_http_json_text(link, &len);
    if (!first)
        em_strbuf_putc(out, ',');
    em_strbuf_append(out, text, len);
    json_object_put(link);
    em_strbuf_free(&href);
}

/* The page of an items request whose parameters all checked out. */
static int items_page(em_http_request *req, const items_query *q, long long limit, long long offset,
                      const em_crs *crs, const em_geojson_opts *g, em_db *db) {
    const em_layer *l = q->layer;
    int rc;
    /* numberMatched */
    em_strbuf sql;
    em_strbuf_init(&sql);
    em_strbuf_printf(&sql, "SELECT count(*) FROM \"%s\" AS t", l->table);
    put_where(q, &sql);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, em_strbuf_cstr(&sql), -1, &st, NULL) != SQLITE_OK) {
        rc = internal_error(req, "counting features", sqlite3_errmsg(db->sql));
        em_strbuf_free(&sql);
        return rc;
    }
    char why[512];
    const char *bad = NULL;
    int idx = 1;
    if (bind_where(q, st, &idx, why, sizeof why, &bad) < 0) {
        sqlite3_finalize(st);
        em_strbuf_free(&sql);
        return em_http_error(req, 400, "invalid_parameter", bad, "%s", why);
    }
    long long matched = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        matched = sqlite3_column_int64(st, 0);
    else {
        rc = internal_error(req, "counting features", sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
        em_strbuf_free(&sql);
        return rc;
    }
    sqlite3_finalize(st);

    /* the page */
    em_strbuf_reset(&sql);
    put_select(q, &sql);
    put_where(q, &sql);
    em_strbuf_puts(&sql, " ORDER BY t.id LIMIT ? OFFSET ?");
    if (sqlite3_prepare_v2(db->sql, em_strbuf_cstr(&sql), -1, &st, NULL) != SQLITE_OK) {
        rc = internal_error(req, "reading features", sqlite3_errmsg(db->sql));
        em_strbuf_free(&sql);
        return rc;
    }
    em_strbuf_free(&sql);
    idx = 1;
    bind_where(q, st, &idx, why, sizeof why, &bad);
    sqlite3_bind_int64(st, idx++, limit);
    sqlite3_bind_int64(st, idx++, offset);

    em_strbuf out;
    em_strbuf_init(&out);
    em_strbuf_puts(&out, "{\"type\":\"FeatureCollection\",\"features\":[");
    long long returned = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (returned)
            em_strbuf_putc(&out, ',');
        if (put_feature(&out, st, l, g, NULL) < 0) {
            step = SQLITE_ERROR;
            break;
        }
        returned++;
    }
    if (step != SQLITE_DONE) {
        rc = internal_error(req, "reading features",
                            step == SQLITE_ERROR ? "a geometry could not be written"
                                                 : sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
        em_strbuf_free(&out);
        return rc;
    }
    sqlite3_finalize(st);
    char stamp[32];
    rfc3339_now(stamp, sizeof stamp);
    em_strbuf_printf(&out,
                     "],\"numberMatched\":%lld,\"numberReturned\":%lld,\"timeStamp\":\"%s\","
                     "\"links\":[",
                     matched, returned, stamp);
    put_page_link(&out, req, l, "self", limit, offset, 1);
    if (offset + returned < matched)
        put_page_link(&out, req, l, "next", limit, offset + limit, 0);
    if (offset > 0)
        put_page_link(&out, req, l, "prev", limit, offset > limit ? offset - limit : 0, 0);
    char collection_url[512], path[128];
    snprintf(path, sizeof path, "/collections/%s", l->name);
    url_of(req, path, collection_url, sizeof collection_url);
    json_object *link = jlink(collection_url, "collection", MT_JSON, "the collection");
    size_t len;
    const char *text = em_http_json_text(link, &len);
    em_strbuf_putc(&out, ',');
    em_strbuf_append(&out, text, len);
    json_object_put(link);
    em_strbuf_puts(&out, "]}");
    if (out.failed) {
        em_strbuf_free(&out);
        return internal_error(req, "building the response", "out of memory");
    }
    char extra[160];
    snprintf(extra, sizeof extra, "Content-Crs: <%s>\r\n", crs->uri);
    em_http_headers h = {MT_GEOJSON, NULL, extra, 0};
    rc = em_http_respond(req, 200, &h, out.data, out.len);
    em_strbuf_free(&out);
    return rc;
}

static int items(em_http_request *req, const em_layer *l) {
    int rc = em_http_check_params(req, items_params, column_is_param, l);
    if (rc || (rc = check_format(req)))
        return rc;
    items_query q;
    memset(&q, 0, sizeof q);
    q.layer = l;

    long long limit = EM_OGC_LIMIT_DEFAULT, offset = 0;
    const char *v = em_http_param(req, "limit");
    if (v) {
        int r = parse_digits(v, &limit);
        if (r == -2 || (r == 0 && limit > EM_OGC_LIMIT_MAX))
            limit = EM_OGC_LIMIT_MAX;
        else if (r < 0 || limit < 1)
            return em_http_error(req, 400, "invalid_parameter", "limit",
                                 "limit must be a whole number from 1 to %d (larger values are "
                                 "clamped to %d)",
                                 EM_OGC_LIMIT_MAX, EM_OGC_LIMIT_MAX);
    }
    v = em_http_param(req, "offset");
    if (v && parse_digits(v, &offset) < 0)
        return em_http_error(req, 400, "invalid_parameter", "offset",
                             "offset must be a whole number from 0 to 999999999999999999 "
                             "(18 digits)");
    if ((rc = parse_bbox(req, &q)))
        return rc;
    v = em_http_param(req, "datetime");
    if (v) {
        q.time_col = em_ogc_temporal_column(l);
        if (!q.time_col)
            return em_http_error(req, 400, "invalid_parameter", "datetime",
                                 "the %s collection has no time; datetime filters violations "
                                 "(on reported_at)",
                                 l->name);
        em_error err;
        if (em_timespan_parse(v, &q.time, &err) < 0)
            return em_http_error(req, 400, "invalid_parameter", "datetime", "%s", err.message);
    }
    for (int i = 0; i < req->nparams; i++) {
        const em_column *col = em_layer_column(l, req->params[i].name);
        if (!col)
            continue;
        if (!*req->params[i].value)
            return em_http_error(req, 400, "invalid_parameter", col->name,
                                 "the filter on %s has an empty value", col->name);
        q.filter_col[q.nfilters] = col;
        q.filter_val[q.nfilters++] = req->params[i].value;
    }
    const em_crs *crs;
    em_geojson_opts g;
    if ((rc = output_crs(req, &crs, &g)))
        return rc;
    em_db *db = db_or_fail(req, &rc);
    if (!db)
        return rc;
    /* One read transaction: numberMatched and the page come from one snapshot,
     * even while an import commits in between. */
    if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return internal_error(req, "starting a read", sqlite3_errmsg(db->sql));
    rc = items_page(req, &q, limit, offset, crs, &g, db);
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    return rc;
}

static int item(em_http_request *req, const em_layer *l, const char *fid) {
    int rc = em_http_check_params(req, item_params, NULL, NULL);
    if (rc || (rc = check_format(req)))
        return rc;
    items_query q;
    memset(&q, 0, sizeof q);
    q.layer = l;
    if (parse_digits(fid, &q.id) < 0 || q.id < 1)
        return em_http_error(req, 404, "not_found", NULL, "%s has no feature '%s'", l->name, fid);
    const em_crs *crs;
    em_geojson_opts g;
    if ((rc = output_crs(req, &crs, &g)))
        return rc;
    em_db *db = db_or_fail(req, &rc);
    if (!db)
        return rc;
    em_strbuf sql;
    em_strbuf_init(&sql);
    put_select(&q, &sql);
    put_where(&q, &sql);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, em_strbuf_cstr(&sql), -1, &st, NULL) != SQLITE_OK) {
        rc = internal_error(req, "reading a feature", sqlite3_errmsg(db->sql));
        em_strbuf_free(&sql);
        return rc;
    }
    em_strbuf_free(&sql);
    sqlite3_bind_int64(st, 1, q.id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        sqlite3_finalize(st);
        return em_http_error(req, 404, "not_found", NULL, "%s has no feature %lld", l->name, q.id);
    }
    char self[512], coll[512], path[160];
    snprintf(path, sizeof path, "/collections/%s/items/%lld", l->name, q.id);
    url_of(req, path, self, sizeof self);
    snprintf(path, sizeof path, "/collections/%s", l->name);
    url_of(req, path, coll, sizeof coll);
    json_object *links = json_object_new_array();
    json_object_array_add(links, jlink(self, "self", MT_GEOJSON, "this feature"));
    json_object_array_add(links, jlink(coll, "collection", MT_JSON, "the collection"));
    em_strbuf out;
    em_strbuf_init(&out);
    if (step != SQLITE_ROW || put_feature(&out, st, l, &g, links) < 0 || out.failed) {
        rc = internal_error(req, "reading a feature", sqlite3_errmsg(db->sql));
    } else {
        char extra[160];
        snprintf(extra, sizeof extra, "Content-Crs: <%s>\r\n", crs->uri);
        em_http_headers h = {MT_GEOJSON, NULL, extra, 0};
        rc = em_http_respond(req, 200, &h, out.data, out.len);
    }
    json_object_put(links);
    sqlite3_finalize(st);
    em_strbuf_free(&out);
    return rc;
}

/* ---- routing ----------------------------------------------------------- */

int em_ogc_handle(em_http_request *req, const char *rest) {
    char path[512];
    snprintf(path, sizeof path, "%s", rest);
    size_t n = strlen(path);
    if (n > 0 && path[n - 1] == '/') /* /ogc/ and /ogc/collections/ are the same pages */
        path[--n] = '\0';

    if (n == 0) {
        req->route = "/ogc";
        return landing_page(req);
    }
    if (strcmp(path, "/conformance") == 0) {
        req->route = "/ogc/conformance";
        return conformance(req);
    }
    if (strcmp(path, "/api") == 0) {
        req->route = "/ogc/api";
        return api_document(req);
    }
    if (strcmp(path, "/collections") == 0) {
        req->route = "/ogc/collections";
        return collections(req);
    }
    if (strncmp(path, "/collections/", 13) == 0) {
        char *name = path + 13;
        char *slash = strchr(name, '/');
        if (slash)
            *slash = '\0';
        const em_layer *l = find_collection(name);
        if (!l) {
            req->route = "/ogc/collections/{collectionId}";
            return em_http_error(req, 404, "not_found", NULL,
                                 "no collection '%s'; the collections are towns, estates, grid, "
                                 "violations, corridors and zones",
                                 name);
        }
        if (!slash) {
            req->route = "/ogc/collections/{collectionId}";
            return collection(req, l);
        }
        char *sub = slash + 1;
        if (strcmp(sub, "schema") == 0) {
            req->route = "/ogc/collections/{collectionId}/schema";
            int rc = check_plain_params(req);
            return rc ? rc
                      : em_http_respond_json(req, 200, MT_SCHEMA,
                                             em_ogc_feature_schema(l, req->base_url), NULL);
        }
        if (strcmp(sub, "items") == 0) {
            req->route = "/ogc/collections/{collectionId}/items";
            return items(req, l);
        }
        if (strncmp(sub, "items/", 6) == 0 && !strchr(sub + 6, '/')) {
            req->route = "/ogc/collections/{collectionId}/items/{featureId}";
            return item(req, l, sub + 6);
        }
    }
    req->route = "/ogc/*";
    return em_http_error(req, 404, "not_found", NULL, "no such resource under /ogc");
}

/* export_source.c -- the rows an export writes, and how they become OGR features.
 *
 * A layer is read with one SELECT whose filters are bound parameters and whose table
 * and column names come from the compiled-in layer list. An analysis is run and its
 * em_table read cell by cell. Either way each row arrives as typed values plus a
 * lon/lat geometry, so the writers never care where a row came from. */
#include "export_priv.h"
#include "shapefile_names.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <errno.h>
#include <iconv.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DBF_TEXT_MAX 254

void ex_warn(const ex_ctx *ctx, const char *fmt, ...) {
    if (!ctx->report)
        return;
    if (ctx->report->warnings++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->report->warning, sizeof ctx->report->warning, fmt, ap);
        va_end(ap);
    }
}

int ex_gdal_fail(em_error *err, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *why = CPLGetLastErrorMsg();
    return em_fail(err, EM_ERR_RUNTIME, "%s%s%s", what, why && *why ? ": " : "", why ? why : "");
}

/* ---------- geometry classes ---------- */

int ex_geometry_class(OGRGeometryH g) {
    switch (wkbFlatten(OGR_G_GetGeometryType(g))) {
    case wkbPoint:
    case wkbMultiPoint:
        return EX_CLASS_POINT;
    case wkbLineString:
    case wkbMultiLineString:
        return EX_CLASS_LINE;
    case wkbPolygon:
    case wkbMultiPolygon:
        return EX_CLASS_POLYGON;
    case wkbGeometryCollection: {
        int cls = 0;
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++) {
            int c = ex_geometry_class(OGR_G_GetGeometryRef(g, i));
            if (c < 0 || (cls && c != cls))
                return -1;
            cls = c;
        }
        return cls ? cls : -1;
    }
    default:
        return -1;
    }
}

/* ---------- layers ---------- */

static ex_type type_of(em_col_type t) {
    switch (t) {
    case EM_COL_INTEGER:
        return EX_INT;
    case EM_COL_REAL:
        return EX_REAL;
    case EM_COL_DATE:
        return EX_DATE;
    case EM_COL_DATETIME:
        return EX_DATETIME;
    case EM_COL_BOOL:
        return EX_BOOL;
    case EM_COL_TEXT:
        break;
    }
    return EX_TEXT;
}

static void describe(ex_field *f, const char *owner, const char *fallback_zh) {
    const em_dbf_name *m = em_dbf_name_find(owner, f->column);
    snprintf(f->label_zh, sizeof f->label_zh, "%s",
             m                             ? m->zh
             : fallback_zh && *fallback_zh ? fallback_zh
                                           : f->column);
    snprintf(f->description, sizeof f->description, "%s",
             m                             ? m->description
             : fallback_zh && *fallback_zh ? fallback_zh
                                           : f->column);
    if (m && (f->type == EX_INT || f->type == EX_REAL || f->type == EX_BOOL)) {
        f->width = m->width;
        f->precision = f->type == EX_REAL ? m->precision : 0;
    }
}

/* DBF widths: the map's widths, grown to fit the longest value in the table. */
static int layer_widths(ex_source *src, em_db *db, em_error *err) {
    char sql[8192];
    size_t used = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int i = 0; i < src->nfields; i++) {
        const char *c = src->fields[i].column;
        const char *expr = "max(length(CAST(\"%s\" AS BLOB)))";
        if (src->fields[i].type == EX_INT)
            expr = "max(length(CAST(\"%s\" AS TEXT)))";
        else if (src->fields[i].type == EX_REAL)
            expr = "max(length(CAST(CAST(\"%s\" AS INTEGER) AS TEXT)))";
        used += (size_t)snprintf(sql + used, sizeof sql - used, i ? ", " : "");
        used += (size_t)snprintf(sql + used, sizeof sql - used, expr, c);
    }
    snprintf(sql + used, sizeof sql - used, " FROM \"%s\"", src->layer->table);
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    if (!st)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < src->nfields; i++) {
            ex_field *f = &src->fields[i];
            int n = sqlite3_column_int(st, i);
            if (f->type == EX_TEXT || f->type == EX_DATETIME) {
                f->width = f->type == EX_DATETIME ? 19 : n < 1 ? 1 : n;
                if (f->width > DBF_TEXT_MAX) {
                    f->width = DBF_TEXT_MAX;
                    f->text_over = 1;
                }
            } else if (f->type == EX_INT) {
                if (n > f->width)
                    f->width = n;
                if (f->width < 1)
                    f->width = 10;
            } else if (f->type == EX_REAL) {
                int need = n + 2 + f->precision; /* sign, digits, point, decimals */
                if (need > f->width)
                    f->width = need;
            }
        }
    }
    sqlite3_finalize(st);
    return 0;
}

typedef struct {
    int n;
    struct {
        int kind; /* 0 text, 1 int, 2 real, 3 blob (s, i bytes) */
        const char *s;
        long long i;
        double d;
    } v[24];
} binds;

static void bind_text(binds *b, const char *s) {
    b->v[b->n].kind = 0;
    b->v[b->n++].s = s;
}
static void bind_int(binds *b, long long i) {
    b->v[b->n].kind = 1;
    b->v[b->n++].i = i;
}
static void bind_bbox(binds *b, const double bbox[4]) {
    for (int i = 0; i < 4; i++) {
        b->v[b->n].kind = 2;
        b->v[b->n++].d = bbox[i];
    }
}

static void bind_blob(binds *b, const void *p, size_t len) {
    b->v[b->n].kind = 3;
    b->v[b->n].s = p;
    b->v[b->n++].i = (long long)len;
}

static int has_column(const em_layer *layer, const char *name) {
    return em_layer_column(layer, name) != NULL;
}

/* " AND ..." for each filter, with its values in `b`. Filters that mean nothing for the
 * layer are refused, naming the option. */
static int filter_sql(const em_layer *layer, const ex_filters *f, char *sql, size_t len, binds *b,
                      em_error *err) {
    size_t used = strlen(sql);
    int spatial = em_layer_is_spatial(layer);
    int renovation = has_column(layer, "item_id");
    const char *estates_of =
        renovation ? " AND estate_code IN (SELECT code FROM estates WHERE" : "";
#define ADD(...) used += (size_t)snprintf(sql + used, len - used, __VA_ARGS__)
    if (f->town_set) {
        if (strcmp(layer->name, "towns") == 0)
            ADD(" AND code = ?");
        else if (has_column(layer, "town_code"))
            ADD(" AND town_code = ?");
        else if (renovation)
            ADD("%s town_code = ?)", estates_of);
        else
            ADD(" AND id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = '%s' AND "
                "f_geometry_column = 'geom' AND search_frame = (SELECT geom FROM towns WHERE "
                "code = ?1)) AND ST_Intersects(geom, (SELECT geom FROM towns WHERE code = ?1))",
                layer->table);
        bind_text(b, f->town);
    }
    if (f->tier_set) {
        if (!has_column(layer, "tier") && !renovation)
            return em_fail(err, EM_ERR_USAGE, "--tier applies to estates and renovation, not %s",
                           layer->name);
        if (renovation)
            ADD("%s tier = ?)", estates_of);
        else
            ADD(" AND tier = ?");
        bind_text(b, f->tier);
    }
    if (f->built_set) {
        if (!has_column(layer, "built_year") && !renovation)
            return em_fail(err, EM_ERR_USAGE,
                           "--built-before applies to estates and renovation, not %s", layer->name);
        if (renovation)
            ADD("%s built_year < ?)", estates_of);
        else
            ADD(" AND built_year < ?");
        bind_int(b, f->built_before);
    }
    if (f->has_bbox) {
        const char *t = spatial ? layer->table : "estates";
        ADD("%s id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = '%s' AND "
            "f_geometry_column = 'geom' AND search_frame = BuildMbr(?, ?, ?, ?, 4326)) AND "
            "ST_Intersects(geom, BuildMbr(?, ?, ?, ?, 4326))%s",
            spatial ? " AND" : estates_of, t, spatial ? "" : ")");
        bind_bbox(b, f->bbox);
        bind_bbox(b, f->bbox);
    }
    if (f->polygon) { /* the features that intersect it (touching counts) */
        const char *t = spatial ? layer->table : "estates";
        ADD("%s id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = '%s' AND "
            "f_geometry_column = 'geom' AND search_frame = GeomFromWKB(?, 4326)) AND "
            "ST_Intersects(geom, GeomFromWKB(?, 4326))%s",
            spatial ? " AND" : estates_of, t, spatial ? "" : ")");
        bind_blob(b, f->polygon, f->polygon_len);
        bind_blob(b, f->polygon, f->polygon_len);
    }
#undef ADD
    if (used >= len)
        return em_fail(err, EM_ERR_RUNTIME, "export query too long");
    return 0;
}

int ex_source_open_layer(ex_source *src, em_db *db, const em_layer *layer, const ex_filters *f,
                         int dbf, em_error *err) {
    memset(src, 0, sizeof *src);
    src->db = db;
    snprintf(src->name, sizeof src->name, "%s", layer->name);
    snprintf(src->map_key, sizeof src->map_key, "%s", layer->name);
    snprintf(src->style, sizeof src->style, "%s", layer->name);
    src->layer = layer;
    src->nfields = (int)layer->ncolumns;
    src->fields = calloc((size_t)src->nfields, sizeof *src->fields);
    src->values = calloc((size_t)src->nfields, sizeof *src->values);
    if (!src->fields || !src->values)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < src->nfields; i++) {
        ex_field *fl = &src->fields[i];
        fl->column = layer->columns[i].name;
        fl->type = type_of(layer->columns[i].type);
        describe(fl, src->map_key, NULL);
    }
    switch (layer->geom) {
    case EM_GEOM_POINT:
        src->classes = EX_CLASS_POINT;
        src->gtype = wkbPoint;
        break;
    case EM_GEOM_POLYGON:
        src->classes = EX_CLASS_POLYGON;
        src->gtype = wkbPolygon;
        break;
    case EM_GEOM_MULTIPOLYGON:
        src->classes = EX_CLASS_POLYGON;
        src->gtype = wkbMultiPolygon;
        break;
    case EM_GEOM_LINEAL_OR_POLYGONAL:
        src->classes = EX_CLASS_LINE | EX_CLASS_POLYGON;
        src->gtype = wkbUnknown;
        break;
    case EM_GEOM_NONE:
        src->classes = EX_CLASS_NONE;
        src->gtype = wkbNone;
        break;
    }
    if (dbf && layer_widths(src, db, err) < 0)
        return -1;

    char sql[8192];
    size_t used = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int i = 0; i < src->nfields; i++)
        used += (size_t)snprintf(sql + used, sizeof sql - used, "%s\"%s\"", i ? ", " : "",
                                 src->fields[i].column);
    snprintf(sql + used, sizeof sql - used, "%s FROM \"%s\" WHERE 1", src->classes ? ", geom" : "",
             layer->table);
    binds b = {0};
    if (filter_sql(layer, f, sql, sizeof sql, &b, err) < 0)
        return -1;
    used = strlen(sql);
    snprintf(sql + used, sizeof sql - used, " ORDER BY %s",
             src->classes ? "id" : "estate_code, item_id");
    src->st = em_db_prepare(db, sql, err);
    if (!src->st)
        return -1;
    for (int i = 0; i < b.n; i++) {
        int rc = b.v[i].kind == 0   ? sqlite3_bind_text(src->st, i + 1, b.v[i].s, -1, SQLITE_STATIC)
                 : b.v[i].kind == 1 ? sqlite3_bind_int64(src->st, i + 1, b.v[i].i)
                 : b.v[i].kind == 3
                     ? sqlite3_bind_blob(src->st, i + 1, b.v[i].s, (int)b.v[i].i, SQLITE_STATIC)
                     : sqlite3_bind_double(src->st, i + 1, b.v[i].d);
        if (rc != SQLITE_OK)
            return em_fail(err, EM_ERR_RUNTIME, "binding export filters: %s",
                           sqlite3_errmsg(sqlite3_db_handle(src->st)));
    }
    return 0;
}

/* ---------- analyses ---------- */

static json_object *rows_of(json_object *doc) {
    json_object *rows = NULL;
    if (!json_object_object_get_ex(doc, "features", &rows))
        json_object_object_get_ex(doc, "rows", &rows);
    return rows;
}

static json_object *props_of(ex_source *src, int row) {
    json_object *item = json_object_array_get_idx(rows_of(src->doc), (size_t)row), *p = NULL;
    if (src->analysis->has_geometry && json_object_object_get_ex(item, "properties", &p))
        return p;
    return item;
}

/* A JSON cell as text, the way tables print it: arrays as a;b;c. */
static char *json_cell_text(json_object *v) {
    if (!v)
        return NULL;
    if (!json_object_is_type(v, json_type_array))
        return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    size_t cap = 64, used = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(v, i));
        size_t need = used + strlen(s ? s : "") + 2;
        if (need > cap) {
            cap = need * 2;
            out = realloc(out, cap);
        }
        used += (size_t)sprintf(out + used, "%s%s", i ? ";" : "", s ? s : "");
    }
    return out;
}

static int is_date(const char *s) {
    int y, m, d, n = 0;
    return sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 && s[10] == '\0';
}

static int is_datetime(const char *s) {
    int y, mo, d, h, mi, sec, n = 0;
    return sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && n == 19 &&
           s[19] == '\0';
}

/* Decimals a real needs (at most 8): 0.93 -> 2. */
static int decimals_of(double v) {
    for (int d = 0; d < 8; d++) {
        double scale = pow(10, d);
        if (fabs(round(v * scale) / scale - v) <= 1e-9 * fmax(1, fabs(v)))
            return d;
    }
    return 8;
}

static int digits_of(double v) {
    double a = fabs(v);
    int n = 1;
    while (a >= 10 && n < 30) {
        a /= 10;
        n++;
    }
    return n;
}

/* A GeoJSON geometry (already parsed by json-c) as an OGR geometry, without going
 * through text again. NULL when it is not a geometry OGR can hold. */
static OGRGeometryH ring_or_line(json_object *coords, OGRwkbGeometryType type) {
    OGRGeometryH g = OGR_G_CreateGeometry(type);
    size_t n = json_object_array_length(coords);
    for (size_t i = 0; i < n; i++) {
        json_object *pt = json_object_array_get_idx(coords, i);
        if (json_object_array_length(pt) < 2) {
            OGR_G_DestroyGeometry(g);
            return NULL;
        }
        OGR_G_AddPoint_2D(g, json_object_get_double(json_object_array_get_idx(pt, 0)),
                          json_object_get_double(json_object_array_get_idx(pt, 1)));
    }
    return g;
}

static OGRGeometryH polygon_of(json_object *rings) {
    OGRGeometryH g = OGR_G_CreateGeometry(wkbPolygon);
    for (size_t r = 0; r < json_object_array_length(rings); r++) {
        OGRGeometryH ring = ring_or_line(json_object_array_get_idx(rings, r), wkbLinearRing);
        if (!ring || OGR_G_AddGeometryDirectly(g, ring) != OGRERR_NONE) {
            OGR_G_DestroyGeometry(g);
            return NULL;
        }
    }
    return g;
}

static OGRGeometryH geometry_of(json_object *geojson) {
    json_object *type = NULL, *coords = NULL, *parts = NULL;
    if (!json_object_object_get_ex(geojson, "type", &type))
        return NULL;
    const char *t = json_object_get_string(type);
    if (strcmp(t, "GeometryCollection") == 0) {
        if (!json_object_object_get_ex(geojson, "geometries", &parts))
            return NULL;
        OGRGeometryH g = OGR_G_CreateGeometry(wkbGeometryCollection);
        for (size_t i = 0; i < json_object_array_length(parts); i++) {
            OGRGeometryH part = geometry_of(json_object_array_get_idx(parts, i));
            if (!part || OGR_G_AddGeometryDirectly(g, part) != OGRERR_NONE) {
                OGR_G_DestroyGeometry(g);
                return NULL;
            }
        }
        return g;
    }
    if (!json_object_object_get_ex(geojson, "coordinates", &coords) ||
        !json_object_is_type(coords, json_type_array))
        return NULL;
    if (strcmp(t, "Point") == 0) {
        if (json_object_array_length(coords) < 2)
            return NULL;
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(g, 0, json_object_get_double(json_object_array_get_idx(coords, 0)),
                          json_object_get_double(json_object_array_get_idx(coords, 1)));
        return g;
    }
    if (strcmp(t, "LineString") == 0)
        return ring_or_line(coords, wkbLineString);
    if (strcmp(t, "Polygon") == 0)
        return polygon_of(coords);
    OGRwkbGeometryType multi = strcmp(t, "MultiPoint") == 0        ? wkbMultiPoint
                               : strcmp(t, "MultiLineString") == 0 ? wkbMultiLineString
                               : strcmp(t, "MultiPolygon") == 0    ? wkbMultiPolygon
                                                                   : wkbUnknown;
    if (multi == wkbUnknown)
        return NULL;
    OGRGeometryH g = OGR_G_CreateGeometry(multi);
    for (size_t i = 0; i < json_object_array_length(coords); i++) {
        json_object *c = json_object_array_get_idx(coords, i);
        OGRGeometryH part = NULL;
        if (multi == wkbMultiPoint && json_object_array_length(c) >= 2) {
            part = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(part, 0, json_object_get_double(json_object_array_get_idx(c, 0)),
                              json_object_get_double(json_object_array_get_idx(c, 1)));
        } else if (multi == wkbMultiLineString) {
            part = ring_or_line(c, wkbLineString);
        } else if (multi == wkbMultiPolygon) {
            part = polygon_of(c);
        }
        if (!part || OGR_G_AddGeometryDirectly(g, part) != OGRERR_NONE) {
            OGR_G_DestroyGeometry(g);
            return NULL;
        }
    }
    return g;
}

int ex_source_open_analysis(ex_source *src, em_db *db, const em_analysis *a,
                            const em_params *params, em_error *err) {
    memset(src, 0, sizeof *src);
    snprintf(src->name, sizeof src->name, "%s%s", a->name,
             em_layer_find(a->name) ? "_analysis" : "");
    snprintf(src->map_key, sizeof src->map_key, "analysis:%s", a->name);
    snprintf(src->style, sizeof src->style, "analysis_%s", a->name);
    src->analysis = a;
    src->table = a->run(db, params, err);
    if (!src->table)
        return -1;
    em_table *t = src->table;
    src->rows = em_table_rows(t);
    src->nfields = em_table_columns(t);
    src->fields = calloc((size_t)src->nfields + 1, sizeof *src->fields);
    src->values = calloc((size_t)src->nfields + 1, sizeof *src->values);
    if (!src->fields || !src->values)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");

    /* Column names and Chinese labels: table.h has no accessor for them yet, so they
     * come from the JSON form ("columns": [{name, label}]). */
    json_object *cols_doc = em_table_to_json(t, EM_FMT_JSON, EM_LANG_ZH), *cols = NULL;
    json_object_object_get_ex(cols_doc, "columns", &cols);
    for (int c = 0; c < src->nfields; c++) {
        json_object *col = json_object_array_get_idx(cols, (size_t)c), *v = NULL;
        ex_field *f = &src->fields[c];
        const char *name =
            json_object_object_get_ex(col, "name", &v) ? json_object_get_string(v) : "column";
        const char *label =
            json_object_object_get_ex(col, "label", &v) ? json_object_get_string(v) : NULL;
        snprintf(f->column_buf, sizeof f->column_buf, "%s", name);
        f->column = f->column_buf;
        char zh[96] = "";
        if (label && strcmp(label, name) != 0)
            snprintf(zh, sizeof zh, "%s", label);
        describe(f, src->map_key, zh);
        if (zh[0]) /* the analysis's own label wins over the map's */
            snprintf(f->label_zh, sizeof f->label_zh, "%s", zh);
    }
    json_object_put(cols_doc);

    src->doc = em_table_to_json(t, a->has_geometry ? EM_FMT_GEOJSON : EM_FMT_JSON, EM_LANG_EN);
    if (!src->doc)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");

    /* Types and widths from the cells. */
    for (int c = 0; c < src->nfields; c++) {
        ex_field *f = &src->fields[c];
        int any_text = 0, any_real = 0, any_int = 0, any_bool = 0, dates = 1, datetimes = 1;
        int text_len = 1, int_len = 1, decimals = 0;
        for (int r = 0; r < src->rows; r++) {
            switch (em_table_type(t, r, c)) {
            case EM_V_NULL:
                break;
            case EM_V_TEXT: {
                const char *s = em_table_text(t, r, c);
                any_text = 1;
                dates = dates && is_date(s);
                datetimes = datetimes && is_datetime(s);
                if ((int)strlen(s) > text_len)
                    text_len = (int)strlen(s);
                break;
            }
            case EM_V_JSON: {
                json_object *v = NULL;
                json_object_object_get_ex(props_of(src, r), f->column, &v);
                char *s = json_cell_text(v);
                any_text = 1;
                dates = datetimes = 0;
                if (s && (int)strlen(s) > text_len)
                    text_len = (int)strlen(s);
                free(s);
                break;
            }
            case EM_V_REAL: {
                double v = em_table_real(t, r, c);
                any_real = 1;
                dates = datetimes = 0;
                if (digits_of(v) > int_len)
                    int_len = digits_of(v);
                if (decimals_of(v) > decimals)
                    decimals = decimals_of(v);
                break;
            }
            case EM_V_INT: {
                char buf[32];
                any_int = 1;
                dates = datetimes = 0;
                if ((int)snprintf(buf, sizeof buf, "%lld", em_table_int(t, r, c)) > int_len)
                    int_len = (int)strlen(buf);
                break;
            }
            case EM_V_BOOL:
                any_bool = 1;
                dates = datetimes = 0;
                break;
            }
        }
        if (any_text || (!any_real && !any_int && !any_bool)) {
            f->type = !any_text ? EX_TEXT : dates ? EX_DATE : datetimes ? EX_DATETIME : EX_TEXT;
            f->width = f->type == EX_DATETIME ? 19 : text_len;
            if (f->width > DBF_TEXT_MAX) {
                f->width = DBF_TEXT_MAX;
                f->text_over = 1;
            }
        } else if (any_real) {
            f->type = EX_REAL;
            if (f->precision < decimals)
                f->precision = decimals;
            if (f->width < int_len + 2 + f->precision)
                f->width = int_len + 2 + f->precision;
        } else if (any_int) {
            f->type = EX_INT;
            if (f->width < int_len)
                f->width = int_len;
        } else {
            f->type = EX_BOOL;
            f->width = 1;
        }
    }

    /* Geometry: parsed once, so the shapefile writer knows each row's class. */
    src->gtype = wkbNone;
    if (a->has_geometry) {
        src->geoms = calloc((size_t)src->rows + 1, sizeof *src->geoms);
        if (!src->geoms)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        json_object *rows = rows_of(src->doc);
        int first = 1;
        for (int r = 0; r < src->rows; r++) {
            json_object *feature = json_object_array_get_idx(rows, (size_t)r), *g = NULL;
            if (!json_object_object_get_ex(feature, "geometry", &g) || !g)
                continue;
            src->geoms[r] = geometry_of(g);
            if (!src->geoms[r])
                return em_fail(err, EM_ERR_RUNTIME, "%s: row %d has a geometry OGR cannot read",
                               a->name, r + 1);
            int cls = ex_geometry_class(src->geoms[r]);
            if (cls > 0)
                src->classes |= cls;
            OGRwkbGeometryType gt = wkbFlatten(OGR_G_GetGeometryType(src->geoms[r]));
            if (gt == wkbMultiPoint)
                src->multipoint = 1;
            if (first)
                src->gtype = gt;
            else if (src->gtype != gt)
                src->gtype = wkbUnknown;
            first = 0;
        }
        if (first) /* no row has a geometry */
            src->gtype = wkbUnknown;
    }
    /* The document is kept only for JSON cells (lists such as along_types). */
    int json_cells = 0;
    for (int r = 0; r < src->rows && !json_cells; r++)
        for (int c = 0; c < src->nfields && !json_cells; c++)
            json_cells = em_table_type(t, r, c) == EM_V_JSON;
    if (!json_cells) {
        json_object_put(src->doc);
        src->doc = NULL;
    }
    return 0;
}

/* ---------- reading rows ---------- */

static void clear_row(ex_source *src) {
    for (int c = 0; c < src->nfields; c++) {
        if (src->values[c].owned)
            free((char *)src->values[c].text);
        src->values[c] = (ex_value){1, NULL, 0, 0, 0};
    }
    if (src->geom) {
        OGR_G_DestroyGeometry(src->geom);
        src->geom = NULL;
    }
}

/* SpatiaLite's BLOB-Geometry is WKB in all but its frame: a 39-byte header (start,
 * byte order, SRID, MBR, 0x7C) and an end byte (0xFE) around the class and body, and
 * 0x69 where WKB repeats the byte order before each part of a collection. So for the
 * plain XY classes (1-7), which is all estatemap stores, the WKB is the body with the
 * byte order put back: no SQL function, no copy through SpatiaLite's own structures.
 * Anything else (Z, M, compressed) goes through AsBinary(). */
static unsigned long blob_u32(const unsigned char *p, int little) {
    return little ? (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 |
                        (unsigned long)p[3] << 24
                  : (unsigned long)p[3] | (unsigned long)p[2] << 8 | (unsigned long)p[1] << 16 |
                        (unsigned long)p[0] << 24;
}

static int blob_walk(unsigned char *b, size_t n, size_t *pos, int little, int depth) {
    if (depth > 8 || *pos + 4 > n)
        return -1;
    unsigned long cls = blob_u32(b + *pos, little);
    *pos += 4;
    unsigned long count;
    switch (cls) {
    case 1: /* point */
        *pos += 16;
        return *pos <= n ? 0 : -1;
    case 2: /* linestring */
        if (*pos + 4 > n)
            return -1;
        count = blob_u32(b + *pos, little);
        *pos += 4;
        if (count > (n - *pos) / 16)
            return -1;
        *pos += 16 * count;
        return 0;
    case 3: /* polygon */
        if (*pos + 4 > n)
            return -1;
        count = blob_u32(b + *pos, little);
        *pos += 4;
        for (unsigned long r = 0; r < count; r++) {
            if (*pos + 4 > n)
                return -1;
            unsigned long points = blob_u32(b + *pos, little);
            *pos += 4;
            if (points > (n - *pos) / 16)
                return -1;
            *pos += 16 * points;
        }
        return 0;
    case 4:
    case 5:
    case 6:
    case 7: /* multi* and collections: each part behind a 0x69 marker */
        if (*pos + 4 > n)
            return -1;
        count = blob_u32(b + *pos, little);
        *pos += 4;
        for (unsigned long i = 0; i < count; i++) {
            if (*pos >= n || b[*pos] != 0x69)
                return -1;
            b[(*pos)++] = little ? 1 : 0;
            if (blob_walk(b, n, pos, little, depth + 1) < 0)
                return -1;
        }
        return 0;
    default:
        return -1;
    }
}

static int geometry_from_blob(ex_source *src, const unsigned char *blob, size_t len,
                              em_error *err) {
    const unsigned char *wkb = NULL;
    size_t wkb_len = 0;
    if (len > 44 && blob[0] == 0x00 && blob[1] <= 1 && blob[38] == 0x7C && blob[len - 1] == 0xFE) {
        wkb_len = len - 39; /* from the 0x7C to before the 0xFE */
        if (wkb_len > src->wkb_cap) {
            unsigned char *grown = realloc(src->wkb, wkb_len * 2);
            if (!grown)
                return em_fail(err, EM_ERR_RUNTIME, "out of memory");
            src->wkb = grown;
            src->wkb_cap = wkb_len * 2;
        }
        memcpy(src->wkb, blob + 38, wkb_len);
        src->wkb[0] = blob[1];
        size_t pos = 1;
        if (blob_walk(src->wkb, wkb_len, &pos, blob[1] == 1, 0) == 0 && pos == wkb_len)
            wkb = src->wkb;
    }
    if (!wkb) { /* not a plain XY blob: let SpatiaLite convert it */
        if (!src->as_wkb && !(src->as_wkb = em_db_prepare(src->db, "SELECT AsBinary(?1)", err)))
            return -1;
        sqlite3_reset(src->as_wkb);
        sqlite3_bind_blob(src->as_wkb, 1, blob, (int)len, SQLITE_STATIC);
        if (sqlite3_step(src->as_wkb) == SQLITE_ROW) {
            wkb = sqlite3_column_blob(src->as_wkb, 0);
            wkb_len = (size_t)sqlite3_column_bytes(src->as_wkb, 0);
        }
    }
    if (!wkb || OGR_G_CreateFromWkb(wkb, NULL, &src->geom, (int)wkb_len) != OGRERR_NONE) {
        src->geom = NULL;
        return em_fail(err, EM_ERR_RUNTIME, "%s feature %lld: unreadable geometry", src->name,
                       src->feature + 1);
    }
    return 0;
}

static int next_layer_row(ex_source *src, em_error *err) {
    int rc = sqlite3_step(src->st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", src->name,
                       sqlite3_errmsg(sqlite3_db_handle(src->st)));
    for (int c = 0; c < src->nfields; c++) {
        ex_value *v = &src->values[c];
        if (sqlite3_column_type(src->st, c) == SQLITE_NULL)
            continue;
        v->null = 0;
        switch (src->fields[c].type) {
        case EX_INT:
        case EX_BOOL:
            v->i = sqlite3_column_int64(src->st, c);
            break;
        case EX_REAL:
            v->d = sqlite3_column_double(src->st, c);
            break;
        default:
            v->text = (const char *)sqlite3_column_text(src->st, c);
            break;
        }
    }
    if (src->classes) {
        const unsigned char *blob = sqlite3_column_blob(src->st, src->nfields);
        int len = sqlite3_column_bytes(src->st, src->nfields);
        if (blob && len > 0 && geometry_from_blob(src, blob, (size_t)len, err) < 0)
            return -1;
    }
    return 1;
}

static char *number_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *number_text(const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static int next_table_row(ex_source *src) {
    if (src->row >= src->rows)
        return 0;
    int r = src->row;
    em_table *t = src->table;
    for (int c = 0; c < src->nfields; c++) {
        ex_value *v = &src->values[c];
        em_value_type vt = em_table_type(t, r, c);
        if (vt == EM_V_NULL)
            continue;
        v->null = 0;
        switch (src->fields[c].type) {
        case EX_INT:
        case EX_BOOL:
            v->i = em_table_int(t, r, c);
            break;
        case EX_REAL:
            v->d = em_table_real(t, r, c);
            break;
        default:
            v->owned = vt != EM_V_TEXT;
            if (vt == EM_V_TEXT)
                v->text = em_table_text(t, r, c);
            else if (vt == EM_V_INT)
                v->text = number_text("%lld", em_table_int(t, r, c));
            else if (vt == EM_V_REAL)
                v->text = number_text("%.15g", em_table_real(t, r, c));
            else if (vt == EM_V_BOOL)
                v->text = number_text("%s", em_table_int(t, r, c) ? "true" : "false");
            else {
                json_object *j = NULL;
                json_object_object_get_ex(props_of(src, r), src->fields[c].column, &j);
                v->text = json_cell_text(j);
                if (!v->text)
                    v->owned = 0, v->null = 1;
            }
            break;
        }
    }
    if (src->geoms && src->geoms[r])
        src->geom = OGR_G_Clone(src->geoms[r]);
    return 1;
}

int ex_source_next(ex_source *src, em_error *err) {
    clear_row(src);
    int rc = src->st ? next_layer_row(src, err) : next_table_row(src);
    if (rc > 0) {
        src->row++;
        src->feature++;
    }
    return rc;
}

OGRGeometryH ex_source_take(ex_source *src) {
    OGRGeometryH g = src->geom;
    src->geom = NULL;
    return g;
}

void ex_source_close(ex_source *src) {
    if (src->values && src->row > 0)
        clear_row(src);
    if (src->geom)
        OGR_G_DestroyGeometry(src->geom);
    sqlite3_finalize(src->st);
    sqlite3_finalize(src->as_wkb);
    free(src->wkb);
    if (src->geoms)
        for (int r = 0; r < src->rows; r++)
            if (src->geoms[r])
                OGR_G_DestroyGeometry(src->geoms[r]);
    free(src->geoms);
    json_object_put(src->doc);
    em_table_free(src->table);
    free(src->fields);
    free(src->values);
    memset(src, 0, sizeof *src);
}

/* ---------- fields ---------- */

static void unique(ex_name *names, int n) {
    for (int i = 0; i < n; i++)
        for (int k = 2;; k++) {
            int clash = 0;
            for (int j = 0; j < i && !clash; j++)
                clash = strcasecmp(names[i], names[j]) == 0;
            if (!clash)
                break;
            size_t len = strlen(names[i]);
            /* drop a suffix added before, then add the next */
            while (len > 0 && names[i][len - 1] >= '0' && names[i][len - 1] <= '9' && k > 2)
                len--;
            if (k > 2 && len > 0 && names[i][len - 1] == '_')
                len--;
            names[i][len] = '\0';
            char suffix[16];
            snprintf(suffix, sizeof suffix, "_%d", k);
            if (len + strlen(suffix) < sizeof(ex_name))
                strcat(names[i], suffix);
        }
}

void ex_field_names(const ex_source *src, const ex_ctx *ctx, const ex_profile *p, ex_name *out) {
    int n = src->nfields;
    int zh = ctx->opt->lang == EM_LANG_ZH;
    if (p->dbf) {
        const char **cols = calloc((size_t)n + 1, sizeof *cols);
        const char **labels = calloc((size_t)n + 1, sizeof *labels);
        char(*names)[EM_DBF_NAME_BUF] = calloc((size_t)n + 1, sizeof *names);
        for (int i = 0; i < n; i++) {
            cols[i] = src->fields[i].column;
            labels[i] = src->fields[i].label_zh;
        }
        em_dbf_names_style style = !zh                                   ? EM_DBF_NAMES_EN
                                   : ctx->opt->encoding == EM_EXPORT_GBK ? EM_DBF_NAMES_ZH_GBK
                                                                         : EM_DBF_NAMES_ZH_UTF8;
        em_dbf_names_assign(src->map_key, n, cols, labels, style, names);
        for (int i = 0; i < n; i++)
            snprintf(out[i], sizeof out[i], "%s", names[i]);
        free(cols);
        free(labels);
        free(names);
        return;
    }
    for (int i = 0; i < n; i++)
        snprintf(out[i], sizeof out[i], "%s",
                 zh && src->fields[i].label_zh[0] ? src->fields[i].label_zh
                                                  : src->fields[i].column);
    unique(out, n);
}

static OGRFieldType ogr_type(const ex_field *f, const ex_profile *p) {
    switch (f->type) {
    case EX_INT:
        return p->dbf && f->width <= 9 ? OFTInteger : OFTInteger64;
    case EX_BOOL:
        return OFTInteger;
    case EX_REAL:
        return OFTReal;
    case EX_DATE:
        return p->dates_as_text ? OFTString : OFTDate;
    case EX_DATETIME:
        return p->dbf || p->dates_as_text ? OFTString : OFTDateTime;
    case EX_TEXT:
        break;
    }
    return OFTString;
}

static const char *xy_name(const ex_ctx *ctx, int axis) {
    if (!ctx->geographic)
        return axis ? "y" : "x";
    if (ctx->opt->lang == EM_LANG_ZH)
        return axis ? "纬度" : "经度";
    return axis ? "lat" : "lon";
}

static int create_field(OGRLayerH layer, OGRFieldDefnH fd, int *index, const ex_source *src,
                        em_error *err) {
    const char *name = OGR_Fld_GetNameRef(fd);
    OGRErr e = OGR_L_CreateField(layer, fd, FALSE);
    *index = e == OGRERR_NONE ? OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), name) : -1;
    if (*index < 0)
        ex_gdal_fail(err, "creating field %s of %s", name, src->name);
    OGR_Fld_Destroy(fd);
    return *index < 0 ? -1 : 0;
}

int ex_create_fields(OGRLayerH layer, const ex_source *src, const ex_ctx *ctx, const ex_profile *p,
                     ex_name *names, int *map, em_error *err) {
    for (int i = 0; i < src->nfields; i++) {
        const ex_field *f = &src->fields[i];
        OGRFieldDefnH fd = OGR_Fld_Create(names[i], ogr_type(f, p));
        if (f->type == EX_BOOL)
            OGR_Fld_SetSubType(fd, OFSTBoolean);
        if (p->dbf) {
            if (f->type != EX_DATE)
                OGR_Fld_SetWidth(fd, f->width);
            if (f->type == EX_REAL)
                OGR_Fld_SetPrecision(fd, f->precision);
        }
        if (create_field(layer, fd, &map[i], src, err) < 0)
            return -1;
    }
    map[src->nfields] = map[src->nfields + 1] = -1;
    if (p->geom == EX_GEOM_XY)
        for (int axis = 0; axis < 2; axis++)
            if (create_field(layer, OGR_Fld_Create(xy_name(ctx, axis), OFTReal),
                             &map[src->nfields + axis], src, err) < 0)
                return -1;
    if (p->geom == EX_GEOM_WKT &&
        create_field(layer, OGR_Fld_Create("WKT", OFTString), &map[src->nfields], src, err) < 0)
        return -1;
    return 0;
}

int ex_transform(const ex_ctx *ctx, const ex_source *src, OGRGeometryH g, em_error *err) {
    if (ctx->to_out && OGR_G_Transform(g, ctx->to_out) != OGRERR_NONE)
        return ex_gdal_fail(err, "%s feature %lld: cannot transform to EPSG:%d", src->name,
                            src->feature, ctx->opt->epsg);
    return 0;
}

/* The key of the current row for messages: "code=310112001-0001". */
static void row_key(const ex_source *src, char *out, size_t len) {
    snprintf(out, len, "%s feature %lld", src->name, src->feature);
    const char *key = src->layer ? src->layer->key : "code";
    for (int i = 0; key && i < src->nfields; i++)
        if (strcmp(src->fields[i].column, key) == 0 && !src->values[i].null &&
            src->values[i].text) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, " (%s=%s)", key, src->values[i].text);
        }
}

/* Text for a DBF in GBK: refuse what GBK cannot hold, rather than let it turn into '?'. */
static int check_gbk(const ex_ctx *ctx, const ex_source *src, const ex_field *f, const char *text,
                     em_error *err) {
    iconv_t cd = (iconv_t)ctx->gbk;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p >= 0x80)
            goto convert;
    return 0;
convert:
    iconv(cd, NULL, NULL, NULL, NULL);
    char *in = (char *)text;
    size_t inleft = strlen(text);
    while (inleft > 0) {
        char buf[512], *out = buf;
        size_t outleft = sizeof buf;
        if (iconv(cd, &in, &inleft, &out, &outleft) == (size_t)-1 && errno != E2BIG) {
            char where[256], bad[8] = "";
            row_key(src, where, sizeof where);
            size_t n = 1;
            while (n < 4 && ((unsigned char)in[n] & 0xC0) == 0x80)
                n++;
            memcpy(bad, in, n);
            return em_fail(err, EM_ERR_INPUT,
                           "%s, %s: '%s' has no GBK code, so ArcGIS would show '?'; export "
                           "with --encoding UTF-8",
                           where, f->column, bad);
        }
    }
    return 0;
}

/* Cut text to what a DBF field holds, at a character boundary. */
static const char *dbf_cut(const char *text, int gbk, char *buf, size_t buflen) {
    size_t bytes = 0, i = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (s[i]) {
        size_t n = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3 : 4;
        size_t enc = gbk ? (n == 1 ? 1 : 2) : n;
        if (bytes + enc > DBF_TEXT_MAX || i + n >= buflen)
            break;
        bytes += enc;
        i += n;
    }
    if (!s[i])
        return text;
    memcpy(buf, text, i);
    buf[i] = '\0';
    return buf;
}

static int parse_datetime(const char *s, int *v) {
    v[3] = v[4] = v[5] = 0;
    int n = sscanf(s, "%d-%d-%d%*1[T ]%d:%d:%d", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    return n == 3 || n == 6;
}

int ex_fill_feature(OGRFeatureH feat, const ex_source *src, const ex_ctx *ctx, const ex_profile *p,
                    const int *map, OGRGeometryH g, em_error *err) {
    int gbk = p->dbf && ctx->opt->encoding == EM_EXPORT_GBK;
    for (int i = 0; i < src->nfields; i++) {
        const ex_field *f = &src->fields[i];
        const ex_value *v = &src->values[i];
        if (v->null)
            continue;
        switch (f->type) {
        case EX_INT:
        case EX_BOOL:
            OGR_F_SetFieldInteger64(feat, map[i], v->i);
            break;
        case EX_REAL:
            OGR_F_SetFieldDouble(feat, map[i], v->d);
            break;
        case EX_DATE:
        case EX_DATETIME: {
            int t[6];
            if (f->type == EX_DATE && p->dates_as_text) {
                OGR_F_SetFieldString(feat, map[i], v->text);
            } else if (f->type == EX_DATETIME && (p->dbf || p->dates_as_text)) {
                char text[32];
                snprintf(text, sizeof text, "%s", v->text);
                if (strlen(text) > 10 && text[10] == 'T')
                    text[10] = ' ';
                OGR_F_SetFieldString(feat, map[i], text);
            } else if (parse_datetime(v->text, t)) {
                OGR_F_SetFieldDateTimeEx(feat, map[i], t[0], t[1], t[2], t[3], t[4], (float)t[5],
                                         0);
            } else {
                OGR_F_SetFieldString(feat, map[i], v->text);
            }
            break;
        }
        case EX_TEXT: {
            const char *text = v->text;
            char cut[DBF_TEXT_MAX + 8];
            if (gbk && check_gbk(ctx, src, f, text, err) < 0) {
                if (g)
                    OGR_G_DestroyGeometry(g);
                return -1;
            }
            if (p->dbf && f->text_over) {
                text = dbf_cut(text, gbk, cut, sizeof cut);
                if (text == cut) {
                    char where[256];
                    row_key(src, where, sizeof where);
                    ex_warn(ctx, "%s: %s cut to the %d bytes a DBF field holds", where, f->column,
                            DBF_TEXT_MAX);
                }
            }
            OGR_F_SetFieldString(feat, map[i], text);
            break;
        }
        }
    }
    if (!g)
        return 0;
    if (p->geom == EX_GEOM_OGR) {
        OGR_F_SetGeometryDirectly(feat, g);
    } else if (p->geom == EX_GEOM_XY) {
        OGRGeometryH pt = g;
        if (wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPoint && OGR_G_GetGeometryCount(g) == 1)
            pt = OGR_G_GetGeometryRef(g, 0);
        OGR_F_SetFieldDouble(feat, map[src->nfields], OGR_G_GetX(pt, 0));
        OGR_F_SetFieldDouble(feat, map[src->nfields + 1], OGR_G_GetY(pt, 0));
        OGR_G_DestroyGeometry(g);
    } else {
        char *wkt = NULL;
        if (OGR_G_ExportToIsoWkt(g, &wkt) == OGRERR_NONE && wkt) {
            OGR_F_SetFieldString(feat, map[src->nfields], wkt);
            if (ctx->opt->format == EM_EXPORT_XLSX && strlen(wkt) > 32767) {
                char where[256];
                row_key(src, where, sizeof where);
                ex_warn(ctx,
                        "%s: its WKT has %zu characters, more than the 32767 an Excel cell "
                        "holds (use gpkg or shp for this geometry)",
                        where, strlen(wkt));
            }
        }
        CPLFree(wkt);
        OGR_G_DestroyGeometry(g);
    }
    return 0;
}

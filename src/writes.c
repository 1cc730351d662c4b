#include "writes.h"

#include "estate_card.h"
#include "fields.h"
#include "links.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_SOURCE "网格巡查"
#define MAX_SHORT_TEXT 200

/* ---- errors ------------------------------------------------------------ */

static int wfail(em_write_error *e, em_error_kind kind, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int wfail(em_write_error *e, em_error_kind kind, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err.message, sizeof e->err.message, fmt, ap);
    va_end(ap);
    e->err.kind = kind;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    return -1;
}

static void clear(em_write_error *e) {
    memset(e, 0, sizeof *e);
}

/* A failed SQLite call: a read-only, busy or full database is "unavailable" (503),
 * a constraint is the caller's value (422, naming the column when the message
 * does), anything else a runtime error. */
static int sql_fail(em_db *db, em_write_error *e, const char *what, const char *const *columns,
                    int ncolumns) {
    int code = sqlite3_extended_errcode(db->sql);
    const char *msg = sqlite3_errmsg(db->sql);
    switch (code & 0xff) {
    case SQLITE_READONLY:
        e->unavailable = 1;
        return wfail(e, EM_ERR_RUNTIME, NULL,
                     "the database file is read-only: this server can serve reads but not "
                     "writes");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        e->unavailable = 1;
        return wfail(e, EM_ERR_RUNTIME, NULL,
                     "the database is busy with another write (an import?); try again");
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        e->unavailable = 1;
        return wfail(e, EM_ERR_RUNTIME, NULL, "the database cannot be written: %s", msg);
    case SQLITE_CONSTRAINT: {
        const char *field = NULL;
        for (int i = 0; i < ncolumns && !field; i++)
            if (strstr(msg, columns[i]))
                field = columns[i];
        if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
            e->conflict = 1;
        return wfail(e, EM_ERR_INPUT, field, "%s: %s", what, msg);
    }
    default:
        return wfail(e, EM_ERR_RUNTIME, NULL, "%s: %s", what, msg);
    }
}

static int from_error(em_write_error *e, const em_error *err) {
    e->err = *err;
    return -1;
}

/* ---- reading rows as JSON ------------------------------------------------ */

static json_object *cell(sqlite3_stmt *st, int i, const em_column *col) {
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL || type == SQLITE_BLOB)
        return NULL;
    if (type == SQLITE_INTEGER) {
        long long v = sqlite3_column_int64(st, i);
        if (col && col->type == EM_COL_BOOL)
            return json_object_new_boolean(v != 0);
        if (col && col->type == EM_COL_REAL)
            return json_object_new_double((double)v);
        return json_object_new_int64(v);
    }
    if (type == SQLITE_FLOAT) {
        double v = sqlite3_column_double(st, i);
        const char *text = (const char *)sqlite3_column_text(st, i);
        return isfinite(v) ? json_object_new_double_s(v, text) : NULL;
    }
    return json_object_new_string_len((const char *)sqlite3_column_text(st, i),
                                      sqlite3_column_bytes(st, i));
}

static json_object *extra_value(sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) != SQLITE_TEXT)
        return NULL;
    const char *text = (const char *)sqlite3_column_text(st, i);
    json_object *extra = json_tokener_parse(text);
    if (extra && !json_object_is_type(extra, json_type_object)) {
        json_object_put(extra);
        extra = NULL;
    }
    return extra ? extra : json_object_new_string(text);
}

json_object *em_feature_attributes(em_db *db, const em_layer *layer, long long id, em_error *err) {
    if (!em_layer_is_spatial(layer)) {
        em_fail(err, EM_ERR_RUNTIME, "%s has no row ids", layer->name);
        return NULL;
    }
    char sql[2048];
    size_t used = (size_t)snprintf(sql, sizeof sql, "SELECT id");
    for (size_t i = 0; i < layer->ncolumns && used < sizeof sql; i++)
        used += (size_t)snprintf(sql + used, sizeof sql - used, ", \"%s\"", layer->columns[i].name);
    if (used < sizeof sql)
        snprintf(sql + used, sizeof sql - used, ", extra FROM \"%s\" WHERE id = ?", layer->table);
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            em_fail(err, EM_ERR_NOTFOUND, "%s has no feature %lld", layer->name, id);
        else
            em_fail(err, EM_ERR_RUNTIME, "reading %s %lld: %s", layer->name, id,
                    sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
        return NULL;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    for (size_t i = 0; i < layer->ncolumns; i++)
        json_object_object_add(o, layer->columns[i].name, cell(st, (int)i + 1, &layer->columns[i]));
    json_object_object_add(o, "extra", extra_value(st, (int)layer->ncolumns + 1));
    sqlite3_finalize(st);
    return o;
}

/* A coordinate with 7 decimals (about 1 cm), trailing zeros dropped. */
static json_object *coordinate(double v) {
    char text[64];
    snprintf(text, sizeof text, "%.7f", v);
    char *dot = strchr(text, '.');
    if (dot) {
        char *end = text + strlen(text) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    return json_object_new_double_s(strtod(text, NULL), text);
}

json_object *em_violation_feature(em_db *db, long long id, em_error *err) {
    const em_layer *layer = em_layer_find("violations");
    json_object *props = em_feature_attributes(db, layer, id, err);
    if (!props)
        return NULL;
    json_object_object_del(props, "id");
    sqlite3_stmt *st =
        em_db_prepare(db, "SELECT ST_X(geom), ST_Y(geom) FROM violations WHERE id = ?", err);
    if (!st) {
        json_object_put(props);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    json_object *geometry = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        geometry = json_object_new_object();
        json_object_object_add(geometry, "type", json_object_new_string("Point"));
        json_object *xy = json_object_new_array();
        json_object_array_add(xy, coordinate(sqlite3_column_double(st, 0)));
        json_object_array_add(xy, coordinate(sqlite3_column_double(st, 1)));
        json_object_object_add(geometry, "coordinates", xy);
    }
    sqlite3_finalize(st);
    json_object *f = json_object_new_object();
    json_object_object_add(f, "type", json_object_new_string("Feature"));
    json_object_object_add(f, "id", json_object_new_int64(id));
    json_object_object_add(f, "geometry", geometry);
    json_object_object_add(f, "properties", props);
    return f;
}

static int same_json(json_object *a, json_object *b) {
    const char *x = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
    char *copy = strdup(x);
    int same = copy && strcmp(copy, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN)) == 0;
    free(copy);
    return same;
}

/* ---- times --------------------------------------------------------------- */

/* Now plus `ahead` seconds, Shanghai time, as stored. */
static void shanghai_in(long ahead, char out[20]) {
    time_t t = time(NULL) + 8 * 3600 + ahead;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
}

static int two_digits(const char *s) {
    return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]);
}

/* A date-time as people and phones send it, to Shanghai local time: what
 * em_parse_datetime() reads (local, or +08:00), or a UTC "Z" or another offset,
 * converted. */
static int parse_time(const char *text, char out[20]) {
    char buf[64];
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    int offset_min = 0, has_offset = 0;
    if (buf[n - 1] == 'Z' || buf[n - 1] == 'z') {
        buf[--n] = '\0';
        has_offset = 1;
    } else if (n >= 6 && (buf[n - 6] == '+' || buf[n - 6] == '-') && buf[n - 3] == ':' &&
               two_digits(buf + n - 5) && two_digits(buf + n - 2)) {
        offset_min = ((buf[n - 5] - '0') * 10 + buf[n - 4] - '0') * 60 + (buf[n - 2] - '0') * 10 +
                     buf[n - 1] - '0';
        if (buf[n - 6] == '-')
            offset_min = -offset_min;
        buf[n - 6] = '\0';
        has_offset = 1;
    }
    if (has_offset && !strchr(buf, 'T') && !strchr(buf, 't') && !strchr(buf, ' '))
        return -1; /* an offset belongs to a time of day */
    char local[20];
    if (em_parse_datetime(buf, local) < 0)
        return -1;
    if (!has_offset) {
        memcpy(out, local, 20);
        return 0;
    }
    if (offset_min > 14 * 60 || offset_min < -14 * 60)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(local, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - (time_t)offset_min * 60 + 8 * 3600;
    struct tm sh;
    if (!gmtime_r(&t, &sh) || sh.tm_year + 1900 < 1900 || sh.tm_year + 1900 > 2100)
        return -1;
    strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &sh);
    return 0;
}

static int check_time(const char *field, const char *text, char out[20], em_write_error *e) {
    if (parse_time(text, out) < 0)
        return wfail(e, EM_ERR_INPUT, field,
                     "%s: '%s' is not a date and time (YYYY-MM-DDTHH:MM:SS, Shanghai time, "
                     "or with Z or an offset)",
                     field, text);
    char limit[20];
    shanghai_in(EM_WRITE_CLOCK_SKEW_SECONDS, limit);
    if (strcmp(out, limit) > 0)
        return wfail(e, EM_ERR_INPUT, field, "%s: %s (Shanghai time) is in the future", field, out);
    return 0;
}

/* ---- JSON members ---------------------------------------------------------- */

/* The text of a scalar member for a column: strings for any column, numbers for
 * numbers, dates and text, booleans for yes/no columns. NULL member or JSON null:
 * *out = NULL. Arrays and objects are refused. */
static int scalar_text(json_object *v, const em_column *col, const char *field, const char **out,
                       em_write_error *e) {
    *out = NULL;
    if (!v)
        return 0;
    switch (json_object_get_type(v)) {
    case json_type_null:
        return 0;
    case json_type_string:
        *out = json_object_get_string(v);
        return 0;
    case json_type_int:
    case json_type_double:
        if (col && col->type != EM_COL_BOOL) {
            *out = json_object_get_string(v);
            return 0;
        }
        break;
    case json_type_boolean:
        if (col && col->type == EM_COL_BOOL) {
            *out = json_object_get_boolean(v) ? "1" : "0";
            return 0;
        }
        break;
    default:
        break;
    }
    const char *want = !col                          ? "a string"
                       : col->type == EM_COL_BOOL    ? "true or false"
                       : col->type == EM_COL_INTEGER ? "a whole number"
                       : col->type == EM_COL_REAL    ? "a number"
                                                     : "a string";
    return wfail(e, EM_ERR_USAGE, field, "%s must be %s, not %s", field, want,
                 json_type_to_name(json_object_get_type(v)));
}

static int text_length(const char *field, const char *s, size_t max, em_write_error *e) {
    if (s && strlen(s) > max)
        return wfail(e, EM_ERR_INPUT, field, "%s is longer than %zu bytes", field, max);
    return 0;
}

/* Bind `text` for `col` through the importer's rules (fields.h). */
static int bind_field(sqlite3_stmt *st, int index, const em_column *col, const char *text,
                      em_write_error *e) {
    char why[512];
    if (em_field_bind(st, index, col, text, why, sizeof why) < 0)
        return wfail(e, EM_ERR_INPUT, col->name, "%s", why);
    return 0;
}

/* `base` (an object or NULL) with the merge patch `patch` applied: members set,
 * null members removed. Returns a new object, or NULL when it ends up empty. */
static json_object *merge_extra(json_object *base, json_object *patch) {
    json_object *out = json_object_new_object();
    if (base && json_object_is_type(base, json_type_object)) {
        json_object_object_foreach(base, k, v) json_object_object_add(out, k, json_object_get(v));
    }
    json_object_object_foreach(patch, k, v) {
        if (v == NULL)
            json_object_object_del(out, k);
        else
            json_object_object_add(out, k, json_object_get(v));
    }
    if (json_object_object_length(out) == 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

static void bind_json(sqlite3_stmt *st, int index, json_object *v) {
    if (!v) {
        sqlite3_bind_null(st, index);
        return;
    }
    size_t len;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    sqlite3_bind_text(st, index, text, (int)len, SQLITE_TRANSIENT);
}

/* A category as given (alias, or English name) to its name in violation_categories. */
static int canonical_category(em_db *db, const char *given, char out[64], em_write_error *e) {
    char trimmed[128];
    while (isspace((unsigned char)*given))
        given++;
    snprintf(trimmed, sizeof trimmed, "%s", given);
    size_t n = strlen(trimmed);
    while (n > 0 && isspace((unsigned char)trimmed[n - 1]))
        trimmed[--n] = '\0';
    const char *name = em_category_canonical(trimmed);
    em_error err;
    sqlite3_stmt *st = em_db_prepare(
        db,
        "SELECT name FROM violation_categories WHERE name = ?1 OR lower(name_en) = lower(?1)"
        " LIMIT 1",
        &err);
    if (!st)
        return from_error(e, &err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (found)
        return 0;
    char known[1024] = "";
    size_t used = 0;
    st = em_db_prepare(db, "SELECT name FROM violation_categories ORDER BY rowid", &err);
    while (st && sqlite3_step(st) == SQLITE_ROW && used < sizeof known)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                 (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return wfail(e, EM_ERR_INPUT, "category", "category: '%s' is not a known category (%s)",
                 trimmed, known);
}

/* The status and resolved_at a report ends up with, from what it had and what the
 * write says. `status` and `resolved` are NULL when the write does not set them;
 * `cur_resolved` is the stored resolution time (or NULL). */
static int settle_status(const char *status, int has_resolved, const char *resolved,
                         const char *reported_at, const char *cur_status, const char *cur_resolved,
                         char out_status[16], char out_resolved[20], int *out_has_resolved,
                         em_write_error *e) {
    char when[20] = "";
    if (has_resolved && resolved && check_time("resolved_at", resolved, when, e) < 0)
        return -1;
    const char *st = status;
    if (st && strcmp(st, "open") != 0 && strcmp(st, "resolved") != 0)
        return wfail(e, EM_ERR_INPUT, "status", "status: '%s' is not one of open, resolved", st);
    if (!st)
        st = has_resolved ? (resolved ? "resolved" : "open") : cur_status;
    if (!st)
        st = "open";
    if (strcmp(st, "resolved") == 0) {
        if (has_resolved && !resolved)
            return wfail(e, EM_ERR_INPUT, "resolved_at",
                         "a resolved report needs a resolved_at time");
        if (!has_resolved) {
            if (cur_resolved && cur_status && strcmp(cur_status, "resolved") == 0)
                snprintf(when, sizeof when, "%s", cur_resolved);
            else
                shanghai_in(0, when);
        }
        if (strcmp(when, reported_at) < 0)
            return wfail(e, EM_ERR_INPUT, "resolved_at",
                         "resolved_at %s is before the report's reported_at %s", when, reported_at);
        *out_has_resolved = 1;
    } else {
        if (has_resolved && resolved)
            return wfail(e, EM_ERR_INPUT, "resolved_at",
                         "an open report has no resolved_at (set status to resolved, or "
                         "leave resolved_at out)");
        when[0] = '\0';
        *out_has_resolved = 0;
    }
    snprintf(out_status, 16, "%s", st);
    memcpy(out_resolved, when, 20);
    return 0;
}

/* ---- transactions ------------------------------------------------------------ */

static int begin(em_db *db, em_write_error *e) {
    if (sqlite3_db_readonly(db->sql, "main") == 1) {
        e->unavailable = 1;
        return wfail(e, EM_ERR_RUNTIME, NULL,
                     "the database file is read-only: this server can serve reads but not "
                     "writes");
    }
    if (sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(db, e, "starting a transaction", NULL, 0);
    return 0;
}

static int finish(em_db *db, em_write_error *e) {
    if (sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, "committing", NULL, 0);
        em_db_rollback(db);
        return -1;
    }
    return 0;
}

/* The audit row and the commit that end every write; on failure the write is rolled
 * back and `e` says why. */
static int audit_and_finish(em_db *db, const em_audit_who *who, const char *layer, long long id,
                            const char *key, json_object *before, json_object *after,
                            em_write_error *e) {
    em_error err = {0};
    if (em_audit_record(db, who, layer, id, key, before, after, &err) < 0) {
        from_error(e, &err);
        em_db_rollback(db);
        return -1;
    }
    return finish(db, e);
}

static int abort_write(em_db *db) {
    em_db_rollback(db);
    return -1;
}

/* ---- POST a violation ------------------------------------------------------- */

typedef struct {
    json_object *code, *category, *reported_at, *resolved_at, *status, *source, *description,
        *extra;
} violation_members;

static int read_point(json_object *geometry, double *lon, double *lat, em_write_error *e) {
    if (!geometry || !json_object_is_type(geometry, json_type_object))
        return wfail(
            e, EM_ERR_USAGE, "geometry",
            "a report needs a geometry: {\"type\": \"Point\", \"coordinates\": [lon, lat]}");
    json_object_object_foreach(geometry, member, value) {
        (void)value;
        if (strcmp(member, "type") != 0 && strcmp(member, "coordinates") != 0 &&
            strcmp(member, "bbox") != 0)
            return strcmp(member, "crs") == 0
                       ? wfail(e, EM_ERR_USAGE, "geometry",
                               "the geometry has a crs member: GeoJSON (RFC 7946) coordinates "
                               "are WGS84/CGCS2000 longitude and latitude; for GCJ-02 or BD-09 "
                               "use ?coords=")
                       : wfail(e, EM_ERR_USAGE, "geometry", "unknown member '%s' in the geometry",
                               member);
    }
    json_object *type = NULL, *coords = NULL;
    json_object_object_get_ex(geometry, "type", &type);
    json_object_object_get_ex(geometry, "coordinates", &coords);
    const char *t =
        type && json_object_is_type(type, json_type_string) ? json_object_get_string(type) : NULL;
    if (!t)
        return wfail(e, EM_ERR_USAGE, "geometry", "the geometry has no type");
    if (strcmp(t, "Point") != 0)
        return wfail(e, EM_ERR_USAGE, "geometry",
                     "a violation is a Point (where it was seen), not a %s", t);
    size_t n = coords && json_object_is_type(coords, json_type_array)
                   ? json_object_array_length(coords)
                   : 0;
    if (n != 2 && n != 3)
        return wfail(e, EM_ERR_USAGE, "geometry",
                     "a Point's coordinates are [longitude, latitude]");
    double v[2];
    for (int i = 0; i < 2; i++) {
        json_object *c = json_object_array_get_idx(coords, (size_t)i);
        if (!c ||
            !(json_object_is_type(c, json_type_double) || json_object_is_type(c, json_type_int)))
            return wfail(e, EM_ERR_USAGE, "geometry",
                         "a Point's coordinates are numbers: [longitude, latitude]");
        v[i] = json_object_get_double(c);
        if (!isfinite(v[i]))
            return wfail(e, EM_ERR_USAGE, "geometry", "a coordinate is not a finite number");
    }
    if (v[0] < -180 || v[0] > 180 || v[1] < -90 || v[1] > 90)
        return wfail(e, EM_ERR_INPUT, "geometry",
                     "[%g, %g] is not a longitude and latitude in degrees", v[0], v[1]);
    *lon = v[0];
    *lat = v[1];
    return 0;
}

/* The town holding the point, or a 422: reports come from the district only. */
static int inside_district(em_db *db, double lon, double lat, em_write_error *e) {
    em_error err;
    sqlite3_stmt *st =
        em_db_prepare(db,
                      "SELECT t.code FROM towns t WHERE t.id IN (SELECT pkid FROM idx_towns_geom"
                      " WHERE xmin <= ?1 AND xmax >= ?1 AND ymin <= ?2 AND ymax >= ?2)"
                      " AND ST_Intersects(t.geom, MakePoint(?1, ?2, 4326)) LIMIT 1",
                      &err);
    if (!st)
        return from_error(e, &err);
    sqlite3_bind_double(st, 1, lon);
    sqlite3_bind_double(st, 2, lat);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sql_fail(db, e, "locating the point", NULL, 0);
    return wfail(e, EM_ERR_INPUT, "geometry",
                 "the point (%.6f, %.6f) lies outside the district: no town contains it (check "
                 "the coordinate order, longitude first, and the coordinate system)",
                 lon, lat);
}

static int violation_members_read(json_object *props, violation_members *m, int patch,
                                  em_write_error *e) {
    memset(m, 0, sizeof *m);
    if (!props)
        return 0;
    if (!json_object_is_type(props, json_type_object))
        return wfail(e, EM_ERR_USAGE, "properties", "properties must be an object");
    json_object_object_foreach(props, key, value) {
        json_object **slot = NULL;
        if (strcmp(key, "category") == 0)
            slot = &m->category;
        else if (strcmp(key, "resolved_at") == 0)
            slot = &m->resolved_at;
        else if (strcmp(key, "status") == 0)
            slot = &m->status;
        else if (strcmp(key, "source") == 0)
            slot = &m->source;
        else if (strcmp(key, "description") == 0)
            slot = &m->description;
        else if (strcmp(key, "extra") == 0)
            slot = &m->extra;
        else if (!patch && strcmp(key, "code") == 0)
            slot = &m->code;
        else if (!patch && strcmp(key, "reported_at") == 0)
            slot = &m->reported_at;
        if (slot) {
            /* a member given as null counts as given (PATCH clears with it) */
            *slot = value; /* NULL for a JSON null: the member is then cleared or ignored */
            continue;
        }
        if (strcmp(key, "estate_code") == 0 || strcmp(key, "grid_code") == 0)
            return wfail(e, EM_ERR_USAGE, key,
                         "%s is derived from the report's location and cannot be set", key);
        if (patch && (strcmp(key, "code") == 0 || strcmp(key, "reported_at") == 0))
            return wfail(e, EM_ERR_USAGE, key, "%s cannot be changed once reported", key);
        return wfail(e, EM_ERR_USAGE, key, "unknown member '%s'; a report has %s", key,
                     patch ? "status, resolved_at, category, source, description and extra"
                           : "category, reported_at, resolved_at, status, source, "
                             "description, code and extra");
    }
    if (m->extra && !json_object_is_type(m->extra, json_type_object))
        return wfail(e, EM_ERR_USAGE, "extra", "extra must be an object");
    return 0;
}

/* The string in a member (NULL when absent or null), or a 400 when not a string. */
static int member_text(json_object *v, const char *field, const char **out, em_write_error *e) {
    return scalar_text(v, NULL, field, out, e);
}

int em_write_violation_create(em_db *db, const em_audit_who *who, json_object *feature,
                              em_coords coords, json_object **out, em_write_error *e) {
    clear(e);
    *out = NULL;
    if (!feature || !json_object_is_type(feature, json_type_object))
        return wfail(e, EM_ERR_USAGE, NULL, "the body must be a GeoJSON Feature object");
    json_object *type = NULL, *geometry = NULL, *props = NULL, *given_id = NULL;
    json_object_object_get_ex(feature, "type", &type);
    if (!type || !json_object_is_type(type, json_type_string) ||
        strcmp(json_object_get_string(type), "Feature") != 0)
        return wfail(e, EM_ERR_USAGE, "type",
                     "the body must be a GeoJSON Feature ({\"type\": \"Feature\", ...})");
    json_object_object_foreach(feature, key, value) {
        if (strcmp(key, "type") == 0)
            continue;
        else if (strcmp(key, "geometry") == 0)
            geometry = value;
        else if (strcmp(key, "properties") == 0)
            props = value;
        else if (strcmp(key, "id") == 0)
            given_id = value;
        else if (strcmp(key, "bbox") != 0)
            return wfail(e, EM_ERR_USAGE, key,
                         "unknown member '%s'; a Feature has type, geometry and properties", key);
    }
    if (given_id)
        return wfail(e, EM_ERR_USAGE, "id", "the id of a new report is assigned by the server");
    double lon, lat;
    if (read_point(geometry, &lon, &lat, e) < 0)
        return -1;
    violation_members m;
    if (violation_members_read(props, &m, 0, e) < 0)
        return -1;
    const char *code, *category, *reported, *resolved, *status, *source, *description;
    if (member_text(m.code, "code", &code, e) < 0 ||
        member_text(m.category, "category", &category, e) < 0 ||
        member_text(m.reported_at, "reported_at", &reported, e) < 0 ||
        member_text(m.resolved_at, "resolved_at", &resolved, e) < 0 ||
        member_text(m.status, "status", &status, e) < 0 ||
        member_text(m.source, "source", &source, e) < 0 ||
        member_text(m.description, "description", &description, e) < 0 ||
        text_length("code", code, MAX_SHORT_TEXT, e) < 0 ||
        text_length("source", source, MAX_SHORT_TEXT, e) < 0 ||
        text_length("description", description, EM_WRITE_MAX_TEXT, e) < 0)
        return -1;
    if (!category || !*category)
        return wfail(e, EM_ERR_INPUT, "category",
                     "category is required (one of the 五违, 违法使用房屋 or the 六乱)");
    char reported_at[20];
    if (reported) {
        if (check_time("reported_at", reported, reported_at, e) < 0)
            return -1;
    } else {
        shanghai_in(0, reported_at);
    }
    char final_status[16], resolved_at[20];
    int has_resolved = 0;
    if (settle_status(status, resolved != NULL, resolved, reported_at, "open", NULL, final_status,
                      resolved_at, &has_resolved, e) < 0)
        return -1;
    em_coords_to_wgs84(coords, &lon, &lat);

    if (begin(db, e) < 0)
        return -1;
    char cat[64];
    if (canonical_category(db, category, cat, e) < 0 || inside_district(db, lon, lat, e) < 0)
        return abort_write(db);
    const em_layer *layer = em_layer_find("violations");
    em_error err;
    sqlite3_stmt *st = em_db_prepare(
        db,
        "INSERT INTO violations(code, category, reported_at, resolved_at, status, source,"
        " description, extra, geom) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, MakePoint(?9, ?10, "
        "4326))",
        &err);
    if (!st) {
        from_error(e, &err);
        return abort_write(db);
    }
    int ok = bind_field(st, 1, em_layer_column(layer, "code"), code, e) == 0 &&
             bind_field(st, 2, em_layer_column(layer, "category"), cat, e) == 0 &&
             bind_field(st, 3, em_layer_column(layer, "reported_at"), reported_at, e) == 0 &&
             bind_field(st, 4, em_layer_column(layer, "resolved_at"),
                        has_resolved ? resolved_at : NULL, e) == 0 &&
             bind_field(st, 5, em_layer_column(layer, "status"), final_status, e) == 0 &&
             bind_field(st, 6, em_layer_column(layer, "source"), source ? source : DEFAULT_SOURCE,
                        e) == 0 &&
             bind_field(st, 7, em_layer_column(layer, "description"), description, e) == 0;
    if (ok) {
        json_object *extra = m.extra ? merge_extra(NULL, m.extra) : NULL;
        bind_json(st, 8, extra);
        json_object_put(extra);
        sqlite3_bind_double(st, 9, lon);
        sqlite3_bind_double(st, 10, lat);
        if (sqlite3_step(st) != SQLITE_DONE) {
            static const char *const cols[] = {"code", "category", "reported_at", "resolved_at",
                                               "status"};
            sql_fail(db, e, "storing the report", cols, 5);
            if (e->conflict && strstr(e->err.message, "code"))
                wfail(e, EM_ERR_INPUT, "code", "code: a report with the code '%s' exists",
                      code ? code : "");
            ok = 0;
        }
    }
    sqlite3_finalize(st);
    if (!ok)
        return abort_write(db);
    long long id = sqlite3_last_insert_rowid(db->sql);
    if (em_links_after_write(db, "violations", id, &err) < 0) {
        from_error(e, &err);
        return abort_write(db);
    }
    json_object *after = em_violation_feature(db, id, &err);
    if (!after) {
        from_error(e, &err);
        return abort_write(db);
    }
    if (audit_and_finish(db, who, "violations", id, code, NULL, after, e) < 0) {
        json_object_put(after);
        return -1;
    }
    *out = after;
    return 0;
}

/* ---- PATCH a violation ------------------------------------------------------ */

/* The object a PATCH applies: the body, or a Feature's properties (a Feature may
 * not move: its geometry must be absent or null). */
static int patch_members(json_object *body, json_object **props, em_write_error *e) {
    if (!body || !json_object_is_type(body, json_type_object))
        return wfail(e, EM_ERR_USAGE, NULL,
                     "the body must be a JSON object of the members to change");
    json_object *type = NULL;
    if (json_object_object_get_ex(body, "type", &type) && type &&
        json_object_is_type(type, json_type_string) &&
        strcmp(json_object_get_string(type), "Feature") == 0) {
        json_object_object_foreach(body, key, value) {
            if (strcmp(key, "geometry") == 0 && value)
                return wfail(e, EM_ERR_USAGE, "geometry",
                             "a feature cannot be moved here; report a new one");
            if (strcmp(key, "type") != 0 && strcmp(key, "geometry") != 0 &&
                strcmp(key, "properties") != 0 && strcmp(key, "id") != 0)
                return wfail(e, EM_ERR_USAGE, key, "unknown member '%s' in the Feature", key);
        }
        *props = NULL;
        json_object_object_get_ex(body, "properties", props);
        if (!*props || !json_object_is_type(*props, json_type_object))
            return wfail(e, EM_ERR_USAGE, "properties", "the Feature has no properties object");
    } else {
        *props = body;
    }
    if (json_object_object_length(*props) == 0)
        return wfail(e, EM_ERR_USAGE, NULL, "nothing to change: the body has no members");
    return 0;
}

static const char *prop_text(json_object *feature_or_attrs, const char *name) {
    json_object *props = NULL, *v = NULL;
    if (!json_object_object_get_ex(feature_or_attrs, "properties", &props))
        props = feature_or_attrs;
    if (!json_object_object_get_ex(props, name, &v) || !v ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int em_write_violation_update(em_db *db, const em_audit_who *who, long long id, json_object *patch,
                              json_object **out, em_write_error *e) {
    clear(e);
    *out = NULL;
    json_object *props;
    if (patch_members(patch, &props, e) < 0)
        return -1;
    violation_members m;
    if (violation_members_read(props, &m, 1, e) < 0)
        return -1;
    int has_category = json_object_object_get_ex(props, "category", NULL);
    int has_status = json_object_object_get_ex(props, "status", NULL);
    int has_resolved = json_object_object_get_ex(props, "resolved_at", NULL);
    int has_source = json_object_object_get_ex(props, "source", NULL);
    int has_description = json_object_object_get_ex(props, "description", NULL);
    const char *category, *status, *resolved, *source, *description;
    if (member_text(m.category, "category", &category, e) < 0 ||
        member_text(m.status, "status", &status, e) < 0 ||
        member_text(m.resolved_at, "resolved_at", &resolved, e) < 0 ||
        member_text(m.source, "source", &source, e) < 0 ||
        member_text(m.description, "description", &description, e) < 0 ||
        text_length("source", source, MAX_SHORT_TEXT, e) < 0 ||
        text_length("description", description, EM_WRITE_MAX_TEXT, e) < 0)
        return -1;
    if (has_category && !category)
        return wfail(e, EM_ERR_INPUT, "category", "category cannot be empty");
    if (has_status && !status)
        return wfail(e, EM_ERR_INPUT, "status", "status cannot be empty (open or resolved)");

    if (begin(db, e) < 0)
        return -1;
    em_error err;
    json_object *before = em_violation_feature(db, id, &err);
    if (!before) {
        from_error(e, &err);
        return abort_write(db);
    }
    int rc = -1;
    json_object *after = NULL, *extra = NULL;
    sqlite3_stmt *st = NULL;
    char cat[64], final_status[16], resolved_at[20];
    int now_resolved = 0;
    const char *reported_at = prop_text(before, "reported_at");
    if (has_category && canonical_category(db, category, cat, e) < 0)
        goto done;
    if ((has_status || has_resolved) &&
        settle_status(has_status ? status : NULL, has_resolved, resolved,
                      reported_at ? reported_at : "", prop_text(before, "status"),
                      prop_text(before, "resolved_at"), final_status, resolved_at, &now_resolved,
                      e) < 0)
        goto done;

    /* Only the members given are written; names come from this fixed list. */
    char sql[512] = "UPDATE violations SET id = id";
    if (has_category)
        strcat(sql, ", category = ?1");
    if (has_status || has_resolved)
        strcat(sql, ", status = ?2, resolved_at = ?3");
    if (has_source)
        strcat(sql, ", source = ?4");
    if (has_description)
        strcat(sql, ", description = ?5");
    if (m.extra)
        strcat(sql, ", extra = ?6");
    strcat(sql, " WHERE id = ?7");
    st = em_db_prepare(db, sql, &err);
    if (!st) {
        from_error(e, &err);
        goto done;
    }
    const em_layer *layer = em_layer_find("violations");
    if ((has_category && bind_field(st, 1, em_layer_column(layer, "category"), cat, e) < 0) ||
        ((has_status || has_resolved) &&
         (bind_field(st, 2, em_layer_column(layer, "status"), final_status, e) < 0 ||
          bind_field(st, 3, em_layer_column(layer, "resolved_at"),
                     now_resolved ? resolved_at : NULL, e) < 0)) ||
        (has_source && bind_field(st, 4, em_layer_column(layer, "source"), source, e) < 0) ||
        (has_description &&
         bind_field(st, 5, em_layer_column(layer, "description"), description, e) < 0))
        goto done;
    if (m.extra) {
        json_object *bp = NULL, *cur = NULL;
        json_object_object_get_ex(before, "properties", &bp);
        json_object_object_get_ex(bp, "extra", &cur);
        extra = merge_extra(cur, m.extra);
        bind_json(st, 6, extra);
    }
    sqlite3_bind_int64(st, 7, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        static const char *const cols[] = {"category", "status", "resolved_at"};
        sql_fail(db, e, "updating the report", cols, 3);
        goto done;
    }
    after = em_violation_feature(db, id, &err);
    if (!after) {
        from_error(e, &err);
        goto done;
    }
    if (same_json(before, after)) { /* nothing changed: nothing to write or audit */
        em_db_rollback(db);
        *out = after;
        after = NULL;
        rc = 0;
        goto done;
    }
    if (audit_and_finish(db, who, "violations", id, prop_text(before, "code"), before, after, e) <
        0)
        goto done;
    *out = after;
    after = NULL;
    rc = 0;
done:
    if (rc < 0)
        em_db_rollback(db);
    sqlite3_finalize(st);
    json_object_put(extra);
    json_object_put(after);
    json_object_put(before);
    return rc;
}

/* ---- PATCH an estate --------------------------------------------------------- */

static const char *const estate_dates[] = {"plan_date", "start_date", "completed_date",
                                           "accepted_date"};

/* plan_date <= start_date <= completed_date <= accepted_date, checked where a date
 * this write set meets another (dates already stored out of order stay a matter
 * for `estatemap check`, not a reason to refuse an unrelated edit). */
static int check_date_order(json_object *after, json_object *props, em_write_error *e) {
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) {
            if (!json_object_object_get_ex(props, estate_dates[i], NULL) &&
                !json_object_object_get_ex(props, estate_dates[j], NULL))
                continue;
            const char *a = prop_text(after, estate_dates[i]);
            const char *b = prop_text(after, estate_dates[j]);
            if (a && b && strcmp(a, b) > 0) {
                const char *field = json_object_object_get_ex(props, estate_dates[j], NULL)
                                        ? estate_dates[j]
                                        : estate_dates[i];
                return wfail(e, EM_ERR_INPUT, field, "%s %s is before %s %s", estate_dates[j], b,
                             estate_dates[i], a);
            }
        }
    return 0;
}

int em_write_estate_update(em_db *db, const em_audit_who *who, const char *ref, json_object *patch,
                           json_object **out, em_write_error *e) {
    clear(e);
    *out = NULL;
    json_object *props;
    if (patch_members(patch, &props, e) < 0)
        return -1;
    const em_layer *layer = em_layer_find("estates");
    const em_column *cols[64];
    json_object *vals[64];
    int n = 0;
    json_object *extra_patch = NULL;
    json_object_object_foreach(props, key, value) {
        if (strcmp(key, "extra") == 0) {
            if (value && !json_object_is_type(value, json_type_object))
                return wfail(e, EM_ERR_USAGE, "extra", "extra must be an object");
            extra_patch = value;
            continue;
        }
        const em_column *col = em_layer_column(layer, key);
        if (!col) {
            if (strcmp(key, "id") == 0 || strcmp(key, "geometry") == 0)
                return wfail(e, EM_ERR_USAGE, key, "%s cannot be changed here", key);
            return wfail(e, EM_ERR_USAGE, key, "unknown member '%s': not a column of estates", key);
        }
        if (strcmp(key, "code") == 0)
            return wfail(e, EM_ERR_USAGE, key,
                         "code cannot be changed: violations and renovation items refer to it");
        if (col->derived)
            return wfail(e, EM_ERR_USAGE, key,
                         "%s is derived from the estate's location and cannot be set", key);
        if (n >= 64)
            return wfail(e, EM_ERR_USAGE, key, "too many members");
        cols[n] = col;
        vals[n] = value;
        n++;
    }
    const char *texts[64];
    for (int i = 0; i < n; i++) {
        if (scalar_text(vals[i], cols[i], cols[i]->name, &texts[i], e) < 0 ||
            text_length(cols[i]->name, texts[i], EM_WRITE_MAX_TEXT, e) < 0)
            return -1;
        if (cols[i]->required && (!texts[i] || !*texts[i]))
            return wfail(e, EM_ERR_INPUT, cols[i]->name, "%s cannot be empty", cols[i]->name);
    }

    if (begin(db, e) < 0)
        return -1;
    em_error err;
    long long id;
    char code[256];
    if (em_estate_resolve(db, ref, &id, code, sizeof code, &err) < 0) {
        from_error(e, &err);
        return abort_write(db);
    }
    json_object *before = em_feature_attributes(db, layer, id, &err), *after = NULL, *extra = NULL;
    if (!before) {
        from_error(e, &err);
        return abort_write(db);
    }
    int rc = -1;
    sqlite3_stmt *st = NULL;
    char sql[4096];
    size_t used = (size_t)snprintf(sql, sizeof sql, "UPDATE estates SET id = id");
    for (int i = 0; i < n; i++) /* column names from the layer list, never from input */
        used +=
            (size_t)snprintf(sql + used, sizeof sql - used, ", \"%s\" = ?%d", cols[i]->name, i + 1);
    if (extra_patch)
        used += (size_t)snprintf(sql + used, sizeof sql - used, ", extra = ?%d", n + 1);
    snprintf(sql + used, sizeof sql - used, " WHERE id = ?%d", n + 2);
    st = em_db_prepare(db, sql, &err);
    if (!st) {
        from_error(e, &err);
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (bind_field(st, i + 1, cols[i], texts[i], e) < 0)
            goto done;
    if (extra_patch) {
        json_object *cur = NULL;
        json_object_object_get_ex(before, "extra", &cur);
        extra = merge_extra(cur, extra_patch);
        bind_json(st, n + 1, extra);
    }
    sqlite3_bind_int64(st, n + 2, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        const char *names[64];
        for (int i = 0; i < n; i++)
            names[i] = cols[i]->name;
        sql_fail(db, e, "updating the estate", names, n);
        goto done;
    }
    after = em_feature_attributes(db, layer, id, &err);
    if (!after) {
        from_error(e, &err);
        goto done;
    }
    if (check_date_order(after, props, e) < 0)
        goto done;
    if (same_json(before, after)) {
        em_db_rollback(db);
        *out = after;
        after = NULL;
        rc = 0;
        goto done;
    }
    if (audit_and_finish(db, who, "estates", id, code, before, after, e) < 0)
        goto done;
    *out = after;
    after = NULL;
    rc = 0;
done:
    if (rc < 0)
        em_db_rollback(db);
    sqlite3_finalize(st);
    json_object_put(extra);
    json_object_put(after);
    json_object_put(before);
    return rc;
}

/* ---- PUT an estate's renovation items ---------------------------------------- */

typedef struct {
    const char *text[4]; /* item_id, status, budget_yuan, owners_share */
    long long item_id;
} renovation_row;

static const char *const renovation_members[] = {"item_id", "status", "budget_yuan",
                                                 "owners_share"};

static int read_items(json_object *body, renovation_row *rows, int *nrows, em_write_error *e) {
    json_object *items = body;
    if (body && json_object_is_type(body, json_type_object)) {
        items = NULL;
        json_object_object_foreach(body, key, value) {
            if (strcmp(key, "items") != 0)
                return wfail(e, EM_ERR_USAGE, key,
                             "unknown member '%s'; send {\"items\": [...]} or the array", key);
            items = value;
        }
    }
    if (!items || !json_object_is_type(items, json_type_array))
        return wfail(e, EM_ERR_USAGE, "items",
                     "the body must be an array of renovation items (or {\"items\": [...]})");
    size_t n = json_object_array_length(items);
    if (n > 15)
        return wfail(e, EM_ERR_INPUT, "items",
                     "%zu items: an estate has at most the policy's 15 renovation items", n);
    const em_layer *layer = em_layer_find("renovation");
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(items, i);
        char field[64];
        snprintf(field, sizeof field, "items[%zu]", i);
        if (!item || !json_object_is_type(item, json_type_object))
            return wfail(e, EM_ERR_USAGE, field,
                         "%s must be an object {\"item_id\": 1-15, \"status\", \"budget_yuan\", "
                         "\"owners_share\"}",
                         field);
        renovation_row *r = &rows[i];
        memset(r, 0, sizeof *r);
        json_object_object_foreach(item, key, value) {
            int k = -1;
            for (int m = 0; m < 4; m++)
                if (strcmp(key, renovation_members[m]) == 0)
                    k = m;
            snprintf(field, sizeof field, "items[%zu].%.40s", i, key);
            if (k < 0)
                return wfail(e, EM_ERR_USAGE, field,
                             "unknown member '%s'; an item has item_id, status, budget_yuan and "
                             "owners_share",
                             key);
            if (scalar_text(value, em_layer_column(layer, renovation_members[k]), field,
                            &r->text[k], e) < 0)
                return -1;
        }
        snprintf(field, sizeof field, "items[%zu].item_id", i);
        if (!r->text[0] || em_parse_integer(r->text[0], &r->item_id) < 0 || r->item_id < 1 ||
            r->item_id > 15)
            return wfail(e, EM_ERR_INPUT, field,
                         "%s: the item is one of the policy's renovation items, 1 to 15", field);
        for (size_t j = 0; j < i; j++)
            if (rows[j].item_id == r->item_id)
                return wfail(e, EM_ERR_INPUT, field, "item %lld is listed twice", r->item_id);
    }
    *nrows = (int)n;
    return 0;
}

int em_write_estate_renovation(em_db *db, const em_audit_who *who, const char *ref,
                               json_object *body, json_object **out, em_write_error *e) {
    clear(e);
    *out = NULL;
    renovation_row rows[15];
    int n = 0;
    if (read_items(body, rows, &n, e) < 0)
        return -1;
    if (begin(db, e) < 0)
        return -1;
    em_error err;
    long long id;
    char code[256];
    if (em_estate_resolve(db, ref, &id, code, sizeof code, &err) < 0) {
        from_error(e, &err);
        return abort_write(db);
    }
    json_object *before = em_renovation_items(db, code, &err), *after = NULL;
    if (!before) {
        from_error(e, &err);
        return abort_write(db);
    }
    int rc = -1;
    sqlite3_stmt *del = NULL, *ins = NULL;
    del = em_db_prepare(db, "DELETE FROM estate_renovation WHERE estate_code = ?", &err);
    ins = del ? em_db_prepare(db,
                              "INSERT INTO estate_renovation(estate_code, item_id, status,"
                              " budget_yuan, owners_share) VALUES (?1, ?2, ?3, ?4, ?5)",
                              &err)
              : NULL;
    if (!ins) {
        from_error(e, &err);
        goto done;
    }
    sqlite3_bind_text(del, 1, code, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(del) != SQLITE_DONE) {
        sql_fail(db, e, "replacing the renovation items", NULL, 0);
        goto done;
    }
    const em_layer *layer = em_layer_find("renovation");
    for (int i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        sqlite3_bind_text(ins, 1, code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, rows[i].item_id);
        for (int k = 1; k < 4; k++) {
            const em_column *col = em_layer_column(layer, renovation_members[k]);
            const char *text = rows[i].text[k];
            if (!text && col->fallback)
                text = col->fallback;
            if (bind_field(ins, k + 2, col, text, e) < 0) {
                char field[64];
                snprintf(field, sizeof field, "items[%d].%s", i, col->name);
                snprintf(e->field, sizeof e->field, "%s", field);
                goto done;
            }
        }
        if (sqlite3_step(ins) != SQLITE_DONE) {
            static const char *const names[] = {"budget_yuan", "owners_share", "status"};
            sql_fail(db, e, "storing a renovation item", names, 3);
            if (e->field[0]) {
                char field[64];
                snprintf(field, sizeof field, "items[%d].%.40s", i, e->field);
                snprintf(e->field, sizeof e->field, "%s", field);
            }
            goto done;
        }
    }
    after = em_renovation_items(db, code, &err);
    if (!after) {
        from_error(e, &err);
        goto done;
    }
    if (same_json(before, after)
            ? finish(db, e) < 0
            : audit_and_finish(db, who, "renovation", id, code, before, after, e) < 0)
        goto done;
    *out = json_object_new_object();
    json_object_object_add(*out, "estate_id", json_object_new_int64(id));
    json_object_object_add(*out, "estate_code", json_object_new_string(code));
    json_object_object_add(*out, "items", after);
    after = NULL;
    rc = 0;
done:
    if (rc < 0)
        em_db_rollback(db);
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    json_object_put(after);
    json_object_put(before);
    return rc;
}

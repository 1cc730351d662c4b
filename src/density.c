/* density.c -- violation density per estate, grid cell or town.
 *
 * Estates and grid cells count the reports linked to them (violations.estate_code
 * and grid_code, kept by links.c: a point on a shared boundary belongs to the
 * lowest id), so density agrees with every other view of the same reports. Towns
 * have no stored link, so each report is placed here by point in polygon in
 * lon/lat with the same rule. Areas are measured in EPSG:4549 (metric.h). */
#include "density.h"
#include "area_worker.h"
#include "metric.h"
#include "violation_filter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { BY_ESTATE, BY_GRID, BY_TOWN } unit_kind;

static const char *const unit_names[] = {"estate", "grid", "town"};

/* Column order per unit kind; the shared tail is count, area, rate, class. */
static const em_table_column estate_columns[] = {
    {"code", "小区编号", -1},      {"name", "小区名称", -1},
    {"town_code", "街镇代码", -1}, {"count", "违法数", -1},
    {"area_ha", "面积(公顷)", 2},  {"per_ha", "每公顷", 2},
    {"households", "户数", -1},    {"per_1000_households", "每千户", 2},
    {"class", "分级", -1},
};
static const em_table_column grid_columns[] = {
    {"code", "网格编号", -1}, {"community", "社区", -1},    {"town_code", "街镇代码", -1},
    {"count", "违法数", -1},  {"area_ha", "面积(公顷)", 2}, {"per_ha", "每公顷", 2},
    {"class", "分级", -1},
};
static const em_table_column town_columns[] = {
    {"code", "街镇代码", -1},     {"name", "街镇名称", -1}, {"count", "违法数", -1},
    {"area_ha", "面积(公顷)", 2}, {"per_ha", "每公顷", 2},  {"class", "分级", -1},
};

typedef struct {
    char *code, *name, *town; /* name is the community for grid cells */
    long long households;     /* -1: unknown */
    long long count;
    double area_m2;
    char *geojson;
    int cls;
} unit;

typedef struct {
    unit *items;
    int n, cap;
} unit_list;

static char *dup_text(sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? strdup(s) : NULL;
}

static void free_units(unit_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].code);
        free(l->items[i].name);
        free(l->items[i].town);
        free(l->items[i].geojson);
    }
    free(l->items);
}

static unit *new_unit(unit_list *l) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        unit *u = realloc(l->items, sizeof *u * (size_t)cap);
        if (!u)
            return NULL;
        l->items = u;
        l->cap = cap;
    }
    unit *u = &l->items[l->n++];
    memset(u, 0, sizeof *u);
    u->households = -1;
    return u;
}

/* ---------- quintiles ---------- */

void em_quintile_breaks(const double *sorted, int n, double breaks[4]) {
    for (int k = 1; k <= 4; k++) {
        if (n <= 0) {
            breaks[k - 1] = NAN;
            continue;
        }
        long rank = ((long)k * n + 4) / 5; /* ceil(k * n / 5), 1-based */
        breaks[k - 1] = sorted[rank - 1];
    }
}

int em_quintile_class(double rate, const double breaks[4]) {
    int cls = 1;
    for (int k = 0; k < 4; k++)
        if (rate > breaks[k])
            cls++;
    return cls;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rate_per_ha(const unit *u) {
    return u->area_m2 > 0 ? (double)u->count / (u->area_m2 / 10000.0) : NAN;
}

/* ---------- loading units ---------- */

typedef struct {
    unit_list *units;
    unit_kind by;
} area_target;

static void store_area(void *ctx, size_t index, double area, em_error *err) {
    area_target *a = ctx;
    unit *u = &a->units->items[index];
    if (err)
        em_error_prefix(err, "%s %s: ", unit_names[a->by], u->code ? u->code : "?");
    else
        u->area_m2 = area;
}

/* Estates and grid cells, each with its count of linked reports; their areas are
 * measured on a second thread (area_worker.h) while the rows are read. */
static int load_linked_units(em_db *db, const em_params *params, unit_kind by, const char *town,
                             const em_violation_filter *f, unit_list *out, em_error *err) {
    static const char estate_sql[] =
        "SELECT e.code, e.name, e.town_code, e.households, e.geom, CASE WHEN ?60 THEN "
        "AsGeoJSON(e.geom, 7) END,"
        " coalesce(c.n, 0) FROM estates e LEFT JOIN (SELECT estate_code, count(*) AS n"
        " FROM violations WHERE estate_code IS NOT NULL AND " EM_VIOLATION_FILTER_SQL
        " GROUP BY estate_code) c ON c.estate_code = e.code"
        " WHERE ?1 IS NULL OR e.town_code = ?1 ORDER BY e.code";
    static const char grid_sql[] =
        "SELECT g.code, g.community, g.town_code, NULL, g.geom, CASE WHEN ?60 THEN "
        "AsGeoJSON(g.geom, 7) END,"
        " coalesce(c.n, 0) FROM grid g LEFT JOIN (SELECT grid_code, count(*) AS n"
        " FROM violations WHERE grid_code IS NOT NULL AND " EM_VIOLATION_FILTER_SQL
        " GROUP BY grid_code) c ON c.grid_code = g.code"
        " WHERE ?1 IS NULL OR g.town_code = ?1 ORDER BY g.code";
    sqlite3_stmt *st = em_db_prepare(db, by == BY_ESTATE ? estate_sql : grid_sql, err);
    if (!st)
        return -1;
    em_params_bind_geometry(params, st);
    if (town)
        sqlite3_bind_text(st, 1, town, -1, SQLITE_STATIC);
    em_violation_filter_bind(f, st);
    area_target target = {out, by};
    em_area_worker *areas = em_area_worker_new(store_area, &target, err);
    if (!areas) {
        sqlite3_finalize(st);
        return -1;
    }
    int rc = SQLITE_DONE, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        unit *u = new_unit(out);
        if (!u) {
            failed = em_fail(err, EM_ERR_RUNTIME, "out of memory");
            break;
        }
        u->code = dup_text(st, 0);
        u->name = dup_text(st, 1);
        u->town = dup_text(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            u->households = sqlite3_column_int64(st, 3);
        u->geojson = dup_text(st, 5);
        u->count = sqlite3_column_int64(st, 6);
        failed = em_area_worker_add(areas, (size_t)(out->n - 1), sqlite3_column_blob(st, 4),
                                    sqlite3_column_bytes(st, 4), err);
    }
    if (!failed && rc != SQLITE_DONE)
        failed =
            em_fail(err, EM_ERR_RUNTIME, "reading %s: %s", unit_names[by], sqlite3_errmsg(db->sql));
    if (!failed)
        failed = em_area_worker_finish(areas, err);
    em_area_worker_free(areas);
    sqlite3_finalize(st);
    return failed ? -1 : 0;
}

/* Towns: every report goes to the lowest-id town whose polygon covers it. All
 * towns take part in the placement even when --town lists only one. */
static int load_towns(em_db *db, const em_params *params, const char *town,
                      const em_violation_filter *f, em_metric *m, unit_list *out, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db,
                                     "SELECT code, name, geom, CASE WHEN ?60 THEN "
                                     "AsGeoJSON(geom, 7) END FROM towns ORDER BY id",
                                     err);
    if (!st)
        return -1;
    em_params_bind_geometry(params, st);
    int n = 0, cap = 0, rc, failed = 0;
    em_shape *shapes = NULL;
    unit_list all = {0};
    em_shape metric_shape = {0};
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            em_shape *s = realloc(shapes, sizeof *s * (size_t)cap);
            if (!s) {
                failed = em_fail(err, EM_ERR_RUNTIME, "out of memory");
                break;
            }
            shapes = s;
        }
        memset(&shapes[n], 0, sizeof shapes[n]);
        n++;
        unit *u = new_unit(&all);
        if (!u) {
            failed = em_fail(err, EM_ERR_RUNTIME, "out of memory");
            break;
        }
        u->code = dup_text(st, 0);
        u->name = dup_text(st, 1);
        u->geojson = dup_text(st, 3);
        const void *blob = sqlite3_column_blob(st, 2);
        int size = sqlite3_column_bytes(st, 2);
        if (em_shape_from_blob(&shapes[n - 1], blob, size, err) < 0 ||
            em_shape_index(&shapes[n - 1], err) < 0 ||
            em_shape_from_blob(&metric_shape, blob, size, err) < 0 ||
            em_shape_project(&metric_shape, m, err) < 0) {
            em_error_prefix(err, "town %s: ", u->code ? u->code : "?");
            failed = -1;
            break;
        }
        u->area_m2 = em_shape_area(&metric_shape);
    }
    if (!failed && rc != SQLITE_DONE)
        failed = em_fail(err, EM_ERR_RUNTIME, "reading towns: %s", sqlite3_errmsg(db->sql));
    sqlite3_finalize(st);
    em_shape_free(&metric_shape);

    if (!failed) {
        st = em_db_prepare(db,
                           "SELECT ST_X(geom), ST_Y(geom) FROM violations WHERE "
                           "geom IS NOT NULL AND " EM_VIOLATION_FILTER_SQL,
                           err);
        failed = st ? 0 : -1;
    } else {
        st = NULL;
    }
    if (!failed) {
        em_violation_filter_bind(f, st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            double x = sqlite3_column_double(st, 0), y = sqlite3_column_double(st, 1);
            for (int i = 0; i < n; i++)
                if (em_shape_covers(&shapes[i], x, y)) {
                    all.items[i].count++;
                    break;
                }
        }
        if (rc != SQLITE_DONE)
            failed =
                em_fail(err, EM_ERR_RUNTIME, "reading violations: %s", sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
    }
    for (int i = 0; i < n; i++)
        em_shape_free(&shapes[i]);
    free(shapes);
    /* keep the requested towns, ordered by code */
    for (int i = 0; i < all.n && !failed; i++) {
        if (town && (!all.items[i].code || strcmp(all.items[i].code, town) != 0))
            continue;
        unit *u = new_unit(out);
        if (!u) {
            failed = em_fail(err, EM_ERR_RUNTIME, "out of memory");
            break;
        }
        *u = all.items[i];
        memset(&all.items[i], 0, sizeof all.items[i]);
    }
    free_units(&all);
    return failed ? -1 : 0;
}

static int cmp_unit_code(const void *a, const void *b) {
    const unit *x = a, *y = b;
    return strcmp(x->code ? x->code : "", y->code ? y->code : "");
}

/* ---------- the analysis ---------- */

static int parse_by(const em_params *p, unit_kind *by, em_error *err) {
    const char *v = em_params_get(p, "by");
    *by = BY_GRID;
    if (!v)
        return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, unit_names[i]) == 0)
            return *by = (unit_kind)i, 0;
    return em_fail(err, EM_ERR_USAGE, "by: '%s' is not estate, grid or town", v);
}

static long long count_matching(em_db *db, const em_violation_filter *f, em_error *err) {
    sqlite3_stmt *st =
        em_db_prepare(db, "SELECT count(*) FROM violations WHERE " EM_VIOLATION_FILTER_SQL, err);
    if (!st)
        return -1;
    em_violation_filter_bind(f, st);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (n < 0)
        em_fail(err, EM_ERR_RUNTIME, "counting violations: %s", sqlite3_errmsg(db->sql));
    sqlite3_finalize(st);
    return n;
}

static json_object *json_number_or_null(double v) {
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static em_table *run_density(em_db *db, const em_params *params, em_error *err) {
    static const char *const allowed[] = {"by", "town", EM_VIOLATION_FILTER_KEYS, NULL};
    unit_kind by;
    em_violation_filter f;
    if (em_params_check(params, allowed, err) < 0 || parse_by(params, &by, err) < 0)
        return NULL;
    const char *town = NULL;
    if (em_params_town(db, params, &town, err) < 0)
        return NULL;
    if (em_violation_filter_parse(db, params, &f, err) < 0)
        return NULL;

    em_table *t = NULL;
    unit_list units = {0};
    double *rates = NULL;
    int ok = 0;
    /* towns are measured here; estates and cells by the area worker's own metric */
    em_metric *m = by == BY_TOWN ? em_metric_new(err) : NULL;
    long long matching = by != BY_TOWN || m ? count_matching(db, &f, err) : -1;
    if (matching < 0)
        goto done;
    if ((by == BY_TOWN ? load_towns(db, params, town, &f, m, &units, err)
                       : load_linked_units(db, params, by, town, &f, &units, err)) < 0)
        goto done;
    if (by == BY_TOWN && units.n > 1)
        if (units.n > 0)
            qsort(units.items, (size_t)units.n, sizeof *units.items, cmp_unit_code);

    /* classes over the units' rates per hectare */
    rates = malloc(sizeof *rates * ((size_t)units.n + 1));
    if (!rates) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    int nrates = 0;
    long long counted = 0;
    for (int i = 0; i < units.n; i++) {
        counted += units.items[i].count;
        double r = rate_per_ha(&units.items[i]);
        if (isfinite(r))
            rates[nrates++] = r;
    }
    if (nrates > 0)
        qsort(rates, (size_t)nrates, sizeof *rates, cmp_double);
    double breaks[4];
    em_quintile_breaks(rates, nrates, breaks);
    int class_counts[5] = {0};

    const em_table_column *cols = by == BY_ESTATE ? estate_columns
                                  : by == BY_GRID ? grid_columns
                                                  : town_columns;
    int ncols = by == BY_ESTATE ? (int)(sizeof estate_columns / sizeof estate_columns[0])
                : by == BY_GRID ? (int)(sizeof grid_columns / sizeof grid_columns[0])
                                : (int)(sizeof town_columns / sizeof town_columns[0]);
    t = em_table_new(cols, ncols);
    if (!t) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < units.n; i++) {
        const unit *u = &units.items[i];
        double r = rate_per_ha(u);
        int c = 0;
        em_table_add_row(t);
        em_table_set_text(t, c++, u->code);
        em_table_set_text(t, c++, u->name);
        if (by != BY_TOWN)
            em_table_set_text(t, c++, u->town);
        em_table_set_int(t, c++, u->count);
        em_table_set_real(t, c++, u->area_m2 / 10000.0);
        em_table_set_real(t, c++, r);
        if (by == BY_ESTATE) {
            if (u->households >= 0)
                em_table_set_int(t, c, u->households);
            c++;
            if (u->households > 0)
                em_table_set_real(t, c, (double)u->count * 1000.0 / (double)u->households);
            c++;
        }
        if (isfinite(r)) {
            int cls = em_quintile_class(r, breaks);
            class_counts[cls - 1]++;
            em_table_set_int(t, c, cls);
        }
        em_table_set_geometry(t, u->geojson);
    }

    json_object *s = em_table_summary(t);
    json_object_object_add(s, "by", json_object_new_string(unit_names[by]));
    json_object_object_add(s, "town", town ? json_object_new_string(town) : NULL);
    json_object_object_add(s, "units", json_object_new_int(units.n));
    json_object_object_add(s, "violations", json_object_new_int64(matching));
    json_object_object_add(s, "in_units", json_object_new_int64(counted));
    json_object_object_add(s, "outside_units", json_object_new_int64(matching - counted));
    json_object_object_add(s, "filter", json_object_get(f.summary));
    json_object *jb = json_object_new_array(), *jc = json_object_new_array();
    for (int k = 0; k < 4; k++)
        json_object_array_add(jb, json_number_or_null(breaks[k]));
    for (int k = 0; k < 5; k++)
        json_object_array_add(jc, json_object_new_int(class_counts[k]));
    json_object_object_add(s, "class_rate", json_object_new_string("per_ha"));
    json_object_object_add(s, "class_breaks", jb);
    json_object_object_add(s, "class_counts", jc);
    json_object_object_add(s, "crs", json_object_new_string(EM_METRIC_CRS));
    ok = 1;
done:
    free(rates);
    free_units(&units);
    em_metric_free(m);
    em_violation_filter_free(&f);
    if (!ok) {
        em_table_free(t);
        return NULL;
    }
    return t;
}

const em_analysis em_analysis_density = {
    .name = "density",
    .run = run_density,
    .summary = "violation density per estate, grid cell or town, in quintile classes",
    .help =
        "  --by UNIT         estate, grid (default) or town\n"
        "  --town CODE       only the units of this town (9-digit code); classes are\n"
        "                    then quintiles over that town's units\n" EM_VIOLATION_FILTER_HELP "\n"
        "Estates and grid cells count the reports linked to them (a report on a shared\n"
        "boundary belongs to the lowest id); towns count the reports their polygon\n"
        "covers, by the same rule. Every unit is listed, with 0 when it has none.\n"
        "per_ha is the count per hectare of the unit's area in EPSG:4549; estates also\n"
        "give per_1000_households. class is the quintile (1-5) of per_ha over the listed\n"
        "units: class k ends at the rate of rank ceil(k*n/5), equal rates always share\n"
        "the lower class, so with many ties (zeros) some classes stay empty. The\n"
        "summary gives the totals and the class breaks.\n",
    .has_geometry = 1,
};

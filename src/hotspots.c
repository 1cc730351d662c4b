/* hotspots.c -- Getis-Ord Gi* over grid cells.
 *
 * Counts per cell are the reports linked to the cell (violations.grid_code, as in
 * density --by grid, with the same filters). Cell centroids are projected to
 * EPSG:4549 once (metric.h); the neighbours within the band are found through a
 * bucket grid of the centroids, so 40,000 cells and a 500 m band (about 80
 * neighbours each) take milliseconds. No neighbour lists are stored: each cell's
 * sums are taken as its neighbours are found. */
#include "hotspots.h"
#include "fields.h"
#include "metric.h"
#include "violation_filter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the statistic ---------- */

typedef struct {
    double x0, y0, size;
    int nx, ny;
    int *start, *items; /* CSR: the points in each bucket */
} buckets;

static int bucket_points(int n, const double *x, const double *y, double band, buckets *b) {
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int i = 0; i < n; i++) {
        minx = x[i] < minx ? x[i] : minx;
        maxx = x[i] > maxx ? x[i] : maxx;
        miny = y[i] < miny ? y[i] : miny;
        maxy = y[i] > maxy ? y[i] : maxy;
    }
    /* buckets at least a band wide, and never more than about 1024 x 1024 */
    double extent = fmax(maxx - minx, maxy - miny);
    b->size = fmax(band, extent / 1024.0);
    if (!(b->size > 0))
        b->size = 1;
    b->x0 = minx;
    b->y0 = miny;
    b->nx = (int)floor((maxx - minx) / b->size) + 1;
    b->ny = (int)floor((maxy - miny) / b->size) + 1;
    size_t nb = (size_t)b->nx * (size_t)b->ny;
    b->start = calloc(nb + 1, sizeof(int));
    b->items = malloc(sizeof(int) * ((size_t)n + 1));
    int *fill = calloc(nb + 1, sizeof(int));
    if (!b->start || !b->items || !fill) {
        free(fill);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t k = (size_t)floor((y[i] - miny) / b->size) * (size_t)b->nx +
                   (size_t)floor((x[i] - minx) / b->size);
        b->start[k + 1]++;
    }
    for (size_t k = 0; k < nb; k++)
        b->start[k + 1] += b->start[k];
    memcpy(fill, b->start, sizeof(int) * (nb + 1));
    for (int i = 0; i < n; i++) {
        size_t k = (size_t)floor((y[i] - miny) / b->size) * (size_t)b->nx +
                   (size_t)floor((x[i] - minx) / b->size);
        b->items[fill[k]++] = i;
    }
    free(fill);
    return 0;
}

int em_gi_star(int n, const double *x, const double *y, const double *v, double band, double *z,
               int *neighbours) {
    if (n <= 0)
        return 0;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        sum += v[i];
        sum2 += v[i] * v[i];
    }
    double mean = sum / n;
    double var = sum2 / n - mean * mean;
    double sd = var > 0 ? sqrt(var) : 0;
    buckets b = {0};
    if (bucket_points(n, x, y, band, &b) < 0) {
        free(b.start);
        free(b.items);
        return -1;
    }
    int reach = (int)ceil(band / b.size);
    double band2 = band * band;
    for (int i = 0; i < n; i++) {
        int bx = (int)floor((x[i] - b.x0) / b.size), by = (int)floor((y[i] - b.y0) / b.size);
        double local = 0;
        int w = 0;
        for (int cy = by - reach; cy <= by + reach; cy++) {
            if (cy < 0 || cy >= b.ny)
                continue;
            for (int cx = bx - reach; cx <= bx + reach; cx++) {
                if (cx < 0 || cx >= b.nx)
                    continue;
                size_t k = (size_t)cy * (size_t)b.nx + (size_t)cx;
                for (int j = b.start[k]; j < b.start[k + 1]; j++) {
                    int p = b.items[j];
                    double dx = x[p] - x[i], dy = y[p] - y[i];
                    if (dx * dx + dy * dy <= band2) {
                        local += v[p];
                        w++;
                    }
                }
            }
        }
        if (neighbours)
            neighbours[i] = w;
        double spread = n > 1 ? ((double)n * w - (double)w * w) / (n - 1) : 0;
        z[i] = sd > 0 && spread > 0 ? (local - mean * w) / (sd * sqrt(spread)) : NAN;
    }
    free(b.start);
    free(b.items);
    return 0;
}

double em_normal_p_two_sided(double z) {
    return isnan(z) ? NAN : erfc(fabs(z) / sqrt(2.0));
}

const char *em_gi_class(double z, double p) {
    if (isnan(z) || isnan(p) || z == 0)
        return "not_significant";
    int hot = z > 0;
    if (p < 0.01)
        return hot ? "hot_99" : "cold_99";
    if (p < 0.05)
        return hot ? "hot_95" : "cold_95";
    if (p < 0.10)
        return hot ? "hot_90" : "cold_90";
    return "not_significant";
}

/* ---------- the analysis ---------- */

static const em_table_column columns[] = {
    {"code", "网格编号", -1}, {"town_code", "街镇代码", -1},
    {"count", "违法数", -1},  {"neighbours", "邻域网格数", -1},
    {"z_score", "Z得分", 3},  {"p_value", "P值", 4},
    {"class", "类别", -1},
};
enum { COL_CODE, COL_TOWN, COL_COUNT, COL_NEIGHBOURS, COL_Z, COL_P, COL_CLASS, NCOLS };

static const char *const class_names[] = {"hot_99",  "hot_95",  "hot_90",         "cold_99",
                                          "cold_95", "cold_90", "not_significant"};

typedef struct {
    char *code, *town, *geojson;
} cell;

static int parse_band(const em_params *p, double *band, em_error *err) {
    const char *v = em_params_get(p, "band");
    *band = EM_HOTSPOT_BAND_DEFAULT;
    if (!v)
        return 0;
    /* em_parse_real reads "50%" as 0.5: a percentage is no distance */
    if (strchr(v, '%') || em_parse_real(v, band) < 0 || !(*band > 0) || *band > EM_HOTSPOT_BAND_MAX)
        return em_fail(err, EM_ERR_USAGE,
                       "band: '%s' is not a distance in metres above 0 and at most %g", v,
                       EM_HOTSPOT_BAND_MAX);
    return 0;
}

static em_table *run_hotspots(em_db *db, const em_params *params, em_error *err) {
    static const char *const allowed[] = {"band", EM_VIOLATION_FILTER_KEYS, NULL};
    double band;
    em_violation_filter f;
    if (em_params_check(params, allowed, err) < 0 || parse_band(params, &band, err) < 0 ||
        em_violation_filter_parse(db, params, &f, err) < 0)
        return NULL;

    em_table *t = NULL;
    sqlite3_stmt *st = NULL;
    em_shape shape = {0};
    cell *cells = NULL;
    double *x = NULL, *y = NULL, *v = NULL, *z = NULL;
    int *w = NULL;
    int n = 0, cap = 0, ok = 0, rc;
    long long matching = 0;
    em_metric *m = em_metric_new(err);
    if (!m)
        goto done;

    st = em_db_prepare(db, "SELECT count(*) FROM violations WHERE " EM_VIOLATION_FILTER_SQL, err);
    if (!st)
        goto done;
    em_violation_filter_bind(&f, st);
    matching = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);

    st = em_db_prepare(db,
                       "SELECT g.code, g.town_code, g.geom, CASE WHEN ?60 THEN "
                       "AsGeoJSON(g.geom, 7) END, coalesce(c.n, 0)"
                       " FROM grid g LEFT JOIN (SELECT grid_code, count(*) AS n FROM violations"
                       " WHERE grid_code IS NOT NULL AND " EM_VIOLATION_FILTER_SQL
                       " GROUP BY grid_code) c ON c.grid_code = g.code ORDER BY g.code",
                       err);
    if (!st)
        goto done;
    em_params_bind_geometry(params, st);
    em_violation_filter_bind(&f, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            cell *c2 = realloc(cells, sizeof *c2 * (size_t)cap);
            double *x2 = realloc(x, sizeof *x2 * (size_t)cap);
            double *y2 = x2 ? realloc(y, sizeof *y2 * (size_t)cap) : NULL;
            double *v2 = y2 ? realloc(v, sizeof *v2 * (size_t)cap) : NULL;
            cells = c2 ? c2 : cells;
            x = x2 ? x2 : x;
            y = y2 ? y2 : y;
            v = v2 ? v2 : v;
            if (!c2 || !x2 || !y2 || !v2) {
                em_fail(err, EM_ERR_RUNTIME, "out of memory");
                goto done;
            }
        }
        cell *c = &cells[n];
        const char *code = (const char *)sqlite3_column_text(st, 0);
        const char *town = (const char *)sqlite3_column_text(st, 1);
        const char *gj = (const char *)sqlite3_column_text(st, 3);
        c->code = code ? strdup(code) : NULL;
        c->town = town ? strdup(town) : NULL;
        c->geojson = gj ? strdup(gj) : NULL;
        v[n] = (double)sqlite3_column_int64(st, 4);
        n++;
        if (em_shape_from_blob(&shape, sqlite3_column_blob(st, 2), sqlite3_column_bytes(st, 2),
                               err) < 0 ||
            em_shape_project(&shape, m, err) < 0) {
            em_error_prefix(err, "grid cell %s: ", code ? code : "?");
            goto done;
        }
        em_shape_centroid(&shape, &x[n - 1], &y[n - 1]);
    }
    if (rc != SQLITE_DONE) {
        em_fail(err, EM_ERR_RUNTIME, "reading grid: %s", sqlite3_errmsg(db->sql));
        goto done;
    }

    z = malloc(sizeof *z * ((size_t)n + 1));
    w = malloc(sizeof *w * ((size_t)n + 1));
    if (!z || !w || em_gi_star(n, x, y, v, band, z, w) < 0) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }

    t = em_table_new(columns, NCOLS);
    if (!t) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    int class_counts[7] = {0}, wmin = n ? w[0] : 0, wmax = 0;
    double total = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        double p = em_normal_p_two_sided(z[i]);
        const char *cls = em_gi_class(z[i], p);
        for (int k = 0; k < 7; k++)
            if (strcmp(cls, class_names[k]) == 0)
                class_counts[k]++;
        total += v[i];
        sum2 += v[i] * v[i];
        wmin = w[i] < wmin ? w[i] : wmin;
        wmax = w[i] > wmax ? w[i] : wmax;
        em_table_add_row(t);
        em_table_set_text(t, COL_CODE, cells[i].code);
        em_table_set_text(t, COL_TOWN, cells[i].town);
        em_table_set_int(t, COL_COUNT, (long long)v[i]);
        em_table_set_int(t, COL_NEIGHBOURS, w[i]);
        em_table_set_real(t, COL_Z, z[i]);
        em_table_set_real(t, COL_P, p);
        em_table_set_text(t, COL_CLASS, cls);
        em_table_set_geometry(t, cells[i].geojson);
    }
    json_object *s = em_table_summary(t);
    double mean = n ? total / n : NAN;
    double var = n ? sum2 / n - mean * mean : NAN;
    json_object_object_add(s, "band_m", json_object_new_double(band));
    json_object_object_add(s, "cells", json_object_new_int(n));
    json_object_object_add(s, "violations", json_object_new_int64(matching));
    json_object_object_add(s, "in_cells", json_object_new_int64((long long)total));
    json_object_object_add(s, "outside_cells", json_object_new_int64(matching - (long long)total));
    json_object_object_add(s, "mean", isfinite(mean) ? json_object_new_double(mean) : NULL);
    json_object_object_add(s, "sd",
                           isfinite(var) ? json_object_new_double(var > 0 ? sqrt(var) : 0) : NULL);
    json_object_object_add(s, "neighbours_min", json_object_new_int(wmin));
    json_object_object_add(s, "neighbours_max", json_object_new_int(wmax));
    json_object *classes = json_object_new_object();
    for (int k = 0; k < 7; k++)
        json_object_object_add(classes, class_names[k], json_object_new_int(class_counts[k]));
    json_object_object_add(s, "classes", classes);
    json_object_object_add(s, "filter", json_object_get(f.summary));
    json_object_object_add(s, "crs", json_object_new_string(EM_METRIC_CRS));
    ok = 1;
done:
    sqlite3_finalize(st);
    em_shape_free(&shape);
    for (int i = 0; i < n; i++) {
        free(cells[i].code);
        free(cells[i].town);
        free(cells[i].geojson);
    }
    free(cells);
    free(x);
    free(y);
    free(v);
    free(z);
    free(w);
    em_metric_free(m);
    em_violation_filter_free(&f);
    if (!ok) {
        em_table_free(t);
        return NULL;
    }
    return t;
}

const em_analysis em_analysis_hotspots = {
    .name = "hotspots",
    .run = run_hotspots,
    .summary = "hot and cold spots of violation reports over the grid cells (Getis-Ord Gi*)",
    .help = "  --band METRES     distance band: cells whose centroids are this close are\n"
            "                    neighbours (default 500; at most 50000)\n" EM_VIOLATION_FILTER_HELP
            "\n"
            "Counts are the reports linked to each grid cell (as density --by grid). Gi*\n"
            "uses binary weights on centroid distance in EPSG:4549, the cell itself\n"
            "included. z_score is Gi*; p_value is two-sided (standard normal); class is\n"
            "hot_99/hot_95/hot_90 or cold_99/cold_95/cold_90 for p under 0.01/0.05/0.10,\n"
            "else not_significant (also when z is undefined: all counts equal). p-values\n"
            "are not corrected for multiple testing. Every cell is listed; GeoJSON\n"
            "features are the cell polygons.\n",
    .has_geometry = 1,
};

/* Geometry in metres (metric.h): the stated PROJ pipeline is the one PROJ picks
 * for EPSG:4326 -> EPSG:4549, and the planar measures give the answers worked out
 * by hand on small shapes. */
#include "area_worker.h"
#include "metric.h"
#include "testutil.h"

#include <math.h>
#include <proj.h>
#include <stdio.h>
#include <string.h>

static em_db *db;
static char db_path[512];

static void setup(void) {
    db = testutil_new_db(0, db_path, sizeof db_path);
}

static void teardown(void) {
    testutil_remove_db(db, db_path);
}

static void shape_from_wkt(const char *wkt, em_shape *s) {
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db->sql, "SELECT GeomFromText(?, 4326)", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, wkt, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    em_error err = {0};
    ck_assert_msg(
        em_shape_from_blob(s, sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), &err) == 0,
        "%s: %s", wkt, err.message);
    sqlite3_finalize(st);
}

START_TEST(pipeline_is_what_proj_picks) {
    PJ_CONTEXT *ctx = proj_context_create();
    PJ *raw = proj_create_crs_to_crs(ctx, "EPSG:4326", "EPSG:4549", NULL);
    ck_assert_ptr_nonnull(raw);
    PJ *norm = proj_normalize_for_visualization(ctx, raw);
    em_error err = {0};
    em_metric *m = em_metric_new(&err);
    ck_assert_msg(m != NULL, "%s", err.message);
    for (double lon = 121.25; lon <= 121.65; lon += 0.05)
        for (double lat = 30.95; lat <= 31.30; lat += 0.05) {
            PJ_COORD c = proj_trans(norm, PJ_FWD, proj_coord(lon, lat, 0, 0));
            double xy[2] = {lon, lat};
            ck_assert_int_eq(em_metric_forward(m, xy, 1, &err), 0);
            ck_assert_double_eq_tol(xy[0], c.xy.x, 1e-6);
            ck_assert_double_eq_tol(xy[1], c.xy.y, 1e-6);
        }
    /* a known point: 121.4E 31.1N */
    double xy[2] = {121.4, 31.1};
    em_metric_forward(m, xy, 1, &err);
    ck_assert_double_eq_tol(xy[0], 633572.48, 0.01);
    ck_assert_double_eq_tol(xy[1], 3442904.39, 0.01);
    em_metric_free(m);
    proj_destroy(norm);
    proj_destroy(raw);
    proj_context_destroy(ctx);
}
END_TEST

START_TEST(area_and_centroid) {
    em_shape s = {0};
    /* 100 x 100 with a 20 x 20 hole: 9,600; plus a separate 10 x 10 square */
    shape_from_wkt("MULTIPOLYGON(((0 0,100 0,100 100,0 100,0 0),(10 10,10 30,30 30,30 10,10 10)),"
                   "((200 0,210 0,210 10,200 10,200 0)))",
                   &s);
    ck_assert_double_eq_tol(em_shape_area(&s), 9600 + 100, 1e-9);
    /* an L: 0..20 x 0..10 plus 0..10 x 10..20; centroid (25/3, 25/3) */
    shape_from_wkt("POLYGON((0 0,20 0,20 10,10 10,10 20,0 20,0 0))", &s);
    double x, y;
    em_shape_centroid(&s, &x, &y);
    ck_assert_double_eq_tol(x, 25.0 / 3, 1e-9);
    ck_assert_double_eq_tol(y, 25.0 / 3, 1e-9);
    ck_assert_double_eq_tol(em_shape_area(&s), 300, 1e-9);
    /* far from the origin (projected coordinates are millions of metres) */
    shape_from_wkt("POLYGON((633000 3442000,633100 3442000,633100 3442100,633000 3442100,"
                   "633000 3442000))",
                   &s);
    ck_assert_double_eq_tol(em_shape_area(&s), 10000, 1e-6);
    em_shape_centroid(&s, &x, &y);
    ck_assert_double_eq_tol(x, 633050, 1e-6);
    ck_assert_double_eq_tol(y, 3442050, 1e-6);
    /* lines have no area */
    shape_from_wkt("LINESTRING(0 0,10 0)", &s);
    ck_assert_double_eq(em_shape_area(&s), 0);
    em_shape_free(&s);
}
END_TEST

START_TEST(covers_boundary_and_holes) {
    em_shape s = {0};
    shape_from_wkt("POLYGON((0 0,100 0,100 100,0 100,0 0),(10 10,10 30,30 30,30 10,10 10))", &s);
    ck_assert_int_eq(em_shape_covers(&s, 50, 50), 1);
    ck_assert_int_eq(em_shape_covers(&s, 20, 20), 0);  /* in the hole */
    ck_assert_int_eq(em_shape_covers(&s, 10, 20), 1);  /* on the hole's edge */
    ck_assert_int_eq(em_shape_covers(&s, 100, 50), 1); /* on the outer edge */
    ck_assert_int_eq(em_shape_covers(&s, 0, 0), 1);    /* a vertex */
    ck_assert_int_eq(em_shape_covers(&s, 100.000001, 50), 0);
    ck_assert_int_eq(em_shape_covers(&s, -5, 50), 0);
    em_shape_free(&s);
}
END_TEST

/* The strip index answers exactly as the full scan, on a 400-gon with a hole. */
START_TEST(covers_index_agrees_with_scan) {
    char wkt[40000];
    size_t used = (size_t)snprintf(wkt, sizeof wkt, "POLYGON((");
    for (int i = 0; i <= 400; i++) {
        double a = 2 * M_PI * (i % 400) / 400, r = 100 + 30 * sin(7 * a);
        used += (size_t)snprintf(wkt + used, sizeof wkt - used, "%s%.6f %.6f", i ? "," : "",
                                 r * cos(a), r * sin(a));
    }
    snprintf(wkt + used, sizeof wkt - used, "),(-5 -5,-5 5,5 5,5 -5,-5 -5))");
    em_shape plain = {0}, indexed = {0};
    shape_from_wkt(wkt, &plain);
    shape_from_wkt(wkt, &indexed);
    em_error err = {0};
    ck_assert_int_eq(em_shape_index(&indexed, &err), 0);
    ck_assert_int_gt(indexed.nstrips, 0);
    int inside = 0;
    for (double x = -140; x <= 140; x += 1.7)
        for (double y = -140; y <= 140; y += 1.3) {
            int a = em_shape_covers(&plain, x, y), b = em_shape_covers(&indexed, x, y);
            ck_assert_msg(a == b, "(%g, %g): scan %d, index %d", x, y, a, b);
            inside += a;
        }
    ck_assert_int_gt(inside, 100);
    ck_assert_int_eq(em_shape_covers(&indexed, 0, 0), 0);
    ck_assert_int_eq(em_shape_covers(&indexed, 5, 0), 1);
    em_shape_free(&plain);
    em_shape_free(&indexed);
}
END_TEST

START_TEST(distances) {
    ck_assert_double_eq_tol(em_point_segment_distance(5, 3, 0, 0, 10, 0), 3, 1e-12);
    ck_assert_double_eq_tol(em_point_segment_distance(13, 4, 0, 0, 10, 0), 5, 1e-12);
    ck_assert_double_eq_tol(em_point_segment_distance(1, 1, 2, 2, 2, 2), sqrt(2), 1e-12);
    ck_assert_double_eq(em_segment_distance(0, 0, 10, 10, 0, 10, 10, 0), 0); /* crossing */
    ck_assert_double_eq(em_segment_distance(0, 0, 10, 0, 10, 0, 20, 5), 0);  /* touching */
    ck_assert_double_eq_tol(em_segment_distance(0, 0, 10, 0, 0, 5, 10, 5), 5, 1e-12);
    ck_assert_double_eq_tol(em_segment_distance(0, 0, 10, 0, 13, -4, 13, 4), 3, 1e-12);

    em_shape s = {0};
    shape_from_wkt("POLYGON((0 0,100 0,100 100,0 100,0 0))", &s);
    ck_assert_double_eq_tol(em_shape_segment_distance(&s, 150, -50, 150, 150), 50, 1e-12);
    ck_assert_double_eq(em_shape_segment_distance(&s, 50, 50, 60, 60), 0);   /* inside */
    ck_assert_double_eq(em_shape_segment_distance(&s, -10, 50, 110, 50), 0); /* across */
    ck_assert_double_eq_tol(em_shape_segment_distance(&s, 103, 104, 110, 104), 5, 1e-12);
    shape_from_wkt("LINESTRING(0 0,100 0)", &s);
    ck_assert_double_eq_tol(em_shape_segment_distance(&s, 50, 10, 60, 10), 10, 1e-12);
    ck_assert_double_eq_tol(em_shape_segment_distance(&s, 50, 10, 50, 10), 10, 1e-12);
    ck_assert_double_eq(em_box_gap(0, 0, 1, 1, 0.5, 0.5, 3, 3), 0);
    ck_assert_double_eq_tol(em_box_gap(0, 0, 1, 1, 4, 5, 6, 6), 5, 1e-12);
    em_shape_free(&s);
}
END_TEST

START_TEST(projected_shape) {
    em_shape s = {0};
    /* a square of 0.001 degrees at 31.1N: about 95.3 m by 110.9 m */
    shape_from_wkt("POLYGON((121.4 31.1,121.401 31.1,121.401 31.101,121.4 31.101,121.4 31.1))", &s);
    em_error err = {0};
    em_metric *m = em_metric_new(&err);
    ck_assert_int_eq(em_shape_project(&s, m, &err), 0);
    ck_assert_double_eq_tol(s.xy[0], 633572.48, 0.01); /* the first vertex, 121.4E 31.1N */
    ck_assert_double_eq_tol(s.xy[1], 3442904.39, 0.01);
    double area = em_shape_area(&s);
    ck_assert_msg(area > 95.0 * 110.5 && area < 95.6 * 111.2, "area %f", area);
    em_metric_free(m);
    em_shape_free(&s);
}
END_TEST

/* What the area worker hands back, by index. */
typedef struct {
    double area[5000];
    int calls[5000];
    size_t last, failed_at;
    int in_order, failures;
    char message[sizeof(em_error){0}.message];
} areas_seen;

static void store(void *ctx, size_t index, double area, em_error *err) {
    areas_seen *a = ctx;
    ck_assert_uint_lt(index, 5000);
    if (err) {
        a->failures++;
        a->failed_at = index;
        em_error_prefix(err, "cell %zu: ", index);
        snprintf(a->message, sizeof a->message, "%s", err->message);
        return;
    }
    a->in_order &= a->calls[index] == 0 && (index == 0 || index == a->last + 1);
    a->last = index;
    a->calls[index]++;
    a->area[index] = area;
}

/* Square i: 0.001 degrees a side, further north with i (so every area differs). */
static void square_blob(int i, sqlite3_stmt *st) {
    char wkt[160];
    double x = 121.3 + 0.0001 * (i % 100), y = 31.0 + 0.0004 * i;
    snprintf(wkt, sizeof wkt, "POLYGON((%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f))", x, y,
             x + 0.001, y, x + 0.001, y + 0.001, x, y + 0.001, x, y);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, wkt, -1, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
}

START_TEST(area_worker_matches_direct_measure) {
    static areas_seen seen;
    memset(&seen, 0, sizeof seen);
    seen.in_order = 1;
    em_error err = {0};
    em_metric *m = em_metric_new(&err);
    em_area_worker *w = em_area_worker_new(store, &seen, &err);
    ck_assert_msg(m && w, "%s", err.message);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db->sql, "SELECT GeomFromText(?, 4326)", -1, &st, NULL);
    em_shape shape = {0};
    double expected[5000];
    int n = 4999; /* two full batches and a part of one */
    for (int i = 0; i < n; i++) {
        square_blob(i, st);
        const void *blob = sqlite3_column_blob(st, 0);
        int size = sqlite3_column_bytes(st, 0);
        ck_assert_int_eq(em_shape_from_blob(&shape, blob, size, &err), 0);
        ck_assert_int_eq(em_shape_project(&shape, m, &err), 0);
        expected[i] = em_shape_area(&shape);
        ck_assert_int_eq(em_area_worker_add(w, (size_t)i, blob, size, &err), 0);
    }
    ck_assert_int_eq(em_area_worker_finish(w, &err), 0);
    em_area_worker_free(w);
    ck_assert(seen.in_order);
    ck_assert_int_eq(seen.failures, 0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(seen.calls[i], 1);
        ck_assert(seen.area[i] == expected[i]); /* the same computation, to the bit */
    }
    ck_assert(expected[0] != expected[n - 1]);

    /* a broken BLOB in the second batch: the error names it, via store */
    memset(&seen, 0, sizeof seen);
    seen.in_order = 1;
    w = em_area_worker_new(store, &seen, &err);
    int rc = 0, i;
    for (i = 0; i < n && rc == 0; i++) {
        square_blob(i, st);
        unsigned char broken[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        rc = i == 3000 ? em_area_worker_add(w, (size_t)i, broken, sizeof broken, &err)
                       : em_area_worker_add(w, (size_t)i, sqlite3_column_blob(st, 0),
                                            sqlite3_column_bytes(st, 0), &err);
    }
    if (rc == 0)
        rc = em_area_worker_finish(w, &err);
    em_area_worker_free(w);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(seen.failures, 1);
    ck_assert_uint_eq(seen.failed_at, 3000);
    ck_assert_msg(strncmp(err.message, "cell 3000: ", 11) == 0, "%s", err.message);
    /* an empty run, and a worker freed without finishing, are fine */
    w = em_area_worker_new(store, &seen, &err);
    ck_assert_int_eq(em_area_worker_finish(w, &err), 0);
    em_area_worker_free(w);
    w = em_area_worker_new(store, &seen, &err);
    square_blob(1, st);
    em_area_worker_add(w, 1, sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), &err);
    em_area_worker_free(w);
    sqlite3_finalize(st);
    em_shape_free(&shape);
    em_metric_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("metric");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pipeline_is_what_proj_picks);
    tcase_add_test(tc, area_and_centroid);
    tcase_add_test(tc, covers_boundary_and_holes);
    tcase_add_test(tc, covers_index_agrees_with_scan);
    tcase_add_test(tc, distances);
    tcase_add_test(tc, projected_shape);
    tcase_add_test(tc, area_worker_matches_direct_measure);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

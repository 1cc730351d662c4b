/* A bulk-loaded R*Tree must hold exactly what SQLite's row-by-row inserts store,
 * pass SQLite's rtreecheck(), answer queries alike, and stay updatable; a layer's
 * spatial index brought up to date must pass SpatiaLite's CheckSpatialIndex(). */
#include "rtree_bulk.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3_stmt *prepare(em_db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db->sql));
    return st;
}

static void exec(em_db *db, const char *sql) {
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db->sql, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
}

static const char *text(em_db *db, const char *sql, char *out, size_t outlen) {
    sqlite3_stmt *st = prepare(db, sql);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Deterministic boxes around Minhang, points and small rectangles mixed. */
static void make_boxes(em_rtree_entry *e, size_t n) {
    unsigned long long s = 42;
    for (size_t i = 0; i < n; i++) {
        double r[4];
        for (int k = 0; k < 4; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            r[k] = (double)(s >> 11) / 9007199254740992.0;
        }
        e[i].id = (long long)(i * 7 + 3);
        e[i].box[0] = 121.3 + 0.3 * r[0];
        e[i].box[1] = 30.9 + 0.3 * r[1];
        e[i].box[2] = e[i].box[0] + (i % 3 ? 0.002 * r[2] : 0);
        e[i].box[3] = e[i].box[1] + (i % 3 ? 0.002 * r[3] : 0);
    }
}

static void same_rows(em_db *db, const char *a, const char *b) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) "
             "UNION ALL SELECT count(*) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) "
             "UNION ALL SELECT (SELECT count(*) FROM %s) - (SELECT count(*) FROM %s)",
             a, b, b, a, a, b);
    sqlite3_stmt *st = prepare(db, sql);
    while (sqlite3_step(st) == SQLITE_ROW)
        ck_assert_msg(sqlite3_column_int64(st, 0) == 0, "%s and %s differ", a, b);
    sqlite3_finalize(st);
}

START_TEST(bulk_load_matches_inserts) {
    static const size_t sizes[] = {0, 1, 50, 51, 52, 2601, 3000};
    char path[4200], buf[256];
    em_db *db = testutil_new_db(0, path, sizeof path);
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        exec(db, "DROP TABLE IF EXISTS bulk; DROP TABLE IF EXISTS ref;"
                 "CREATE VIRTUAL TABLE bulk USING rtree(id, minx, maxx, miny, maxy);"
                 "CREATE VIRTUAL TABLE ref USING rtree(id, minx, maxx, miny, maxy)");
        em_rtree_entry *e = malloc((n + 1) * sizeof *e);
        make_boxes(e, n);
        sqlite3_stmt *ins = prepare(db, "INSERT INTO ref VALUES (?, ?, ?, ?, ?)");
        for (size_t i = 0; i < n; i++) {
            sqlite3_bind_int64(ins, 1, e[i].id);
            sqlite3_bind_double(ins, 2, e[i].box[0]);
            sqlite3_bind_double(ins, 3, e[i].box[2]);
            sqlite3_bind_double(ins, 4, e[i].box[1]);
            sqlite3_bind_double(ins, 5, e[i].box[3]);
            ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
            sqlite3_reset(ins);
        }
        sqlite3_finalize(ins);
        em_error err = {0};
        ck_assert_msg(em_rtree_bulk_load(db, "bulk", e, n, &err) == 0, "%s", err.message);
        free(e);
        ck_assert_str_eq(text(db, "SELECT rtreecheck('bulk')", buf, sizeof buf), "ok");
        same_rows(db, "bulk", "ref");
        /* Window queries go through the tree, not a scan, and agree. */
        const char *windows[] = {"121.35 121.40 30.95 31.00", "121.30 121.60 30.90 31.20",
                                 "121.45 121.451 31.05 31.051", "0 1 0 1"};
        for (int w = 0; w < 4; w++) {
            char sql[512];
            double x0, x1, y0, y1;
            sscanf(windows[w], "%lf %lf %lf %lf", &x0, &x1, &y0, &y1);
            snprintf(sql, sizeof sql,
                     "SELECT (SELECT group_concat(id) FROM (SELECT id FROM bulk WHERE maxx >= %f "
                     "AND minx <= %f AND maxy >= %f AND miny <= %f ORDER BY id)) IS "
                     "(SELECT group_concat(id) FROM (SELECT id FROM ref WHERE maxx >= %f AND "
                     "minx <= %f AND maxy >= %f AND miny <= %f ORDER BY id))",
                     x0, x1, y0, y1, x0, x1, y0, y1);
            ck_assert_int_eq(testutil_int(db, sql), 1);
        }
        /* The tree stays a working R*Tree: SQLite inserts into it and deletes from it. */
        exec(db, "INSERT INTO bulk VALUES (1, 121.5, 121.6, 31.0, 31.1);"
                 "DELETE FROM bulk WHERE id % 5 = 0;"
                 "INSERT INTO ref VALUES (1, 121.5, 121.6, 31.0, 31.1);"
                 "DELETE FROM ref WHERE id % 5 = 0");
        ck_assert_str_eq(text(db, "SELECT rtreecheck('bulk')", buf, sizeof buf), "ok");
        same_rows(db, "bulk", "ref");
    }
    /* Only into an empty tree. */
    em_rtree_entry one = {.id = 99, .box = {1, 2, 3, 4}};
    em_error err = {0};
    ck_assert_int_eq(em_rtree_bulk_load(db, "bulk", &one, 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "empty"));
    testutil_remove_db(db, path);
}
END_TEST

static void add_points(em_db *db, int from, int to) {
    sqlite3_stmt *st = prepare(
        db, "INSERT INTO violations (id, code, category, reported_at, geom) VALUES (?1, 'V' || ?1,"
            " (SELECT min(name) FROM violation_categories), '2016-01-01T00:00:00',"
            " MakePoint(121.3 + (?1 % 97) * 0.003, 30.9 + (?1 % 89) * 0.003, 4326))");
    for (int i = from; i <= to; i++) {
        sqlite3_bind_int(st, 1, i);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

START_TEST(layer_index_rebuilt_or_extended) {
    char path[4200], buf[256];
    em_db *db = testutil_new_db(0, path, sizeof path);
    /* rows written with the index's insert trigger deferred, as an import does */
    exec(db, "DROP TRIGGER gii_violations_geom");
    add_points(db, 1, 300);
    em_error err = {0};
    ck_assert_msg(em_spatial_index_update(db, "violations", 1, &err) == 0, "%s", err.message);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM idx_violations_geom"), 300);
    ck_assert_int_eq(testutil_int(db, "SELECT CheckSpatialIndex('violations', 'geom')"), 1);
    ck_assert_str_eq(text(db, "SELECT rtreecheck('idx_violations_geom')", buf, sizeof buf), "ok");
    /* a few more: added to the index one by one */
    add_points(db, 301, 305);
    ck_assert_int_eq(testutil_int(db, "SELECT CheckSpatialIndex('violations', 'geom')"), 0);
    ck_assert_msg(em_spatial_index_update(db, "violations", 301, &err) == 0, "%s", err.message);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM idx_violations_geom"), 305);
    ck_assert_int_eq(testutil_int(db, "SELECT CheckSpatialIndex('violations', 'geom')"), 1);
    ck_assert_str_eq(text(db, "SELECT rtreecheck('idx_violations_geom')", buf, sizeof buf), "ok");
    testutil_remove_db(db, path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rtree_bulk");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bulk_load_matches_inserts);
    tcase_add_test(tc, layer_index_rebuilt_or_extended);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

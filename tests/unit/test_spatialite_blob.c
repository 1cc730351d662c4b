/* Our SpatiaLite BLOB encoder must write the very bytes SpatiaLite's GeomFromWKB()
 * writes, and SpatiaLite's functions must read them. The WKB comes from OGR, as in
 * the importer. */
#include "spatialite_blob.h"
#include "testutil.h"

#include <ogr_api.h>
#include <stdlib.h>
#include <string.h>

static const char *const shapes[] = {
    "POINT (121.4 31.1)",
    "POINT (-0.5 -89.25)",
    "LINESTRING (121 31,121.5 31.2,121.7 31.0)",
    "POLYGON ((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 4,2 2),(6 6,8 6,8 8,6 8,6 6))",
    "MULTIPOINT ((1 2),(3 4),(-5 6))",
    "MULTILINESTRING ((0 0,1 1),(2 2,3 1,4 4))",
    "MULTIPOLYGON (((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 4,2 2)),((20 20,30 20,30 30,20 20)))",
    "GEOMETRYCOLLECTION (POINT (1 1),LINESTRING (0 0,1 1),POLYGON ((5 5,6 5,6 6,5 5)))",
};

/* WKB of `wkt` in the given byte order (caller frees). */
static unsigned char *wkb_of(const char *wkt, OGRwkbByteOrder order, int *size) {
    char *cursor = (char *)wkt;
    OGRGeometryH g = NULL;
    ck_assert_int_eq(OGR_G_CreateFromWkt(&cursor, NULL, &g), OGRERR_NONE);
    *size = OGR_G_WkbSize(g);
    unsigned char *wkb = malloc((size_t)*size);
    ck_assert_ptr_nonnull(wkb);
    OGR_G_ExportToWkb(g, order, wkb);
    OGR_G_DestroyGeometry(g);
    return wkb;
}

static sqlite3_stmt *prepare(em_db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db->sql));
    return st;
}

START_TEST(same_bytes_as_geomfromwkb) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    sqlite3_stmt *st = prepare(db, "SELECT GeomFromWKB(?, 4326)");
    em_strbuf out;
    em_strbuf_init(&out);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int order = 0; order < 2; order++) {
            int size;
            unsigned char *wkb = wkb_of(shapes[i], order ? wkbNDR : wkbXDR, &size);
            em_strbuf_reset(&out);
            ck_assert_msg(em_splite_from_wkb(wkb, (size_t)size, 4326, &out) == 0, "%s", shapes[i]);
            sqlite3_bind_blob(st, 1, wkb, size, SQLITE_STATIC);
            ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
            int theirs = sqlite3_column_bytes(st, 0);
            ck_assert_msg((size_t)theirs == out.len, "%s: %d bytes from SpatiaLite, %zu ours",
                          shapes[i], theirs, out.len);
            ck_assert_msg(memcmp(sqlite3_column_blob(st, 0), out.data, out.len) == 0,
                          "%s: bytes differ", shapes[i]);
            sqlite3_reset(st);
            free(wkb);
        }
    }
    em_strbuf_free(&out);
    sqlite3_finalize(st);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(spatialite_reads_our_blobs) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    sqlite3_stmt *st = prepare(
        db, "SELECT ST_IsValid(?1), ST_Area(?1), ST_NumInteriorRing(?1), AsText(?1), SRID(?1),"
            " MbrMinX(?1), MbrMinY(?1), MbrMaxX(?1), MbrMaxY(?1)");
    em_strbuf out;
    em_strbuf_init(&out);
    int size;
    unsigned char *wkb = wkb_of(shapes[3], wkbNDR, &size);
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), 0);
    sqlite3_bind_blob(st, 1, out.data, (int)out.len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    ck_assert_double_eq_tol(sqlite3_column_double(st, 1), 100 - 4 - 4, 1e-9);
    ck_assert_int_eq(sqlite3_column_int(st, 2), 2);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 3),
                     "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2), "
                     "(6 6, 8 6, 8 8, 6 8, 6 6))");
    ck_assert_int_eq(sqlite3_column_int(st, 4), 4326);
    double mbr[4];
    ck_assert_int_eq(em_splite_mbr((const unsigned char *)out.data, out.len, mbr), 0);
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq(mbr[k], sqlite3_column_double(st, 5 + k));
    ck_assert_double_eq(mbr[2], 10);
    sqlite3_finalize(st);
    free(wkb);

    /* A multipolygon: area of both parts, and GEOS sees it valid. */
    st = prepare(db, "SELECT ST_IsValid(?1), ST_Area(?1), ST_NumGeometries(?1), "
                     "GeometryType(?1)");
    wkb = wkb_of(shapes[6], wkbNDR, &size);
    em_strbuf_reset(&out);
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), 0);
    sqlite3_bind_blob(st, 1, out.data, (int)out.len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    ck_assert_double_eq_tol(sqlite3_column_double(st, 1), 96 + 50, 1e-9);
    ck_assert_int_eq(sqlite3_column_int(st, 2), 2);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 3), "MULTIPOLYGON");
    sqlite3_finalize(st);
    free(wkb);
    em_strbuf_free(&out);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(rejects_what_it_cannot_write) {
    em_strbuf out;
    em_strbuf_init(&out);
    int size;
    unsigned char *wkb = wkb_of(shapes[6], wkbNDR, &size);
    /* cut short, trailing bytes, a bad byte order mark */
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size - 1, 4326, &out), -1);
    ck_assert_uint_eq(out.len, 0);
    unsigned char *longer = calloc(1, (size_t)size + 1);
    memcpy(longer, wkb, (size_t)size);
    ck_assert_int_eq(em_splite_from_wkb(longer, (size_t)size + 1, 4326, &out), -1);
    wkb[0] = 7;
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), -1);
    free(longer);
    free(wkb);
    /* Z, and an empty geometry */
    wkb = wkb_of("POINT Z (1 2 3)", wkbNDR, &size);
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), -1);
    free(wkb);
    wkb = wkb_of("LINESTRING EMPTY", wkbNDR, &size);
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), -1);
    free(wkb);
    /* a polygon inside a multilinestring */
    wkb = wkb_of("MULTILINESTRING ((0 0,1 1))", wkbNDR, &size);
    wkb[9 + 4] = 3; /* the part's type */
    ck_assert_int_eq(em_splite_from_wkb(wkb, (size_t)size, 4326, &out), -1);
    free(wkb);
    ck_assert_uint_eq(out.len, 0);
    const unsigned char not_blob[] = {1, 2, 3};
    double mbr[4];
    ck_assert_int_eq(em_splite_mbr(not_blob, sizeof not_blob, mbr), -1);
    em_strbuf_free(&out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("spatialite_blob");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, same_bytes_as_geomfromwkb);
    tcase_add_test(tc, spatialite_reads_our_blobs);
    tcase_add_test(tc, rejects_what_it_cannot_write);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

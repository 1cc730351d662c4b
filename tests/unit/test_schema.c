/* The schema, the layer list and the migrations must agree, and an old file must
 * open in this build without losing anything. */
#include "layers.h"
#include "schema.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int column_exists(em_db *db, const char *table, const char *column) {
    sqlite3_stmt *st = NULL;
    int found = 0;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db->sql, "SELECT name FROM pragma_table_info(?)", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 0), column) == 0)
            found = 1;
    sqlite3_finalize(st);
    return found;
}

START_TEST(every_layer_column_is_in_the_schema) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *layer = em_layer_at(i);
        for (size_t c = 0; c < layer->ncolumns; c++)
            ck_assert_msg(column_exists(db, layer->table, layer->columns[c].name), "%s.%s missing",
                          layer->table, layer->columns[c].name);
        if (em_layer_is_spatial(layer)) {
            ck_assert(column_exists(db, layer->table, "geom"));
            ck_assert(column_exists(db, layer->table, "extra"));
        }
    }
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(six_spatial_layers_in_4326_with_index) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM geometry_columns WHERE srid = 4326 "
                                      "AND spatial_index_enabled = 1 AND f_geometry_column = "
                                      "'geom' AND f_table_name IN ('towns','estates','grid',"
                                      "'violations','corridors','zones')"),
                     6);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM violation_categories"), 12);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM violation_categories WHERE "
                                      "group_name = '五违'"),
                     5);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM corridor_types"), 4);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM renovation_items"), 15);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM remediation_tasks"), 4);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM governance_tasks"), 7);
    ck_assert_int_eq(testutil_int(db, "PRAGMA user_version"), EM_SCHEMA_VERSION);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(wal_mode) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(version_1_file_migrates_and_keeps_its_rows) {
    char path[4200];
    em_db *db = testutil_new_db(1, path, sizeof path);
    ck_assert_int_eq(testutil_int(db, "PRAGMA user_version"), 1);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                      "'layer_versions'"),
                     0);
    em_error err = {0};
    ck_assert_int_eq(
        em_db_exec(db,
                   "INSERT INTO towns(code, name, geom) VALUES ('310112101', '莘庄镇', "
                   "GeomFromText('MULTIPOLYGON(((121.3 31.1,121.4 31.1,121.4 31.2,121.3 "
                   "31.1)))', 4326))",
                   &err),
        0);
    em_db_close(db);

    db = em_db_open(path, EM_DB_OPEN_EXISTING, 0, &err);
    ck_assert_msg(db != NULL, "%s", err.message);
    ck_assert_int_eq(testutil_int(db, "PRAGMA user_version"), EM_SCHEMA_VERSION);
    ck_assert_int_eq(testutil_int(db, "SELECT count(*) FROM towns WHERE name = '莘庄镇'"), 1);
    /* v2's triggers work on the migrated file. */
    ck_assert_int_eq(testutil_int(db, "SELECT version FROM layer_versions WHERE layer='towns'"), 0);
    ck_assert_int_eq(
        em_db_exec(db, "UPDATE towns SET name = '莘庄镇' WHERE code = '310112101'", &err), 0);
    ck_assert_int_eq(testutil_int(db, "SELECT version FROM layer_versions WHERE layer='towns'"), 1);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(newer_file_is_refused) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    em_error err = {0};
    ck_assert_int_eq(em_db_exec(db, "PRAGMA user_version = 99", &err), 0);
    em_db_close(db);
    em_db *again = em_db_open(path, EM_DB_OPEN_EXISTING, 0, &err);
    ck_assert_ptr_null(again);
    ck_assert_ptr_nonnull(strstr(err.message, "newer"));
    ck_assert_ptr_null(em_db_open(path, EM_DB_READONLY, 0, &err));
    ck_assert_ptr_null(em_db_open(path, EM_DB_CREATE, 0, &err)); /* exists */
    testutil_remove_db(NULL, path);
}
END_TEST

START_TEST(not_a_database_is_refused) {
    char path[] = "/tmp/estatemap-unit-notdb-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "hello, this is not sqlite at all.........", 40), 40);
    close(fd);
    em_error err = {0};
    ck_assert_ptr_null(em_db_open(path, EM_DB_OPEN_EXISTING, 0, &err));
    ck_assert_ptr_nonnull(strstr(err.message, path));
    unlink(path);
}
END_TEST

START_TEST(layer_names_are_a_fixed_list) {
    ck_assert_ptr_nonnull(em_layer_find("estates"));
    ck_assert_ptr_null(em_layer_find("Estates"));
    ck_assert_ptr_null(em_layer_find("estates; DROP TABLE towns"));
    ck_assert_ptr_null(em_layer_find("spatial_ref_sys"));
    ck_assert_ptr_null(em_layer_find(""));
    ck_assert_ptr_null(em_layer_find(NULL));
    ck_assert_str_eq(em_layer_find("renovation")->table, "estate_renovation");
}
END_TEST

int main(void) {
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_layer_column_is_in_the_schema);
    tcase_add_test(tc, six_spatial_layers_in_4326_with_index);
    tcase_add_test(tc, wal_mode);
    tcase_add_test(tc, version_1_file_migrates_and_keeps_its_rows);
    tcase_add_test(tc, newer_file_is_refused);
    tcase_add_test(tc, not_a_database_is_refused);
    tcase_add_test(tc, layer_names_are_a_fixed_list);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

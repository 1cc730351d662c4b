#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

em_db *testutil_new_db(int schema_version, char *path, size_t pathlen) {
    char dir[] = "/tmp/estatemap-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, pathlen, "%s/test.sqlite", dir);
    em_error err = {0};
    em_db *db = em_db_open(path, EM_DB_CREATE, schema_version, &err);
    ck_assert_msg(db != NULL, "creating %s: %s", path, err.message);
    return db;
}

void testutil_remove_db(em_db *db, const char *path) {
    char side[4200];
    em_db_close(db);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    snprintf(side, sizeof side, "%s", path);
    char *slash = strrchr(side, '/');
    if (slash) {
        *slash = '\0';
        rmdir(side);
    }
}

long long testutil_int(em_db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int testutil_run(Suite *suite) {
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* testutil.h -- shared helpers for the Check unit tests. */
#ifndef ESTATEMAP_TESTUTIL_H
#define ESTATEMAP_TESTUTIL_H

#include "db.h"
#include <check.h>

/* A fresh database in a temporary folder; removed by testutil_remove_db. */
em_db *testutil_new_db(int schema_version, char *path, size_t pathlen);
void testutil_remove_db(em_db *db, const char *path);
/* Single integer result of `sql`, or -1. */
long long testutil_int(em_db *db, const char *sql);
/* Run a suite and return the process exit status. */
int testutil_run(Suite *suite);

#endif

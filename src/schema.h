/* schema.h -- the database schema as an ordered list of migrations.
 *
 * Migration N takes a file from user_version N-1 to N. Migrations are frozen once
 * released: a change to the schema is a new migration, never an edit of an old one,
 * so a file made by any older build opens in a newer one. */
#ifndef ESTATEMAP_SCHEMA_H
#define ESTATEMAP_SCHEMA_H

#include "errors.h"
#include <sqlite3.h>

#define EM_SCHEMA_VERSION 3

/* Version stored in the file (PRAGMA user_version); -1 on error. */
int em_schema_version(sqlite3 *db, em_error *err);
/* Apply migrations from the file's version up to `target` in one transaction each. */
int em_schema_migrate(sqlite3 *db, int target, em_error *err);

#endif

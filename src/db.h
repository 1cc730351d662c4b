/* db.h -- opening the SpatiaLite file: path resolution, WAL, schema migration.
 *
 * One em_db per thread of work. The connection has SpatiaLite loaded through its
 * library API (not load_extension), foreign keys on, and a busy timeout so that a
 * server and a CLI import can share the file. */
#ifndef ESTATEMAP_DB_H
#define ESTATEMAP_DB_H

#include "errors.h"
#include <sqlite3.h>

typedef struct em_db {
    sqlite3 *sql;
    void *spatialite_cache;
    char path[4096];
    char message[4600]; /* em_db_error()'s text */
} em_db;

typedef enum {
    EM_DB_OPEN_EXISTING, /* fail if the file is missing; migrate it to the current schema */
    EM_DB_CREATE,        /* fail if the file exists; create and migrate */
    EM_DB_READONLY,      /* open read-only; the schema must be current */
} em_db_mode;

/* --db FILE, else $ESTATEMAP_DB, else estatemap.sqlite in the working directory. */
const char *em_db_default_path(const char *option_value);

/* 1 when the effective user may write `path` and create files beside it (SQLite's
 * -wal and -shm); 0 for a read-only file, folder or file system, or an immutable
 * file (chattr +i), whoever asks, root included. */
int em_db_writable(const char *path);

/* `schema_version` is the version to create or migrate to; 0 means the current one. */
em_db *em_db_open(const char *path, em_db_mode mode, int schema_version, em_error *err);
void em_db_close(em_db *db);

/* The last SQLite error on db as a message. A full disk (SQLITE_FULL, or an I/O error
 * with ENOSPC) names the file and says "no space left on device", so that a user
 * knows which file system to clear; anything else is SQLite's own message. */
const char *em_db_error(em_db *db);

/* Run SQL that returns no rows; on failure fill err with em_db_error(). */
int em_db_exec(em_db *db, const char *sql, em_error *err);
/* Prepare a statement; on failure fill err. */
sqlite3_stmt *em_db_prepare(em_db *db, const char *sql, em_error *err);

int em_db_begin(em_db *db, em_error *err); /* BEGIN IMMEDIATE */
int em_db_commit(em_db *db, em_error *err);
void em_db_rollback(em_db *db);

#endif

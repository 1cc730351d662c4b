#include "db.h"
#include "schema.h"

#include <errno.h>
#include <spatialite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *em_db_default_path(const char *option_value) {
    if (option_value && *option_value)
        return option_value;
    const char *env = getenv("ESTATEMAP_DB");
    if (env && *env)
        return env;
    return "estatemap.sqlite";
}

/* The folder `path` is in, for access checks. */
static void parent_dir(const char *path, char *dir, size_t len) {
    snprintf(dir, len, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

int em_db_writable(const char *path) {
    char dir[4096];
    parent_dir(path, dir, sizeof dir);
    return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0 &&
           faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int table_exists(em_db *db, const char *name) {
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db->sql, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

/* SpatiaLite reports failures of AddGeometryColumn() as a 0 result, not an SQL
 * error, so after creating the layers we check that all six are registered. */
static int verify_geometry_columns(em_db *db, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db, "SELECT count(*) FROM geometry_columns", err);
    if (!st)
        return -1;
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (n != 6)
        return em_fail(err, EM_ERR_RUNTIME,
                       "%s: expected 6 geometry columns, found %d (SpatiaLite metadata broken)",
                       db->path, n);
    return 0;
}

/* A WAL file is read through its -shm index, which a reader creates beside it when it
 * is missing; on a read-only folder or mount it cannot, and SQLite fails with "unable
 * to open database file". Such a file, with no -wal or -shm left beside it (a clean
 * close checkpoints and removes them), cannot change under us: it is opened as
 * immutable (no locks, no -shm). 1 when that is the case, with the URI in `uri`. */
static int immutable_uri(const char *path, char *uri, size_t len) {
    char dir[4096], side[4200];
    parent_dir(path, dir, sizeof dir);
    if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0)
        return 0;
    snprintf(side, sizeof side, "%s-wal", path);
    if (file_exists(side))
        return 0;
    snprintf(side, sizeof side, "%s-shm", path);
    if (file_exists(side))
        return 0;
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(uri, len, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < len; p++) {
        if (isalnum(*p) || strchr("/-._~", *p)) {
            uri[n++] = (char)*p;
        } else {
            uri[n++] = '%';
            uri[n++] = hex[*p >> 4];
            uri[n++] = hex[*p & 15];
        }
    }
    uri[n] = '\0';
    return snprintf(uri + n, len - n, "?immutable=1") < (int)(len - n);
}

em_db *em_db_open(const char *path, em_db_mode mode, int schema_version, em_error *err) {
    int exists = file_exists(path);
    if (mode == EM_DB_CREATE && exists) {
        em_fail(err, EM_ERR_USAGE, "%s already exists; remove it or choose another --db", path);
        return NULL;
    }
    if (mode != EM_DB_CREATE && !exists) {
        em_fail(err, EM_ERR_INPUT, "%s: no such database (create one with `estatemap init`)", path);
        return NULL;
    }
    em_db *db = calloc(1, sizeof *db);
    if (!db) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    snprintf(db->path, sizeof db->path, "%s", path);
    int flags =
        mode == EM_DB_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    char uri[4200 * 3];
    const char *open_name = path;
    if (mode == EM_DB_READONLY && immutable_uri(path, uri, sizeof uri)) {
        open_name = uri;
        flags |= SQLITE_OPEN_URI;
    }
    if (sqlite3_open_v2(open_name, &db->sql, flags, NULL) != SQLITE_OK) {
        em_fail(err, EM_ERR_RUNTIME, "%s: cannot open: %s", path,
                db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
        em_db_close(db);
        return NULL;
    }
    db->spatialite_cache = spatialite_alloc_connection();
    spatialite_init_ex(db->sql, db->spatialite_cache, 0);
    /* GEOS's notices are ours to report (with the feature or parameter at fault),
     * not stray lines on stderr, where the server's access log may be. */
    spatialite_set_silent_mode(db->spatialite_cache);
    sqlite3_busy_timeout(db->sql, 10000);
    sqlite3_extended_result_codes(db->sql, 1);

    /* A file that is not SQLite fails here, on the first read. */
    int version = em_schema_version(db->sql, err);
    if (version < 0) {
        em_error_prefix(err, "%s: ", path);
        em_db_close(db);
        return NULL;
    }
    if (mode == EM_DB_OPEN_EXISTING && version == 0 && !table_exists(db, "spatial_ref_sys")) {
        em_fail(err, EM_ERR_INPUT, "%s is not an estatemap database", path);
        em_db_close(db);
        return NULL;
    }
    if (version > EM_SCHEMA_VERSION) {
        em_fail(err, EM_ERR_RUNTIME,
                "%s has schema version %d, newer than this build's %d; upgrade estatemap", path,
                version, EM_SCHEMA_VERSION);
        em_db_close(db);
        return NULL;
    }
    int target = schema_version > 0 ? schema_version : EM_SCHEMA_VERSION;
    if (mode == EM_DB_READONLY) {
        if (version != EM_SCHEMA_VERSION) {
            em_fail(err, EM_ERR_RUNTIME,
                    "%s has schema version %d, this build needs %d; open it writable once to "
                    "migrate",
                    path, version, EM_SCHEMA_VERSION);
            em_db_close(db);
            return NULL;
        }
    } else {
        if (em_db_exec(db, "PRAGMA journal_mode=WAL", err) < 0 ||
            em_db_exec(db, "PRAGMA synchronous=NORMAL", err) < 0) {
            em_db_close(db);
            return NULL;
        }
        if (!table_exists(db, "spatial_ref_sys") &&
            em_db_exec(db, "SELECT InitSpatialMetadata(1)", err) < 0) {
            em_db_close(db);
            return NULL;
        }
        if (version < target) {
            if (em_schema_migrate(db->sql, target, err) < 0 || verify_geometry_columns(db, err)) {
                em_error_prefix(err, "%s: ", path);
                em_db_close(db);
                return NULL;
            }
        }
    }
    /* Temporary b-trees (sorts, materialised subqueries) stay in memory: on disk they
     * cost hundreds of thousands of small writes in a large import. */
    if (em_db_exec(db, "PRAGMA foreign_keys=ON", err) < 0 ||
        em_db_exec(db, "PRAGMA temp_store=MEMORY", err) < 0) {
        em_db_close(db);
        return NULL;
    }
    return db;
}

void em_db_close(em_db *db) {
    if (!db)
        return;
    if (db->sql)
        sqlite3_close_v2(db->sql);
    if (db->spatialite_cache)
        spatialite_cleanup_ex(db->spatialite_cache);
    free(db);
}

const char *em_db_error(em_db *db) {
    int code = sqlite3_extended_errcode(db->sql);
    int sys = sqlite3_system_errno(db->sql);
    if ((code & 0xff) == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR && sys == ENOSPC)) {
        snprintf(db->message, sizeof db->message, "%s: no space left on device (SQLite: %s)",
                 db->path, sqlite3_errmsg(db->sql));
        return db->message;
    }
    return sqlite3_errmsg(db->sql);
}

int em_db_exec(em_db *db, const char *sql, em_error *err) {
    if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK) {
        em_fail(err, EM_ERR_RUNTIME, "%s", em_db_error(db));
        return -1;
    }
    return 0;
}

sqlite3_stmt *em_db_prepare(em_db *db, const char *sql, em_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK) {
        em_fail(err, EM_ERR_RUNTIME, "preparing query: %s", em_db_error(db));
        return NULL;
    }
    return st;
}

int em_db_begin(em_db *db, em_error *err) {
    return em_db_exec(db, "BEGIN IMMEDIATE", err);
}

int em_db_commit(em_db *db, em_error *err) {
    return em_db_exec(db, "COMMIT", err);
}

void em_db_rollback(em_db *db) {
    if (!sqlite3_get_autocommit(db->sql))
        sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

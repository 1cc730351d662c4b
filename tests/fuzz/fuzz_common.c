#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz.h"

#include "dbcheck.h"
#include "demo.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ESTATEMAP_FUZZ_FIXTURE
#define ESTATEMAP_FUZZ_FIXTURE "tests/fuzz/fixture"
#endif

static char tmpdir[512];
static char fixture[600];
static em_db *writable;
static sqlite3 *pristine;
static long long marked_audit = -1;

void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "estatemap fuzz: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void fuzz_note(const char *fmt, ...) {
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("ESTATEMAP_FUZZ_VERBOSE") != NULL;
    if (!verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void) {
    if (writable)
        em_db_close(writable);
    writable = NULL;
    if (pristine)
        sqlite3_close(pristine);
    pristine = NULL;
    if (tmpdir[0])
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

const char *fuzz_tmpdir(void) {
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/estatemap-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        fuzz_fail("cannot make a scratch directory %s", tmpdir);
    atexit(cleanup);
    return tmpdir;
}

void fuzz_tmpfile(const char *name, char *out, size_t len) {
    snprintf(out, len, "%s/%s", fuzz_tmpdir(), name);
}

const char *fuzz_fixture_db(void) {
    if (fixture[0])
        return fixture;
    const char *dir = getenv("ESTATEMAP_FUZZ_FIXTURE");
    fuzz_tmpfile("fixture.sqlite", fixture, sizeof fixture);
    em_error err;
    em_error_clear(&err);
    if (em_demo_build(fixture, dir && *dir ? dir : ESTATEMAP_FUZZ_FIXTURE, 1, NULL, &err) < 0)
        fuzz_fail("cannot build the fixture database: %s", err.message);
    /* SpatiaLite's table of every CRS is 6 of the file's 7 MB: keep the CRSs the
     * code uses, so that putting the file back after an input copies 0.5 MB. */
    sqlite3 *db = NULL;
    if (sqlite3_open(fixture, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "DELETE FROM spatial_ref_sys_aux WHERE srid NOT IN (4326, 4490, 4549, 3857);"
                     "DELETE FROM spatial_ref_sys WHERE srid NOT IN (4326, 4490, 4549, 3857);"
                     "VACUUM;",
                     NULL, NULL, NULL) != SQLITE_OK)
        fuzz_fail("cannot trim the fixture database: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return fixture;
}

char *fuzz_string(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s)
        fuzz_fail("out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int fuzz_request(em_http_request *req, em_http_worker *worker, const char *target) {
    memset(req, 0, sizeof *req);
    req->worker = worker;
    req->method = "GET";
    req->route = "other";
    snprintf(req->base_url, sizeof req->base_url, "http://127.0.0.1:8080");
    const char *q = strchr(target, '?');
    size_t n = q ? (size_t)(q - target) : strlen(target);
    req->path = malloc(n + 1);
    if (!req->path)
        fuzz_fail("out of memory");
    memcpy(req->path, target, n);
    req->path[n] = '\0';
    req->raw_path = target;
    if (em_http_decode_path(req->path) < 0)
        return 0;
    em_error err;
    em_error_clear(&err);
    const char *bad = NULL;
    if (em_http_parse_query(req, q ? q + 1 : NULL, &bad, &err) < 0) {
        if (err.kind == EM_ERR_RUNTIME)
            fuzz_fail("parsing the query failed: %s", err.message);
        return 0;
    }
    return 1;
}

void fuzz_request_free(em_http_request *req) {
    em_http_free_params(req);
    free(req->path);
    req->path = NULL;
}

void fuzz_check_status(const em_http_request *req, const char *target) {
    if (req->status < 200 || req->status >= 500)
        fuzz_fail("%s answered %d (route %s)", target, req->status, req->route);
}

em_db *fuzz_db_writable(void) {
    if (writable)
        return writable;
    char path[600];
    fuzz_tmpfile("writable.sqlite", path, sizeof path);
    em_error err;
    em_error_clear(&err);
    /* Copy the fixture page by page into the writable file and into memory. */
    sqlite3 *src = NULL;
    if (sqlite3_open_v2(fuzz_fixture_db(), &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open(":memory:", &pristine) != SQLITE_OK)
        fuzz_fail("cannot open the fixture");
    sqlite3_backup *b = sqlite3_backup_init(pristine, "main", src, "main");
    if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE)
        fuzz_fail("cannot copy the fixture: %s", sqlite3_errmsg(pristine));
    sqlite3_backup_finish(b);
    sqlite3_close(src);
    if (!(writable = em_db_open(path, EM_DB_CREATE, 0, &err)))
        fuzz_fail("cannot create %s: %s", path, err.message);
    /* A scratch file: no need to wait for the disk. */
    sqlite3_exec(writable->sql, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
    fuzz_db_reset();
    fuzz_db_check_healthy("building the fixture");
    return writable;
}

void fuzz_db_reset(void) {
    sqlite3_backup *b = sqlite3_backup_init(writable->sql, "main", pristine, "main");
    if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE)
        fuzz_fail("cannot reset the database: %s", sqlite3_errmsg(writable->sql));
    sqlite3_backup_finish(b);
}

static long long audit_rows(void) {
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(writable->sql, "SELECT count(*) FROM audit_log", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

void fuzz_db_mark(void) {
    marked_audit = audit_rows();
}

void fuzz_db_check_unchanged(const char *what) {
    if (!sqlite3_get_autocommit(writable->sql))
        fuzz_fail("%s failed and left a transaction open", what);
    if (audit_rows() != marked_audit)
        fuzz_fail("%s failed but the audit log changed", what);
}

void fuzz_get(const uint8_t *data, size_t size, const char *prefix, em_http_worker *worker,
              fuzz_handler handle, void *ctx) {
    size_t plen = strlen(prefix);
    char *target = malloc(plen + size + 1);
    if (!target)
        fuzz_fail("out of memory");
    memcpy(target, prefix, plen);
    memcpy(target + plen, data, size);
    target[plen + size] = '\0'; /* the target ends at the first NUL, as on the wire */
    em_http_request req;
    if (fuzz_request(&req, worker, target) && strncmp(req.path, prefix, plen) == 0) {
        handle(&req, req.path + plen, ctx);
        fuzz_note("  %d %s", req.status, req.route);
        fuzz_check_status(&req, target);
    }
    fuzz_request_free(&req);
    free(target);
}

void fuzz_db_check_healthy(const char *what) {
    em_check_report r;
    em_error err;
    em_error_clear(&err);
    if (!sqlite3_get_autocommit(writable->sql))
        fuzz_fail("%s succeeded and left a transaction open", what);
    if (em_check(writable, &r, &err) < 0)
        fuzz_fail("checking the database after %s: %s", what, err.message);
    if (strcmp(r.integrity, "ok") != 0)
        fuzz_fail("after %s, integrity_check says %s", what, r.integrity);
    for (int i = 0; i < r.nlayers; i++) {
        const em_check_layer *l = &r.layers[i];
        if (l->invalid || l->wrong_srid || !l->index_ok)
            fuzz_fail("after %s, %s has %ld invalid geometries, %ld in another SRID, index %s",
                      what, l->layer, l->invalid, l->wrong_srid, l->index_ok ? "ok" : "BROKEN");
    }
}

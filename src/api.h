/* api.h -- /api: the programme's analyses, estate cards and the token-guarded writes.
 *
 *   GET   /api                              index: endpoints and analyses
 *   GET   /api/analysis                     the analyses, with their parameters
 *   GET   /api/analysis/{name}?key=value    an analysis with the CLI's parameters
 *                                           (`--key value` -> `?key=value`, a bare
 *                                           `--flag` -> `?flag=true`), format=json|
 *                                           geojson|csv (default geojson when it has
 *                                           geometry), lang=en|zh
 *   GET   /api/estates/{id|code}[?as-of=]   the estate card (estate_card.h)
 *   PATCH /api/estates/{id|code}            tier, stage, attributes    planner, admin
 *   GET   /api/estates/{id|code}/renovation the estate's renovation items
 *   PUT   /api/estates/{id|code}/renovation replace them               planner, admin
 *   POST  /api/violations[?coords=]         report (GeoJSON Feature)   inspector, planner, admin
 *   GET   /api/violations/{id}              one report as a Feature
 *   PATCH /api/violations/{id}              resolve or correct it      inspector, planner, admin
 *   GET   /api/audit?layer=&feature_id=&actor=&limit=&offset=    the audit log, admin
 *   GET   /api/export?source=&format=[&crs=&encoding=&lang=&...]   `estatemap export`:
 *                                           the file as an attachment (api_export.c)
 *
 * Writes need `Authorization: Bearer TOKEN` with a token from --tokens (auth.h):
 * none or an unknown one is a 401 (with WWW-Authenticate), a role that may not make
 * the write a 403, and too many failures from one address a 429. With --read-token
 * every read of data (/api, /ogc, /tiles) needs a valid token too. Bodies are JSON
 * (a JSON Content-Type or none; another is a 415), at most 1 MiB (413). A body of
 * the wrong shape is a 400, a value that fails validation a 422, a code already
 * taken a 409; all errors are {"error":{"code","message","parameter"}}.
 *
 * The workers read through their own read-only connections; writes go through one
 * read-write connection shared under a mutex (SQLite has one writer at a time
 * anyway), opened when the server starts (which also migrates an older file) and
 * reopened after a failure. When the file cannot be written (read-only file or
 * folder, or --read-only) reads go on and writes answer 503 with a message that says
 * why. A request that authenticates gets its token's name in req->user (the access
 * log's user field). The writes
 * themselves are library calls (writes.h). */
#ifndef ESTATEMAP_API_H
#define ESTATEMAP_API_H

#include "db.h"
#include "errors.h"
#include "http.h"

typedef struct {
    const char *db_path;
    const char *tokens_file; /* NULL: no token is valid, so every write is a 401 */
    int read_token;          /* reads need a valid token too */
    int read_only;           /* --read-only: never open the file for writing; writes 503 */
} em_api_config;

typedef struct em_api em_api;

/* Load the tokens, and open the database for writing once (migrating an older
 * schema); a database that cannot be written is not an error here. */
em_api *em_api_new(const em_api_config *cfg, em_error *err);
void em_api_free(em_api *api);

/* Answer a request whose path is /api or starts with /api/ (any method; the query
 * string and the body are read here). Returns the status sent. */
int em_api_handle(em_api *api, em_http_request *req);

/* With --read-token: answer 401/403/429 for a data read (/ogc..., /tiles/...)
 * without a valid token and return that status; 0 lets the request go on. */
int em_api_guard_read(em_api *api, em_http_request *req);

/* GET /api/analysis/{name} and /api/analysis (api_analysis.c). */
int em_api_analysis(em_http_request *req, em_db *db, const char *name);
json_object *em_api_analysis_list(const em_http_request *req);

/* GET /api/export (api_export.c). */
int em_api_export(em_http_request *req, em_db *db);

#endif

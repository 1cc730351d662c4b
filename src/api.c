#include "api.h"

#include "audit.h"
#include "auth.h"
#include "estate_card.h"
#include "layers.h"
#include "server.h"
#include "writes.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MT_JSON "application/json"
#define MT_GEOJSON "application/geo+json"
#define REALM "Bearer realm=\"estatemap\""

struct em_api {
    char *db_path;
    em_tokens *tokens;
    int read_token;
    int read_only;
    em_ratelimit *limiter;
    pthread_mutex_t write_lock; /* guards `writer` */
    em_db *writer;
};

/* ---- set up ------------------------------------------------------------ */

/* The writable connection, opened now if need be. NULL (with a message for a 503)
 * when the file cannot be written. Call with write_lock held. */
static em_db *writer(em_api *api, em_write_error *e) {
    if (api->writer)
        return api->writer;
    em_error err;
    em_error_clear(&err);
    if (api->read_only) {
        memset(e, 0, sizeof *e);
        em_fail(&e->err, EM_ERR_RUNTIME,
                "the database is read-only: this server was started with --read-only and "
                "serves reads but cannot write");
        e->unavailable = 1;
        return NULL;
    }
    em_db *db = em_db_open(api->db_path, EM_DB_OPEN_EXISTING, 0, &err);
    if (db && sqlite3_db_readonly(db->sql, "main") == 1) {
        em_db_close(db);
        db = NULL;
        em_fail(&err, EM_ERR_RUNTIME,
                "the database is read-only (the file or its folder cannot be written): this "
                "server serves reads but cannot write");
    } else if (!db) {
        fprintf(stderr, "estatemap serve: cannot open %s for writing: %s\n", api->db_path,
                err.message);
        em_fail(&err, EM_ERR_RUNTIME,
                "the database is read-only or cannot be opened for writing (read-only file or "
                "folder?): this server serves reads but cannot write");
    }
    if (!db) {
        memset(e, 0, sizeof *e);
        e->err = err;
        e->unavailable = 1;
        return NULL;
    }
    api->writer = db;
    return db;
}

em_api *em_api_new(const em_api_config *cfg, em_error *err) {
    em_api *api = calloc(1, sizeof *api);
    if (!api || !(api->db_path = strdup(cfg->db_path ? cfg->db_path : ""))) {
        free(api);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&api->write_lock, NULL);
    api->read_token = cfg->read_token;
    api->read_only = cfg->read_only;
    if (cfg->read_token && !cfg->tokens_file) {
        em_fail(err, EM_ERR_USAGE, "--read-token needs --tokens FILE");
        em_api_free(api);
        return NULL;
    }
    if (cfg->tokens_file && !(api->tokens = em_tokens_load(cfg->tokens_file, err))) {
        em_api_free(api);
        return NULL;
    }
    api->limiter = em_ratelimit_new(EM_AUTH_MAX_FAILURES, EM_AUTH_WINDOW_SECONDS);
    if (!api->limiter) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        em_api_free(api);
        return NULL;
    }
    /* Open for writing now: an older file is migrated before the workers' read-only
     * connections (which need the current schema) open it. A file that cannot be
     * written is reported and served read-only. */
    em_write_error e;
    if (api->read_only)
        fprintf(stderr, "estatemap serve: --read-only: writes will answer 503\n");
    else if (access(api->db_path, F_OK) == 0 && !writer(api, &e))
        fprintf(stderr, "estatemap serve: %s; writes will answer 503\n", e.err.message);
    return api;
}

void em_api_free(em_api *api) {
    if (!api)
        return;
    em_db_close(api->writer);
    em_tokens_free(api->tokens);
    em_ratelimit_free(api->limiter);
    pthread_mutex_destroy(&api->write_lock);
    free(api->db_path);
    free(api);
}

/* ---- answers ------------------------------------------------------------- */

static json_object *jlink(const char *href, const char *rel, const char *type) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "href", json_object_new_string(href));
    json_object_object_add(o, "rel", json_object_new_string(rel));
    json_object_object_add(o, "type", json_object_new_string(type));
    return o;
}

static em_db *reader(em_http_request *req, int *rc) {
    em_error err;
    em_error_clear(&err);
    em_db *db = em_http_db(req, &err);
    if (!db) {
        fprintf(stderr, "estatemap serve: %s\n", err.message);
        *rc = em_http_error(req, 503, "unavailable", NULL,
                            "the database cannot be opened; see the server log");
    }
    return db;
}

/* ---- authentication ------------------------------------------------------------ */

static const char *client_address(const em_http_request *req) {
    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    return ri && ri->remote_addr[0] ? ri->remote_addr : "-";
}

static const char *access_needs(em_access a) {
    switch (a) {
    case EM_ACCESS_READ:
        return "any valid token";
    case EM_ACCESS_WRITE_VIOLATIONS:
        return "an inspector, planner or admin token";
    case EM_ACCESS_WRITE_ESTATES:
        return "a planner or admin token";
    case EM_ACCESS_AUDIT:
        return "an admin token";
    }
    return "a token";
}

/* 0 with `who` set, or the status of the 401/403/429 sent. Tokens are never
 * logged or echoed; a failure is logged with the address only. */
static int authenticate(em_api *api, em_http_request *req, em_access access, em_principal *who) {
    const char *client = client_address(req);
    time_t now = time(NULL);
    int wait = em_ratelimit_blocked(api->limiter, client, now);
    if (wait > 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "Retry-After: %d\r\n", wait);
        return em_http_error_extra(req, 429, "too_many_requests", NULL, extra,
                                   "too many failed authentications from %s; try again in %d s",
                                   client, wait);
    }
    const char *header = mg_get_header(req->conn, "Authorization");
    em_auth_result r = em_tokens_authenticate(api->tokens, header, who);
    if (r == EM_AUTH_MISSING)
        return em_http_error_extra(
            req, 401, "unauthorized", NULL, "WWW-Authenticate: " REALM "\r\n",
            "%s needs %s (Authorization: Bearer TOKEN)%s", req->method, access_needs(access),
            api->tokens ? "" : "; this server was started without --tokens");
    if (r == EM_AUTH_INVALID) {
        em_ratelimit_failure(api->limiter, client, now);
        fprintf(stderr, "estatemap serve: %s %s from %s: invalid bearer token\n", req->method,
                req->path, client);
        return em_http_error_extra(req, 401, "unauthorized", NULL,
                                   "WWW-Authenticate: " REALM ", error=\"invalid_token\"\r\n",
                                   "the bearer token is not valid");
    }
    req->user = who->name; /* the access log's user field: the name, never the token */
    if (!em_role_allows(who->role, access))
        return em_http_error_extra(req, 403, "forbidden", NULL,
                                   "WWW-Authenticate: " REALM ", error=\"insufficient_scope\"\r\n",
                                   "the token '%s' has the role %s; %s %s needs %s", who->name,
                                   em_role_name(who->role), req->method, req->route,
                                   access_needs(access));
    return 0;
}

int em_api_guard_read(em_api *api, em_http_request *req) {
    if (!api || !api->read_token || strcmp(req->method, "OPTIONS") == 0)
        return 0;
    const char *p = req->path ? req->path : "";
    if (!(strcmp(p, "/ogc") == 0 || strncmp(p, "/ogc/", 5) == 0 || strncmp(p, "/tiles/", 7) == 0))
        return 0;
    em_principal who;
    int rc = authenticate(api, req, EM_ACCESS_READ, &who);
    if (rc)
        req->route = "auth"; /* a fixed label: the path is not known to be valid */
    return rc;
}

/* ---- bodies ---------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
} body;

static int is_write(const char *method) {
    return strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "PUT") == 0;
}

/* 0 with the body read, or the status of the 413/415 sent. */
static int read_body(em_http_request *req, body *b) {
    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    const char *type = mg_get_header(req->conn, "Content-Type");
    if (type && *type && !strstr(type, "json") && !strstr(type, "JSON"))
        return em_http_error_extra(req, 415, "unsupported_media_type", NULL, NULL,
                                   "the body must be JSON (Content-Type: application/json or "
                                   "application/geo+json), not %.100s",
                                   type);
    long long declared = ri->content_length;
    if (declared > EM_SERVER_MAX_BODY_BYTES)
        return em_http_error_extra(req, 413, "payload_too_large", NULL, NULL,
                                   "the request body is larger than %d bytes",
                                   EM_SERVER_MAX_BODY_BYTES);
    size_t cap = declared >= 0 ? (size_t)declared + 1 : 65536;
    b->data = malloc(cap);
    if (!b->data)
        return em_http_error_extra(req, 503, "unavailable", NULL, NULL, "out of memory");
    for (;;) {
        if (b->len + 1 >= cap) {
            if (cap > EM_SERVER_MAX_BODY_BYTES + 1)
                return em_http_error_extra(req, 413, "payload_too_large", NULL, NULL,
                                           "the request body is larger than %d bytes",
                                           EM_SERVER_MAX_BODY_BYTES);
            cap = cap * 2 > EM_SERVER_MAX_BODY_BYTES + 2 ? EM_SERVER_MAX_BODY_BYTES + 2 : cap * 2;
            char *grown = realloc(b->data, cap);
            if (!grown)
                return em_http_error_extra(req, 503, "unavailable", NULL, NULL, "out of memory");
            b->data = grown;
        }
        int n = mg_read(req->conn, b->data + b->len, cap - 1 - b->len);
        if (n < 0)
            return em_http_error_extra(req, 400, "bad_request", NULL, NULL,
                                       "the request body was cut off");
        if (n == 0)
            break;
        b->len += (size_t)n;
        if (b->len > EM_SERVER_MAX_BODY_BYTES)
            return em_http_error_extra(req, 413, "payload_too_large", NULL, NULL,
                                       "the request body is larger than %d bytes",
                                       EM_SERVER_MAX_BODY_BYTES);
    }
    b->data[b->len] = '\0';
    req->body_unread = 0;
    return 0;
}

/* The body as JSON, or NULL after a 400. A JSON null comes back as NULL too, with
 * *rc 0: the write functions refuse it with their own message. */
static json_object *parse_body(em_http_request *req, const body *b, int *rc) {
    *rc = 0;
    em_error err;
    em_error_clear(&err);
    json_object *obj = NULL;
    if (em_http_parse_json_body(b->data, b->len, &obj, &err) < 0)
        *rc = em_http_error_extra(req, err.kind == EM_ERR_RUNTIME ? 503 : 400,
                                  err.kind == EM_ERR_RUNTIME ? "unavailable" : "invalid_body", NULL,
                                  NULL, "%s", err.message);
    return obj;
}

static int write_failed(em_api *api, em_http_request *req, em_write_error *e) {
    const char *param = e->field[0] ? e->field : NULL;
    if (e->unavailable) {
        /* Drop the connection: the next write opens the file afresh (it may have
         * become writable again, or the other writer may be done). */
        em_db_close(api->writer);
        api->writer = NULL;
        return em_http_error_extra(req, 503, "unavailable", NULL, "Retry-After: 5\r\n", "%s",
                                   e->err.message);
    }
    if (e->conflict)
        return em_http_error_extra(req, 409, "conflict", param, NULL, "%s", e->err.message);
    switch (e->err.kind) {
    case EM_ERR_USAGE:
        return em_http_error_extra(req, 400, "invalid_body", param, NULL, "%s", e->err.message);
    case EM_ERR_INPUT:
        return em_http_error_extra(req, 422, "invalid_value", param, NULL, "%s", e->err.message);
    case EM_ERR_NOTFOUND:
        return em_http_error_extra(req, 404, "not_found", NULL, NULL, "%s", e->err.message);
    default:
        return em_http_error_from(req, &e->err, NULL);
    }
}

/* ---- routes ------------------------------------------------------------------------ */

typedef enum {
    R_INDEX,
    R_ANALYSES,
    R_ANALYSIS,
    R_ESTATE,
    R_RENOVATION,
    R_VIOLATIONS,
    R_VIOLATION,
    R_AUDIT,
    R_EXPORT,
    R_NONE
} route_id;

static const struct {
    const char *label; /* metrics route */
    const char *allow; /* methods, for Allow */
} routes[] = {
    [R_INDEX] = {"/api", "GET, HEAD, OPTIONS"},
    [R_ANALYSES] = {"/api/analysis", "GET, HEAD, OPTIONS"},
    [R_ANALYSIS] = {"/api/analysis/{name}", "GET, HEAD, OPTIONS"},
    [R_ESTATE] = {"/api/estates/{id}", "GET, HEAD, PATCH, OPTIONS"},
    [R_RENOVATION] = {"/api/estates/{id}/renovation", "GET, HEAD, PUT, OPTIONS"},
    [R_VIOLATIONS] = {"/api/violations", "POST, OPTIONS"},
    [R_VIOLATION] = {"/api/violations/{id}", "GET, HEAD, PATCH, OPTIONS"},
    [R_AUDIT] = {"/api/audit", "GET, HEAD, OPTIONS"},
    [R_EXPORT] = {"/api/export", "GET, HEAD, OPTIONS"},
    [R_NONE] = {"/api/*", ""},
};

/* Split the path after /api; `arg` points into `buf`. */
static route_id match(const char *path, char *buf, size_t buflen, const char **arg) {
    snprintf(buf, buflen, "%s", path + 4); /* after "/api" */
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '/')
        buf[--n] = '\0';
    *arg = NULL;
    if (n == 0)
        return R_INDEX;
    if (strcmp(buf, "/analysis") == 0)
        return R_ANALYSES;
    if (strcmp(buf, "/violations") == 0)
        return R_VIOLATIONS;
    if (strcmp(buf, "/audit") == 0)
        return R_AUDIT;
    if (strcmp(buf, "/export") == 0)
        return R_EXPORT;
    if (strncmp(buf, "/analysis/", 10) == 0 && buf[10] && !strchr(buf + 10, '/')) {
        *arg = buf + 10;
        return R_ANALYSIS;
    }
    if (strncmp(buf, "/violations/", 12) == 0 && buf[12] && !strchr(buf + 12, '/')) {
        *arg = buf + 12;
        return R_VIOLATION;
    }
    if (strncmp(buf, "/estates/", 9) == 0 && buf[9]) {
        char *rest = buf + 9, *slash = strchr(rest, '/');
        *arg = rest;
        if (!slash)
            return R_ESTATE;
        *slash = '\0';
        if (strcmp(slash + 1, "renovation") == 0 && *rest)
            return R_RENOVATION;
    }
    return R_NONE;
}

static int method_allowed(route_id r, const char *method) {
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    const char *allow = routes[r].allow;
    size_t n = strlen(method);
    for (const char *p = strstr(allow, method); p; p = strstr(p + 1, method))
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static em_access access_for(route_id r, const char *method) {
    if (r == R_AUDIT)
        return EM_ACCESS_AUDIT;
    if (!is_write(method))
        return EM_ACCESS_READ;
    return r == R_VIOLATIONS || r == R_VIOLATION ? EM_ACCESS_WRITE_VIOLATIONS
                                                 : EM_ACCESS_WRITE_ESTATES;
}

static int parse_id(const char *s, long long *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    *out = strtoll(s, NULL, 10);
    return *out > 0 ? 0 : -1;
}

/* ---- read handlers ------------------------------------------------------------------ */

static int index_page(em_http_request *req) {
    int rc = em_http_check_params(req, NULL, NULL, NULL);
    if (rc)
        return rc;
    json_object *root = json_object_new_object();
    json_object_object_add(root, "title",
                           json_object_new_string("estatemap API: analyses, estate cards, writes"));
    json_object *eps = json_object_new_array();
    for (int r = 0; r < R_NONE; r++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(routes[r].label));
        json_object_object_add(o, "methods", json_object_new_string(routes[r].allow));
        json_object_array_add(eps, o);
    }
    json_object_object_add(root, "endpoints", eps);
    json_object_object_add(root, "analyses", em_api_analysis_list(req));
    json_object *roles = json_object_new_object();
    json_object_object_add(roles, "inspector",
                           json_object_new_string("report and resolve violations"));
    json_object_object_add(roles, "planner",
                           json_object_new_string("violations, estates and renovation items"));
    json_object_object_add(roles, "admin", json_object_new_string("everything, and the audit log"));
    json_object_object_add(root, "roles", roles);
    return em_http_respond_json(req, 200, MT_JSON, root, NULL);
}

static int estate_card(em_http_request *req, em_db *db, const char *ref) {
    static const char *const allowed[] = {"as-of", NULL};
    int rc = em_http_check_params(req, allowed, NULL, NULL);
    if (rc)
        return rc;
    em_params params = {0};
    const char *as_of = em_http_param(req, "as-of");
    if (as_of)
        em_params_add(&params, "as-of", as_of);
    em_error err;
    em_error_clear(&err);
    json_object *card = em_estate_card(db, ref, &params, &err);
    if (!card)
        return em_http_error_from(req, &err, err.kind == EM_ERR_USAGE ? "as-of" : NULL);
    json_object *id = NULL;
    json_object_object_get_ex(card, "id", &id);
    long long n = json_object_get_int64(id);
    char href[600];
    json_object *links = json_object_new_array();
    snprintf(href, sizeof href, "%s/api/estates/%lld", req->base_url, n);
    json_object_array_add(links, jlink(href, "self", MT_JSON));
    snprintf(href, sizeof href, "%s/api/estates/%lld/renovation", req->base_url, n);
    json_object_array_add(links, jlink(href, "renovation", MT_JSON));
    snprintf(href, sizeof href, "%s/ogc/collections/estates/items/%lld", req->base_url, n);
    json_object_array_add(links, jlink(href, "feature", MT_GEOJSON));
    json_object_object_add(card, "links", links);
    return em_http_respond_json(req, 200, MT_JSON, card, NULL);
}

static int renovation_get(em_http_request *req, em_db *db, const char *ref) {
    int rc = em_http_check_params(req, NULL, NULL, NULL);
    if (rc)
        return rc;
    em_error err;
    em_error_clear(&err);
    long long id;
    char code[256];
    if (em_estate_resolve(db, ref, &id, code, sizeof code, &err) < 0)
        return em_http_error_from(req, &err, NULL);
    json_object *items = em_renovation_items(db, code, &err);
    if (!items)
        return em_http_error_from(req, &err, NULL);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "estate_id", json_object_new_int64(id));
    json_object_object_add(root, "estate_code", json_object_new_string(code));
    json_object_object_add(root, "items", items);
    return em_http_respond_json(req, 200, MT_JSON, root, NULL);
}

static int violation_get(em_http_request *req, em_db *db, long long id) {
    int rc = em_http_check_params(req, NULL, NULL, NULL);
    if (rc)
        return rc;
    em_error err;
    em_error_clear(&err);
    json_object *f = em_violation_feature(db, id, &err);
    if (!f)
        return em_http_error_from(req, &err, NULL);
    return em_http_respond_json(req, 200, MT_GEOJSON, f, NULL);
}

static int audit_get(em_http_request *req, em_db *db) {
    static const char *const allowed[] = {"layer", "feature_id", "actor", "limit", "offset", NULL};
    int rc = em_http_check_params(req, allowed, NULL, NULL);
    if (rc)
        return rc;
    em_audit_query q = {em_http_param(req, "layer"), 0, em_http_param(req, "actor"), 100, 0};
    if (q.layer && !em_layer_find(q.layer))
        return em_http_error(req, 400, "invalid_parameter", "layer",
                             "layer='%s' is not a layer: the audit log has violations, estates "
                             "and renovation",
                             q.layer);
    static const char *const numeric[] = {"feature_id", "limit", "offset"};
    long long v[3] = {0, 100, 0};
    for (int i = 0; i < 3; i++) {
        const char *text = em_http_param(req, numeric[i]);
        if (!text)
            continue;
        long long n = 0;
        if ((parse_id(text, &n) < 0 && strcmp(text, "0") != 0) || (i == 1 && (n < 1 || n > 1000)))
            return em_http_error(req, 400, "invalid_parameter", numeric[i],
                                 "%s='%s' is not a whole number%s", numeric[i], text,
                                 i == 1 ? " from 1 to 1000" : "");
        v[i] = n;
    }
    q.feature_id = v[0];
    q.limit = (long)v[1];
    q.offset = (long)v[2];
    em_error err;
    em_error_clear(&err);
    json_object *doc = em_audit_list(db, &q, &err);
    if (!doc)
        return em_http_error_from(req, &err, NULL);
    return em_http_respond_json(req, 200, MT_JSON, doc, NULL);
}

/* ---- write handlers -------------------------------------------------------------------- */

static int do_write(em_api *api, em_http_request *req, route_id r, const char *arg,
                    const em_principal *who, json_object *doc) {
    em_audit_who audit = {who->name, em_role_name(who->role), client_address(req), req->method,
                          req->path};
    em_write_error e;
    memset(&e, 0, sizeof e);
    json_object *out = NULL;
    int rc = -1;
    em_coords coords = EM_COORDS_WGS84;
    long long id = 0;
    if (r == R_VIOLATIONS) {
        const char *c = em_http_param(req, "coords");
        if (c) {
            int parsed = em_coords_parse(c);
            if (parsed < 0)
                return em_http_error(req, 400, "invalid_parameter", "coords",
                                     "coords='%s': use wgs84 (also CGCS2000), gcj02 or bd09", c);
            coords = (em_coords)parsed;
        }
    }
    if (r == R_VIOLATION && parse_id(arg, &id) < 0)
        return em_http_error(req, 404, "not_found", NULL, "violations has no feature '%s'", arg);

    pthread_mutex_lock(&api->write_lock);
    em_db *db = writer(api, &e);
    if (db) {
        switch (r) {
        case R_VIOLATIONS:
            rc = em_write_violation_create(db, &audit, doc, coords, &out, &e);
            break;
        case R_VIOLATION:
            rc = em_write_violation_update(db, &audit, id, doc, &out, &e);
            break;
        case R_ESTATE:
            rc = em_write_estate_update(db, &audit, arg, doc, &out, &e);
            break;
        case R_RENOVATION:
            rc = em_write_estate_renovation(db, &audit, arg, doc, &out, &e);
            break;
        default:
            em_fail(&e.err, EM_ERR_RUNTIME, "no write for this route");
        }
    }
    int status = rc < 0 ? write_failed(api, req, &e) : 0;
    pthread_mutex_unlock(&api->write_lock);
    if (rc < 0)
        return status;

    if (r == R_VIOLATIONS) {
        json_object *jid = NULL;
        json_object_object_get_ex(out, "id", &jid);
        long long nid = json_object_get_int64(jid);
        char href[600], extra[700];
        snprintf(href, sizeof href, "%s/ogc/collections/violations/items/%lld", req->base_url, nid);
        json_object *links = json_object_new_array();
        json_object_array_add(links, jlink(href, "alternate", MT_GEOJSON));
        snprintf(href, sizeof href, "%s/api/violations/%lld", req->base_url, nid);
        json_object_array_add(links, jlink(href, "self", MT_GEOJSON));
        json_object_object_add(out, "links", links);
        snprintf(extra, sizeof extra, "Location: %s\r\n", href);
        return em_http_respond_json(req, 201, MT_GEOJSON, out, extra);
    }
    return em_http_respond_json(req, 200, r == R_VIOLATION ? MT_GEOJSON : MT_JSON, out, NULL);
}

/* ---- entry ------------------------------------------------------------------------------- */

static int dispatch(em_api *api, em_http_request *req, body *b) {
    char buf[1024];
    const char *arg = NULL;
    route_id r = match(req->path, buf, sizeof buf, &arg);
    req->route = routes[r].label;
    if (r == R_NONE)
        return em_http_error(req, 404, "not_found", NULL, "no such resource under /api");

    if (strcmp(req->method, "OPTIONS") == 0) {
        char extra[512];
        snprintf(extra, sizeof extra, "Allow: %s\r\n%s%s%s", routes[r].allow,
                 req->cors_origin ? "Access-Control-Allow-Methods: " : "",
                 req->cors_origin ? routes[r].allow : "",
                 req->cors_origin ? "\r\nAccess-Control-Allow-Headers: Accept, Authorization, "
                                    "Content-Type, If-None-Match\r\nAccess-Control-Max-Age: 600\r\n"
                                  : "");
        em_http_headers h = {NULL, NULL, extra, 0};
        return em_http_respond(req, 204, &h, NULL, 0);
    }
    if (!method_allowed(r, req->method)) {
        char extra[128];
        snprintf(extra, sizeof extra, "Allow: %s\r\n", routes[r].allow);
        return em_http_error_extra(req, 405, "method_not_allowed", NULL, extra,
                                   "%s is not allowed here; use %s", req->method, routes[r].allow);
    }

    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    em_error err;
    em_error_clear(&err);
    const char *bad = NULL;
    if (em_http_parse_query(req, ri->query_string, &bad, &err) < 0)
        return em_http_error(req, err.kind == EM_ERR_RUNTIME ? 500 : 400, "invalid_parameter", bad,
                             "%s", err.message);

    int rc;
    em_principal who = {NULL, 0};
    int write = is_write(req->method);
    if (write || r == R_AUDIT || api->read_token) {
        if ((rc = authenticate(api, req, access_for(r, req->method), &who)))
            return rc;
    }
    if (write) {
        static const char *const post_params[] = {"coords", NULL};
        if ((rc = em_http_check_params(req, r == R_VIOLATIONS ? post_params : NULL, NULL, NULL)))
            return rc;
        if ((rc = read_body(req, b)))
            return rc;
        json_object *doc = parse_body(req, b, &rc);
        if (rc)
            return rc;
        rc = do_write(api, req, r, arg, &who, doc);
        json_object_put(doc);
        return rc;
    }

    em_db *db = reader(req, &rc);
    if (!db)
        return rc;
    switch (r) {
    case R_INDEX:
        return index_page(req);
    case R_ANALYSES:
        if ((rc = em_http_check_params(req, NULL, NULL, NULL)))
            return rc;
        return em_http_respond_json(req, 200, MT_JSON, em_api_analysis_list(req), NULL);
    case R_ANALYSIS:
        return em_api_analysis(req, db, arg);
    case R_ESTATE:
        return estate_card(req, db, arg);
    case R_RENOVATION:
        return renovation_get(req, db, arg);
    case R_VIOLATION: {
        long long id;
        if (parse_id(arg, &id) < 0)
            return em_http_error(req, 404, "not_found", NULL, "violations has no feature '%s'",
                                 arg);
        return violation_get(req, db, id);
    }
    case R_AUDIT:
        return audit_get(req, db);
    case R_EXPORT:
        return em_api_export(req, db);
    default:
        return em_http_error(req, 404, "not_found", NULL, "no such resource under /api");
    }
}

int em_api_handle(em_api *api, em_http_request *req) {
    body b = {NULL, 0};
    /* An answer sent before the body was read closes the connection (http.c). */
    int rc = dispatch(api, req, &b);
    free(b.data);
    return rc;
}

#include "server.h"
#include "geom_cache.h"

#include "access_log.h"
#include "api.h"
#include "db.h"
#include "http.h"
#include "http_static.h"
#include "layers.h"
#include "metrics.h"
#include "ogc.h"
#include "paths.h"
#include "schema.h"
#include "tile_http.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct em_server {
    struct mg_context *ctx;
    char *db_path;
    char *cors_origin;
    char web_root[PATH_MAX];
    int has_web;
    char host[64];
    int port;
    int tls; /* HTTPS: links are https:// */
    em_access_log *log;
    em_api *api;            /* /api, tokens, the writer connection */
    em_tile_service *tiles; /* /tiles: the tile cache and the byte cap */
};

/* A worker's state: what every handler sees (em_http_worker, first, so that
 * req->worker points at it) and the tile queries on the same connection. */
typedef struct {
    em_http_worker http;
    em_tile_source *tiles;
} server_worker;

/* ---- configuration checks ---------------------------------------------- */

int em_server_parse_listen(const char *text, char host[64], int *port, em_error *err) {
    if (!text || !*text)
        text = EM_SERVER_DEFAULT_LISTEN;
    const char *colon = strrchr(text, ':');
    const char *port_text = colon ? colon + 1 : text;
    size_t hostlen = colon ? (size_t)(colon - text) : 0;
    char h[64] = "127.0.0.1";
    if (colon) {
        if (hostlen == 0 || hostlen >= sizeof h)
            return em_fail(err, EM_ERR_USAGE, "--listen '%s': expected PORT or HOST:PORT", text);
        memcpy(h, text, hostlen);
        h[hostlen] = '\0';
        if (strcmp(h, "localhost") == 0)
            strcpy(h, "127.0.0.1");
        else if (strcmp(h, "*") == 0)
            strcpy(h, "0.0.0.0");
        struct in_addr addr;
        if (inet_pton(AF_INET, h, &addr) != 1)
            return em_fail(err, EM_ERR_USAGE,
                           "--listen '%s': the host must be an IPv4 address such as 127.0.0.1 "
                           "(this CivetWeb has no IPv6)",
                           text);
    }
    if (!*port_text || strlen(port_text) > 5)
        return em_fail(err, EM_ERR_USAGE, "--listen '%s': the port must be 0-65535", text);
    for (const char *p = port_text; *p; p++)
        if (!isdigit((unsigned char)*p))
            return em_fail(err, EM_ERR_USAGE, "--listen '%s': the port must be 0-65535", text);
    long n = strtol(port_text, NULL, 10);
    if (n > 65535)
        return em_fail(err, EM_ERR_USAGE, "--listen '%s': the port must be 0-65535", text);
    memcpy(host, h, sizeof h);
    *port = (int)n;
    return 0;
}

int em_server_check_origin(const char *origin, em_error *err) {
    if (!origin || !*origin)
        return em_fail(err, EM_ERR_USAGE, "--cors needs an origin such as https://example.org");
    if (strcmp(origin, "*") == 0)
        return 0;
    const char *rest = NULL;
    if (strncmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    if (!rest || !*rest || strlen(origin) > 200)
        return em_fail(err, EM_ERR_USAGE,
                       "--cors '%s': expected * or an origin such as https://example.org", origin);
    for (const char *p = rest; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':' || *p == '[' ||
              *p == ']'))
            return em_fail(err, EM_ERR_USAGE,
                           "--cors '%s': an origin is scheme://host[:port], with no path", origin);
    return 0;
}

int em_server_check_tls_cert(const char *path, em_error *err) {
    FILE *f = path && *path ? fopen(path, "rb") : NULL;
    if (!f)
        return em_fail(err, EM_ERR_USAGE, "--tls-cert %s: cannot read the file", path ? path : "");
    char buf[4096];
    int cert = 0, key = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, "-----BEGIN ", 11) != 0)
            continue;
        cert |= strstr(buf, "CERTIFICATE-----") != NULL;
        key |= strstr(buf, "PRIVATE KEY-----") != NULL;
    }
    fclose(f);
    if (!cert || !key)
        return em_fail(err, EM_ERR_USAGE,
                       "--tls-cert %s: expected one PEM file holding the certificate and its "
                       "private key (cat cert.pem key.pem > server.pem); found %s",
                       path,
                       cert  ? "no private key"
                       : key ? "no certificate"
                             : "neither");
    return 0;
}

/* ---- per-thread state -------------------------------------------------- */

static void *init_thread(const struct mg_context *ctx, int thread_type) {
    if (thread_type != 1) /* 1: a worker serving connections */
        return NULL;
    const em_server *s = mg_get_user_data(ctx);
    server_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->http.db_path = s->db_path;
    w->tiles = em_tile_source_new(); /* NULL: /tiles answers 503 */
    return &w->http;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *ptr) {
    (void)ctx;
    (void)thread_type;
    server_worker *w = ptr;
    if (!w)
        return;
    em_tile_source_free(w->tiles); /* its statements first, then the connection */
    em_db_close(w->http.db);
    em_crs_cache_free(w->http.crs);
    free(w);
}

/* ---- requests ---------------------------------------------------------- */

/* Links must use the address the client used, but the Host header is the
 * client's word: only a plain host[:port] is taken, else our own address. */
static void set_base_url(const em_server *s, struct mg_connection *conn, char *out, size_t len) {
    const char *host = mg_get_header(conn, "Host");
    int ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':' || *p == '[' ||
             *p == ']';
    const char *scheme = s->tls ? "https" : "http";
    if (ok)
        snprintf(out, len, "%s://%s", scheme, host);
    else
        snprintf(out, len, "%s://%s:%d", scheme,
                 strcmp(s->host, "0.0.0.0") == 0 ? "127.0.0.1" : s->host, s->port);
}

static int healthz(em_http_request *req) {
    req->route = "/healthz";
    em_error err;
    em_error_clear(&err);
    em_db *db = em_http_db(req, &err);
    em_http_headers h = {"application/json", "no-store", NULL, 0};
    if (!db) {
        fprintf(stderr, "estatemap serve: %s\n", err.message);
        json_object *root = json_object_new_object();
        json_object_object_add(root, "status", json_object_new_string("unavailable"));
        json_object_object_add(root, "message",
                               json_object_new_string("the database cannot be opened"));
        size_t len;
        const char *text = em_http_json_text(root, &len);
        int rc = em_http_respond(req, 503, &h, text, len);
        json_object_put(root);
        return rc;
    }
    json_object *root = json_object_new_object();
    json_object_object_add(root, "status", json_object_new_string("ok"));
    json_object_object_add(root, "schema_version",
                           json_object_new_int(em_schema_version(db->sql, &err)));
    json_object *layers = json_object_new_object();
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *l = em_layer_at(i);
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", l->table);
        sqlite3_stmt *st = NULL;
        json_object *count = NULL;
        if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            count = json_object_new_int64(sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
        json_object_object_add(layers, l->name, count);
    }
    json_object_object_add(root, "layers", layers);
    json_object_object_add(root, "version", json_object_new_string(ESTATEMAP_VERSION));
    size_t len;
    const char *text = em_http_json_text(root, &len);
    int rc = em_http_respond(req, 200, &h, text, len);
    json_object_put(root);
    return rc;
}

static int metrics_page(em_server *s, em_http_request *req) {
    req->route = "/metrics";
    int rc = em_http_check_params(req, NULL, NULL, NULL);
    if (rc)
        return rc;
    em_strbuf out;
    em_strbuf_init(&out);
    em_metrics_render(&out);
    em_tile_service_metrics(s->tiles, &out);
    em_http_headers h = {"text/plain; version=0.0.4; charset=utf-8", "no-store", NULL, 0};
    rc = em_http_respond(req, 200, &h, em_strbuf_cstr(&out), out.len);
    em_strbuf_free(&out);
    return rc;
}

static int options(em_http_request *req) {
    req->route = "OPTIONS";
    const char *extra = req->cors_origin ? "Allow: GET, HEAD, OPTIONS\r\n"
                                           "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                                           "Access-Control-Allow-Headers: Accept, Authorization, "
                                           "Content-Type, If-None-Match\r\n"
                                           "Access-Control-Max-Age: 600\r\n"
                                         : "Allow: GET, HEAD, OPTIONS\r\n";
    em_http_headers h = {NULL, NULL, extra, 0};
    return em_http_respond(req, 204, &h, NULL, 0);
}

static int route(em_server *s, em_http_request *req, const struct mg_request_info *ri) {
    if (!req->raw_path || req->raw_path[0] != '/')
        return em_http_error(req, 400, "bad_request", NULL, "the request target is not a path");
    req->path = strdup(req->raw_path);
    if (!req->path) {
        em_error err;
        em_fail(&err, EM_ERR_RUNTIME, "out of memory");
        return em_http_error_from(req, &err, NULL);
    }
    if (em_http_decode_path(req->path) < 0)
        return em_http_error(req, 400, "bad_request", NULL,
                             "the path has a bad %%-escape, a NUL or invalid UTF-8");
    if (!req->worker)
        return em_http_error(req, 503, "unavailable", NULL, "the server is out of memory");
    if (ri->num_headers >= MG_MAX_HEADERS) { /* CivetWeb drops the ones past its table */
        req->route = "too_large";
        return em_http_error(req, 431, "headers_too_large", NULL,
                             "more than %d header fields; CivetWeb keeps only %d",
                             MG_MAX_HEADERS - 1, MG_MAX_HEADERS);
    }

    if (strcmp(req->path, "/api") == 0 || strncmp(req->path, "/api/", 5) == 0)
        return em_api_handle(s->api, req); /* its own methods, query and body */
    if (strcmp(req->method, "OPTIONS") == 0)
        return options(req);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        req->route = "method";
        return em_http_error(req, 405, "method_not_allowed", NULL,
                             "%s is not allowed here; use GET or HEAD", req->method);
    }
    if (ri->content_length > EM_SERVER_MAX_BODY_BYTES) {
        req->route = "too_large";
        return em_http_error(req, 413, "payload_too_large", NULL,
                             "the request body is larger than %d bytes", EM_SERVER_MAX_BODY_BYTES);
    }
    em_error err;
    em_error_clear(&err);
    const char *bad = NULL;
    if (em_http_parse_query(req, ri->query_string, &bad, &err) < 0) {
        return em_http_error(req, err.kind == EM_ERR_RUNTIME ? 500 : 400, "invalid_parameter", bad,
                             "%s", err.message);
    }

    const char *p = req->path;
    if (strcmp(p, "/healthz") == 0)
        return healthz(req);
    if (strcmp(p, "/metrics") == 0)
        return metrics_page(s, req);
    int denied = em_api_guard_read(s->api, req); /* --read-token */
    if (denied)
        return denied;
    if (strcmp(p, "/ogc") == 0 || strncmp(p, "/ogc/", 5) == 0)
        return em_ogc_handle(req, p + 4);
    if (strncmp(p, "/tiles/", 7) == 0) {
        server_worker *w = (server_worker *)req->worker;
        return em_tile_handle(req, s->tiles, w->tiles, p + 7);
    }
    if (strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0 || strcmp(p, "/tiles") == 0) {
        req->route = p[1] == 'a' ? "/api/*" : "/tiles/*";
        return em_http_error(req, 404, "not_found", NULL, "no such resource");
    }
    req->route = "static";
    return em_static_serve(req, s->has_web ? s->web_root : NULL);
}

static void log_request(em_server *s, struct mg_connection *conn, const em_http_request *req) {
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char target[4096];
    em_access_log_target(req->raw_path, ri->query_string, target, sizeof target);
    em_access_log_write(s->log, ri->remote_addr, req->user, req->method, target, ri->http_version,
                        req->status, req->bytes);
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request answered before its body was read (413, 401, 403, ...) closes its
 * connection. Closing with the body still arriving makes the kernel reset the
 * connection, which can destroy the answer before the client reads it; so, like
 * nginx's lingering close, read and drop what follows, up to a bound. A body
 * declared larger than that is not waited for: its client is cut off either way. */
#define EM_SERVER_DRAIN_MAX_BYTES (8LL << 20)

static void drain_body(struct mg_connection *conn) {
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (!ri || ri->content_length > EM_SERVER_DRAIN_MAX_BYTES)
        return;
    char buf[16384];
    long long left = EM_SERVER_DRAIN_MAX_BYTES;
    int n;
    while (left > 0 && (n = mg_read(conn, buf, sizeof buf)) > 0)
        left -= n;
}

static int begin_request(struct mg_connection *conn) {
    double started = seconds_now();
    em_server *s = mg_get_user_data(mg_get_context(conn));
    const struct mg_request_info *ri = mg_get_request_info(conn);
    em_http_request *req = calloc(1, sizeof *req);
    if (!req)
        return 0; /* CivetWeb answers with its own error */
    req->conn = conn;
    req->worker = mg_get_thread_pointer(conn);
    req->method = ri->request_method ? ri->request_method : "GET";
    req->head = strcmp(req->method, "HEAD") == 0;
    req->raw_path = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
    req->cors_origin = s->cors_origin;
    req->route = "other";
    req->body_unread =
        ri->content_length > 0 ||
        (ri->content_length < 0 &&
         (mg_get_header(conn, "Transfer-Encoding") || strcmp(req->method, "POST") == 0 ||
          strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0));
    set_base_url(s, conn, req->base_url, sizeof req->base_url);

    em_metrics_in_flight(1);
    route(s, req, ri);
    if (req->status == 0) { /* a handler returned without answering: a bug */
        em_error err;
        em_fail(&err, EM_ERR_RUNTIME, "no response was produced");
        em_http_error_from(req, &err, NULL);
    }
    log_request(s, conn, req);
    em_metrics_observe_request(req->route, req->status, seconds_now() - started);
    if (req->body_unread)
        drain_body(conn);
    em_metrics_in_flight(-1);
    int status = req->status;
    em_http_free_params(req);
    free(req->path);
    free(req);
    return status;
}

/* CivetWeb's own errors (malformed request, headers too large) become JSON too.
 * The request may not have been parsed: of its fields only the peer address is
 * safe to read (the others can point into an unterminated buffer). */
static int http_error(struct mg_connection *conn, int status, const char *message) {
    em_server *s = mg_get_user_data(mg_get_context(conn));
    const struct mg_request_info *ri = mg_get_request_info(conn);
    em_http_request req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.method = "-";
    req.raw_path = "-";
    req.cors_origin = s->cors_origin;
    const char *code = status == 413   ? "payload_too_large"
                       : status == 404 ? "not_found"
                       : status < 500  ? "bad_request"
                                       : "internal";
    /* CivetWeb's own words ("Bad request", "Malformed message") do not say what to fix. */
    char text[512];
    if (status == 400)
        snprintf(text, sizeof text,
                 "the request is malformed (%s): the request line and headers may hold at most "
                 "%d bytes, the target only URL characters (%%-encode the rest), and the method "
                 "must be GET, HEAD, OPTIONS, POST, PATCH or PUT",
                 message && *message ? message : "bad request", EM_SERVER_MAX_HEADER_BYTES);
    else
        snprintf(text, sizeof text, "%s", message && *message ? message : "bad request");
    em_http_error(&req, status, code, NULL, "%s", text);
    em_access_log_write(s->log, ri ? ri->remote_addr : "-", NULL, "-", "-", "1.1", req.status,
                        req.bytes);
    em_metrics_observe_request("invalid", status, 0);
    return 0;
}

static int log_message(const struct mg_connection *conn, const char *message) {
    (void)conn;
    fprintf(stderr, "estatemap serve: civetweb: %s\n", message);
    return 1;
}

static int log_access(const struct mg_connection *conn, const char *message) {
    (void)conn;
    (void)message;
    return 1; /* we write our own Common Log Format line */
}

/* ---- start and stop ---------------------------------------------------- */

static void free_server(em_server *s) {
    if (!s)
        return;
    em_access_log_close(s->log);
    em_api_free(s->api);
    em_tile_service_free(s->tiles);
    free(s->db_path);
    free(s->cors_origin);
    free(s);
}

/* A cache size option in bytes: EM_SERVER_TILE_CACHE_OFF none, 0 the default. */
static size_t cache_mib(int mb, int default_mb) {
    size_t n = mb == EM_SERVER_TILE_CACHE_OFF ? 0 : mb == 0 ? (size_t)default_mb : (size_t)mb;
    return n * 1024 * 1024;
}

em_server *em_server_start(const em_server_config *cfg, em_error *err) {
    em_server *s = calloc(1, sizeof *s);
    if (!s) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    if (em_server_parse_listen(cfg->listen, s->host, &s->port, err) < 0 ||
        (cfg->cors_origin && em_server_check_origin(cfg->cors_origin, err) < 0)) {
        free_server(s);
        return NULL;
    }
    int threads = cfg->threads > 0 ? cfg->threads : EM_SERVER_DEFAULT_THREADS;
    if (threads > EM_SERVER_MAX_THREADS) {
        em_fail(err, EM_ERR_USAGE, "--threads %d: at most %d", threads, EM_SERVER_MAX_THREADS);
        free_server(s);
        return NULL;
    }
    s->db_path = strdup(cfg->db_path ? cfg->db_path : em_db_default_path(NULL));
    s->cors_origin = cfg->cors_origin ? strdup(cfg->cors_origin) : NULL;
    if (!s->db_path || (cfg->cors_origin && !s->cors_origin)) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        free_server(s);
        return NULL;
    }
    /* Tokens, and the write connection (it migrates an older file first). */
    if (cfg->tls_cert && em_server_check_tls_cert(cfg->tls_cert, err) < 0) {
        free_server(s);
        return NULL;
    }
    s->tls = cfg->tls_cert != NULL;
    em_api_config api_cfg = {s->db_path, cfg->tokens_file, cfg->read_token, cfg->read_only};
    s->api = em_api_new(&api_cfg, err);
    if (!s->api) {
        free_server(s);
        return NULL;
    }
    /* Fail now, not on the first request, when the database is unusable. */
    em_db *probe = em_db_open(s->db_path, EM_DB_READONLY, 0, err);
    if (!probe) {
        free_server(s);
        return NULL;
    }
    em_db_close(probe);

    char web[PATH_MAX];
    if (cfg->web_dir) {
        if (!realpath(cfg->web_dir, s->web_root)) {
            em_fail(err, EM_ERR_USAGE, "web folder %s not found", cfg->web_dir);
            free_server(s);
            return NULL;
        }
        s->has_web = 1;
    } else if (em_resource_dir("web", NULL, web, sizeof web) == 0 && realpath(web, s->web_root)) {
        s->has_web = 1;
    }
    s->log = em_access_log_open(cfg->access_log, err);
    if (!s->log) {
        free_server(s);
        return NULL;
    }

    char listening[96], nthreads[16], max_request[16];
    /* CivetWeb: an 's' after the port makes it an HTTPS port */
    snprintf(listening, sizeof listening, "%s:%d%s", s->host, s->port, s->tls ? "s" : "");
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    snprintf(max_request, sizeof max_request, "%d", EM_SERVER_MAX_HEADER_BYTES);
    /* clang-format off */
    const char *options[] = {
        "listening_ports", listening,
        "num_threads", nthreads,
        "max_request_size", max_request, /* request line and headers */
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "2000",
        "request_timeout_ms", "10000",
        "tcp_nodelay", "1",
        "decode_url", "no",              /* we decode, and see the raw path first */
        "access_control_allow_origin", "", /* CORS only with --cors, by us */
        "enable_directory_listing", "no",
        NULL, NULL, NULL, NULL, /* room for the TLS options */
        NULL,
    };
    /* clang-format on */
    if (s->tls) {
        size_t n = 0;
        while (options[n])
            n++;
        options[n++] = "ssl_certificate"; /* certificate and key, PEM */
        options[n++] = cfg->tls_cert;
        options[n++] = "ssl_protocol_version";
        options[n++] = "4"; /* TLS 1.2 and later */
    }
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.begin_request = begin_request;
    cb.http_error = http_error;
    cb.log_message = log_message;
    cb.log_access = log_access;
    cb.init_thread = init_thread;
    cb.exit_thread = exit_thread;

    em_metrics_reset();
    /* after the reset: the service registers its counters at zero */
    if (cfg->tile_max_bytes < 0 ||
        (cfg->tile_max_bytes > 0 && cfg->tile_max_bytes < EM_TILE_MAX_BYTES_MIN) ||
        cfg->tile_cache_mb > EM_TILE_CACHE_MAX_MB ||
        cfg->tile_cache_mb < EM_SERVER_TILE_CACHE_OFF ||
        cfg->geom_cache_mb > EM_TILE_CACHE_MAX_MB ||
        cfg->geom_cache_mb < EM_SERVER_TILE_CACHE_OFF) {
        em_fail(err, EM_ERR_USAGE,
                "--tile-max-bytes must be at least %d, --tile-cache-mb and --geom-cache-mb 0-%d",
                EM_TILE_MAX_BYTES_MIN, EM_TILE_CACHE_MAX_MB);
        free_server(s);
        return NULL;
    }
    s->tiles = em_tile_service_new(cache_mib(cfg->tile_cache_mb, EM_TILE_CACHE_DEFAULT_MB),
                                   cache_mib(cfg->geom_cache_mb, EM_GEOM_CACHE_DEFAULT_MB),
                                   (size_t)cfg->tile_max_bytes, err);
    if (!s->tiles) {
        free_server(s);
        return NULL;
    }
    mg_init_library(0);
    char why[256] = "";
    unsigned code = 0;
    struct mg_init_data init = {&cb, s, options};
    struct mg_error_data error = {&code, why, sizeof why};
    s->ctx = mg_start2(&init, &error);
    if (!s->ctx) {
        em_fail(err, EM_ERR_RUNTIME, "cannot listen on %s: %s%s", listening,
                why[0] ? why : "CivetWeb failed to start",
                s->tls ? " (for TLS, CivetWeb loads libssl.so and libcrypto.so, Debian's "
                         "libssl-dev, and reads the certificate and key from --tls-cert)"
                       : "");
        mg_exit_library();
        free_server(s);
        return NULL;
    }
    struct mg_server_port ports[4];
    memset(ports, 0, sizeof ports);
    if (mg_get_server_ports(s->ctx, 4, ports) > 0 && ports[0].port > 0)
        s->port = ports[0].port;
    return s;
}

int em_server_port(const em_server *s) {
    return s->port;
}

void em_server_stop(em_server *s) {
    if (!s)
        return;
    mg_stop(s->ctx); /* joins the workers; exit_thread closes their connections */
    mg_exit_library();
    free_server(s);
}

int em_server_run(const em_server_config *cfg, em_error *err) {
    /* Block the stop signals in every thread (CivetWeb's threads inherit the
     * mask) and take them here with sigwait, outside any signal handler. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    em_server *s = em_server_start(cfg, err);
    if (!s) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    fprintf(stderr, "estatemap serve: listening on %s://%s:%d (database %s%s, %d threads%s%s)\n",
            s->tls ? "https" : "http", s->host, em_server_port(s), s->db_path,
            cfg->read_only ? ", read-only" : "",
            cfg->threads > 0 ? cfg->threads : EM_SERVER_DEFAULT_THREADS,
            s->has_web ? ", web app " : ", no web app found", s->has_web ? s->web_root : "");
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "estatemap serve: %s received, finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    em_server_stop(s);
    fprintf(stderr, "estatemap serve: stopped\n");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

/* http.h -- one HTTP request as the handlers see it, and the ways to answer it.
 *
 * The server (server.c) fills an em_http_request from CivetWeb -- decoded path,
 * decoded query parameters, the base URL for links -- and hands it to a handler
 * (ogc.c, static files, ...). Handlers answer through em_http_respond() (or
 * em_http_respond_file() for a file streamed from disk) and em_http_error() only, so
 * every response gets the same security and CORS headers, a Content-Length, and is
 * counted by the access log and metrics.
 *
 * Errors are always JSON: {"error":{"code","message","parameter"}}. Bad input is
 * a 4xx; a 500 means a bug or a broken database, never a bad request. */
#ifndef ESTATEMAP_HTTP_H
#define ESTATEMAP_HTTP_H

#include "crs.h"
#include "db.h"
#include "errors.h"

#include <json-c/json.h>
#include <stddef.h>

struct mg_connection;

#define EM_HTTP_MAX_PARAMS 64
#define EM_HTTP_MAX_QUERY 8192 /* bytes of query string */
#define EM_HTTP_JSON_MAX_DEPTH 64

/* What a worker thread keeps between requests: its own read-only connection and
 * its own PROJ context, both opened on first use. */
typedef struct {
    const char *db_path;
    em_db *db;
    em_crs_cache *crs;
} em_http_worker;

typedef struct {
    char *name;
    char *value;
} em_http_query_param;

typedef struct {
    struct mg_connection *conn; /* NULL: made in-process; responses only set status, bytes */
    em_http_worker *worker;
    const char *method;
    int head;             /* HEAD: headers only */
    const char *raw_path; /* the path as it came on the wire (still %-encoded) */
    char *path;           /* %-decoded, valid UTF-8, no NUL */
    em_http_query_param params[EM_HTTP_MAX_PARAMS];
    int nparams;
    char base_url[320]; /* "http://host:port" as the client addressed us */
    const char *cors_origin;
    const char *user; /* the authenticated token's name (never the token), or NULL */
    /* The request has a body nobody has read (yet): its answer says Connection: close
     * and the connection closes after it, since the unread bytes cannot be taken for
     * the next request. Set when the request arrives; cleared by whoever reads it. */
    int body_unread;
    /* Set by the response functions; read by the access log and the metrics. */
    int status;
    long long bytes;
    const char *route; /* a fixed label such as "/ogc/collections/{id}/items" */
} em_http_request;

typedef struct {
    const char *content_type;
    const char *cache_control; /* NULL: "no-cache" */
    const char *extra;         /* more "Name: value\r\n" lines, or NULL */
    int web_app;               /* the web app's Content-Security-Policy, not the API's */
} em_http_headers;

/* Parse a query string into req->params (decoded, '+' is a space). A parameter
 * given twice, a bad %-escape, a NUL or invalid UTF-8 is an EM_ERR_USAGE error;
 * `*bad` then names the parameter at fault when it has a usable name. */
int em_http_parse_query(em_http_request *req, const char *query, const char **bad, em_error *err);
void em_http_free_params(em_http_request *req);
/* A request body as JSON (strict, nested at most EM_HTTP_JSON_MAX_DEPTH deep, valid
 * UTF-8, nothing but white space after the value). *out may be NULL for a JSON null.
 * EM_ERR_USAGE (a 400) with a message saying what is wrong; EM_ERR_RUNTIME when out of
 * memory. */
int em_http_parse_json_body(const char *data, size_t len, json_object **out, em_error *err);
/* Decode %XX escapes (not '+') in place; -1 on a bad escape, a NUL or bad UTF-8. */
int em_http_decode_path(char *s);
int em_http_utf8_valid(const char *s, size_t len);

const char *em_http_param(const em_http_request *req, const char *name);
/* Check every parameter against `allowed` (NULL-terminated) and `also(name)`,
 * a callback for per-layer names (may be NULL). Answers 400 for the first
 * unknown one and returns its status; returns 0 when all are known. */
int em_http_check_params(em_http_request *req, const char *const *allowed,
                         int (*also)(const void *ctx, const char *name), const void *ctx);

/* The worker's database connection (opened read-only on first use) or NULL. */
em_db *em_http_db(em_http_request *req, em_error *err);
em_crs_cache *em_http_crs(em_http_request *req, em_error *err);

/* Send a complete response; returns `status` (what CivetWeb's begin_request wants). */
int em_http_respond(em_http_request *req, int status, const em_http_headers *h, const void *body,
                    size_t len);
/* Send `size` bytes read from `fd` (positioned at the start) in 64 KiB pieces, with
 * the same headers as em_http_respond and a Content-Length; stops when the client
 * goes away. Returns `status`; req->bytes says how much was sent. */
int em_http_respond_file(em_http_request *req, int status, const em_http_headers *h, int fd,
                         long long size);
/* A Content-Disposition value (RFC 6266): `type` ("attachment") and filename="…" in
 * ASCII (a '_' for each non-ASCII character, quote, backslash or control character),
 * plus filename*=UTF-8''… (RFC 5987 %-encoding) when that fallback is not the name. */
void em_http_content_disposition(const char *type, const char *filename, char *out, size_t outlen);
/* Serialise `obj` (consumed: put) and send it. */
int em_http_respond_json(em_http_request *req, int status, const char *content_type,
                         json_object *obj, const char *extra_headers);
/* Send {"error":{"code":..,"message":..,"parameter":..}}; parameter may be NULL. */
int em_http_error(em_http_request *req, int status, const char *code, const char *parameter,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* em_http_error() with `extra` header lines ("Name: value\r\n", e.g. Allow,
 * WWW-Authenticate, Retry-After) instead of the default (Allow on a 405); may be NULL. */
int em_http_error_extra(em_http_request *req, int status, const char *code, const char *parameter,
                        const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Map a library error to a status: usage/input 400, not found 404, runtime 500
 * (the details of a 500 go to the server log, not to the client). */
int em_http_error_from(em_http_request *req, const em_error *err, const char *parameter);

/* The JSON text json-c makes for `obj`, without escaping '/'. */
const char *em_http_json_text(json_object *obj, size_t *len);

#endif

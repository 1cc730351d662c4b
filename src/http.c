#include "http.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The web app loads only its own scripts; Leaflet sets inline styles and an
 * optional base map (OSM, 天地图) comes as https images. */
static const char web_app_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'";
/* JSON and tiles are data, never a document to render. */
static const char api_csp[] = "default-src 'none'; frame-ancestors 'none'";

int em_http_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode in place; `plus_is_space` for query strings. */
static int decode(char *s, int plus_is_space) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hexval((unsigned char)r[1]);
            int lo = hi < 0 ? -1 : hexval((unsigned char)r[2]);
            if (hi < 0 || lo < 0)
                return -1;
            int c = hi * 16 + lo;
            if (c == 0)
                return -1;
            *w++ = (char)c;
            r += 2;
        } else if (*r == '+' && plus_is_space) {
            *w++ = ' ';
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return em_http_utf8_valid(s, (size_t)(w - s)) ? 0 : -1;
}

int em_http_decode_path(char *s) {
    return decode(s, 0);
}

int em_http_parse_query(em_http_request *req, const char *query, const char **bad, em_error *err) {
    req->nparams = 0;
    *bad = NULL;
    if (!query || !*query)
        return 0;
    if (strlen(query) > EM_HTTP_MAX_QUERY)
        return em_fail(err, EM_ERR_USAGE, "the query string is longer than %d bytes",
                       EM_HTTP_MAX_QUERY);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0) {
            if (req->nparams >= EM_HTTP_MAX_PARAMS)
                return em_fail(err, EM_ERR_USAGE, "more than %d query parameters",
                               EM_HTTP_MAX_PARAMS);
            char *pair = malloc(n + 2);
            if (!pair)
                return em_fail(err, EM_ERR_RUNTIME, "out of memory");
            memcpy(pair, p, n);
            pair[n] = '\0';
            char *eq = strchr(pair, '=');
            char *value;
            if (eq) {
                *eq = '\0';
                value = eq + 1;
            } else {
                pair[n + 1] = '\0';
                value = pair + n + 1;
            }
            em_http_query_param *prm = &req->params[req->nparams];
            prm->name = pair;
            prm->value = value;
            req->nparams++; /* owned by req from here on, freed with it */
            if (decode(pair, 1) < 0 || decode(value, 1) < 0) {
                prm->name[0] = '\0';
                return em_fail(err, EM_ERR_USAGE,
                               "a query parameter has a bad %%-escape, a NUL or invalid UTF-8");
            }
            if (!*pair)
                return em_fail(err, EM_ERR_USAGE, "a query parameter has an empty name");
            for (int i = 0; i < req->nparams - 1; i++)
                if (strcmp(req->params[i].name, pair) == 0) {
                    *bad = pair;
                    return em_fail(err, EM_ERR_USAGE, "parameter '%s' is given more than once",
                                   pair);
                }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}

void em_http_free_params(em_http_request *req) {
    for (int i = 0; i < req->nparams; i++)
        free(req->params[i].name);
    req->nparams = 0;
}

const char *em_http_param(const em_http_request *req, const char *name) {
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

int em_http_check_params(em_http_request *req, const char *const *allowed,
                         int (*also)(const void *ctx, const char *name), const void *ctx) {
    for (int i = 0; i < req->nparams; i++) {
        const char *name = req->params[i].name;
        int known = 0;
        for (int k = 0; allowed && allowed[k] && !known; k++)
            known = strcmp(allowed[k], name) == 0;
        if (!known && also)
            known = also(ctx, name);
        if (!known)
            return em_http_error(req, 400, "unknown_parameter", name,
                                 "unknown query parameter '%s'", name);
    }
    return 0;
}

em_db *em_http_db(em_http_request *req, em_error *err) {
    em_http_worker *w = req->worker;
    if (!w->db)
        w->db = em_db_open(w->db_path, EM_DB_READONLY, 0, err);
    return w->db;
}

em_crs_cache *em_http_crs(em_http_request *req, em_error *err) {
    em_http_worker *w = req->worker;
    if (!w->crs) {
        w->crs = em_crs_cache_new();
        if (!w->crs)
            em_fail(err, EM_ERR_RUNTIME, "cannot create a PROJ context");
    }
    return w->crs;
}

int em_http_respond(em_http_request *req, int status, const em_http_headers *h, const void *body,
                    size_t len) {
    struct mg_connection *c = req->conn;
    char length[32];
    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(c, status);
    if (h && h->content_type)
        mg_response_header_add(c, "Content-Type", h->content_type, -1);
    int bodyless = status == 204 || status == 304;
    if (!bodyless)
        mg_response_header_add(c, "Content-Length", length, -1);
    mg_response_header_add(c, "Cache-Control",
                           h && h->cache_control ? h->cache_control : "no-cache", -1);
    mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(c, "Content-Security-Policy", h && h->web_app ? web_app_csp : api_csp,
                           -1);
    if (req->cors_origin) {
        mg_response_header_add(c, "Access-Control-Allow-Origin", req->cors_origin, -1);
        mg_response_header_add(c, "Access-Control-Expose-Headers",
                               "Content-Crs, ETag, Link, Location", -1);
        if (strcmp(req->cors_origin, "*") != 0)
            mg_response_header_add(c, "Vary", "Origin", -1);
    }
    if (h && h->extra)
        mg_response_header_add_lines(c, h->extra);
    mg_response_header_send(c);
    req->status = status;
    req->bytes = 0;
    if (!req->head && !bodyless && len > 0) {
        int n = mg_write(c, body, len);
        req->bytes = n > 0 ? n : 0;
    }
    return status;
}

const char *em_http_json_text(json_object *obj, size_t *len) {
    return json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

int em_http_respond_json(em_http_request *req, int status, const char *content_type,
                         json_object *obj, const char *extra_headers) {
    size_t len = 0;
    const char *text = em_http_json_text(obj, &len);
    em_http_headers h = {content_type ? content_type : "application/json", NULL, extra_headers, 0};
    int rc = em_http_respond(req, status, &h, text, len);
    json_object_put(obj);
    return rc;
}

int em_http_error(em_http_request *req, int status, const char *code, const char *parameter,
                  const char *fmt, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* Messages quote user input; cut it back to valid UTF-8 if vsnprintf
     * truncated in the middle of a character. */
    size_t n = strlen(message);
    while (n > 0 && !em_http_utf8_valid(message, n))
        message[--n] = '\0';
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "parameter", parameter ? json_object_new_string(parameter) : NULL);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "error", e);
    const char *extra = NULL;
    if (status == 405)
        extra = "Allow: GET, HEAD, OPTIONS\r\n";
    return em_http_respond_json(req, status, "application/json", root, extra);
}

int em_http_error_from(em_http_request *req, const em_error *err, const char *parameter) {
    switch (err->kind) {
    case EM_ERR_USAGE:
    case EM_ERR_INPUT:
        return em_http_error(req, 400, "invalid_parameter", parameter, "%s", err->message);
    case EM_ERR_NOTFOUND:
        return em_http_error(req, 404, "not_found", parameter, "%s", err->message);
    default:
        fprintf(stderr, "estatemap serve: %s %s: %s\n", req->method, req->raw_path, err->message);
        return em_http_error(req, 500, "internal", NULL,
                             "the server failed to answer this request; see its log");
    }
}

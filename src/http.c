#include "http.h"
#include "gzip.h"
#include "strbuf.h"

#include <civetweb.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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

static int hex4(const char *s) {
    return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
           isxdigit((unsigned char)s[2]) && isxdigit((unsigned char)s[3]);
}

/* json-c turns an escaped NUL (\u0000) into a string it then cuts at the NUL, and
 * an unpaired surrogate escape (\ud800) into U+FFFD: either would store something
 * else than was sent. NULL when the body has neither, else what it has. */
static const char *bad_escape(const char *s, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = s[i] == '"';
            continue;
        }
        if (s[i] == '"') {
            in_string = 0;
            continue;
        }
        if (s[i] != '\\' || i + 1 >= len)
            continue;
        i++;
        if (s[i] != 'u' || i + 4 >= len || !hex4(s + i + 1))
            continue; /* not a \u escape, or a bad one json-c refuses itself */
        unsigned long u = strtoul((char[5]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
        i += 4;
        if (u == 0)
            return "an escaped NUL (\\u0000) in a string";
        if (u >= 0xDC00 && u <= 0xDFFF)
            return "an unpaired surrogate escape (\\udc00-\\udfff) in a string";
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned long lo = 0;
            if (i + 6 < len && s[i + 1] == '\\' && s[i + 2] == 'u' && hex4(s + i + 3))
                lo = strtoul((char[5]){s[i + 3], s[i + 4], s[i + 5], s[i + 6], 0}, NULL, 16);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return "an unpaired surrogate escape (\\ud800-\\udbff) in a string";
            i += 6;
        }
    }
    return NULL;
}

int em_http_parse_json_body(const char *data, size_t len, json_object **out, em_error *err) {
    *out = NULL;
    if (len == 0)
        return em_fail(err, EM_ERR_USAGE, "the request body is empty");
    if (len > (size_t)INT_MAX)
        return em_fail(err, EM_ERR_USAGE, "the request body is too large");
    if (!em_http_utf8_valid(data, len))
        return em_fail(err, EM_ERR_USAGE, "the request body is not valid UTF-8 (or holds a NUL)");
    const char *escape = bad_escape(data, len);
    if (escape)
        return em_fail(err, EM_ERR_USAGE, "the request body has %s; send the text itself as UTF-8",
                       escape);
    json_tokener *tok = json_tokener_new_ex(EM_HTTP_JSON_MAX_DEPTH);
    if (!tok)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_success) {
        while (end < len && isspace((unsigned char)data[end]))
            end++;
        if (end == len) {
            *out = obj;
            return 0;
        }
        json_object_put(obj);
        return em_fail(err, EM_ERR_USAGE,
                       "the request body is not JSON: more text after the value at byte %zu", end);
    }
    json_object_put(obj);
    return em_fail(err, EM_ERR_USAGE, "the request body is not JSON: %s",
                   jerr == json_tokener_continue ? "it ends too early"
                                                 : json_tokener_error_desc(jerr));
}

int em_http_parse_query(em_http_request *req, const char *query, const char **bad, em_error *err) {
    req->nparams = 0;
    *bad = NULL;
    if (!query || !*query)
        return 0;
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
    if (strlen(query) > EM_HTTP_MAX_QUERY) { /* blame the longest value: a drawn polygon */
        size_t longest = 0;
        for (int i = 0; i < req->nparams; i++)
            if (strlen(req->params[i].value) >= longest) {
                longest = strlen(req->params[i].value);
                *bad = req->params[i].name;
            }
        return em_fail(err, EM_ERR_USAGE, "the query string is longer than %d bytes%s%s%s",
                       EM_HTTP_MAX_QUERY, *bad ? " (" : "", *bad ? *bad : "",
                       *bad ? " is the longest parameter)" : "");
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

/* The status line and every header, with Content-Length `len` (none for 204, 304),
 * into `out`. We write the head ourselves, in one piece with small bodies: CivetWeb's
 * mg_response_header_* API sends every header line in a separate send(), ten system
 * calls and as many TCP segments for one cached tile. CivetWeb keeps its own state
 * right: the handler's return value is the status, and keep-alive follows the
 * request's Connection header and version, which we mirror here. */
static void format_head(em_http_request *req, int status, const em_http_headers *h,
                        unsigned long long len, em_strbuf *out) {
    struct mg_connection *c = req->conn;
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *connection = mg_get_header(c, "Connection");
    int http10 = ri && ri->http_version && strcmp(ri->http_version, "1.0") == 0;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    em_strbuf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                     mg_get_response_code_text(c, status), date);
    if (req->body_unread || (connection && strcasecmp(connection, "close") == 0)) {
        em_strbuf_puts(out, "Connection: close\r\n");
        mg_disable_connection_keep_alive(c);
    } else if (http10 && connection && strcasecmp(connection, "keep-alive") == 0)
        em_strbuf_puts(out, "Connection: keep-alive\r\n");
    if (h && h->content_type)
        em_strbuf_printf(out, "Content-Type: %s\r\n", h->content_type);
    if (status != 204 && status != 304)
        em_strbuf_printf(out, "Content-Length: %llu\r\n", len);
    em_strbuf_printf(out, "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n",
                     h && h->cache_control ? h->cache_control : "no-cache");
    em_strbuf_printf(out, "Content-Security-Policy: %s\r\n",
                     h && h->web_app ? web_app_csp : api_csp);
    if (req->cors_origin) {
        em_strbuf_printf(out,
                         "Access-Control-Allow-Origin: %s\r\nAccess-Control-Expose-Headers: "
                         "Content-Crs, Content-Disposition, ETag, Link, Location, "
                         "X-Tile-Dropped-Features\r\n",
                         req->cors_origin);
        if (strcmp(req->cors_origin, "*") != 0)
            em_strbuf_puts(out, "Vary: Origin\r\n");
    }
    if (h && h->extra) {
        /* extra holds "Name: value" lines; normalise their endings to CRLF */
        for (const char *line = h->extra; *line;) {
            size_t n = strcspn(line, "\r\n");
            if (n > 0) {
                em_strbuf_append(out, line, n);
                em_strbuf_puts(out, "\r\n");
            }
            line += n;
            while (*line == '\r' || *line == '\n')
                line++;
        }
    }
    em_strbuf_puts(out, "\r\n");
    req->status = status;
    req->bytes = 0;
}

static void send_headers(em_http_request *req, int status, const em_http_headers *h,
                         unsigned long long len) {
    em_strbuf head;
    em_strbuf_init(&head);
    format_head(req, status, h, len, &head);
    if (req->conn)
        mg_write(req->conn, head.data, head.len);
    em_strbuf_free(&head);
}

static int respond_plain(em_http_request *req, int status, const em_http_headers *h,
                         const void *body, size_t len) {
    int with_body = !req->head && status != 204 && status != 304 && len > 0;
    em_strbuf out;
    em_strbuf_init(&out);
    format_head(req, status, h, len, &out);
    size_t head_len = out.len;
    if (!req->conn) { /* a request made in-process (the fuzz targets): nothing to send */
        req->bytes = with_body ? (long long)len : 0;
    } else if (with_body && len <= 256 * 1024) { /* one write for head and body */
        em_strbuf_append(&out, body, len);
        int n = mg_write(req->conn, out.data, out.len);
        req->bytes = n > (int)head_len ? n - (int)head_len : 0;
    } else {
        mg_write(req->conn, out.data, out.len);
        if (with_body) {
            int n = mg_write(req->conn, body, len);
            req->bytes = n > 0 ? n : 0;
        }
    }
    em_strbuf_free(&out);
    return status;
}

/* JSON and CSV answers of a few KiB and more are gzipped for clients that take it:
 * the estates collection is 1.4 MB and density by grid 5.7 MB as plain text. A body
 * that already carries a Content-Encoding (a gzipped tile) is left alone. */
static int worth_gzip(const em_http_request *req, const em_http_headers *h, size_t len) {
    if (len < 4096 || !h || !h->content_type)
        return 0;
    if (h->extra && strstr(h->extra, "Content-Encoding"))
        return 0;
    const char *t = h->content_type;
    if (!strstr(t, "json") && strncmp(t, "text/csv", 8) != 0)
        return 0;
    return em_gzip_accepted(mg_get_header(req->conn, "Accept-Encoding"));
}

int em_http_respond(em_http_request *req, int status, const em_http_headers *h, const void *body,
                    size_t len) {
    if (status != 204 && status != 304 && worth_gzip(req, h, len)) {
        size_t gz_len = 0;
        unsigned char *gz = em_gzip(body, len, &gz_len);
        if (gz) {
            em_strbuf extra;
            em_strbuf_init(&extra);
            if (h->extra)
                em_strbuf_puts(&extra, h->extra);
            em_strbuf_puts(&extra, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
            em_http_headers zipped = *h;
            zipped.extra = em_strbuf_cstr(&extra);
            int rc = respond_plain(req, status, &zipped, gz, gz_len);
            em_strbuf_free(&extra);
            free(gz);
            return rc;
        }
    }
    return respond_plain(req, status, h, body, len);
}

int em_http_respond_file(em_http_request *req, int status, const em_http_headers *h, int fd,
                         long long size) {
    /* on the heap: CivetWeb's workers have small stacks (100 KiB in Debian's build) */
    enum { PIECE = 65536 };
    char *buf = malloc(PIECE);
    if (!buf)
        return em_http_error(req, 503, "unavailable", NULL, "the server is out of memory");
    send_headers(req, status, h, size > 0 ? (unsigned long long)size : 0);
    long long sent = 0;
    while (!req->head && sent < size) {
        size_t want = size - sent < PIECE ? (size_t)(size - sent) : PIECE;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || mg_write(req->conn, buf, (size_t)n) != (int)n)
            break; /* the file shrank, or the client has gone */
        sent += n;
    }
    free(buf);
    req->bytes = sent;
    /* Fewer bytes than Content-Length promised: the connection cannot carry another
     * response, so it is closed after this one. */
    if (!req->head && sent < size)
        mg_disable_connection_keep_alive(req->conn);
    return status;
}

/* RFC 5987 attr-char: what goes unescaped in filename*. */
static int attr_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&+-.^_`|~", c));
}

void em_http_content_disposition(const char *type, const char *filename, char *out, size_t outlen) {
    char ascii[256], ext[768];
    size_t a = 0, e = 0;
    int plain = 1; /* the fallback is the name itself */
    for (const unsigned char *p = (const unsigned char *)filename; *p; p++) {
        unsigned char c = *p;
        /* the fallback: one '_' per non-ASCII character (its lead byte), no quote,
         * backslash or control character */
        int odd = c >= 0x80 || c < 0x20 || c == 0x7F || c == '"' || c == '\\';
        if (odd)
            plain = 0;
        if (a + 1 < sizeof ascii && (c & 0xC0) != 0x80)
            ascii[a++] = odd ? '_' : (char)c;
        if (e + 4 < sizeof ext) {
            if (attr_char(c))
                ext[e++] = (char)c;
            else
                e += (size_t)snprintf(ext + e, sizeof ext - e, "%%%02X", c);
        }
    }
    ascii[a] = '\0';
    ext[e] = '\0';
    if (plain)
        snprintf(out, outlen, "%s; filename=\"%s\"", type, ascii);
    else
        snprintf(out, outlen, "%s; filename=\"%s\"; filename*=UTF-8''%s", type, ascii, ext);
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

static int verror(em_http_request *req, int status, const char *code, const char *parameter,
                  const char *extra, const char *fmt, va_list ap) {
    char message[1024];
    vsnprintf(message, sizeof message, fmt, ap);
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
    return em_http_respond_json(req, status, "application/json", root, extra);
}

int em_http_error(em_http_request *req, int status, const char *code, const char *parameter,
                  const char *fmt, ...) {
    const char *extra = NULL;
    if (status == 405)
        extra = "Allow: GET, HEAD, OPTIONS\r\n";
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(req, status, code, parameter, extra, fmt, ap);
    va_end(ap);
    return rc;
}

int em_http_error_extra(em_http_request *req, int status, const char *code, const char *parameter,
                        const char *extra, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(req, status, code, parameter, extra, fmt, ap);
    va_end(ap);
    return rc;
}

int em_http_error_from(em_http_request *req, const em_error *err, const char *parameter) {
    switch (err->kind) {
    case EM_ERR_USAGE:
    case EM_ERR_INPUT:
        return em_http_error(req, 400, "invalid_parameter", parameter, "%s", err->message);
    case EM_ERR_NOTFOUND:
        return em_http_error(req, 404, "not_found", parameter, "%s", err->message);
    case EM_ERR_NOSPACE: /* the message names server paths: they go to the log */
        fprintf(stderr, "estatemap serve: %s %s: %s\n", req->method, req->raw_path, err->message);
        return em_http_error(req, 503, "unavailable", NULL,
                             "the server has no space left on its disk for this answer; try "
                             "again later");
    default:
        fprintf(stderr, "estatemap serve: %s %s: %s\n", req->method, req->raw_path, err->message);
        return em_http_error(req, 500, "internal", NULL,
                             "the server failed to answer this request; see its log");
    }
}

#include "http_static.h"
#include "sha256.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_STATIC_FILE (64L * 1024 * 1024)

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".geojson", "application/geo+json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/markdown; charset=utf-8"},
    {".xml", "application/xml"},
    {".qml", "application/xml"},
    {".sld", "application/xml"},
    {".webmanifest", "application/manifest+json"},
    {".wasm", "application/wasm"},
};

const char *em_static_mime_type(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

/* %2e %2f %5c %00 in the raw path: a client hiding a dot, slash or backslash. */
static int has_encoded_separator(const char *raw) {
    for (const char *p = raw; (p = strchr(p, '%')) != NULL; p++) {
        if (!p[1] || !p[2])
            return 1;
        char a = p[1], b = (char)(p[2] | 0x20);
        if ((a == '2' && (b == 'e' || b == 'f')) || (a == '5' && b == 'c') ||
            (a == '0' && b == '0'))
            return 1;
    }
    return 0;
}

static int has_bad_segment(const char *path) {
    if (path[0] != '/' || strchr(path, '\\'))
        return 1;
    for (const char *seg = path + 1; *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n > 0 && seg[0] == '.') /* ".", "..", ".git", ".env" */
            return 1;
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;
}

const char *em_static_cache_control(const char *path) {
    /* npm packages, copied by scripts/vendor-web, change only with package-lock.json */
    if (strncmp(path, "/vendor/", 8) == 0)
        return "public, max-age=604800";
    return "no-cache";
}

static void http_date(time_t t, char *out, size_t len) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int etag_matches(const char *header, const char *etag) {
    if (!header)
        return 0;
    if (strcmp(header, "*") == 0)
        return 1;
    /* A list of tags, possibly weak (W/"..."); compare the quoted part. */
    size_t n = strlen(etag);
    for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return 1;
    }
    return 0;
}

int em_static_serve(em_http_request *req, const char *web_root) {
    if (has_encoded_separator(req->raw_path) || has_bad_segment(req->path))
        return em_http_error(req, 403, "forbidden", NULL,
                             "this path is not allowed: no '..', hidden files, backslashes or "
                             "encoded separators");
    if (!web_root)
        return em_http_error(req, 404, "not_found", NULL,
                             "the web app is not installed (no web/ folder found)");
    size_t plen = strlen(req->path);
    char file[PATH_MAX];
    int n = snprintf(file, sizeof file, "%s%s%s", web_root, req->path,
                     req->path[plen - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof file)
        return em_http_error(req, 404, "not_found", NULL, "no such file");
    char real[PATH_MAX];
    size_t rootlen = strlen(web_root);
    if (!realpath(file, real) || strncmp(real, web_root, rootlen) != 0 ||
        (real[rootlen] != '/' && real[rootlen] != '\0'))
        return em_http_error(req, 404, "not_found", NULL, "no such file");
    struct stat st;
    if (stat(real, &st) != 0)
        return em_http_error(req, 404, "not_found", NULL, "no such file");
    if (S_ISDIR(st.st_mode)) {
        char index[PATH_MAX + 16];
        snprintf(index, sizeof index, "%s/index.html", real);
        if (req->path[plen - 1] != '/' && stat(index, &st) == 0 && S_ISREG(st.st_mode)) {
            /* /app -> /app/ so that relative links in its index.html resolve. */
            char location[PATH_MAX + 32];
            const char *slash = strrchr(req->raw_path, '/');
            snprintf(location, sizeof location, "Location: %s/\r\n", slash ? slash + 1 : "");
            em_http_headers h = {"application/json", NULL, location, 0};
            static const char body[] = "{\"moved\":true}";
            return em_http_respond(req, 301, &h, body, sizeof body - 1);
        }
        return em_http_error(req, 404, "not_found", NULL, "no such file");
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_FILE)
        return em_http_error(req, 404, "not_found", NULL, "no such file");

    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return em_http_error(req, 404, "not_found", NULL, "no such file");
    size_t size = (size_t)st.st_size;
    char *data = malloc(size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!data || got != size) {
        free(data);
        em_error err;
        em_fail(&err, EM_ERR_RUNTIME, "reading %s failed", real);
        return em_http_error_from(req, &err, NULL);
    }

    /* A strong ETag from the bytes themselves: an upgrade that keeps a file's size
     * and time (tar, cp -p) still changes its tag. */
    char etag[2 * EM_SHA256_BYTES + 3], modified[64];
    etag[0] = '"';
    em_sha256_hex(data, size, etag + 1);
    snprintf(etag + 33, sizeof etag - 33, "\""); /* 128 bits are plenty */
    http_date(st.st_mtime, modified, sizeof modified);
    const char *type = em_static_mime_type(real);
    int html = strncmp(type, "text/html", 9) == 0;
    char extra[256];
    snprintf(extra, sizeof extra, "ETag: %s\r\nLast-Modified: %s\r\n", etag, modified);
    em_http_headers h = {type, em_static_cache_control(req->path), extra, html};
    if (etag_matches(mg_get_header(req->conn, "If-None-Match"), etag)) {
        free(data);
        return em_http_respond(req, 304, &h, NULL, 0);
    }
    int rc = em_http_respond(req, 200, &h, data, size);
    free(data);
    return rc;
}

#include "tile_http.h"
#include "gzip.h"

#include "fields.h"
#include "geom_cache.h"
#include "metrics.h"
#include "mvt.h"
#include "tile_cache.h"

#include <civetweb.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct em_tile_service {
    em_tile_cache *cache;
    em_geom_cache *geoms;
    size_t max_bytes;
    char salt[17];
};

static const char hits_name[] = "estatemap_tile_cache_hits_total";
static const char hits_help[] = "Tile requests answered from the tile cache";
static const char misses_name[] = "estatemap_tile_cache_misses_total";
static const char misses_help[] = "Tile requests that had to build the tile (cache miss or cache "
                                  "off)";
static const char capped_name[] = "estatemap_tiles_capped_total";
static const char capped_help[] = "Tiles that lost features to --tile-max-bytes";

em_tile_service *em_tile_service_new(size_t cache_bytes, size_t geom_bytes, size_t max_bytes,
                                     em_error *err) {
    em_tile_service *s = calloc(1, sizeof *s);
    if (!s) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    s->max_bytes = max_bytes ? max_bytes : EM_TILE_MAX_BYTES_DEFAULT;
    s->cache = em_tile_cache_new(cache_bytes);
    s->geoms = geom_bytes ? em_geom_cache_new(geom_bytes) : NULL;
    if (!s->cache || (geom_bytes && !s->geoms)) {
        em_tile_cache_free(s->cache);
        em_geom_cache_free(s->geoms);
        free(s);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    /* A new salt each start: a database rebuilt from scratch starts its versions
     * again, and a client must not keep a tile from the old one. */
    unsigned long long r = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (unsigned long long)ts.tv_nsec * 2654435761u ^ (unsigned long long)ts.tv_sec ^
            ((unsigned long long)getpid() << 32);
    }
    if (fd >= 0)
        close(fd);
    snprintf(s->salt, sizeof s->salt, "%08llx", r & 0xffffffffull);
    /* Show the counters from the start, at zero. */
    em_metrics_counter_add(hits_name, hits_help, 0);
    em_metrics_counter_add(misses_name, misses_help, 0);
    em_metrics_counter_add(capped_name, capped_help, 0);
    return s;
}

void em_tile_service_free(em_tile_service *s) {
    if (!s)
        return;
    em_tile_cache_free(s->cache);
    em_geom_cache_free(s->geoms);
    free(s);
}

void em_tile_service_metrics(em_tile_service *s, em_strbuf *out) {
    em_tile_cache_render_metrics(s ? s->cache : NULL, out);
    em_geom_cache_render_metrics(s ? s->geoms : NULL, out);
}

/* ---- ETags and encodings ---------------------------------------------------------- */

void em_tile_etag(const em_tile_service *s, const long long *versions, const int *index, size_t n,
                  const char *suffix, char *out, size_t len) {
    size_t used = (size_t)snprintf(out, len, "\"%s", s->salt);
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, ".%lld", versions[index[i]]);
    if (used < len)
        snprintf(out + used, len - used, "%s%s\"", suffix ? "." : "", suffix ? suffix : "");
}

int em_tile_etag_matches(const char *inm, const char *etag, const char *etag_gz) {
    if (!inm)
        return 0;
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/') /* If-None-Match compares weakly */
            p += 2;
        const char *start = p;
        if (*p == '"') {
            p++;
            while (*p && *p != '"')
                p++;
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',' && *p != ' ')
                p++;
        }
        size_t n = (size_t)(p - start);
        if ((strlen(etag) == n && strncmp(start, etag, n) == 0) ||
            (etag_gz && strlen(etag_gz) == n && strncmp(start, etag_gz, n) == 0))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

/* ---- parsing the path ------------------------------------------------------------- */

/* "towns,estates" -> layers; 0, or the status of the error sent. */
static int parse_layers(em_http_request *req, const char *text, size_t len, const em_layer **layers,
                        int *index, size_t *n) {
    *n = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        char name[32];
        if (j == i)
            return em_http_error(req, 400, "invalid_parameter", "layers",
                                 "the layer list has an empty name; join layer names with commas");
        if (j - i >= sizeof name)
            return em_http_error(req, 404, "not_found", "layers",
                                 "no such layer; tiles are made of towns, estates, grid, "
                                 "violations, corridors and zones");
        memcpy(name, text + i, j - i);
        name[j - i] = '\0';
        const em_layer *l = em_layer_find(name);
        int k = l ? em_tile_layer_index(l) : -1;
        if (k < 0)
            return em_http_error(req, 404, "not_found", "layers",
                                 "no layer '%s'; tiles are made of towns, estates, grid, "
                                 "violations, corridors and zones",
                                 name);
        for (size_t m = 0; m < *n; m++)
            if (layers[m] == l)
                return em_http_error(req, 400, "invalid_parameter", "layers",
                                     "layer '%s' is named twice", name);
        if (*n >= EM_TILE_MAX_LAYERS)
            return em_http_error(req, 400, "invalid_parameter", "layers",
                                 "a tile holds at most %d layers", EM_TILE_MAX_LAYERS);
        layers[*n] = l;
        index[*n] = k;
        (*n)++;
        i = j + 1;
    }
    return 0;
}

/* A non-negative decimal number of at most 7 digits (2^22 has 7). */
static int parse_coord(const char *s, size_t len, long *out) {
    if (len == 0 || len > 7)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ---- building a tile --------------------------------------------------------------- */

typedef enum { FMT_MVT, FMT_GEOJSON } tile_format;

static const char *const content_types[] = {"application/vnd.mapbox-vector-tile",
                                            "application/json"};

static int encode(em_tile *t, tile_format fmt, unsigned char **body, size_t *len, em_error *err) {
    if (fmt == FMT_MVT)
        return em_mvt_encode(t, body, len, err);
    em_strbuf b;
    em_strbuf_init(&b);
    *body = NULL;
    *len = 0;
    if (em_tile_count(t, 1) == 0)
        return 0;
    em_tile_geojson(t, &b);
    if (b.failed) {
        em_strbuf_free(&b);
        return em_fail(err, EM_ERR_RUNTIME, "out of memory writing a tile");
    }
    *len = b.len;
    *body = (unsigned char *)b.data; /* the buffer is the caller's now */
    return 0;
}

/* What a feature is likely to cost, relative to the others (calibrated against the
 * real size of the whole tile). */
static double feature_cost(const em_tile_feature *f, tile_format fmt) {
    return fmt == FMT_MVT ? 8.0 + 2.5 * (double)f->npoints + 2.0 * (double)f->nprops
                          : 40.0 + 12.0 * (double)f->npoints + 24.0 * (double)f->nprops;
}

/* Drop features, smallest first, until the encoding fits in `cap` bytes. Returns
 * the number dropped, or -1 with `err`. */
static long apply_cap(em_tile *t, tile_format fmt, size_t cap, unsigned char **body, size_t *len,
                      em_error *err) {
    if (*len <= cap)
        return 0;
    size_t n = 0;
    em_tile_feature **order = em_tile_drop_order(t, &n);
    if (!order)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory capping a tile");
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += feature_cost(order[i], fmt);
    double scale = total > 0 ? (double)*len / total : 1;
    size_t next = 0;
    long dropped = 0;
    while (*len > cap && next < n) {
        double need = (double)(*len - cap) * 1.02 + 1;
        double removed = 0;
        while (removed < need && next < n) {
            order[next]->dropped = 1;
            removed += feature_cost(order[next], fmt) * scale;
            next++;
            dropped++;
        }
        free(*body);
        *body = NULL;
        if (encode(t, fmt, body, len, err) < 0) {
            free(order);
            return -1;
        }
    }
    free(order);
    return dropped;
}

static int respond_tile(em_http_request *req, const char *etag, const char *etag_gz,
                        const unsigned char *body, size_t len, const unsigned char *gz,
                        size_t gz_len, long dropped, tile_format fmt) {
    char extra[512];
    size_t used = (size_t)snprintf(extra, sizeof extra, "ETag: %s\r\nVary: Accept-Encoding\r\n",
                                   gz ? etag_gz : etag);
    if (gz)
        used += (size_t)snprintf(extra + used, sizeof extra - used, "Content-Encoding: gzip\r\n");
    if (dropped > 0)
        snprintf(extra + used, sizeof extra - used, "X-Tile-Dropped-Features: %ld\r\n", dropped);
    em_http_headers h = {len ? content_types[fmt] : NULL, "no-cache", extra, 0};
    if (len == 0)
        return em_http_respond(req, 204, &h, NULL, 0);
    return gz ? em_http_respond(req, 200, &h, gz, gz_len)
              : em_http_respond(req, 200, &h, body, len);
}

static int db_unavailable(em_http_request *req, const em_error *err) {
    fprintf(stderr, "estatemap serve: %s\n", err->message);
    return em_http_error(req, 503, "unavailable", NULL, "the database cannot be opened");
}

/* ?as-of=YYYY-MM-DD for tiles with violations: `out` gets the date, or "" without
 * one; 0, or the status of the error sent. */
static int parse_as_of(em_http_request *req, const em_layer *const *layers, size_t n,
                       char out[11]) {
    static const char *const allowed[] = {"as-of", NULL};
    int rc = em_http_check_params(req, allowed, NULL, NULL);
    if (rc)
        return rc;
    out[0] = '\0';
    const char *v = em_http_param(req, "as-of");
    if (!v)
        return 0;
    int dated = 0;
    for (size_t i = 0; i < n; i++)
        dated |= em_tile_layer_dated(layers[i]);
    if (!dated)
        return em_http_error(req, 400, "invalid_parameter", "as-of",
                             "as-of applies to tiles with violations only");
    if (em_parse_date(v, out) < 0)
        return em_http_error(req, 400, "invalid_parameter", "as-of",
                             "as-of: '%s' is not a date (YYYY-MM-DD)", v);
    return 0;
}

static int serve_tile(em_http_request *req, em_tile_service *svc, em_tile_source *src,
                      const em_layer *const *layers, const int *index, size_t n, const char *path,
                      const em_tile_id *id, tile_format fmt) {
    char as_of[11];
    int rc = parse_as_of(req, layers, n, as_of);
    if (rc)
        return rc;
    /* the cache key and the ETags name the date too */
    char key[224], gz_suffix[16];
    snprintf(key, sizeof key, "%s%s%s", path, as_of[0] ? "?as-of=" : "", as_of);
    snprintf(gz_suffix, sizeof gz_suffix, "%s%sgz", as_of, as_of[0] ? "." : "");
    const char *suffix = as_of[0] ? as_of : NULL;
    em_error err;
    em_error_clear(&err);
    em_db *db = em_http_db(req, &err);
    if (!db)
        return db_unavailable(req, &err);
    long long versions[EM_TILE_MAX_LAYERS];
    if (em_tile_source_versions(src, db->sql, versions, &err) < 0)
        return em_http_error_from(req, &err, NULL);
    char etag[128], etag_gz[128];
    em_tile_etag(svc, versions, index, n, suffix, etag, sizeof etag);
    em_tile_etag(svc, versions, index, n, gz_suffix, etag_gz, sizeof etag_gz);
    int gzip_ok = em_gzip_accepted(mg_get_header(req->conn, "Accept-Encoding"));
    if (em_tile_etag_matches(mg_get_header(req->conn, "If-None-Match"), etag, etag_gz)) {
        char extra[192];
        snprintf(extra, sizeof extra, "ETag: %s\r\nVary: Accept-Encoding\r\n",
                 gzip_ok ? etag_gz : etag);
        em_http_headers h = {NULL, "no-cache", extra, 0};
        return em_http_respond(req, 304, &h, NULL, 0);
    }

    em_tile_entry *e = em_tile_cache_get(svc->cache, key, etag);
    if (e) {
        em_metrics_counter_add(hits_name, hits_help, 1);
        unsigned char *gz = NULL;
        const unsigned char *g = NULL;
        size_t glen = 0;
        if (gzip_ok && e->len > 0 && !em_tile_cache_gzip(svc->cache, e, &g, &glen)) {
            gz = em_gzip(e->body, e->len, &glen);
            if (gz)
                em_tile_cache_set_gzip(svc->cache, e, gz, glen);
            g = gz;
        }
        rc = respond_tile(req, etag, etag_gz, e->body, e->len, g, glen, e->dropped, fmt);
        free(gz);
        em_tile_cache_release(svc->cache, e);
        return rc;
    }
    em_metrics_counter_add(misses_name, misses_help, 1);

    /* Versions and features from one snapshot, so the ETag names what was read. */
    if (em_tile_source_begin(src, db->sql, &err) < 0)
        return em_http_error_from(req, &err, NULL);
    em_tile *t = NULL;
    unsigned char *body = NULL;
    size_t len = 0;
    long dropped = 0;
    if (em_tile_source_versions(src, db->sql, versions, &err) < 0)
        goto failed;
    em_tile_etag(svc, versions, index, n, suffix, etag, sizeof etag);
    em_tile_etag(svc, versions, index, n, gz_suffix, etag_gz, sizeof etag_gz);
    t = em_tile_new(id);
    if (!t) {
        em_fail(&err, EM_ERR_RUNTIME, "out of memory");
        goto failed;
    }
    for (size_t i = 0; i < n; i++) {
        em_tile_read_opts opts = {svc->geoms, versions[index[i]], as_of[0] ? as_of : NULL};
        if (em_tile_read_layer(src, db->sql, t, layers[i], &opts, &err) < 0)
            goto failed;
    }
    em_tile_source_commit(src, db->sql);
    if (encode(t, fmt, &body, &len, &err) < 0)
        goto failed;
    if (len > svc->max_bytes) {
        size_t before = len, total = em_tile_count(t, 0);
        dropped = apply_cap(t, fmt, svc->max_bytes, &body, &len, &err);
        if (dropped < 0)
            goto failed;
        em_metrics_counter_add(capped_name, capped_help, 1);
        fprintf(stderr,
                "estatemap serve: tile %s is %zu bytes, over --tile-max-bytes %zu: dropped %ld of "
                "%zu features, smallest first, leaving %zu bytes\n",
                key, before, svc->max_bytes, dropped, total, len);
    }
    em_tile_free(t);
    t = NULL;

    e = em_tile_cache_put(svc->cache, key, etag, body, len, dropped);
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    if (gzip_ok && len > 0) {
        gz = em_gzip(body, len, &gz_len);
        if (gz && e)
            em_tile_cache_set_gzip(svc->cache, e, gz, gz_len);
    }
    rc = respond_tile(req, etag, etag_gz, body, len, gz, gz_len, dropped, fmt);
    free(gz);
    free(body);
    em_tile_cache_release(svc->cache, e);
    return rc;

failed:
    em_db_rollback(db); /* ends the read transaction */
    em_tile_free(t);
    free(body);
    return em_http_error_from(req, &err, NULL);
}

int em_tile_handle(em_http_request *req, em_tile_service *svc, em_tile_source *src,
                   const char *rest) {
    req->route = "/tiles/*";
    const em_layer *layers[EM_TILE_MAX_LAYERS];
    int index[EM_TILE_MAX_LAYERS];
    size_t n = 0;
    if (!svc || !src)
        return em_http_error(req, 503, "unavailable", NULL, "the server is out of memory");
    const char *slash = strchr(rest, '/');
    size_t rlen = strlen(rest);
    if (!slash) {
        /* /tiles/{layers}.json */
        if (rlen > 5 && strcmp(rest + rlen - 5, ".json") == 0) {
            req->route = "/tiles/{layers}.json";
            int rc = parse_layers(req, rest, rlen - 5, layers, index, &n);
            if (rc)
                return rc;
            char names[128];
            snprintf(names, sizeof names, "%.*s", (int)(rlen - 5), rest);
            return em_tilejson_respond(req, svc, src, layers, n, names);
        }
        return em_http_error(req, 404, "not_found", NULL,
                             "no such resource; tiles are /tiles/{layers}/{z}/{x}/{y}.mvt or "
                             ".geojson, and /tiles/{layers}.json");
    }
    /* /tiles/{layers}/{z}/{x}/{y}.{mvt|geojson} */
    const char *zs = slash + 1;
    const char *xs = strchr(zs, '/');
    const char *ys = xs ? strchr(xs + 1, '/') : NULL;
    const char *dot = ys ? strrchr(ys + 1, '.') : NULL;
    if (!xs || !ys || !dot || strchr(ys + 1, '/'))
        return em_http_error(req, 404, "not_found", NULL,
                             "no such resource; a tile is /tiles/{layers}/{z}/{x}/{y}.mvt or "
                             ".geojson");
    xs++;
    ys++;
    tile_format fmt;
    if (strcmp(dot, ".mvt") == 0 || strcmp(dot, ".pbf") == 0) {
        fmt = FMT_MVT;
        req->route = "/tiles/{layers}/{z}/{x}/{y}.mvt";
    } else if (strcmp(dot, ".geojson") == 0) {
        fmt = FMT_GEOJSON;
        req->route = "/tiles/{layers}/{z}/{x}/{y}.geojson";
    } else {
        return em_http_error(req, 404, "not_found", NULL,
                             "no tile format '%s'; tiles come as .mvt and .geojson", dot + 1);
    }
    int rc = parse_layers(req, rest, (size_t)(slash - rest), layers, index, &n);
    if (rc)
        return rc;
    long z, x, y;
    if (parse_coord(zs, (size_t)(xs - 1 - zs), &z) < 0 || z > EM_TILE_MAX_ZOOM)
        return em_http_error(req, 400, "invalid_parameter", "z",
                             "z must be a whole number from 0 to %d", EM_TILE_MAX_ZOOM);
    long side = 1L << z;
    if (parse_coord(xs, (size_t)(ys - 1 - xs), &x) < 0 || x >= side)
        return em_http_error(req, 400, "invalid_parameter", "x",
                             "x must be a whole number from 0 to %ld at zoom %ld", side - 1, z);
    if (parse_coord(ys, (size_t)(dot - ys), &y) < 0 || y >= side)
        return em_http_error(req, 400, "invalid_parameter", "y",
                             "y must be a whole number from 0 to %ld at zoom %ld", side - 1, z);
    em_tile_id id = {(int)z, (uint32_t)x, (uint32_t)y};
    char key[192];
    snprintf(key, sizeof key, "%.*s/%ld/%ld/%ld.%s", (int)(slash - rest), rest, z, x, y,
             fmt == FMT_MVT ? "mvt" : "geojson");
    return serve_tile(req, svc, src, layers, index, n, key, &id, fmt);
}

#include "crs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const em_crs crs_list[] = {
    {EM_CRS84_URI, "OGC:CRS84", "WGS 84 lon/lat (CRS84)", 1, 0},
    {"http://www.opengis.net/def/crs/EPSG/0/4326", "EPSG:4326", "WGS 84 lat/lon", 1, 1},
    {"http://www.opengis.net/def/crs/EPSG/0/4490", "EPSG:4490", "CGCS2000 lat/lon", 1, 1},
    {"http://www.opengis.net/def/crs/EPSG/0/4549", "EPSG:4549",
     "CGCS2000 / 3-degree Gauss-Kruger CM 120E (northing, easting)", 0, 1},
    {"http://www.opengis.net/def/crs/EPSG/0/3857", "EPSG:3857", "WGS 84 / Pseudo-Mercator", 0, 0},
};

#define NCRS (sizeof crs_list / sizeof crs_list[0])

size_t em_crs_count(void) {
    return NCRS;
}

const em_crs *em_crs_at(size_t i) {
    return i < NCRS ? &crs_list[i] : NULL;
}

const em_crs *em_crs_find_uri(const char *uri) {
    if (!uri)
        return NULL;
    for (size_t i = 0; i < NCRS; i++)
        if (strcmp(crs_list[i].uri, uri) == 0)
            return &crs_list[i];
    return NULL;
}

int em_crs_is_crs84(const em_crs *crs) {
    return crs == &crs_list[0];
}

struct em_crs_cache {
    PJ_CONTEXT *ctx;
    PJ *to[NCRS];
};

em_crs_cache *em_crs_cache_new(void) {
    em_crs_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ctx = proj_context_create();
    if (!c->ctx) {
        free(c);
        return NULL;
    }
    return c;
}

void em_crs_cache_free(em_crs_cache *cache) {
    if (!cache)
        return;
    for (size_t i = 0; i < NCRS; i++)
        if (cache->to[i])
            proj_destroy(cache->to[i]);
    proj_context_destroy(cache->ctx);
    free(cache);
}

PJ *em_crs_from_crs84(em_crs_cache *cache, const em_crs *crs, em_error *err) {
    em_error_clear(err);
    size_t i = (size_t)(crs - crs_list);
    if (i >= NCRS || i == 0)
        return NULL;
    if (!cache->to[i]) {
        cache->to[i] = proj_create_crs_to_crs(cache->ctx, "OGC:CRS84", crs->code, NULL);
        if (!cache->to[i]) {
            int e = proj_context_errno(cache->ctx);
            em_fail(err, EM_ERR_RUNTIME, "PROJ cannot transform CRS84 to %s: %s", crs->code,
                    proj_context_errno_string(cache->ctx, e));
            return NULL;
        }
    }
    return cache->to[i];
}

int em_crs_bbox_to_crs84(em_crs_cache *cache, const em_crs *crs, const double in[4], double out[4],
                         em_error *err) {
    if (em_crs_is_crs84(crs)) {
        memcpy(out, in, 4 * sizeof *out);
        return 0;
    }
    PJ *pj = em_crs_from_crs84(cache, crs, err);
    if (!pj)
        return -1;
    double xmin, ymin, xmax, ymax;
    /* proj_trans_bounds works in each CRS's own axis order: in[] is given in the
     * order of `crs`, the result in CRS84's lon/lat. */
    if (!proj_trans_bounds(cache->ctx, pj, PJ_INV, in[0], in[1], in[2], in[3], &xmin, &ymin, &xmax,
                           &ymax, 21) ||
        !isfinite(xmin) || !isfinite(ymin) || !isfinite(xmax) || !isfinite(ymax))
        return em_fail(err, EM_ERR_USAGE, "the bbox lies outside the area where %s is defined",
                       crs->code);
    out[0] = xmin;
    out[1] = ymin;
    out[2] = xmax;
    out[3] = ymax;
    return 0;
}

/* crs.h -- the coordinate reference systems the HTTP API answers in, and PROJ
 * transformations to them from storage (lon/lat, CRS84).
 *
 * OGC API - Features names a CRS by URI and uses the axis order its authority
 * defines: EPSG:4326 and EPSG:4490 are lat/lon, EPSG:4549 is northing/easting,
 * EPSG:3857 and CRS84 are x/y. PROJ without normalisation does exactly that, so
 * the transformations here are never "normalized for visualization".
 *
 * A PROJ context is not thread-safe: each server worker owns one em_crs_cache. */
#ifndef ESTATEMAP_CRS_H
#define ESTATEMAP_CRS_H

#include "errors.h"
#include <proj.h>
#include <stddef.h>

typedef struct {
    const char *uri;  /* http://www.opengis.net/def/crs/EPSG/0/4326 */
    const char *code; /* what PROJ is given: "OGC:CRS84", "EPSG:4326" */
    const char *label;
    int geographic; /* degrees (7 decimals in output) or metres (3 decimals) */
    int swapped;    /* first axis is latitude or northing */
} em_crs;

#define EM_CRS84_URI "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

/* CRS84 first, then EPSG:4326, 4490, 4549 and 3857. */
size_t em_crs_count(void);
const em_crs *em_crs_at(size_t i);
const em_crs *em_crs_find_uri(const char *uri);
int em_crs_is_crs84(const em_crs *crs);

typedef struct em_crs_cache em_crs_cache;

em_crs_cache *em_crs_cache_new(void);
void em_crs_cache_free(em_crs_cache *cache);

/* Transformation from CRS84 to `crs`, created once per cache; NULL with `err`
 * filled on failure. For CRS84 itself it returns NULL without an error: callers
 * treat NULL with err->kind == EM_OK as "no transformation needed". */
PJ *em_crs_from_crs84(em_crs_cache *cache, const em_crs *crs, em_error *err);

/* Turn a bbox given in `crs` (minA, minB, maxA, maxB in the CRS's own axis order)
 * into a lon/lat bbox: out = {west, south, east, north}. Densifies the edges so a
 * projected box becomes the lon/lat box that contains it. */
int em_crs_bbox_to_crs84(em_crs_cache *cache, const em_crs *crs, const double in[4], double out[4],
                         em_error *err);

#endif

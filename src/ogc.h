/* ogc.h -- OGC API - Features (Part 1 core, GeoJSON, OAS 3.0; Part 2 CRS) at /ogc.
 *
 * The six spatial layers are the collections; a feature's id is its row id and
 * its properties are the layer's columns (layers.h). Query parameters are checked
 * against a fixed list plus the layer's own column names, so an unknown one is a
 * 400 that names it; values reach SQL only as bound parameters.
 *
 * Decisions the standard leaves open:
 * - `datetime` filters violations on reported_at; on a layer without a time it is a
 *   400, not silently ignored, so a client never mistakes "unfiltered" for "matched".
 * - `limit` above 10000 is clamped to 10000; 0, negative or non-numeric is a 400.
 * - bbox takes 4 or 6 numbers; with bbox-crs CRS84 a west edge greater than the
 *   east edge crosses the antimeridian.
 * - Attribute filters are equality, with values normalised as an import would
 *   (dates, 是/否 booleans, "85%"), so ?owners_cofund=是 works. */
#ifndef ESTATEMAP_OGC_H
#define ESTATEMAP_OGC_H

#include "http.h"
#include "layers.h"

#define EM_OGC_LIMIT_DEFAULT 10
#define EM_OGC_LIMIT_MAX 10000

/* Answer a request whose path starts with /ogc; `rest` is what follows it. */
int em_ogc_handle(em_http_request *req, const char *rest);

/* The spatial layers served as collections (the first six of em_layer_at()). */
size_t em_ogc_collection_count(void);
const em_layer *em_ogc_collection_at(size_t i);
/* The column `datetime` filters on, or NULL for a layer without one. */
const char *em_ogc_temporal_column(const em_layer *layer);

/* The OpenAPI 3.0 document describing /ogc (ogc_openapi.c). */
json_object *em_ogc_openapi(const char *base_url);
/* The JSON Schema of a collection's features (ogc_openapi.c). */
json_object *em_ogc_feature_schema(const em_layer *layer, const char *base_url);

#endif

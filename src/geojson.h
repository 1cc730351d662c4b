/* geojson.h -- writing a stored SpatiaLite geometry as GeoJSON geometry text.
 *
 * Our own writer rather than SpatiaLite's AsGeoJSON(): the OGC API must answer in
 * the axis order of the requested CRS and with a precision that suits it, which
 * AsGeoJSON cannot do, and the tile code wants the same coordinate loop. */
#ifndef ESTATEMAP_GEOJSON_H
#define ESTATEMAP_GEOJSON_H

#include "strbuf.h"
#include <proj.h>

typedef struct {
    PJ *transform; /* from stored lon/lat; NULL writes coordinates as stored */
    int precision; /* decimals: 7 for degrees (about 1 cm), 3 for metres */
} em_geojson_opts;

/* Append the geometry in `blob` (a SpatiaLite geometry BLOB) as a GeoJSON
 * geometry object. A NULL blob appends `null`. Returns -1 when the blob is not a
 * geometry or a coordinate does not transform. */
int em_geojson_geometry(em_strbuf *out, const void *blob, int size, const em_geojson_opts *opts);

/* Append a number with at most `precision` decimals, trailing zeros dropped. */
void em_geojson_number(em_strbuf *out, double v, int precision);

#endif

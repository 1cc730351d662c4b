/* mvt.h -- a tile as a Mapbox Vector Tile 2.1 (protobuf), for MapLibre, QGIS, GDAL.
 *
 * The message types come from src/proto/vector_tile.proto, compiled by protoc-c
 * at build time; protobuf-c does the wire encoding. Each layer gets its own key
 * and value tables (values shared between features), extent 4096 and version 2.
 * Geometry is written from the tile's features as they are (tiles.h): closed
 * rings lose their repeated last point to a ClosePath, as the spec wants. */
#ifndef ESTATEMAP_MVT_H
#define ESTATEMAP_MVT_H

#include "errors.h"
#include "tiles.h"

#include <stddef.h>

/* Encode the features not dropped; *out is malloc'ed (NULL and *len 0 when the
 * tile has no feature). 0, or -1 with `err`. */
int em_mvt_encode(em_tile *tile, unsigned char **out, size_t *len, em_error *err);

#endif

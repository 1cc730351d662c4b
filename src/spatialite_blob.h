/* spatialite_blob.h -- SpatiaLite geometry BLOBs written and read in C.
 *
 * The importer turns each feature's WKB into SpatiaLite's own BLOB format here and
 * binds the bytes, instead of calling GeomFromWKB() for every row: the same bytes,
 * without building and freeing SpatiaLite's geometry objects in between. The format
 * (little-endian here): 0x00, byte order 0x01, SRID int32, MBR as min x, min y,
 * max x, max y doubles, 0x7C, class int32, the body, 0xFE. Bodies follow WKB's
 * layout, except that each part of a collection starts with 0x69 and its class
 * instead of a byte order and WKB type. Only 2-D geometry is written. */
#ifndef ESTATEMAP_SPATIALITE_BLOB_H
#define ESTATEMAP_SPATIALITE_BLOB_H

#include "strbuf.h"
#include <stddef.h>

/* Append the SpatiaLite BLOB of a 2-D WKB geometry (either byte order) to `out`.
 * Returns 0, or -1 when the WKB is malformed, has Z or M, or is empty. */
int em_splite_from_wkb(const unsigned char *wkb, size_t size, int srid, em_strbuf *out);

/* Read the MBR from a BLOB's header: mbr = {min x, min y, max x, max y}.
 * Returns 0, or -1 when `blob` is not an uncompressed-header SpatiaLite BLOB. */
int em_splite_mbr(const unsigned char *blob, size_t size, double mbr[4]);

#endif

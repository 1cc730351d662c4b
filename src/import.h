/* import.h -- reading a GDAL/OGR source into one layer, in one transaction.
 *
 * The import maps source fields to the layer's columns, reprojects to lon/lat with
 * PROJ, undoes China's GCJ-02/BD-09 offsets when asked, checks and repairs geometry,
 * and recomputes the derived links before it commits. Any failure rolls everything
 * back: the database is exactly as it was. */
#ifndef ESTATEMAP_IMPORT_H
#define ESTATEMAP_IMPORT_H

#include "chinacoords.h"
#include "db.h"
#include "errors.h"
#include <stdio.h>

#define EM_IMPORT_MAX_PAIRS 64
/* Zip bombs: what a zip may unpack to (see check_zip in import.c). */
#define EM_IMPORT_MAX_UNZIPPED_BYTES (16ULL << 30)
#define EM_IMPORT_MAX_ZIP_RATIO 100
#define EM_IMPORT_ZIP_RATIO_FROM (256ULL << 20)

typedef struct {
    const char *source; /* source field name, or for --set the value */
    const char *column; /* layer column */
} em_import_pair;

typedef struct {
    const char *layer;        /* one of em_layer_names() */
    const char *path;         /* file; .zip is read through /vsizip/ */
    const char *source_layer; /* layer inside a multi-layer source, or NULL */
    const char *crs;          /* "EPSG:4549" etc., overrides the file's CRS; or NULL */
    const char *encoding;     /* shapefile encoding override ("GBK"), or NULL */
    const char *where;        /* OGR attribute filter on the source, or NULL */
    em_coords coords;         /* offset system of the source's lon/lat */
    em_import_pair map[EM_IMPORT_MAX_PAIRS];
    int nmap;
    em_import_pair set[EM_IMPORT_MAX_PAIRS];
    int nset;
    int replace;      /* delete the layer's rows first */
    int skip_invalid; /* import the valid features even when some are rejected */
    int progress;     /* draw a progress bar on `log` */
    FILE *log;        /* repairs, rejections, progress; NULL for silence */
} em_import_options;

typedef struct {
    long read;
    long imported;
    long repaired;
    long rejected;
} em_import_result;

int em_import(em_db *db, const em_import_options *opt, em_import_result *result, em_error *err);

/* Parse "SRC=DST" into a pair (pointers into `text`, which is modified). */
int em_import_parse_pair(char *text, em_import_pair *pair);

#endif

/* export.h -- layers and analysis results written as files for the planning bureau.
 *
 * The bureau opens our files in ArcGIS on Chinese Windows and in QGIS, mostly in
 * CGCS2000. One call writes one file: a zip of shapefiles (with .prj, .cpg, .qml and
 * fields.csv), a GeoPackage (styles in layer_styles), GeoJSON, CSV (UTF-8 with BOM),
 * KML or XLSX, all through GDAL/OGR, reprojected with PROJ. The CLI (`estatemap
 * export`) and the HTTP handler (GET /api/export) both fill em_export_options from
 * string key/values with em_export_option_set, call em_export with a path, then
 * print or stream that file: both accept and refuse exactly the same input.
 *
 * The file appears at out_path only when it is complete: everything is written in a
 * temporary folder beside out_path and renamed into place, so a failed export
 * leaves nothing at out_path (and an existing file there untouched).
 *
 * SOURCE is a comma list of layers (towns, estates, grid, violations, corridors,
 * zones, renovation) or one analysis. A layer name always means the layer:
 * `corridors` is the corridor layer, `analysis:corridors` the corridor analysis.
 * Any analysis may be written `analysis:NAME`; one that is not also a layer name
 * (eligibility, density, hotspots, tiers, progress) may be written bare. */
#ifndef ESTATEMAP_EXPORT_H
#define ESTATEMAP_EXPORT_H

#include "analysis.h"
#include "db.h"
#include "errors.h"
#include "table.h"

#include <stddef.h>

typedef enum {
    EM_EXPORT_SHP, /* a .zip of shapefiles */
    EM_EXPORT_GPKG,
    EM_EXPORT_GEOJSON,
    EM_EXPORT_CSV,
    EM_EXPORT_KML,
    EM_EXPORT_XLSX,
} em_export_format;

typedef enum { EM_EXPORT_UTF8, EM_EXPORT_GBK } em_export_encoding;

/* Default size at which a shapefile is continued in a new numbered part: each .shp
 * and .dbf stays below it, under the 2 GiB that ArcGIS and the format's 32-bit
 * offsets allow. $ESTATEMAP_SHP_PART_BYTES lowers it (for tests). */
#define EM_EXPORT_PART_BYTES 2000000000LL

typedef struct {
    const char *source;
    int format_set;
    em_export_format format;
    int epsg;                    /* output CRS; default 4326 */
    em_export_encoding encoding; /* shapefile text; default UTF-8 */
    em_lang lang;                /* field names: en (default) or zh */
    /* Everything else, as given: for layers the filters town, tier, built-before
     * (or built_before), bbox and polygon (lon/lat WKT or GeoJSON text: the features
     * that intersect it; export_polygon.c); for an analysis, its own parameters. The
     * strings are kept, not copied: they must outlive em_export. */
    em_params params;
    long long part_bytes; /* 0: the default or $ESTATEMAP_SHP_PART_BYTES */
} em_export_options;

void em_export_options_init(em_export_options *opt);

/* Set one option by name, as both front ends receive them: "source", "format",
 * "crs" (EPSG:NNNN), "encoding" (UTF-8 or GBK), "lang" (en or zh); any other key is
 * kept in params and checked by em_export. A usage error names the option. */
int em_export_option_set(em_export_options *opt, const char *key, const char *value, em_error *err);

int em_export_format_parse(const char *name, em_export_format *out);
const char *em_export_format_name(em_export_format format); /* "shp", "gpkg", ... */
/* The format a file name's extension implies (.zip .gpkg .geojson .json .csv .kml
 * .xlsx); -1 when none does. */
int em_export_format_from_path(const char *path, em_export_format *out);
const char *em_export_extension(em_export_format format); /* ".zip", ".gpkg", ... */
const char *em_export_content_type(em_export_format format);
/* A file name for Content-Disposition: "estates.zip", "estates_violations.gpkg". */
void em_export_filename(const em_export_options *opt, char *out, size_t outlen);

typedef struct {
    int layers;         /* output layers (shapefile parts count once per layer) */
    long long features; /* features written */
    int files;          /* files in the zip (shapefile export) */
    int parts;          /* shapefiles written, parts included */
    int warnings;       /* how many things were worth saying */
    char warning[512];  /* the first of them */
} em_export_report;

/* Write the export to out_path. `report` may be NULL. Returns 0, or -1 with err:
 * EM_ERR_USAGE for bad options (naming the option), EM_ERR_NOTFOUND for an unknown
 * source, EM_ERR_INPUT for data the format cannot hold (text GBK cannot encode),
 * EM_ERR_RUNTIME for database, GDAL or file errors. */
int em_export(em_db *db, const em_export_options *opt, const char *out_path,
              em_export_report *report, em_error *err);

/* Remove the folder `dir` and everything in it (symlinks are removed, not followed):
 * em_export's work folder after a failure, GET /api/export's folder around it. */
void em_export_remove_tree(const char *dir);

#endif

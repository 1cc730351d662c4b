/* export_priv.h -- what the export's parts share: the rows of one source (a layer
 * read with bound filters, or an analysis's em_table) as typed fields, and the
 * mapping of those fields onto an OGR layer for each format.
 *
 * export.c parses options and runs an export; export_source.c reads sources and
 * fills OGR features; export_shp.c writes the shapefile zip; export_ogr.c the
 * single-file formats (GeoPackage, GeoJSON, CSV, KML, XLSX). */
#ifndef ESTATEMAP_EXPORT_PRIV_H
#define ESTATEMAP_EXPORT_PRIV_H

#include "export.h"
#include "layers.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>

typedef enum { EX_TEXT, EX_INT, EX_REAL, EX_BOOL, EX_DATE, EX_DATETIME } ex_type;

typedef char ex_name[128];

typedef struct {
    const char *column; /* machine name */
    char label_zh[96];  /* full Chinese name */
    char description[256];
    ex_type type;
    int width, precision; /* DBF: text bytes (UTF-8), number digits and decimals */
    int text_over;        /* some text is longer than a DBF field holds (254 bytes) */
    char column_buf[64];  /* the name, for analysis columns */
} ex_field;

typedef struct {
    int null;
    const char *text; /* TEXT; DATE as YYYY-MM-DD; DATETIME as YYYY-MM-DDTHH:MM:SS */
    long long i;      /* INT, BOOL */
    double d;         /* REAL */
    int owned;        /* text was rendered for this row and is freed with it */
} ex_value;

enum { EX_CLASS_NONE = 0, EX_CLASS_POINT = 1, EX_CLASS_LINE = 2, EX_CLASS_POLYGON = 4 };

typedef struct {
    const char *town; /* a town code that exists */
    const char *tier; /* 示范版, 提升版 or 基础版 */
    long built_before;
    int has_bbox;
    double bbox[4];         /* minlon, minlat, maxlon, maxlat */
    unsigned char *polygon; /* --polygon as WKB (lon/lat), owned; NULL when not given */
    size_t polygon_len;
    /* which were given, for refusing those a layer lacks */
    int town_set, tier_set, built_set;
} ex_filters;

typedef struct {
    char name[64];    /* output layer: the layer's name, the analysis's, or NAME_analysis
                         when an analysis shares a layer's name (corridors) */
    char map_key[80]; /* in the short-name map: the layer's name or analysis:NAME */
    char style[80];   /* styles/STYLE.json: the layer's name or analysis_NAME */
    const em_layer *layer;
    const em_analysis *analysis;
    int nfields;
    ex_field *fields;
    int classes;              /* EX_CLASS_* bits the source can hold */
    int multipoint;           /* points include multipoints */
    OGRwkbGeometryType gtype; /* one layer's geometry type (GPKG, GeoJSON) */
    /* reading */
    em_db *db;
    sqlite3_stmt *st;
    sqlite3_stmt *as_wkb; /* AsBinary(?) for blobs the direct reader leaves alone */
    unsigned char *wkb;   /* the current row's geometry as WKB */
    size_t wkb_cap;
    em_table *table;
    json_object *doc; /* the analysis's GeoJSON (for geometry and JSON cells) */
    OGRGeometryH *geoms;
    int row, rows;
    ex_value *values;
    OGRGeometryH geom; /* current row's, lon/lat; take it with ex_source_take */
    long long feature; /* 1-based number of the current row, for messages */
} ex_source;

typedef struct {
    const em_export_options *opt;
    const char *tmpdir;
    OGRSpatialReferenceH srs;            /* the output CRS, GIS axis order */
    OGRCoordinateTransformationH to_out; /* NULL when it is EPSG:4326 */
    int geographic;
    em_export_report *report;
    void *gbk; /* iconv_t from UTF-8 to CP936, for shapefiles in GBK */
} ex_ctx;

/* How a format takes fields and geometry. */
typedef enum { EX_GEOM_OGR, EX_GEOM_XY, EX_GEOM_WKT } ex_geom_mode;
typedef struct {
    int dbf;           /* shapefile: short names, widths, datetimes as text */
    int dates_as_text; /* CSV, KML: ISO dates as text (Excel and KML readers parse them) */
    ex_geom_mode geom;
} ex_profile;

/* ---- export_polygon.c ---- */

/* Most vertices --polygon may have. */
#define EX_POLYGON_MAX_POINTS 100000

/* --polygon's text (lon/lat WKT POLYGON or MULTIPOLYGON, or GeoJSON: a geometry, a
 * Feature or a FeatureCollection of one) as 2D WKB in *wkb (malloc'd), after
 * checking it as the file header says. A usage error naming --polygon otherwise. */
int ex_polygon_parse(em_db *db, const char *text, unsigned char **wkb, size_t *len, em_error *err);

/* ---- export_source.c ---- */

/* Opens a layer with filters (`dbf`: work out DBF field widths too), or runs an
 * analysis with params. */
int ex_source_open_layer(ex_source *src, em_db *db, const em_layer *layer, const ex_filters *f,
                         int dbf, em_error *err);
int ex_source_open_analysis(ex_source *src, em_db *db, const em_analysis *a,
                            const em_params *params, em_error *err);
/* 1 with the next row in src->values and src->geom, 0 at the end, -1 on error. */
int ex_source_next(ex_source *src, em_error *err);
/* The current row's geometry (lon/lat), now the caller's; NULL when it has none. */
OGRGeometryH ex_source_take(ex_source *src);
void ex_source_close(ex_source *src);

/* EX_CLASS_* of a geometry; -1 for a collection mixing classes. */
int ex_geometry_class(OGRGeometryH g);

/* The field names a format uses for src: DBF short names (profile->dbf) or the
 * column names / Chinese labels, unique. */
void ex_field_names(const ex_source *src, const ex_ctx *ctx, const ex_profile *p, ex_name *out);

/* Create src's attribute fields (and the XY or WKT columns) on `layer`, and fill
 * map[0 .. nfields+1] with the layer's index of each: drivers may hold fields of
 * their own (KML's Name and Description), so indexes are looked up, not assumed. */
int ex_create_fields(OGRLayerH layer, const ex_source *src, const ex_ctx *ctx, const ex_profile *p,
                     ex_name *names, int *map, em_error *err);
/* Fill a feature from src's current row; takes `g` (already in the output CRS). */
int ex_fill_feature(OGRFeatureH f, const ex_source *src, const ex_ctx *ctx, const ex_profile *p,
                    const int *map, OGRGeometryH g, em_error *err);

/* Transform a lon/lat geometry to the output CRS in place. */
int ex_transform(const ex_ctx *ctx, const ex_source *src, OGRGeometryH g, em_error *err);

/* Add a warning to the report (the first is kept in full). */
void ex_warn(const ex_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A GDAL failure as an error: "what: GDAL's last message". */
int ex_gdal_fail(em_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- export_shp.c / export_ogr.c ---- */

int ex_write_shapefiles(ex_source *srcs, int n, const ex_ctx *ctx, const char *zip_path,
                        em_error *err);
int ex_write_ogr(ex_source *srcs, int n, const ex_ctx *ctx, const char *path, em_error *err);

/* The QML style of src for one geometry class, fields named as in the file. */
char *ex_qml(const ex_source *src, const ex_ctx *ctx, int geom_class, ex_name *names,
             const char *theme, em_error *err);

#endif

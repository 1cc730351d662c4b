/* struct stat64, which GDAL's VSIStatBufL is */
#define _LARGEFILE64_SOURCE 1
#include "import.h"
#include "fields.h"
#include "layers.h"
#include "links.h"
#include "rtree_bulk.h"
#include "spatialite_blob.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <cpl_error.h>
#include <gdal.h>
#include <json-c/json.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Rejections beyond this many are counted but not listed one by one. */
#define MAX_LISTED_REJECTIONS 50
#define MAX_LOOKUP_VALUES 64
/* Features are written this many to an INSERT: SQLite's per-statement work (a
 * statement journal, and a temporary table for each of the schema's CHECK (x IN
 * (...)) lists) is then done once per batch instead of once per row. */
#define BATCH_ROWS 32

/* A feature checked and bound, waiting for its batch to be written. */
typedef struct {
    OGRFeatureH feature;
    long index;
    int repaired;
    char repair_note[512];
    em_strbuf blob; /* its SpatiaLite geometry */
} staged_feature;

typedef struct {
    const em_layer *layer;
    const em_import_options *opt;
    em_db *db;
    GDALDatasetH dataset;
    OGRLayerH source;
    OGRCoordinateTransformationH to_lonlat; /* NULL when the source is lon/lat already */
    OGRSpatialReferenceH source_srs;        /* owned when we made it from --crs */
    int *column_source;                     /* per layer column: source field index or -1 */
    const char **column_fixed;              /* per layer column: --set value or NULL */
    int *field_is_extra;                    /* per source field: 1 if kept in `extra` */
    int *field_is_integer;                  /* per source field: 1 if OGR reads a whole number */
    int nfields;
    int key_column;          /* layer column used to name features, or -1 */
    int wkt_field;           /* CSV field holding WKT we parse, or -1 */
    const char *recode_from; /* text encoding to convert to UTF-8, or NULL */
    sqlite3_stmt *insert;    /* one row */
    sqlite3_stmt *batch;     /* BATCH_ROWS rows */
    sqlite3_stmt *target;    /* where the row being bound goes: insert or batch */
    int base;                /* and the parameter number before its first value */
    int nparams;             /* parameters of one row */
    staged_feature staged[BATCH_ROWS];
    int nstaged;
    unsigned char *wkb; /* the current feature's WKB, reused from row to row */
    size_t wkb_cap;
    sqlite3_stmt *valid_reason;
    sqlite3_stmt *estate_exists;
    long long first_new_id;             /* ids from here on are this import's rows */
    char *deferred_ddl;                 /* CREATE INDEX statements to run after loading */
    char lookup[MAX_LOOKUP_VALUES][64]; /* known categories or corridor types */
    int nlookup;
    em_import_result *result;
} import_job;

/* ---------- opening the source ---------- */

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* A zip is read in place through /vsizip/ (nothing is unpacked to disk), but a zip
 * bomb would still take hours to read: refuse one whose members would unpack to more
 * than EM_IMPORT_MAX_UNZIPPED_BYTES, or to over EM_IMPORT_MAX_ZIP_RATIO times the
 * zip's size once that is more than EM_IMPORT_ZIP_RATIO_FROM bytes. */
static int check_zip(const char *path, const char *vsipath, em_error *err) {
    VSIStatBufL zst;
    if (VSIStatL(path, &zst) != 0)
        return em_fail(err, EM_ERR_INPUT, "%s: cannot read the file", path);
    char **members = VSIReadDirRecursive(vsipath);
    unsigned long long total = 0;
    int n = 0;
    for (char **m = members; m && *m; m++, n++) {
        char member[4600];
        VSIStatBufL st;
        snprintf(member, sizeof member, "%s/%s", vsipath, *m);
        if (VSIStatL(member, &st) == 0 && VSI_ISREG(st.st_mode) && st.st_size > 0)
            total += (unsigned long long)st.st_size;
    }
    CSLDestroy(members);
    if (n == 0)
        return em_fail(err, EM_ERR_INPUT, "%s: not a zip archive, or an empty one", path);
    unsigned long long packed = zst.st_size > 0 ? (unsigned long long)zst.st_size : 1;
    if (total > EM_IMPORT_MAX_UNZIPPED_BYTES ||
        (total > EM_IMPORT_ZIP_RATIO_FROM && total / packed > EM_IMPORT_MAX_ZIP_RATIO))
        return em_fail(err, EM_ERR_INPUT,
                       "%s: refused as a zip bomb: its %d members would unpack to %llu bytes "
                       "from %llu (more than %d times the zip, or over %llu bytes); unpack it "
                       "yourself if it is genuine",
                       path, n, total, packed, EM_IMPORT_MAX_ZIP_RATIO,
                       (unsigned long long)EM_IMPORT_MAX_UNZIPPED_BYTES);
    return 0;
}

/* Whether the dBASE header of `path` is self-consistent: the record length is one
 * deletion byte plus the field lengths, the descriptors end with 0x0D, and the file
 * holds every record. GDAL reads a garbled header as fields with garbage names,
 * which would otherwise surface as a misleading "no field for column" message. */
static int dbf_header_consistent(const char *path) {
    VSILFILE *f = VSIFOpenL(path, "rb");
    if (!f)
        return 1; /* a missing .dbf: GDAL reports no fields, checked below */
    unsigned char head[32];
    int ok = VSIFReadL(head, 1, sizeof head, f) == sizeof head;
    unsigned long long records =
        ok ? (unsigned long long)head[4] | (unsigned long long)head[5] << 8 |
                 (unsigned long long)head[6] << 16 | (unsigned long long)head[7] << 24
           : 0;
    unsigned header_len = ok ? head[8] | (unsigned)head[9] << 8 : 0;
    unsigned record_len = ok ? head[10] | (unsigned)head[11] << 8 : 0;
    ok = ok && header_len >= 33 && record_len >= 1;
    unsigned sum = 1, offset = 32;
    unsigned char field[32] = {0};
    while (ok && offset < header_len) {
        if (VSIFReadL(field, 1, 1, f) != 1) {
            ok = 0;
            break;
        }
        if (field[0] == 0x0D)
            break;
        ok = VSIFReadL(field + 1, 1, 31, f) == 31;
        sum += field[16];
        offset += 32;
    }
    ok = ok && field[0] == 0x0D && sum == record_len;
    if (ok && VSIFSeekL(f, 0, SEEK_END) == 0)
        ok = VSIFTellL(f) >= header_len + records * record_len;
    VSIFCloseL(f);
    return ok;
}

/* GDAL opens a shapefile whose .dbf is missing or broken as one without fields, or
 * with garbage ones. */
static int check_shapefile_fields(import_job *job, em_error *err) {
    GDALDriverH driver = GDALGetDatasetDriver(job->dataset);
    if (!driver || strcmp(GDALGetDriverShortName(driver), "ESRI Shapefile") != 0)
        return 0;
    int consistent = 1;
    char **files = GDALGetFileList(job->dataset);
    for (char **name = files; name && *name; name++)
        if (has_suffix(*name, ".dbf"))
            consistent = dbf_header_consistent(*name);
    CSLDestroy(files);
    if (consistent && OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(job->source)) > 0)
        return 0;
    return em_fail(err, EM_ERR_INPUT,
                   "%s: the attribute table %s.dbf is missing, truncated or damaged (GDAL read "
                   "no fields from it)",
                   job->opt->path, OGR_L_GetName(job->source));
}

static int open_source(import_job *job, em_error *err) {
    const em_import_options *opt = job->opt;
    if (access(opt->path, R_OK) != 0)
        return em_fail(err, EM_ERR_INPUT, "%s: cannot read the file", opt->path);
    char vsipath[4200];
    if (has_suffix(opt->path, ".zip") && strncmp(opt->path, "/vsi", 4) != 0) {
        snprintf(vsipath, sizeof vsipath, "/vsizip/%s", opt->path);
        if (check_zip(opt->path, vsipath, err) < 0)
            return -1;
    } else {
        snprintf(vsipath, sizeof vsipath, "%s", opt->path);
    }

    /* CSV: coordinates from columns named as people name them, or a WKT column. */
    const char *csv_options[] = {"X_POSSIBLE_NAMES=lon,lng,longitude,x,经度",
                                 "Y_POSSIBLE_NAMES=lat,latitude,y,纬度",
                                 "KEEP_GEOM_COLUMNS=YES",
                                 "AUTODETECT_TYPE=NO",
                                 "EMPTY_STRING_AS_NULL=YES",
                                 NULL};
    const char *csv_driver[] = {"CSV", NULL};
    int is_csv = has_suffix(opt->path, ".csv") || has_suffix(opt->path, ".tsv");

    /* The shapefile driver reads .cpg and the DBF code page itself; --encoding overrides. */
    if (opt->encoding)
        CPLSetThreadLocalConfigOption("SHAPE_ENCODING", opt->encoding);
    CPLErrorReset();
    job->dataset = GDALOpenEx(vsipath, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
                              is_csv ? csv_driver : NULL, is_csv ? csv_options : NULL, NULL);
    if (opt->encoding)
        CPLSetThreadLocalConfigOption("SHAPE_ENCODING", NULL);
    if (!job->dataset) {
        const char *why = CPLGetLastErrorMsg();
        return em_fail(err, EM_ERR_INPUT, "%s: not a vector file GDAL can read%s%s", opt->path,
                       *why ? ": " : "", why);
    }
    /* The shapefile driver decodes text itself (above); other sources hand us bytes,
     * which --encoding says how to read. */
    GDALDriverH driver = GDALGetDatasetDriver(job->dataset);
    if (opt->encoding && driver && strcmp(GDALGetDriverShortName(driver), "ESRI Shapefile") != 0)
        job->recode_from = opt->encoding;
    int nlayers = GDALDatasetGetLayerCount(job->dataset);
    if (opt->source_layer) {
        job->source = GDALDatasetGetLayerByName(job->dataset, opt->source_layer);
        if (!job->source)
            return em_fail(err, EM_ERR_INPUT, "%s: no layer named '%s'", opt->path,
                           opt->source_layer);
    } else if (nlayers == 1) {
        job->source = GDALDatasetGetLayer(job->dataset, 0);
    } else if (nlayers == 0) {
        const char *why = CPLGetLastErrorMsg();
        return em_fail(err, EM_ERR_INPUT,
                       "%s: GDAL finds no layer it can read in it (a shapefile with a missing or "
                       "broken .shp, .shx or .dbf?)%s%s",
                       opt->path, *why ? ": " : "", why);
    } else {
        /* Several layers (a GeoPackage, a zip of shapefiles): take the one named like
         * the target, else make the user choose. */
        job->source = GDALDatasetGetLayerByName(job->dataset, job->layer->name);
        if (!job->source) {
            char names[1024] = "";
            size_t used = 0;
            for (int i = 0; i < nlayers && used < sizeof names; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                         OGR_L_GetName(GDALDatasetGetLayer(job->dataset, i)));
            return em_fail(err, EM_ERR_USAGE,
                           "%s has %d layers (%s); choose one with --source-layer NAME", opt->path,
                           nlayers, nlayers ? names : "none");
        }
    }
    if (check_shapefile_fields(job, err) < 0)
        return -1;
    if (opt->where && OGR_L_SetAttributeFilter(job->source, opt->where) != OGRERR_NONE)
        return em_fail(err, EM_ERR_USAGE, "--where '%s': %s", opt->where, CPLGetLastErrorMsg());
    return 0;
}

/* ---------- coordinate systems ---------- */

static int setup_transform(import_job *job, em_error *err) {
    const em_import_options *opt = job->opt;
    OGRSpatialReferenceH srs = NULL;
    if (opt->crs) {
        job->source_srs = OSRNewSpatialReference(NULL);
        if (OSRSetFromUserInput(job->source_srs, opt->crs) != OGRERR_NONE)
            return em_fail(err, EM_ERR_USAGE, "--crs '%s' is not a coordinate system PROJ knows",
                           opt->crs);
        srs = job->source_srs;
    } else {
        srs = OGR_L_GetSpatialRef(job->source);
    }
    if (!srs)
        return 0; /* lon/lat assumed; every coordinate is range-checked below */
    OGRSpatialReferenceH lonlat = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(lonlat, 4326);
    OSRSetAxisMappingStrategy(lonlat, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    const char *same_options[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", NULL};
    if (!OSRIsSameEx(srs, lonlat, same_options)) {
        job->to_lonlat = OCTNewCoordinateTransformation(srs, lonlat);
        if (!job->to_lonlat) {
            OSRDestroySpatialReference(lonlat);
            return em_fail(err, EM_ERR_INPUT, "%s: cannot transform its CRS to lon/lat: %s",
                           opt->path, CPLGetLastErrorMsg());
        }
    }
    OSRDestroySpatialReference(lonlat);
    return 0;
}

/* ---------- field mapping ---------- */

static int name_matches(const char *field, const char *name, const char *aliases) {
    if (strcasecmp(field, name) == 0)
        return 1;
    if (!aliases)
        return 0;
    size_t flen = strlen(field);
    for (const char *a = aliases; *a;) {
        const char *bar = strchr(a, '|');
        size_t len = bar ? (size_t)(bar - a) : strlen(a);
        if (len == flen && strncasecmp(a, field, len) == 0)
            return 1;
        a += len + (bar ? 1 : 0);
    }
    return 0;
}

static int plan_fields(import_job *job, em_error *err) {
    const em_layer *layer = job->layer;
    const em_import_options *opt = job->opt;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(job->source);
    job->nfields = OGR_FD_GetFieldCount(defn);
    job->column_source = malloc(sizeof(int) * layer->ncolumns);
    job->column_fixed = calloc(layer->ncolumns, sizeof(char *));
    job->field_is_extra = malloc(sizeof(int) * (size_t)(job->nfields + 1));
    job->field_is_integer = malloc(sizeof(int) * (size_t)(job->nfields + 1));
    if (!job->column_source || !job->column_fixed || !job->field_is_extra || !job->field_is_integer)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    for (int f = 0; f < job->nfields; f++) {
        OGRFieldType t = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, f));
        job->field_is_integer[f] = t == OFTInteger || t == OFTInteger64;
    }
    for (size_t c = 0; c < layer->ncolumns; c++)
        job->column_source[c] = -1;
    for (int f = 0; f < job->nfields; f++)
        job->field_is_extra[f] = 1;

    /* Explicit --map first, then exact names, then known aliases (including the
     * names our exports give a column, so an export imports again). */
    for (int m = 0; m < opt->nmap; m++) {
        const em_column *col = em_layer_column(layer, opt->map[m].column);
        if (!col)
            return em_fail(err, EM_ERR_USAGE, "--map %s=%s: %s has no column '%s'",
                           opt->map[m].source, opt->map[m].column, layer->name, opt->map[m].column);
        int f = OGR_FD_GetFieldIndex(defn, opt->map[m].source);
        if (f < 0)
            return em_fail(err, EM_ERR_USAGE, "--map %s=%s: %s has no field '%s'",
                           opt->map[m].source, opt->map[m].column, opt->path, opt->map[m].source);
        job->column_source[col - layer->columns] = f;
        job->field_is_extra[f] = 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t c = 0; c < layer->ncolumns; c++) {
            if (job->column_source[c] >= 0)
                continue;
            for (int f = 0; f < job->nfields; f++) {
                if (!job->field_is_extra[f])
                    continue;
                const char *fname = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, f));
                const em_column *col = &layer->columns[c];
                if (pass ? em_column_known_as(layer, col, fname)
                         : name_matches(fname, col->name, NULL)) {
                    job->column_source[c] = f;
                    job->field_is_extra[f] = 0;
                    break;
                }
            }
        }
    }
    for (int s = 0; s < opt->nset; s++) {
        const em_column *col = em_layer_column(layer, opt->set[s].column);
        if (!col)
            return em_fail(err, EM_ERR_USAGE, "--set %s=%s: %s has no column '%s'",
                           opt->set[s].column, opt->set[s].source, layer->name, opt->set[s].column);
        job->column_fixed[col - layer->columns] = opt->set[s].source;
    }
    /* A CSV's WKT column: we parse it ourselves, because GDAL falls back to reading
     * text that is not WKT as hex WKB and makes up a geometry. */
    job->wkt_field = -1;
    if (em_layer_is_spatial(layer) && has_suffix(opt->path, ".csv"))
        for (int f = 0; f < job->nfields; f++) {
            const char *fname = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, f));
            if (!job->field_is_extra[f])
                continue;
            if (job->wkt_field < 0 && name_matches(fname, "wkt", "geom|geometry|the_geom")) {
                job->wkt_field = f;
                job->field_is_extra[f] = 0;
            } else if (name_matches(fname, "lon", "lng|longitude|x|经度|lat|latitude|y|纬度")) {
                job->field_is_extra[f] = 0; /* the driver's point coordinates */
            }
        }
    job->key_column = -1;
    for (size_t c = 0; c < layer->ncolumns; c++) {
        const em_column *col = &layer->columns[c];
        if (layer->key && strcmp(col->name, layer->key) == 0)
            job->key_column = (int)c;
        if (col->required && job->column_source[c] < 0 && !job->column_fixed[c]) {
            char fields[1024] = "";
            size_t used = 0;
            for (int f = 0; f < job->nfields && used < sizeof fields; f++)
                used += (size_t)snprintf(fields + used, sizeof fields - used, "%s%s", f ? ", " : "",
                                         OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, f)));
            return em_fail(err, EM_ERR_USAGE,
                           "%s: no field for %s's required column '%s' (fields: %s); use --map "
                           "FIELD=%s or --set %s=VALUE",
                           opt->path, layer->name, col->name, job->nfields ? fields : "none",
                           col->name, col->name);
        }
    }
    return 0;
}

static int load_lookup(import_job *job, em_error *err) {
    const char *sql = NULL;
    if (strcmp(job->layer->name, "violations") == 0)
        sql = "SELECT name FROM violation_categories ORDER BY name";
    else if (strcmp(job->layer->name, "corridors") == 0)
        sql = "SELECT type FROM corridor_types ORDER BY type";
    if (!sql)
        return 0;
    sqlite3_stmt *st = em_db_prepare(job->db, sql, err);
    if (!st)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW && job->nlookup < MAX_LOOKUP_VALUES)
        snprintf(job->lookup[job->nlookup++], sizeof job->lookup[0], "%s",
                 (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return 0;
}

/* The column checked against a lookup table rather than a fixed domain. */
static int is_lookup_column(const import_job *job, const em_column *col) {
    return job->nlookup > 0 &&
           (strcmp(col->name, "category") == 0 ||
            (strcmp(col->name, "type") == 0 && strcmp(job->layer->name, "corridors") == 0));
}

static int lookup_known(const import_job *job, const char *value) {
    for (int i = 0; i < job->nlookup; i++)
        if (strcmp(job->lookup[i], value) == 0)
            return 1;
    return 0;
}

/* ---------- SQL ---------- */

/* Row-by-row upkeep that a bulk load can do once at the end instead: the layer's
 * secondary indexes (built sorted, when the table starts empty), our version-bump
 * insert trigger (one bump per import), and SpatiaLite's insert triggers: the R*Tree
 * one (the index is brought up to date at the end, see rtree_bulk.h), the geometry
 * constraint one (encode_geometry checks the same: class and SRID) and the one that
 * stamps geometry_columns_time (stamped once at the end instead). The DDL to restore
 * comes from the schema itself (sqlite_master). */
static int defer_upkeep(import_job *job, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        job->db,
        "SELECT group_concat(sql, ';'), group_concat('DROP ' || type || ' \"' || name || '\"', "
        "';') FROM sqlite_master WHERE tbl_name = ?1 AND sql IS NOT NULL AND ((type = 'index' "
        "AND ?2) OR (type = 'trigger' AND name IN (?1 || '_bump_ins', 'ggi_' || ?1 || '_geom', "
        "'tmi_' || ?1 || '_geom', 'gii_' || ?1 || '_geom')))",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, job->layer->table, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, job->first_new_id == 1);
    char *drops = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        job->deferred_ddl = strdup((const char *)sqlite3_column_text(st, 0));
        drops = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    int rc = drops ? em_db_exec(job->db, drops, err) : 0;
    free(drops);
    return rc;
}

/* Run `sql` with the layer's table bound to ?1. */
static int exec_for_layer(import_job *job, const char *sql, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(job->db, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, job->layer->table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc == 0 ? 0 : em_fail(err, EM_ERR_RUNTIME, "%s", em_db_error(job->db));
}

static int restore_upkeep(import_job *job, em_error *err) {
    if (job->deferred_ddl && em_db_exec(job->db, job->deferred_ddl, err) < 0)
        return -1;
    return exec_for_layer(job, "UPDATE layer_versions SET version = version + 1 WHERE layer = ?1",
                          err) < 0 ||
                   exec_for_layer(job,
                                  "UPDATE geometry_columns_time SET last_insert = "
                                  "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE "
                                  "lower(f_table_name) = lower(?1) AND f_geometry_column = 'geom'",
                                  err) < 0
               ? -1
               : 0;
}

static int prepare_statements(import_job *job, em_error *err) {
    const em_layer *layer = job->layer;
    int spatial = em_layer_is_spatial(layer);
    /* Table and column names come from the compiled-in layer list, never from input. */
    char sql[4096];
    job->nparams = (int)layer->ncolumns + (spatial ? 2 : 0);
    em_strbuf text;
    em_strbuf_init(&text);
    em_strbuf_printf(&text, "INSERT INTO %s (", layer->table);
    for (size_t c = 0; c < layer->ncolumns; c++)
        em_strbuf_printf(&text, "%s%s", c ? ", " : "", layer->columns[c].name);
    em_strbuf_puts(&text, spatial ? ", extra, geom) VALUES " : ") VALUES ");
    for (int row = 0; row < BATCH_ROWS; row++) {
        em_strbuf_puts(&text, row ? ", (" : "(");
        for (int c = 0; c < job->nparams; c++)
            em_strbuf_puts(&text, c ? ", ?" : "?");
        em_strbuf_putc(&text, ')');
        if (row == 0) /* the one-row statement is the start of the batch one */
            job->insert = text.failed ? NULL : em_db_prepare(job->db, em_strbuf_cstr(&text), err);
    }
    job->batch =
        job->insert && !text.failed ? em_db_prepare(job->db, em_strbuf_cstr(&text), err) : NULL;
    if (text.failed)
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
    em_strbuf_free(&text);
    if (!job->insert || !job->batch)
        return -1;
    if (spatial) {
        job->valid_reason =
            em_db_prepare(job->db, "SELECT ST_IsValidReason(GeomFromWKB(?, 4326))", err);
        if (!job->valid_reason)
            return -1;
    } else {
        job->estate_exists = em_db_prepare(job->db, "SELECT 1 FROM estates WHERE code = ?", err);
        if (!job->estate_exists)
            return -1;
    }
    if (job->opt->replace) {
        snprintf(sql, sizeof sql, "DELETE FROM %s", layer->table);
        if (em_db_exec(job->db, sql, err) < 0)
            return -1;
    }
    if (spatial) {
        snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) + 1 FROM %s", layer->table);
        sqlite3_stmt *st = em_db_prepare(job->db, sql, err);
        if (!st)
            return -1;
        job->first_new_id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
        sqlite3_finalize(st);
    }
    /* SpatiaLite keeps the R*Tree current with a per-row trigger that prepares a
     * statement on every call; deferring it and bringing the index up to date once
     * at the end is many times faster. All of it is inside the import's transaction,
     * so a failure restores the old index and triggers too. */
    if (spatial && defer_upkeep(job, err) < 0)
        return -1;
    return 0;
}

/* ---------- geometry ---------- */

typedef enum { WALK_OK, WALK_NOT_FINITE, WALK_OUT_OF_RANGE } walk_status;

/* Visit every vertex: undo offsets, and check the result is a real lon/lat. */
static walk_status walk_vertices(OGRGeometryH g, em_coords coords) {
    int parts = OGR_G_GetGeometryCount(g);
    if (parts > 0) {
        for (int i = 0; i < parts; i++) {
            walk_status s = walk_vertices(OGR_G_GetGeometryRef(g, i), coords);
            if (s != WALK_OK)
                return s;
        }
        return WALK_OK;
    }
    int n = OGR_G_GetPointCount(g);
    for (int i = 0; i < n; i++) {
        double x = OGR_G_GetX(g, i), y = OGR_G_GetY(g, i);
        if (!isfinite(x) || !isfinite(y))
            return WALK_NOT_FINITE;
        if (x < -180 || x > 180 || y < -90 || y > 90)
            return WALK_OUT_OF_RANGE;
        if (coords != EM_COORDS_WGS84) {
            em_coords_to_wgs84(coords, &x, &y);
            OGR_G_SetPoint_2D(g, i, x, y);
        }
    }
    return WALK_OK;
}

static int count_vertices(OGRGeometryH g) {
    int parts = OGR_G_GetGeometryCount(g), n = 0;
    if (parts == 0)
        return OGR_G_GetPointCount(g);
    for (int i = 0; i < parts; i++)
        n += count_vertices(OGR_G_GetGeometryRef(g, i));
    return n;
}

/* Polygonal parts of g as one MultiPolygon (MakeValid may add stray lines or points). */
static OGRGeometryH polygonal_parts(OGRGeometryH g) {
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPolygon || t == wkbMultiPolygon)
        return OGR_G_ForceToMultiPolygon(OGR_G_Clone(g));
    OGRGeometryH multi = OGR_G_CreateGeometry(wkbMultiPolygon);
    if (t == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++) {
            OGRGeometryH part = polygonal_parts(OGR_G_GetGeometryRef(g, i));
            for (int j = 0; j < OGR_G_GetGeometryCount(part); j++)
                OGR_G_AddGeometry(multi, OGR_G_GetGeometryRef(part, j));
            OGR_G_DestroyGeometry(part);
        }
    }
    return multi;
}

static void validity_reason(import_job *job, OGRGeometryH g, char *out, size_t outlen) {
    int size = OGR_G_WkbSize(g);
    unsigned char *wkb = malloc((size_t)size);
    snprintf(out, outlen, "invalid geometry");
    if (!wkb)
        return;
    OGR_G_ExportToWkb(g, wkbNDR, wkb);
    sqlite3_bind_blob(job->valid_reason, 1, wkb, size, SQLITE_TRANSIENT);
    if (sqlite3_step(job->valid_reason) == SQLITE_ROW && sqlite3_column_text(job->valid_reason, 0))
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(job->valid_reason, 0));
    sqlite3_reset(job->valid_reason);
    free(wkb);
}

/* Bring g to the layer's geometry kind. Takes ownership of g; returns the geometry to
 * store, or NULL with a reason. Sets *repaired when the geometry was made valid. */
static OGRGeometryH normalise_geometry(import_job *job, OGRGeometryH g, int *repaired, char *why,
                                       size_t whylen) {
    *repaired = 0;
    OGR_G_FlattenTo2D(g);
    if (job->to_lonlat && OGR_G_Transform(g, job->to_lonlat) != OGRERR_NONE) {
        snprintf(why, whylen, "cannot transform to lon/lat (coordinates outside the CRS's area?)");
        OGR_G_DestroyGeometry(g);
        return NULL;
    }
    walk_status ws = walk_vertices(g, job->opt->coords);
    if (ws != WALK_OK) {
        snprintf(why, whylen,
                 ws == WALK_NOT_FINITE
                     ? "coordinates are not finite numbers"
                     : "coordinates are not lon/lat (out of range); if the file has no CRS, "
                       "give one with --crs EPSG:NNNN");
        OGR_G_DestroyGeometry(g);
        return NULL;
    }
    if (OGR_G_IsEmpty(g)) {
        snprintf(why, whylen, "empty geometry");
        OGR_G_DestroyGeometry(g);
        return NULL;
    }
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    const char *tname = OGRGeometryTypeToName(t);
    OGRGeometryH out = NULL;
    switch (job->layer->geom) {
    case EM_GEOM_POINT:
        if (t == wkbPoint)
            out = g;
        else if (t == wkbMultiPoint && OGR_G_GetGeometryCount(g) == 1)
            out = OGR_G_Clone(OGR_G_GetGeometryRef(g, 0));
        break;
    case EM_GEOM_POLYGON:
    case EM_GEOM_MULTIPOLYGON:
        if (t == wkbPolygon || t == wkbMultiPolygon) {
            out = OGR_G_ForceToMultiPolygon(g); /* consumes g */
            g = NULL;
        }
        break;
    case EM_GEOM_LINEAL_OR_POLYGONAL:
        if (t == wkbLineString || t == wkbMultiLineString)
            out = OGR_G_ForceToMultiLineString(g);
        else if (t == wkbPolygon || t == wkbMultiPolygon)
            out = OGR_G_ForceToMultiPolygon(g);
        else
            break;
        g = NULL;
        break;
    case EM_GEOM_NONE:
        break;
    }
    if (g && out != g)
        OGR_G_DestroyGeometry(g);
    if (!out) {
        snprintf(why, whylen, "%s geometry does not fit the %s layer", tname, job->layer->name);
        return NULL;
    }
    OGRwkbGeometryType ot = wkbFlatten(OGR_G_GetGeometryType(out));
    if (ot == wkbMultiLineString) {
        /* GEOS and SpatiaLite call a line of one point invalid ("too few points"). */
        for (int i = 0; i < OGR_G_GetGeometryCount(out); i++)
            if (OGR_G_GetPointCount(OGR_G_GetGeometryRef(out, i)) < 2) {
                snprintf(why, whylen, "line %d of the geometry has fewer than 2 points", i + 1);
                OGR_G_DestroyGeometry(out);
                return NULL;
            }
    }
    if (ot == wkbMultiPolygon) {
        int before = count_vertices(out);
        OGR_G_CloseRings(out);
        if (count_vertices(out) != before) {
            snprintf(why, whylen, "unclosed ring closed");
            *repaired = 1;
        }
    }
    if (ot == wkbMultiPolygon && !OGR_G_IsValid(out)) {
        char reason[256];
        validity_reason(job, out, reason, sizeof reason);
        /* STRUCTURE keeps what the rings enclose: overlapping parts become their
         * union rather than the "linework" method's shape with a hole. */
        const char *structure[] = {"METHOD=STRUCTURE", NULL};
        OGRGeometryH fixed_any = OGR_G_MakeValidEx(out, (char **)structure);
        if (!fixed_any)
            fixed_any = OGR_G_MakeValid(out);
        OGRGeometryH fixed = fixed_any ? polygonal_parts(fixed_any) : NULL;
        if (fixed_any)
            OGR_G_DestroyGeometry(fixed_any);
        OGR_G_DestroyGeometry(out);
        if (!fixed || OGR_G_IsEmpty(fixed) || !OGR_G_IsValid(fixed) || OGR_G_Area(fixed) <= 0) {
            if (fixed)
                OGR_G_DestroyGeometry(fixed);
            snprintf(why, whylen, "invalid polygon that cannot be repaired (%s)", reason);
            return NULL;
        }
        snprintf(why, whylen, "%s", reason);
        *repaired = 1;
        out = fixed;
    }
    /* GEOS calls a hairline sliver valid; a polygon of under ~0.01 m² is an error. */
    if (ot == wkbMultiPolygon && OGR_G_Area(out) < 1e-12) {
        snprintf(why, whylen, "degenerate polygon (zero area)");
        OGR_G_DestroyGeometry(out);
        return NULL;
    }
    if (ot == wkbMultiLineString && OGR_G_Length(out) <= 0) {
        snprintf(why, whylen, "line of zero length");
        OGR_G_DestroyGeometry(out);
        return NULL;
    }
    if (job->layer->geom == EM_GEOM_POLYGON) {
        if (OGR_G_GetGeometryCount(out) != 1) {
            snprintf(why, whylen, "%d separate parts; %s cells must be single polygons",
                     OGR_G_GetGeometryCount(out), job->layer->name);
            OGR_G_DestroyGeometry(out);
            return NULL;
        }
        OGRGeometryH single = OGR_G_Clone(OGR_G_GetGeometryRef(out, 0));
        OGR_G_DestroyGeometry(out);
        out = single;
    }
    return out;
}

/* ---------- features ---------- */

static void describe_feature(import_job *job, OGRFeatureH f, long index, char *out, size_t outlen) {
    int written = snprintf(out, outlen, "feature %ld", index);
    if (job->key_column >= 0 && written > 0 && (size_t)written < outlen) {
        int src = job->column_source[job->key_column];
        const char *fixed = job->column_fixed[job->key_column];
        const char *key = fixed ? fixed
                          : (src >= 0 && OGR_F_IsFieldSetAndNotNull(f, src))
                              ? OGR_F_GetFieldAsString(f, src)
                              : NULL;
        if (key && *key)
            snprintf(out + written, outlen - (size_t)written, " (%s=%s)", job->layer->key, key);
    }
}

/* Report a rejected or repaired feature, naming it by its number and key. */
static void note(import_job *job, const char *kind, OGRFeatureH f, long index, const char *why) {
    if (!job->opt->log)
        return;
    long n = strcmp(kind, "rejected") == 0 ? job->result->rejected : job->result->repaired;
    char who[256];
    if (n <= MAX_LISTED_REJECTIONS) {
        describe_feature(job, f, index, who, sizeof who);
        fprintf(job->opt->log, "%s%s %s: %s\n", job->opt->progress ? "\r\033[K" : "", kind, who,
                why);
    } else if (n == MAX_LISTED_REJECTIONS + 1)
        fprintf(job->opt->log, "(further %s features are counted, not listed)\n", kind);
}

/* Count and report a rejected feature; returns 0, import_feature's "rejected". */
static int reject(import_job *job, OGRFeatureH f, long index, const char *why) {
    job->result->rejected++;
    note(job, "rejected", f, index, why);
    return 0;
}

static int valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80             ? 1
                  : (*p & 0xE0) == 0xC0 ? 2
                  : (*p & 0xF0) == 0xE0 ? 3
                  : (*p & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (len == 0 || (len == 2 && *p < 0xC2))
            return 0;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += len;
    }
    return 1;
}

/* A field's text as UTF-8 in *out, NULL when unset; fails when the bytes are not
 * UTF-8, so that mis-decoded text never reaches the database. *out points into the
 * feature, valid until the next field is read, or, for text recoded from another
 * encoding, to *owned, which the caller frees with CPLFree. */
static int field_text(import_job *job, OGRFeatureH f, int field, const char **out, char **owned,
                      char *why, size_t whylen) {
    *out = NULL;
    *owned = NULL;
    if (field < 0 || !OGR_F_IsFieldSetAndNotNull(f, field))
        return 0;
    const char *text = OGR_F_GetFieldAsString(f, field);
    if (job->recode_from)
        text = *owned = CPLRecode(text, job->recode_from, CPL_ENC_UTF8);
    if (!valid_utf8(text)) {
        snprintf(why, whylen, "field %s is not UTF-8 text; pass --encoding (e.g. GBK)",
                 OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(OGR_F_GetDefnRef(f), field)));
        CPLFree(*owned);
        *owned = NULL;
        return -1;
    }
    *out = text;
    return 0;
}

static char *extra_json(import_job *job, OGRFeatureH f) {
    json_object *obj = NULL;
    OGRFeatureDefnH defn = OGR_F_GetDefnRef(f);
    for (int i = 0; i < job->nfields; i++) {
        if (!job->field_is_extra[i] || !OGR_F_IsFieldSetAndNotNull(f, i))
            continue;
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(defn, i);
        json_object *value;
        switch (OGR_Fld_GetType(fd)) {
        case OFTInteger:
        case OFTInteger64:
            value = json_object_new_int64(OGR_F_GetFieldAsInteger64(f, i));
            break;
        case OFTReal:
            value = json_object_new_double(OGR_F_GetFieldAsDouble(f, i));
            break;
        default: {
            const char *text = NULL;
            char *owned = NULL, why[128];
            if (field_text(job, f, i, &text, &owned, why, sizeof why) < 0 || !text)
                continue; /* bind_columns has already refused a non-UTF-8 feature */
            value = json_object_new_string(text);
            CPLFree(owned);
        }
        }
        if (!obj)
            obj = json_object_new_object();
        json_object_object_add(obj, OGR_Fld_GetNameRef(fd), value);
    }
    if (!obj)
        return NULL;
    char *text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(obj);
    return text;
}

/* The value of an empty column with a fallback. A violation with a resolution time
 * but no status is resolved; anything else takes the column's fallback. */
static const char *implied_value(import_job *job, OGRFeatureH f, const em_column *col) {
    if (strcmp(job->layer->name, "violations") == 0 && strcmp(col->name, "status") == 0) {
        const em_column *resolved = em_layer_column(job->layer, "resolved_at");
        int c = (int)(resolved - job->layer->columns);
        int src = job->column_source[c];
        if (job->column_fixed[c] ||
            (src >= 0 && OGR_F_IsFieldSetAndNotNull(f, src) && *OGR_F_GetFieldAsString(f, src)))
            return "resolved";
    }
    return col->fallback;
}

/* Bind one column's value (`raw` may be NULL), checking it against its domain. */
static int bind_column(import_job *job, OGRFeatureH f, size_t c, const char *raw, char *why,
                       size_t whylen) {
    const em_column *col = &job->layer->columns[c];
    if ((!raw || !*raw) && col->fallback)
        raw = implied_value(job, f, col);
    if (is_lookup_column(job, col) && raw && *raw) {
        const char *canonical = em_category_canonical(raw);
        if (!lookup_known(job, canonical)) {
            snprintf(why, whylen, "%s: '%s' is not a known %s", col->name, raw,
                     strcmp(col->name, "category") == 0 ? "violation category" : "corridor type");
            return -1;
        }
        raw = canonical;
    }
    if (em_field_bind(job->target, job->base + (int)c + 1, col, raw, why, whylen) < 0)
        return -1;
    if (col->required && (!raw || !*raw)) {
        snprintf(why, whylen, "%s is required but empty", col->name);
        return -1;
    }
    if (job->estate_exists && strcmp(col->name, "estate_code") == 0) {
        sqlite3_bind_text(job->estate_exists, 1, raw, -1, SQLITE_TRANSIENT);
        int found = sqlite3_step(job->estate_exists) == SQLITE_ROW;
        sqlite3_reset(job->estate_exists);
        if (!found) {
            snprintf(why, whylen, "no estate with code '%s'", raw);
            return -1;
        }
    }
    return 0;
}

/* Bind the layer's columns; returns 0, or -1 with a reason. */
static int bind_columns(import_job *job, OGRFeatureH f, char *why, size_t whylen) {
    /* Fields kept in `extra` must be text we can read too. */
    for (int i = 0; i < job->nfields; i++) {
        if (!job->field_is_extra[i] || job->recode_from || !OGR_F_IsFieldSetAndNotNull(f, i))
            continue;
        if (!valid_utf8(OGR_F_GetFieldAsString(f, i))) {
            const char *ignored;
            char *owned;
            field_text(job, f, i, &ignored, &owned, why, whylen);
            return -1;
        }
    }
    for (size_t c = 0; c < job->layer->ncolumns; c++) {
        /* A whole number goes in as the number, not printed and parsed back. */
        int src = job->column_source[c];
        if (!job->column_fixed[c] && src >= 0 && job->field_is_integer[src] &&
            OGR_F_IsFieldSetAndNotNull(f, src) &&
            em_field_bind_integer(job->target, job->base + (int)c + 1, &job->layer->columns[c],
                                  OGR_F_GetFieldAsInteger64(f, src)) == 0)
            continue;
        char *owned = NULL;
        const char *raw = job->column_fixed[c];
        if (!raw && field_text(job, f, job->column_source[c], &raw, &owned, why, whylen) < 0)
            return -1;
        int rc = bind_column(job, f, c, raw, why, whylen);
        CPLFree(owned);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void explain_constraint(import_job *job, char *why, size_t whylen) {
    const char *msg = sqlite3_errmsg(job->db->sql);
    int code = sqlite3_extended_errcode(job->db->sql);
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        snprintf(why, whylen, "duplicate key, already in the layer or earlier in the file (%s)",
                 msg);
    else if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
        snprintf(why, whylen, "refers to an unknown lookup value (%s)", msg);
    else
        snprintf(why, whylen, "%s", msg);
}

/* The feature's WKT field, parsed whole: trailing text is an error, not ignored. */
static int parse_wkt(import_job *job, OGRFeatureH f, OGRGeometryH *out, char *why, size_t whylen) {
    *out = NULL;
    if (!OGR_F_IsFieldSetAndNotNull(f, job->wkt_field))
        return 0;
    const char *text = OGR_F_GetFieldAsString(f, job->wkt_field);
    char *cursor = (char *)text;
    if (OGR_G_CreateFromWkt(&cursor, NULL, out) != OGRERR_NONE || !*out) {
        snprintf(why, whylen, "not WKT: '%.60s'", text);
        return -1;
    }
    while (*cursor == ' ' || *cursor == '\t' || *cursor == '\r' || *cursor == '\n')
        cursor++;
    if (*cursor) {
        OGR_G_DestroyGeometry(*out);
        *out = NULL;
        snprintf(why, whylen, "not WKT: '%.60s' (unexpected '%.20s')", text, cursor);
        return -1;
    }
    return 0;
}

/* The SpatiaLite class each layer stores, as its geometry_columns row allows it:
 * what SpatiaLite's insert trigger (deferred during the import) checks. */
static int class_allowed(const em_layer *layer, int cls) {
    switch (layer->geom) {
    case EM_GEOM_POINT:
        return cls == 1;
    case EM_GEOM_POLYGON:
        return cls == 3;
    case EM_GEOM_MULTIPOLYGON:
        return cls == 6;
    case EM_GEOM_LINEAL_OR_POLYGONAL:
        return cls == 5 || cls == 6;
    case EM_GEOM_NONE:
        break;
    }
    return 0;
}

/* Turn the geometry to store into its SpatiaLite BLOB in `blob`. Takes ownership of
 * g. Returns 0, -1 with a reason, or -2 when out of memory. */
static int encode_geometry(import_job *job, OGRGeometryH g, em_strbuf *blob, char *why,
                           size_t whylen) {
    size_t size = (size_t)OGR_G_WkbSize(g);
    if (size > job->wkb_cap) {
        unsigned char *more = realloc(job->wkb, size);
        if (!more) {
            OGR_G_DestroyGeometry(g);
            return -2;
        }
        job->wkb = more;
        job->wkb_cap = size;
    }
    OGR_G_ExportToWkb(g, wkbNDR, job->wkb);
    OGR_G_DestroyGeometry(g);
    em_strbuf_reset(blob);
    if (em_splite_from_wkb(job->wkb, size, 4326, blob) < 0) {
        if (blob->failed)
            return -2;
        snprintf(why, whylen, "geometry SpatiaLite cannot store");
        return -1;
    }
    int cls = (unsigned char)blob->data[39] | (unsigned char)blob->data[40] << 8;
    if (!class_allowed(job->layer, cls)) {
        snprintf(why, whylen, "geometry class %d does not fit the %s layer", cls, job->layer->name);
        return -1;
    }
    return 0;
}

/* Bind a staged feature's row (columns, extra, geometry) into job->target after
 * parameter job->base. Returns 0, or -1 with a reason. */
static int bind_row(import_job *job, staged_feature *s, char *why, size_t whylen) {
    if (bind_columns(job, s->feature, why, whylen) < 0)
        return -1;
    if (em_layer_is_spatial(job->layer)) {
        int n = job->base + (int)job->layer->ncolumns;
        char *extra = extra_json(job, s->feature);
        sqlite3_bind_text(job->target, n + 1, extra, -1, extra ? free : SQLITE_STATIC);
        /* the BLOB stays as it is until the row is written */
        sqlite3_bind_blob(job->target, n + 2, s->blob.data, (int)s->blob.len, SQLITE_STATIC);
    }
    return 0;
}

/* Check a feature and bind it into the next row of the batch. Returns 1 staged (the
 * job owns f now), 0 rejected, -1 on a failure that ends the import. */
static int stage_feature(import_job *job, OGRFeatureH f, long index, em_error *err) {
    char why[512] = "";
    staged_feature *s = &job->staged[job->nstaged];
    s->feature = f;
    s->index = index;
    s->repaired = 0;
    if (em_layer_is_spatial(job->layer)) {
        OGRGeometryH g = OGR_F_StealGeometry(f);
        /* GDAL reads a column named WKT by itself, and reads what is not WKT as hex
         * WKB; the text is ours to parse whenever there is any. */
        if (job->wkt_field >= 0 && OGR_F_IsFieldSetAndNotNull(f, job->wkt_field) && g) {
            OGR_G_DestroyGeometry(g);
            g = NULL;
        }
        if (!g && job->wkt_field >= 0 && parse_wkt(job, f, &g, why, sizeof why) < 0)
            return reject(job, f, index, why);
        if (!g)
            return reject(job, f, index, "no geometry");
        OGRGeometryH out = normalise_geometry(job, g, &s->repaired, why, sizeof why);
        if (!out)
            return reject(job, f, index, why);
        if (s->repaired)
            snprintf(s->repair_note, sizeof s->repair_note, "%s", why);
        int rc = encode_geometry(job, out, &s->blob, why, sizeof why);
        if (rc == -2)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        if (rc < 0)
            return reject(job, f, index, why);
    }
    job->target = job->batch;
    job->base = job->nstaged * job->nparams;
    if (bind_row(job, s, why, sizeof why) < 0)
        return reject(job, f, index, why);
    job->nstaged++;
    return 1;
}

/* After a failed write: a ROLLBACK raised by a trigger ends the transaction, and
 * carrying on would commit the rest piecemeal, so that stops the import. Returns 0
 * for a constraint the caller deals with, else -1. */
static int write_failed(import_job *job, int rc, const staged_feature *s, em_error *err) {
    char who[256] = "a batch of features";
    if (s)
        describe_feature(job, s->feature, s->index, who, sizeof who);
    if (sqlite3_get_autocommit(job->db->sql))
        return em_fail(err, EM_ERR_RUNTIME, "%s: the database rolled the import back: %s", who,
                       em_db_error(job->db));
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return 0;
    return em_fail(err, EM_ERR_RUNTIME, "writing %s: %s", who, em_db_error(job->db));
}

/* Write one staged feature on its own. Returns 1 imported, 0 rejected, -1 failure. */
static int insert_one(import_job *job, staged_feature *s, em_error *err) {
    char why[512];
    sqlite3_reset(job->insert);
    job->target = job->insert;
    job->base = 0;
    if (bind_row(job, s, why, sizeof why) < 0)
        return reject(job, s->feature, s->index, why);
    int rc = sqlite3_step(job->insert);
    if (rc == SQLITE_DONE)
        return 1;
    if (write_failed(job, rc, s, err) < 0)
        return -1;
    explain_constraint(job, why, sizeof why);
    return reject(job, s->feature, s->index, why);
}

/* Write the staged features: a full batch in one statement; when one of its rows
 * breaks a constraint (the statement then writes nothing), and for a last, partial
 * batch, one by one, so that each bad feature is rejected by name. */
static int flush_staged(import_job *job, em_error *err) {
    int whole = 0;
    if (job->nstaged == BATCH_ROWS) {
        int rc = sqlite3_step(job->batch);
        sqlite3_reset(job->batch);
        whole = rc == SQLITE_DONE;
        if (!whole && write_failed(job, rc, NULL, err) < 0)
            return -1;
    }
    for (int i = 0; i < job->nstaged; i++) {
        staged_feature *s = &job->staged[i];
        int rc = whole ? 1 : insert_one(job, s, err);
        if (rc < 0)
            return -1; /* job_free destroys the features still staged */
        job->result->imported += rc;
        if (rc == 1 && s->repaired) {
            job->result->repaired++;
            note(job, "repaired", s->feature, s->index, s->repair_note);
        }
        OGR_F_Destroy(s->feature);
        s->feature = NULL;
    }
    job->nstaged = 0;
    return 0;
}

static void draw_progress(const import_job *job, long done, long total) {
    if (!job->opt->progress || !job->opt->log || total <= 0)
        return;
    int width = 40, filled = (int)(width * done / total);
    fprintf(job->opt->log, "\r[%.*s%*s] %3ld%% %ld/%ld", filled,
            "########################################", width - filled, "", 100 * done / total,
            done, total);
    fflush(job->opt->log);
}

static void job_free(import_job *job) {
    free(job->deferred_ddl);
    sqlite3_finalize(job->insert);
    sqlite3_finalize(job->batch);
    free(job->wkb);
    for (int i = 0; i < BATCH_ROWS; i++) {
        if (i < job->nstaged && job->staged[i].feature)
            OGR_F_Destroy(job->staged[i].feature);
        em_strbuf_free(&job->staged[i].blob);
    }
    sqlite3_finalize(job->valid_reason);
    sqlite3_finalize(job->estate_exists);
    if (job->to_lonlat)
        OCTDestroyCoordinateTransformation(job->to_lonlat);
    if (job->source_srs)
        OSRDestroySpatialReference(job->source_srs);
    if (job->dataset)
        GDALClose(job->dataset);
    free(job->column_source);
    free(job->column_fixed);
    free(job->field_is_extra);
    free(job->field_is_integer);
}

int em_import_parse_pair(char *text, em_import_pair *pair) {
    char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return -1;
    *eq = '\0';
    pair->source = text;
    pair->column = eq + 1;
    return 0;
}

int em_import(em_db *db, const em_import_options *opt, em_import_result *result, em_error *err) {
    memset(result, 0, sizeof *result);
    import_job job = {.opt = opt, .db = db, .result = result};
    job.layer = em_layer_find(opt->layer);
    if (!job.layer)
        return em_fail(err, EM_ERR_USAGE, "unknown layer '%s' (one of: %s)", opt->layer,
                       em_layer_names());
    GDALAllRegister();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int rc = -1;
    if (open_source(&job, err) < 0 || setup_transform(&job, err) < 0 || plan_fields(&job, err) < 0)
        goto done;
    /* A big cache keeps the whole import's dirty pages in memory, so each page is
     * written to the WAL once, at commit, instead of being spilled and rewritten. */
    em_db_exec(db, "PRAGMA cache_size = -262144", NULL);
    if (em_db_begin(db, err) < 0)
        goto done;
    /* Another import may have changed the schema (indexes, triggers) while we waited
     * for the write lock; reading sqlite_master under the lock reloads it. */
    if (em_db_exec(db, "SELECT count(*) FROM sqlite_master", err) < 0)
        goto rollback;
    if (load_lookup(&job, err) < 0 || prepare_statements(&job, err) < 0)
        goto rollback;

    /* Only the progress bar needs the count, and a CSV source counts by reading the
     * whole file once more. */
    long total = opt->progress && opt->log ? (long)OGR_L_GetFeatureCount(job.source, 0) : 0;
    long step = total > 100 ? total / 100 : 1;
    OGRFeatureH f;
    OGR_L_ResetReading(job.source);
    for (;;) {
        /* A GDAL or GEOS complaint about one feature is that feature's problem; only
         * an error pending when the reader gives up means the file is cut short. */
        CPLErrorReset();
        f = OGR_L_GetNextFeature(job.source);
        if (!f)
            break;
        result->read++;
        int staged = stage_feature(&job, f, result->read, err);
        if (staged <= 0)
            OGR_F_Destroy(f);
        if (staged < 0 || (job.nstaged == BATCH_ROWS && flush_staged(&job, err) < 0))
            goto rollback;
        if (result->read % step == 0)
            draw_progress(&job, result->read, total);
    }
    if (CPLGetLastErrorType() >= CE_Failure) {
        em_fail(err, EM_ERR_INPUT, "%s: reading stopped after %ld features: %s", opt->path,
                result->read, CPLGetLastErrorMsg());
        goto rollback;
    }
    if (flush_staged(&job, err) < 0)
        goto rollback;
    if (opt->progress && opt->log && total > 0)
        fprintf(opt->log, "\r\033[K");
    if (result->rejected > 0 && !opt->skip_invalid) {
        em_fail(err, EM_ERR_INPUT,
                "%s: %ld of %ld features rejected; nothing was imported (fix them, or pass "
                "--skip-invalid to import the rest)",
                opt->path, result->rejected, result->read);
        goto rollback;
    }
    if (em_layer_is_spatial(job.layer) &&
        (em_spatial_index_update(db, job.layer->table, job.first_new_id, err) < 0 ||
         em_links_after_write(db, job.layer->name, job.first_new_id, err) < 0 ||
         restore_upkeep(&job, err) < 0))
        goto rollback;
    if (em_db_commit(db, err) < 0)
        goto rollback;
    rc = 0;
    goto done;
rollback:
    em_db_rollback(db);
    result->imported = 0;
done:
    em_db_exec(db, "PRAGMA cache_size = -2000", NULL);
    job_free(&job);
    CPLPopErrorHandler();
    return rc;
}

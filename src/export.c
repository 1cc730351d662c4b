/* export.c -- options and the run of one export: which sources, which filters, which
 * CRS, a temporary folder beside the output, and the rename that publishes the file
 * only once it is whole. The formats themselves are in export_shp.c and
 * export_ogr.c; reading the rows in export_source.c. */
#include "export.h"
#include "export_priv.h"
#include "fields.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <dirent.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_SOURCES 8

static const struct {
    em_export_format format;
    const char *name, *ext, *content_type;
} formats[] = {
    {EM_EXPORT_SHP, "shp", ".zip", "application/zip"},
    {EM_EXPORT_GPKG, "gpkg", ".gpkg", "application/geopackage+sqlite3"},
    {EM_EXPORT_GEOJSON, "geojson", ".geojson", "application/geo+json"},
    {EM_EXPORT_CSV, "csv", ".csv", "text/csv; charset=utf-8"},
    {EM_EXPORT_KML, "kml", ".kml", "application/vnd.google-earth.kml+xml"},
    {EM_EXPORT_XLSX, "xlsx", ".xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

void em_export_options_init(em_export_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->epsg = 4326;
    opt->encoding = EM_EXPORT_UTF8;
    opt->lang = EM_LANG_EN;
}

int em_export_format_parse(const char *name, em_export_format *out) {
    for (size_t i = 0; name && i < NFORMATS; i++)
        if (strcasecmp(name, formats[i].name) == 0)
            return *out = formats[i].format, 0;
    if (name && (strcasecmp(name, "shapefile") == 0 || strcasecmp(name, "zip") == 0))
        return *out = EM_EXPORT_SHP, 0;
    return -1;
}

const char *em_export_format_name(em_export_format format) {
    return formats[format].name;
}

const char *em_export_extension(em_export_format format) {
    return formats[format].ext;
}

const char *em_export_content_type(em_export_format format) {
    return formats[format].content_type;
}

int em_export_format_from_path(const char *path, em_export_format *out) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/'))
        return -1;
    for (size_t i = 0; i < NFORMATS; i++)
        if (strcasecmp(dot, formats[i].ext) == 0)
            return *out = formats[i].format, 0;
    if (strcasecmp(dot, ".json") == 0)
        return *out = EM_EXPORT_GEOJSON, 0;
    return -1;
}

static int parse_epsg(const char *value, int *out) {
    const char *digits = value;
    if (strncasecmp(value, "EPSG:", 5) == 0)
        digits = value + 5;
    char *end = NULL;
    long code = strtol(digits, &end, 10);
    if (!*digits || *end || code < 1000 || code > 999999)
        return -1;
    *out = (int)code;
    return 0;
}

int em_export_option_set(em_export_options *opt, const char *key, const char *value,
                         em_error *err) {
    if (!value)
        return em_fail(err, EM_ERR_USAGE, "--%s needs a value", key);
    if (strcmp(key, "source") == 0) {
        opt->source = value;
    } else if (strcmp(key, "format") == 0) {
        if (em_export_format_parse(value, &opt->format) < 0)
            return em_fail(err, EM_ERR_USAGE,
                           "--format '%s': must be shp, gpkg, geojson, csv, kml or xlsx", value);
        opt->format_set = 1;
    } else if (strcmp(key, "crs") == 0) {
        if (parse_epsg(value, &opt->epsg) < 0)
            return em_fail(err, EM_ERR_USAGE,
                           "--crs '%s': must be EPSG:NNNN, e.g. EPSG:4490 (CGCS2000) or "
                           "EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)",
                           value);
    } else if (strcmp(key, "encoding") == 0) {
        if (strcasecmp(value, "UTF-8") == 0 || strcasecmp(value, "UTF8") == 0)
            opt->encoding = EM_EXPORT_UTF8;
        else if (strcasecmp(value, "GBK") == 0 || strcasecmp(value, "CP936") == 0 ||
                 strcmp(value, "936") == 0)
            opt->encoding = EM_EXPORT_GBK;
        else
            return em_fail(err, EM_ERR_USAGE, "--encoding '%s': must be UTF-8 or GBK", value);
    } else if (strcmp(key, "lang") == 0) {
        if (em_lang_parse(value, &opt->lang) < 0)
            return em_fail(err, EM_ERR_USAGE, "--lang '%s': must be en or zh", value);
    } else {
        if (em_params_get(&opt->params, key))
            return em_fail(err, EM_ERR_USAGE, "--%s given twice", key);
        if (em_params_add(&opt->params, key, value) < 0)
            return em_fail(err, EM_ERR_USAGE, "too many options");
    }
    return 0;
}

void em_export_filename(const em_export_options *opt, char *out, size_t outlen) {
    char name[80] = "";
    size_t o = 0;
    const char *s = opt->source ? opt->source : "";
    while (*s && o + 1 < sizeof name) {
        if (strncmp(s, "analysis:", 9) == 0) {
            s += 9;
            continue;
        }
        char c = *s++;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
            name[o++] = c;
        else if (c == ',' && o > 0)
            name[o++] = '_';
    }
    name[o] = '\0';
    snprintf(out, outlen, "%s%s", o ? name : "export",
             em_export_extension(opt->format_set ? opt->format : EM_EXPORT_SHP));
}

/* ---------- sources ---------- */

typedef struct {
    const em_layer *layer;
    const em_analysis *analysis;
} source_ref;

static int parse_sources(const char *source, source_ref *refs, int *n, em_error *err) {
    char buf[512];
    if (!source || !*source)
        return em_fail(err, EM_ERR_USAGE, "no SOURCE: name a layer (%s) or an analysis",
                       em_layer_names());
    if (strlen(source) >= sizeof buf)
        return em_fail(err, EM_ERR_USAGE, "SOURCE is too long");
    snprintf(buf, sizeof buf, "%s", source);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == ' ')
            tok[--len] = '\0';
        source_ref r = {NULL, NULL};
        if (strncmp(tok, "analysis:", 9) == 0)
            r.analysis = em_analysis_find(tok + 9);
        else if (!(r.layer = em_layer_find(tok)))
            r.analysis = em_analysis_find(tok);
        if (!r.layer && !r.analysis) {
            char names[512] = "";
            for (size_t i = 0; i < em_analysis_count(); i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                         em_analysis_at(i)->name);
            }
            return em_fail(err, EM_ERR_USAGE,
                           "unknown SOURCE '%s': layers are %s; analyses are %s (write "
                           "analysis:NAME for one that shares a layer's name)",
                           tok, em_layer_names(), names[0] ? names : "(none registered)");
        }
        for (int i = 0; i < *n; i++)
            if (refs[i].layer == r.layer && refs[i].analysis == r.analysis)
                return em_fail(err, EM_ERR_USAGE, "SOURCE names %s twice", tok);
        if (*n >= MAX_SOURCES)
            return em_fail(err, EM_ERR_USAGE, "SOURCE names more than %d layers", MAX_SOURCES);
        refs[(*n)++] = r;
    }
    if (*n == 0)
        return em_fail(err, EM_ERR_USAGE, "no SOURCE");
    for (int i = 0; i < *n; i++)
        if (refs[i].analysis && *n > 1)
            return em_fail(err, EM_ERR_USAGE,
                           "an analysis (%s) is exported on its own, not with other sources",
                           refs[i].analysis->name);
    return 0;
}

/* ---------- filters ---------- */

static const char *filter_key(const char *key) {
    static const char *const keys[] = {"town", "tier", "built-before", "bbox", "polygon"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return keys[i];
    if (strcmp(key, "built_before") == 0)
        return "built-before";
    return NULL;
}

static int parse_filters(em_db *db, const em_export_options *opt, const source_ref *ref,
                         ex_filters *f, char town[16], em_error *err) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < opt->params.n; i++) {
        const char *key = filter_key(opt->params.key[i]);
        const char *value = opt->params.value[i];
        if (!key) {
            const em_analysis *a = em_analysis_find(ref->layer->name);
            if (a)
                return em_fail(err, EM_ERR_USAGE,
                               "--%s is not an option of a layer export; for the %s analysis "
                               "write analysis:%s",
                               opt->params.key[i], a->name, a->name);
            return em_fail(err, EM_ERR_USAGE,
                           "--%s is not an option of a layer export (filters: --town, --tier, "
                           "--built-before, --bbox, --polygon)",
                           opt->params.key[i]);
        }
        if (strcmp(key, "town") == 0) {
            sqlite3_stmt *st =
                em_db_prepare(db, "SELECT code FROM towns WHERE code = ?1 OR name = ?1", err);
            if (!st)
                return -1;
            sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
            int found = sqlite3_step(st) == SQLITE_ROW;
            if (found)
                snprintf(town, 16, "%s", (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
            if (!found)
                return em_fail(err, EM_ERR_USAGE, "--town '%s': no town has that code or name",
                               value);
            f->town = town;
            f->town_set = 1;
        } else if (strcmp(key, "tier") == 0) {
            static const char *const tiers[][2] = {
                {"示范版", "demonstration"}, {"提升版", "upgrade"}, {"基础版", "basic"}};
            for (size_t t = 0; t < 3 && !f->tier; t++)
                if (strcmp(value, tiers[t][0]) == 0 || strcasecmp(value, tiers[t][1]) == 0)
                    f->tier = tiers[t][0];
            if (!f->tier)
                return em_fail(err, EM_ERR_USAGE,
                               "--tier '%s': must be 示范版 (demonstration), 提升版 (upgrade) "
                               "or 基础版 (basic)",
                               value);
            f->tier_set = 1;
        } else if (strcmp(key, "built-before") == 0) {
            long long year;
            if (em_parse_integer(value, &year) < 0 || year < 1800 || year > 2200)
                return em_fail(err, EM_ERR_USAGE, "--built-before '%s': must be a year", value);
            f->built_before = (long)year;
            f->built_set = 1;
        } else if (strcmp(key, "polygon") == 0) {
            if (ex_polygon_parse(db, value, &f->polygon, &f->polygon_len, err) < 0)
                return -1;
        } else {
            double b[4];
            char tail;
            if (sscanf(value, "%lf,%lf,%lf,%lf%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
                b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[0] >= b[2] ||
                b[1] >= b[3])
                return em_fail(err, EM_ERR_USAGE,
                               "--bbox '%s': must be minlon,minlat,maxlon,maxlat in degrees, "
                               "min below max",
                               value);
            memcpy(f->bbox, b, sizeof b);
            f->has_bbox = 1;
        }
    }
    return 0;
}

/* ---------- temporary files ---------- */

void em_export_remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[PATH_MAX];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                em_export_remove_tree(child);
            else
                unlink(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* A folder for the work, beside out_path so the final rename stays on one file
 * system. */
static int make_tmpdir(const char *out_path, char *dir, size_t len, em_error *err) {
    const char *slash = strrchr(out_path, '/');
    int n = slash ? snprintf(dir, len, "%.*s/.estatemap-export-XXXXXX", (int)(slash - out_path),
                             out_path)
                  : snprintf(dir, len, ".estatemap-export-XXXXXX");
    if (slash == out_path) /* /file */
        n = snprintf(dir, len, "/.estatemap-export-XXXXXX");
    if (n < 0 || (size_t)n >= len)
        return em_fail(err, EM_ERR_USAGE, "-o: path too long");
    if (!mkdtemp(dir))
        return em_fail(err, EM_ERR_RUNTIME, "cannot write beside %s: %s", out_path,
                       strerror(errno));
    return 0;
}

/* Whether a failed export ran out of disk, so that the error says so, naming the
 * output: the file system holding `dir` is full (less than 64 KiB free: file systems
 * allocate in blocks), or the driver said so (strerror's ENOSPC, or SQLite's
 * SQLITE_FULL for GeoPackage, whose rollback has freed its journal again). */
static int no_space_left(const char *dir, const char *message) {
    struct statvfs sv;
    return (statvfs(dir, &sv) == 0 && (unsigned long long)sv.f_bavail * sv.f_frsize < 65536) ||
           strstr(message, strerror(ENOSPC)) || strstr(message, "database or disk is full");
}

/* GDAL's warnings go to the report, not to stderr. */
static void CPL_STDCALL gdal_errors(CPLErr level, CPLErrorNum num, const char *msg) {
    (void)num;
    ex_ctx *ctx = CPLGetErrorHandlerUserData();
    if (level == CE_Warning && ctx)
        ex_warn(ctx, "GDAL: %s", msg);
}

/* ---------- the export ---------- */

int em_export(em_db *db, const em_export_options *opt, const char *out_path,
              em_export_report *report, em_error *err) {
    if (report)
        memset(report, 0, sizeof *report);
    if (!opt->format_set)
        return em_fail(err, EM_ERR_USAGE,
                       "--format is required: shp, gpkg, geojson, csv, kml "
                       "or xlsx");
    if (!out_path || !*out_path)
        return em_fail(err, EM_ERR_USAGE, "-o FILE is required");
    if (opt->encoding == EM_EXPORT_GBK && opt->format != EM_EXPORT_SHP)
        return em_fail(err, EM_ERR_USAGE,
                       "--encoding GBK is for shapefiles (--format shp); %s is always UTF-8",
                       em_export_format_name(opt->format));
    if (opt->format == EM_EXPORT_KML && opt->epsg != 4326)
        return em_fail(err, EM_ERR_USAGE, "--crs EPSG:%d: KML is always EPSG:4326 lon/lat",
                       opt->epsg);
    source_ref refs[MAX_SOURCES] = {{NULL, NULL}};
    int nsrc = 0;
    if (parse_sources(opt->source, refs, &nsrc, err) < 0)
        return -1;
    if (nsrc > 1 && (opt->format == EM_EXPORT_GEOJSON || opt->format == EM_EXPORT_CSV))
        return em_fail(err, EM_ERR_USAGE,
                       "--format %s holds one layer: export the layers one by one, or use gpkg, "
                       "shp, kml or xlsx for several",
                       em_export_format_name(opt->format));
    ex_filters filters = {0};
    char town[16] = "";
    for (int i = 0; i < nsrc; i++)
        if (opt->format == EM_EXPORT_KML &&
            (refs[i].layer ? !em_layer_is_spatial(refs[i].layer) : !refs[i].analysis->has_geometry))
            return em_fail(err, EM_ERR_USAGE, "--format kml needs geometry, and %s has none",
                           refs[i].layer ? refs[i].layer->name : refs[i].analysis->name);
    if (!refs[0].analysis && parse_filters(db, opt, &refs[0], &filters, town, err) < 0) {
        free(filters.polygon);
        return -1;
    }

    GDALAllRegister();
    ex_ctx ctx = {0};
    ctx.opt = opt;
    ctx.report = report;
    ctx.gbk = (void *)-1;
    ctx.srs = OSRNewSpatialReference(NULL);
    CPLPushErrorHandlerEx(gdal_errors, &ctx);
    int rc = 0;
    if (OSRImportFromEPSG(ctx.srs, opt->epsg) != OGRERR_NONE)
        rc = em_fail(err, EM_ERR_USAGE, "--crs EPSG:%d: not a CRS PROJ knows", opt->epsg);
    OGRSpatialReferenceH lonlat = OSRNewSpatialReference(NULL);
    if (rc == 0) {
        OSRSetAxisMappingStrategy(ctx.srs, OAMS_TRADITIONAL_GIS_ORDER);
        ctx.geographic = OSRIsGeographic(ctx.srs);
        OSRImportFromEPSG(lonlat, 4326);
        OSRSetAxisMappingStrategy(lonlat, OAMS_TRADITIONAL_GIS_ORDER);
        if (opt->epsg != 4326) {
            ctx.to_out = OCTNewCoordinateTransformation(lonlat, ctx.srs);
            if (!ctx.to_out)
                rc = em_fail(err, EM_ERR_USAGE, "--crs EPSG:%d: no transformation from lon/lat",
                             opt->epsg);
        }
    }
    if (rc == 0 && opt->encoding == EM_EXPORT_GBK) {
        iconv_t cd = iconv_open("CP936", "UTF-8");
        if (cd == (iconv_t)-1)
            rc = em_fail(err, EM_ERR_RUNTIME, "this system's iconv has no GBK (CP936)");
        else
            ctx.gbk = cd;
    }

    char tmpdir[PATH_MAX] = "";
    if (rc == 0)
        rc = make_tmpdir(out_path, tmpdir, sizeof tmpdir, err);
    ctx.tmpdir = tmpdir;

    /* One read transaction, so several layers come from one state of the file.
     * Analyses manage their own. */
    int in_savepoint = rc == 0 && !refs[0].analysis &&
                       sqlite3_exec(db->sql, "SAVEPOINT em_export", NULL, NULL, NULL) == SQLITE_OK;
    ex_source srcs[MAX_SOURCES];
    memset(srcs, 0, sizeof srcs);
    for (int i = 0; rc == 0 && i < nsrc; i++)
        rc = refs[i].layer
                 ? ex_source_open_layer(&srcs[i], db, refs[i].layer, &filters,
                                        opt->format == EM_EXPORT_SHP, err)
                 : ex_source_open_analysis(&srcs[i], db, refs[i].analysis, &opt->params, err);

    char work[PATH_MAX + 64] = "";
    if (rc == 0) {
        snprintf(work, sizeof work, "%s/export%s", tmpdir, em_export_extension(opt->format));
        rc = opt->format == EM_EXPORT_SHP ? ex_write_shapefiles(srcs, nsrc, &ctx, work, err)
                                          : ex_write_ogr(srcs, nsrc, &ctx, work, err);
    }
    if (rc < 0 && tmpdir[0] && no_space_left(tmpdir, err->message)) {
        char detail[sizeof err->message];
        snprintf(detail, sizeof detail, "%s", err->message);
        em_fail(err, EM_ERR_NOSPACE,
                "cannot write %s: no space left on device; nothing was "
                "written (%s)",
                out_path, detail);
    }
    for (int i = 0; i < nsrc; i++)
        ex_source_close(&srcs[i]);
    if (in_savepoint)
        sqlite3_exec(db->sql, "RELEASE em_export", NULL, NULL, NULL);
    if (rc == 0 && rename(work, out_path) != 0)
        rc = em_fail(err, EM_ERR_RUNTIME, "cannot write %s: %s", out_path, strerror(errno));
    if (tmpdir[0])
        em_export_remove_tree(tmpdir);

    CPLPopErrorHandler();
    if (ctx.gbk != (void *)-1)
        iconv_close((iconv_t)ctx.gbk);
    if (ctx.to_out)
        OCTDestroyCoordinateTransformation(ctx.to_out);
    OSRDestroySpatialReference(lonlat);
    OSRDestroySpatialReference(ctx.srs);
    free(filters.polygon);
    return rc;
}

/* export_ogr.c -- the single-file exports: GeoPackage, GeoJSON, CSV, KML and XLSX.
 *
 * Each goes through its GDAL driver; what differs is how fields and geometry land:
 * GeoPackage keeps types and geometry and stores the QGIS styles in layer_styles;
 * CSV is UTF-8 with a BOM for Excel, with lon/lat columns for points and WKT
 * otherwise; KML is always lon/lat, the name field as the placemark's name; XLSX
 * keeps types and adds a WKT column. (KML goes through GDAL's KML driver: LIBKML
 * takes 100 times as long, 9 s for the demo's estates.) */
#include "export_priv.h"
#include "qml.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static em_qml_geometry qml_geometry(int cls) {
    return cls == EX_CLASS_POINT  ? EM_QML_POINT
           : cls == EX_CLASS_LINE ? EM_QML_LINE
                                  : EM_QML_POLYGON;
}

char *ex_qml(const ex_source *src, const ex_ctx *ctx, int geom_class, ex_name *names,
             const char *theme, em_error *err) {
    em_qml_geometry g = qml_geometry(geom_class);
    json_object *style = em_style_load(src->style, g, err);
    if (!style)
        return NULL;
    em_qml_field *fields = calloc((size_t)src->nfields + 1, sizeof *fields);
    if (!fields) {
        json_object_put(style);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    for (int i = 0; i < src->nfields; i++) {
        const ex_field *f = &src->fields[i];
        const char *alias = ctx->opt->lang == EM_LANG_ZH ? f->label_zh : f->column;
        fields[i].column = f->column;
        fields[i].field = names[i];
        fields[i].alias = alias && strcmp(alias, names[i]) != 0 ? alias : NULL;
    }
    char *qml = em_qml_build(style, theme, g, fields, src->nfields, ctx->opt->lang, err);
    free(fields);
    json_object_put(style);
    return qml;
}

/* ---------- GeoPackage styles ---------- */

static OGRLayerH styles_layer(GDALDatasetH ds, em_error *err) {
    static const struct {
        const char *name;
        OGRFieldType type;
        OGRFieldSubType sub;
        int width;
    } fields[] = {
        {"f_table_catalog", OFTString, OFSTNone, 256},
        {"f_table_schema", OFTString, OFSTNone, 256},
        {"f_table_name", OFTString, OFSTNone, 256},
        {"f_geometry_column", OFTString, OFSTNone, 256},
        {"styleName", OFTString, OFSTNone, 30},
        {"styleQML", OFTString, OFSTNone, 0},
        {"styleSLD", OFTString, OFSTNone, 0},
        {"useAsDefault", OFTInteger, OFSTBoolean, 0},
        {"description", OFTString, OFSTNone, 0},
        {"owner", OFTString, OFSTNone, 30},
        {"ui", OFTString, OFSTNone, 30},
        {"update_time", OFTDateTime, OFSTNone, 0},
    };
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "layer_styles", NULL, wkbNone, NULL);
    if (!layer) {
        ex_gdal_fail(err, "creating layer_styles");
        return NULL;
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, fields[i].type);
        OGR_Fld_SetSubType(fd, fields[i].sub);
        OGR_Fld_SetWidth(fd, fields[i].width);
        OGRErr e = OGR_L_CreateField(layer, fd, FALSE);
        OGR_Fld_Destroy(fd);
        if (e != OGRERR_NONE) {
            ex_gdal_fail(err, "creating layer_styles.%s", fields[i].name);
            return NULL;
        }
    }
    return layer;
}

static int add_style(OGRLayerH layer, const ex_source *src, const ex_ctx *ctx, ex_name *names,
                     int cls, const char *theme, const char *style_name, int is_default,
                     const char *description, em_error *err) {
    char *qml = ex_qml(src, ctx, cls, names, theme, err);
    if (!qml)
        return -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    OGR_F_SetFieldString(f, 0, "");
    OGR_F_SetFieldString(f, 1, "");
    OGR_F_SetFieldString(f, 2, src->name);
    OGR_F_SetFieldString(f, 3, "geom");
    OGR_F_SetFieldString(f, 4, style_name);
    OGR_F_SetFieldString(f, 5, qml);
    OGR_F_SetFieldString(f, 6, "");
    OGR_F_SetFieldInteger(f, 7, is_default);
    OGR_F_SetFieldString(f, 8, description);
    OGR_F_SetFieldString(f, 9, "estatemap");
    OGR_F_SetFieldString(f, 10, "");
    OGR_F_SetFieldDateTimeEx(f, 11, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                             tm.tm_min, (float)tm.tm_sec, 100);
    OGRErr e = OGR_L_CreateFeature(layer, f);
    OGR_F_Destroy(f);
    free(qml);
    if (e != OGRERR_NONE)
        return ex_gdal_fail(err, "writing the %s style of %s", style_name, src->name);
    return 0;
}

/* Every theme of the source's style as a named style, the default theme as QGIS's
 * default. A source holding lines and polygons (corridors) gets its themes for lines,
 * and the polygon forms as extra styles named THEME_polygons. */
static int write_styles(GDALDatasetH ds, ex_source *srcs, int n, const ex_ctx *ctx, em_error *err) {
    OGRLayerH layer = NULL;
    ex_profile profile = {0, 0, EX_GEOM_OGR};
    for (int s = 0; s < n; s++) {
        const ex_source *src = &srcs[s];
        if (!src->classes)
            continue;
        if (!layer && !(layer = styles_layer(ds, err)))
            return -1;
        ex_name *names = calloc((size_t)src->nfields + 1, sizeof *names);
        if (!names)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        ex_field_names(src, ctx, &profile, names);
        json_object *style = em_style_load(src->style, EM_QML_POLYGON, err);
        int rc = style ? 0 : -1;
        const char *themes[32];
        int nthemes = style ? em_style_themes(style, themes, 32) : 0;
        int kept = 0; /* only themes whose field this result has */
        for (int t = 0; t < nthemes; t++) {
            const char *field = em_style_theme_field(style, themes[t]);
            for (int i = 0; field && i < src->nfields; i++)
                if (strcmp(src->fields[i].column, field) == 0) {
                    themes[kept++] = themes[t];
                    break;
                }
        }
        nthemes = kept;
        for (int c = EX_CLASS_POINT; rc == 0 && c <= EX_CLASS_POLYGON; c <<= 1) {
            if (!(src->classes & c))
                continue;
            int first_class = !(src->classes & (c - 1));
            for (int t = 0; rc == 0 && t <= nthemes; t++) {
                if (t == nthemes && nthemes > 0)
                    break; /* the plain symbol only when there are no themes */
                const char *theme = nthemes ? themes[t] : NULL;
                char name[64], description[256];
                snprintf(name, sizeof name, "%s%s%s", theme ? theme : src->name,
                         first_class ? "" : "_",
                         first_class ? "" : (c == EX_CLASS_POLYGON ? "polygons" : "lines"));
                snprintf(description, sizeof description, "%s%s%s (estatemap, styles/%s.json)",
                         theme ? em_style_theme_label(style, theme, ctx->opt->lang) : src->name,
                         first_class ? "" : ", ",
                         first_class ? "" : (c == EX_CLASS_POLYGON ? "polygons" : "lines"),
                         src->style);
                rc = add_style(layer, src, ctx, names, c, theme, name, first_class && t == 0,
                               description, err);
            }
        }
        json_object_put(style);
        free(names);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---------- writing ---------- */

typedef struct {
    const char *driver;
    ex_profile profile;
    int has_srs;
} format_info;

static format_info info_of(em_export_format format) {
    switch (format) {
    case EM_EXPORT_GPKG:
        return (format_info){"GPKG", {0, 0, EX_GEOM_OGR}, 1};
    case EM_EXPORT_GEOJSON:
        return (format_info){"GeoJSON", {0, 0, EX_GEOM_OGR}, 1};
    case EM_EXPORT_CSV:
        return (format_info){"CSV", {0, 1, EX_GEOM_XY}, 0};
    case EM_EXPORT_KML:
        return (format_info){"KML", {0, 1, EX_GEOM_OGR}, 1};
    case EM_EXPORT_XLSX:
        return (format_info){"XLSX", {0, 0, EX_GEOM_WKT}, 0};
    case EM_EXPORT_SHP:
        break;
    }
    return (format_info){"ESRI Shapefile", {1, 0, EX_GEOM_OGR}, 1};
}

static const char *field_named(const ex_source *src, ex_name *names, const char *column) {
    for (int i = 0; i < src->nfields; i++)
        if (strcmp(src->fields[i].column, column) == 0)
            return names[i];
    return NULL;
}

static int write_layer(GDALDatasetH ds, ex_source *src, const ex_ctx *ctx, format_info *fi,
                       long long *written, em_error *err) {
    ex_profile p = fi->profile;
    em_export_format format = ctx->opt->format;
    if (p.geom == EX_GEOM_XY && (src->classes != EX_CLASS_POINT || src->multipoint))
        p.geom = EX_GEOM_WKT;
    int attributes_only = p.geom != EX_GEOM_OGR || !src->classes;
    if (!src->classes && p.geom != EX_GEOM_OGR)
        p.geom = EX_GEOM_OGR; /* nothing to put in coordinate columns */
    ex_name *names = calloc((size_t)src->nfields + 1, sizeof *names);
    int *map = calloc((size_t)src->nfields + 2, sizeof *map);
    if (!names || !map) {
        free(names);
        free(map);
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    }
    ex_field_names(src, ctx, &p, names);

    char *options[8] = {NULL};
    int no = 0;
    if (format == EM_EXPORT_CSV) {
        options[no++] = "WRITE_BOM=YES";
        options[no++] = "LINEFORMAT=CRLF";
    } else if (format == EM_EXPORT_GPKG) {
        options[no++] = "GEOMETRY_NAME=geom";
        options[no++] = "FID=fid";
    } else if (format == EM_EXPORT_GEOJSON) {
        options[no++] = "WRITE_NAME=YES";
    }
    OGRwkbGeometryType gt = attributes_only ? wkbNone : src->gtype;
    CPLErrorReset();
    OGRLayerH layer =
        GDALDatasetCreateLayer(ds, src->name, gt == wkbNone ? NULL : ctx->srs, gt, options);
    int rc = 0;
    if (!layer)
        rc = ex_gdal_fail(err, "creating layer %s", src->name);
    if (rc == 0)
        rc = ex_create_fields(layer, src, ctx, &p, names, map, err);
    /* KML: each line and polygon gets its colour from styles/ (Google Earth shows the
     * same map); points keep the viewer's pin. */
    json_object *style = NULL;
    const char *theme = NULL;
    int theme_col = -1;
    if (rc == 0 && format == EM_EXPORT_KML) {
        style = em_style_load(src->style, EM_QML_POLYGON, err);
        if (!style)
            rc = -1;
        const char **cols = calloc((size_t)src->nfields + 1, sizeof *cols);
        for (int i = 0; style && cols && i < src->nfields; i++)
            cols[i] = src->fields[i].column;
        theme = style && cols ? em_style_pick_theme(style, cols, src->nfields) : NULL;
        const char *field = theme ? em_style_theme_field(style, theme) : NULL;
        for (int i = 0; field && i < src->nfields; i++)
            if (strcmp(src->fields[i].column, field) == 0)
                theme_col = i;
        free(cols);
    }
    int transaction = rc == 0 && format == EM_EXPORT_GPKG &&
                      GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    while (rc == 0) {
        int more = ex_source_next(src, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        OGRGeometryH g = ex_source_take(src);
        if (g && ex_transform(ctx, src, g, err) < 0) {
            OGR_G_DestroyGeometry(g);
            rc = -1;
            break;
        }
        if (g && gt == wkbMultiPolygon && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPolygon)
            g = OGR_G_ForceToMultiPolygon(g);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        int cls = style && g ? ex_geometry_class(g) : -1;
        if (cls == EX_CLASS_LINE || cls == EX_CLASS_POLYGON) {
            char value[64] = "", css[160];
            const ex_value *v = theme_col >= 0 ? &src->values[theme_col] : NULL;
            if (v && !v->null) {
                ex_type t = src->fields[theme_col].type;
                if (t == EX_INT || t == EX_BOOL)
                    snprintf(value, sizeof value, "%lld", v->i);
                else if (t == EX_REAL)
                    snprintf(value, sizeof value, "%.15g", v->d);
                else
                    snprintf(value, sizeof value, "%s", v->text);
            }
            em_style_ogr(style, theme, qml_geometry(cls), value[0] ? value : NULL, css, sizeof css);
            OGR_F_SetStyleString(f, css);
        }
        rc = ex_fill_feature(f, src, ctx, &p, map, g, err);
        if (rc == 0 && OGR_L_CreateFeature(layer, f) != OGRERR_NONE)
            rc = ex_gdal_fail(err, "writing %s feature %lld", src->name, src->feature);
        OGR_F_Destroy(f);
        if (rc == 0)
            ++*written;
        if (rc == 0 && ctx->report)
            ctx->report->features++;
    }
    if (transaction) {
        if (rc == 0 && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
            rc = ex_gdal_fail(err, "committing %s", src->name);
        else if (rc < 0)
            GDALDatasetRollbackTransaction(ds);
    }
    json_object_put(style);
    free(names);
    free(map);
    if (rc == 0 && ctx->report)
        ctx->report->layers++;
    return rc;
}

/* Read the finished file back and count its features. Some drivers (KML, GeoJSON,
 * XLSX) do not check their writes: on a full disk they close a truncated file and
 * report nothing, so a file is only published once GDAL reads back every feature
 * written. GeoPackage's own layer_styles table is not a layer of ours. */
static int verify_written(const char *path, const char *driver, long long written, em_error *err) {
    const char *const drivers[] = {driver, NULL};
    /* XLSX: our first row is always the header; GDAL's guess would take it for data
     * when every column is text (zones, corridors). GDAL 3.6 reads this from its
     * configuration (not from an open option) when a sheet is first read: set for
     * this thread until the file is closed. */
    int xlsx = strcmp(driver, "XLSX") == 0;
    char *saved = NULL;
    if (xlsx) {
        const char *was = CPLGetThreadLocalConfigOption("OGR_XLSX_HEADERS", NULL);
        saved = was ? CPLStrdup(was) : NULL;
        CPLSetThreadLocalConfigOption("OGR_XLSX_HEADERS", "FORCE");
    }
    CPLErrorReset();
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
    long long found = -1;
    if (ds) {
        found = 0;
        for (int i = 0; i < GDALDatasetGetLayerCount(ds); i++) {
            OGRLayerH l = GDALDatasetGetLayer(ds, i);
            if (strcmp(OGR_L_GetName(l), "layer_styles") != 0)
                found += OGR_L_GetFeatureCount(l, 1);
        }
        GDALClose(ds);
    }
    if (xlsx) {
        CPLSetThreadLocalConfigOption("OGR_XLSX_HEADERS", saved);
        CPLFree(saved);
    }
    if (found < 0)
        return ex_gdal_fail(err, "%s is unreadable after writing", path);
    if (found != written)
        return em_fail(err, EM_ERR_RUNTIME, "%s is incomplete: %lld of %lld features read back",
                       path, found, written);
    return 0;
}

int ex_write_ogr(ex_source *srcs, int n, const ex_ctx *ctx, const char *path, em_error *err) {
    format_info fi = info_of(ctx->opt->format);
    GDALDriverH drv = GDALGetDriverByName(fi.driver);
    if (!drv)
        return em_fail(err, EM_ERR_RUNTIME, "GDAL has no %s driver", fi.driver);
    /* KML: the placemark's <name> and <description> come from these fields (the
     * first source's names; a layer without them just has none). */
    char name_opt[160] = "NameField=name", desc_opt[160] = "DescriptionField=description";
    char *dsco[] = {name_opt, desc_opt, NULL};
    if (ctx->opt->format == EM_EXPORT_KML && n > 0) {
        ex_name *names = calloc((size_t)srcs[0].nfields + 1, sizeof *names);
        if (!names)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        ex_field_names(&srcs[0], ctx, &fi.profile, names);
        const char *name = field_named(&srcs[0], names, "name");
        if (!name) /* violations, grid: the code names the placemark */
            name = field_named(&srcs[0], names, srcs[0].layer ? srcs[0].layer->key : "code");
        const char *desc = field_named(&srcs[0], names, "description");
        if (name)
            snprintf(name_opt, sizeof name_opt, "NameField=%s", name);
        if (desc)
            snprintf(desc_opt, sizeof desc_opt, "DescriptionField=%s", desc);
        free(names);
    }
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown,
                                 ctx->opt->format == EM_EXPORT_KML ? dsco : NULL);
    if (!ds)
        return ex_gdal_fail(err, "creating %s", path);
    int rc = 0;
    long long written = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = write_layer(ds, &srcs[i], ctx, &fi, &written, err);
    if (rc == 0 && ctx->opt->format == EM_EXPORT_GPKG)
        rc = write_styles(ds, srcs, n, ctx, err);
    CPLErrorReset();
    GDALClose(ds);
    if (rc == 0 && CPLGetLastErrorType() >= CE_Failure)
        rc = ex_gdal_fail(err, "finishing %s", path);
    if (rc == 0)
        rc = verify_written(path, fi.driver, written, err);
    return rc;
}

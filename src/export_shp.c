/* export_shp.c -- the shapefile export: one zip that ArcGIS on Chinese Windows and
 * QGIS both open without '?' for Chinese, clashing field names or a missing CRS.
 *
 * Each source becomes one shapefile per geometry class (points, lines and polygons
 * cannot share a .shp), each with .shp .shx .dbf .prj .cpg and a .qml style. Field
 * names come from the fixed short-name map (shapefile_names.c) and fields.csv in the
 * zip maps them back. The .cpg says UTF-8, or 936 for GBK (ArcGIS's name for code
 * page 936, which GDAL reads as CP936), and a GBK .dbf also carries the matching
 * language driver id (0x4D) for readers that ignore .cpg.
 *
 * The 2 GB limit: .shp and .dbf use 32-bit offsets, and ArcGIS refuses files over
 * 2 GiB. Before a feature would take either file past the part limit (2,000,000,000
 * bytes), the shapefile is closed and continued in ESTATES_part2, _part3, ...,
 * counted exactly from the record sizes, so no part ever crosses it. */
#include "export_priv.h"
#include "shapefile_names.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { CLASS_SLOTS = 4 }; /* none, point, line, polygon */

typedef struct {
    char base[96]; /* file name without extension */
    const ex_source *src;
    int src_index;
    int cls;
    OGRLayerH layer;
    int *map; /* the layer's index of each field */
    long long shp_bytes, dbf_bytes, features;
} shp_part;

typedef struct {
    GDALDatasetH ds;
    char dir[PATH_MAX];
    shp_part *parts;
    int nparts, cap;
    long long limit;
} shp_writer;

static int slot_of(int cls) {
    return cls == EX_CLASS_POINT ? 1 : cls == EX_CLASS_LINE ? 2 : cls == EX_CLASS_POLYGON ? 3 : 0;
}

static const char *class_suffix(int cls) {
    return cls == EX_CLASS_POINT ? "points" : cls == EX_CLASS_LINE ? "lines" : "polygons";
}

/* The first class a source holds: rows without geometry go with it. */
static int primary_class(const ex_source *src) {
    for (int c = EX_CLASS_POINT; c <= EX_CLASS_POLYGON; c <<= 1)
        if (src->classes & c)
            return c;
    return EX_CLASS_NONE;
}

static int class_count(int classes) {
    return !!(classes & EX_CLASS_POINT) + !!(classes & EX_CLASS_LINE) +
           !!(classes & EX_CLASS_POLYGON);
}

/* ---------- exact sizes ---------- */

static void count_parts(OGRGeometryH g, long long *parts, long long *points) {
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbLineString || t == wkbLinearRing) {
        (*parts)++;
        *points += OGR_G_GetPointCount(g);
        return;
    }
    if (t == wkbPoint) {
        (*points)++;
        return;
    }
    for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
        count_parts(OGR_G_GetGeometryRef(g, i), parts, points);
}

/* Bytes the record takes in the .shp: 8 of header, then the shape. */
static long long shp_record_bytes(OGRGeometryH g, int cls, int multipoint) {
    if (!g || OGR_G_IsEmpty(g))
        return 8 + 4;
    long long parts = 0, points = 0;
    count_parts(g, &parts, &points);
    if (cls == EX_CLASS_POINT)
        return multipoint ? 8 + 40 + 16 * points : 8 + 20;
    return 8 + 44 + 4 * parts + 16 * points;
}

static long long dbf_record_bytes(const ex_source *src) {
    long long n = 1; /* deletion flag */
    for (int i = 0; i < src->nfields; i++)
        n += src->fields[i].type == EX_DATE ? 8 : src->fields[i].width;
    return n;
}

static long long dbf_header_bytes(const ex_source *src) {
    return 32 + 32LL * src->nfields + 1;
}

/* ---------- parts ---------- */

static int open_part(shp_writer *w, const ex_source *src, int src_index, int cls, int number,
                     const ex_ctx *ctx, ex_name *names, em_error *err) {
    if (w->nparts == w->cap) {
        int cap = w->cap ? w->cap * 2 : 8;
        shp_part *p = realloc(w->parts, sizeof *p * (size_t)cap);
        if (!p)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        w->parts = p;
        w->cap = cap;
    }
    shp_part *part = &w->parts[w->nparts];
    memset(part, 0, sizeof *part);
    part->src = src;
    part->src_index = src_index;
    part->cls = cls;
    size_t used = (size_t)snprintf(part->base, sizeof part->base, "%s", src->name);
    if (class_count(src->classes) > 1)
        used +=
            (size_t)snprintf(part->base + used, sizeof part->base - used, "_%s", class_suffix(cls));
    if (number > 1)
        snprintf(part->base + used, sizeof part->base - used, "_part%d", number);

    OGRwkbGeometryType gt = wkbNone;
    if (cls == EX_CLASS_POINT)
        gt = src->multipoint ? wkbMultiPoint : wkbPoint;
    else if (cls == EX_CLASS_LINE)
        gt = wkbLineString; /* holds MultiLineStrings too */
    else if (cls == EX_CLASS_POLYGON)
        gt = wkbPolygon; /* holds MultiPolygons too */
    char *options[] = {ctx->opt->encoding == EM_EXPORT_GBK ? "ENCODING=CP936" : "ENCODING=UTF-8",
                       NULL};
    CPLErrorReset();
    part->layer =
        GDALDatasetCreateLayer(w->ds, part->base, gt == wkbNone ? NULL : ctx->srs, gt, options);
    if (!part->layer)
        return ex_gdal_fail(err, "creating shapefile %s", part->base);
    ex_profile profile = {1, 0, EX_GEOM_OGR};
    part->map = calloc((size_t)src->nfields + 2, sizeof *part->map);
    w->nparts++; /* counted now, so its map is freed whatever happens next */
    if (!part->map)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    if (ex_create_fields(part->layer, src, ctx, &profile, names, part->map, err) < 0)
        return -1;
    part->shp_bytes = gt == wkbNone ? 0 : 100;
    part->dbf_bytes = dbf_header_bytes(src) + 1; /* + end-of-file marker */
    if (ctx->report)
        ctx->report->parts++;
    return w->nparts - 1;
}

static int write_source(shp_writer *w, ex_source *src, int src_index, const ex_ctx *ctx,
                        em_error *err) {
    ex_name *names = calloc((size_t)src->nfields + 1, sizeof *names);
    if (!names)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    ex_profile profile = {1, 0, EX_GEOM_OGR};
    ex_field_names(src, ctx, &profile, names);
    int current[CLASS_SLOTS] = {-1, -1, -1, -1}, numbers[CLASS_SLOTS] = {0};
    long long dbf_record = dbf_record_bytes(src);
    int rc = 0, skipped = 0;
    while (rc == 0) {
        int more = ex_source_next(src, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        OGRGeometryH g = ex_source_take(src);
        int cls = g ? ex_geometry_class(g) : primary_class(src);
        if (cls < 0) {
            skipped++;
            OGR_G_DestroyGeometry(g);
            continue;
        }
        if (g && cls == EX_CLASS_POINT && src->multipoint)
            g = OGR_G_ForceToMultiPoint(g);
        long long shp_record = shp_record_bytes(g, cls, src->multipoint);
        int slot = slot_of(cls);
        shp_part *part = current[slot] >= 0 ? &w->parts[current[slot]] : NULL;
        if (!part || (part->features > 0 && (part->shp_bytes + shp_record > w->limit ||
                                             part->dbf_bytes + dbf_record > w->limit))) {
            int idx = open_part(w, src, src_index, cls, ++numbers[slot], ctx, names, err);
            if (idx < 0) {
                OGR_G_DestroyGeometry(g);
                rc = -1;
                break;
            }
            current[slot] = idx;
            part = &w->parts[idx];
        }
        if (g && ex_transform(ctx, src, g, err) < 0) {
            OGR_G_DestroyGeometry(g);
            rc = -1;
            break;
        }
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(part->layer));
        if (ex_fill_feature(f, src, ctx, &profile, part->map, g, err) < 0) {
            OGR_F_Destroy(f);
            rc = -1;
            break;
        }
        if (OGR_L_CreateFeature(part->layer, f) != OGRERR_NONE) {
            OGR_F_Destroy(f);
            rc = ex_gdal_fail(err, "writing %s feature %lld", src->name, src->feature);
            break;
        }
        OGR_F_Destroy(f);
        part->shp_bytes += shp_record;
        part->dbf_bytes += dbf_record;
        part->features++;
        if (ctx->report)
            ctx->report->features++;
    }
    /* A source with no rows still gets its (empty) shapefile. */
    if (rc == 0 && numbers[0] + numbers[1] + numbers[2] + numbers[3] == 0 &&
        open_part(w, src, src_index, primary_class(src), 1, ctx, names, err) < 0)
        rc = -1;
    if (rc == 0 && skipped)
        ex_warn(ctx, "%s: %d rows with a geometry collection of mixed types left out", src->name,
                skipped);
    free(names);
    return rc;
}

/* ---------- after GDAL: .cpg, LDID, .qml, fields.csv ---------- */

static int write_text_file(const char *path, const char *text, size_t len, em_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        if (f)
            fclose(f);
        return em_fail(err, EM_ERR_RUNTIME, "cannot write %s", path);
    }
    if (fclose(f) != 0)
        return em_fail(err, EM_ERR_RUNTIME, "cannot write %s", path);
    return 0;
}

/* DBF header byte 29, the language driver id: 0x4D is code page 936. */
static int set_ldid(const char *dbf, unsigned char ldid, em_error *err) {
    FILE *f = fopen(dbf, "r+b");
    if (!f || fseek(f, 29, SEEK_SET) != 0 || fputc(ldid, f) == EOF) {
        if (f)
            fclose(f);
        return em_fail(err, EM_ERR_RUNTIME, "cannot set the code page of %s", dbf);
    }
    return fclose(f) == 0 ? 0 : em_fail(err, EM_ERR_RUNTIME, "cannot write %s", dbf);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void csv_field(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static const char *type_label(ex_type t) {
    switch (t) {
    case EX_INT:
        return "integer";
    case EX_REAL:
        return "real";
    case EX_BOOL:
        return "boolean (1 yes, 0 no)";
    case EX_DATE:
        return "date";
    case EX_DATETIME:
        return "text (YYYY-MM-DD HH:MM:SS)";
    case EX_TEXT:
        break;
    }
    return "text";
}

/* fields.csv: every short name of every shapefile with its column, Chinese name,
 * type and description. UTF-8 with a BOM, so Excel on Chinese Windows reads it. */
static int write_fields_csv(const shp_writer *w, const ex_ctx *ctx, const char *path,
                            em_error *err) {
    FILE *out = fopen(path, "wb");
    if (!out)
        return em_fail(err, EM_ERR_RUNTIME, "cannot write %s", path);
    fputs("\xEF\xBB\xBF"
          "file,field,column,name_zh,type,width,precision,description\r\n",
          out);
    ex_profile profile = {1, 0, EX_GEOM_OGR};
    for (int p = 0; p < w->nparts; p++) {
        const ex_source *src = w->parts[p].src;
        ex_name *names = calloc((size_t)src->nfields + 1, sizeof *names);
        if (!names) {
            fclose(out);
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        }
        ex_field_names(src, ctx, &profile, names);
        for (int i = 0; i < src->nfields; i++) {
            const ex_field *f = &src->fields[i];
            char file[128], width[16] = "", precision[16] = "";
            snprintf(file, sizeof file, "%s.dbf", w->parts[p].base);
            if (f->type == EX_DATE)
                snprintf(width, sizeof width, "8");
            else
                snprintf(width, sizeof width, "%d", f->width);
            if (f->type == EX_REAL)
                snprintf(precision, sizeof precision, "%d", f->precision);
            const char *cells[] = {
                file,  names[i],  f->column,     f->label_zh, type_label(f->type),
                width, precision, f->description};
            for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
                if (c)
                    fputc(',', out);
                csv_field(out, cells[c]);
            }
            fputs("\r\n", out);
        }
        free(names);
    }
    if (fclose(out) != 0)
        return em_fail(err, EM_ERR_RUNTIME, "cannot write %s", path);
    return 0;
}

static int finish_part(const shp_writer *w, const shp_part *part, const ex_ctx *ctx,
                       em_error *err) {
    char path[PATH_MAX + 128];
    int gbk = ctx->opt->encoding == EM_EXPORT_GBK;
    snprintf(path, sizeof path, "%s/%s.cpg", w->dir, part->base);
    if (write_text_file(path, gbk ? "936" : "UTF-8", gbk ? 3 : 5, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.dbf", w->dir, part->base);
    if (gbk && set_ldid(path, 0x4D, err) < 0)
        return -1;
    long long dbf = file_size(path);
    snprintf(path, sizeof path, "%s/%s.shp", w->dir, part->base);
    long long shp = part->cls ? file_size(path) : 0;
    if (dbf > w->limit || shp > w->limit)
        return em_fail(err, EM_ERR_RUNTIME, "%s grew past the part limit of %lld bytes", part->base,
                       w->limit);
    if (part->cls == EX_CLASS_NONE)
        return 0;
    ex_name *names = calloc((size_t)part->src->nfields + 1, sizeof *names);
    if (!names)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    ex_profile profile = {1, 0, EX_GEOM_OGR};
    ex_field_names(part->src, ctx, &profile, names);
    char *qml = ex_qml(part->src, ctx, part->cls, names, NULL, err);
    free(names);
    if (!qml)
        return -1;
    snprintf(path, sizeof path, "%s/%s.qml", w->dir, part->base);
    int rc = write_text_file(path, qml, strlen(qml), err);
    free(qml);
    return rc;
}

/* ---------- zip ---------- */

static int add_to_zip(void *zip, const char *dir, const char *name, const ex_ctx *ctx,
                      em_error *err) {
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *in = fopen(path, "rb");
    if (!in)
        return 0; /* a part without geometry has no .shp, .shx or .prj */
    char *options[] = {"COMPRESSED=YES", NULL};
    if (CPLCreateFileInZip(zip, name, options) != CE_None) {
        fclose(in);
        return ex_gdal_fail(err, "adding %s to the zip", name);
    }
    enum { CHUNK = 1 << 16 };
    char *buf = malloc(CHUNK);
    size_t n;
    int rc = buf ? 0 : em_fail(err, EM_ERR_RUNTIME, "out of memory");
    while (buf && (n = fread(buf, 1, CHUNK, in)) > 0)
        if (CPLWriteFileInZip(zip, buf, (int)n) != CE_None) {
            rc = ex_gdal_fail(err, "writing %s into the zip", name);
            break;
        }
    if (ferror(in))
        rc = em_fail(err, EM_ERR_RUNTIME, "reading %s", path);
    free(buf);
    fclose(in);
    if (CPLCloseFileInZip(zip) != CE_None && rc == 0)
        rc = ex_gdal_fail(err, "closing %s in the zip", name);
    if (rc == 0 && ctx->report)
        ctx->report->files++;
    return rc;
}

static unsigned get16(const unsigned char *p) {
    return p[0] | (unsigned)p[1] << 8;
}

static unsigned long get32(const unsigned char *p) {
    return get16(p) | (unsigned long)get16(p + 2) << 16;
}

static int put16_at(FILE *f, long off, unsigned v) {
    unsigned char b[2] = {(unsigned char)(v & 0xFF), (unsigned char)(v >> 8)};
    return fseek(f, off, SEEK_SET) == 0 && fwrite(b, 1, 2, f) == 2 ? 0 : -1;
}

/* GDAL 3.6's CPLCreateFileInZip stores no date, so every entry would say
 * 1980-00-00, a day that does not exist. Stamp each entry, in the central directory
 * and in its local header, with the time of the export. */
static int zip_stamp(const char *zip_path, em_error *err) {
    FILE *f = fopen(zip_path, "r+b");
    if (!f)
        return em_fail(err, EM_ERR_RUNTIME, "cannot reopen %s", zip_path);
    unsigned char tail[22 + 256], entry[46];
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    long back = size < (long)sizeof tail ? size : (long)sizeof tail;
    int rc = -1;
    if (size >= 22 && fseek(f, size - back, SEEK_SET) == 0 &&
        fread(tail, 1, (size_t)back, f) == (size_t)back) {
        long eocd = -1;
        for (long i = back - 22; i >= 0 && eocd < 0; i--)
            if (get32(tail + i) == 0x06054b50UL)
                eocd = i;
        if (eocd >= 0) {
            unsigned count = get16(tail + eocd + 10);
            unsigned long at = get32(tail + eocd + 16);
            time_t now = time(NULL);
            struct tm tm;
            localtime_r(&now, &tm);
            unsigned dos_time = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
            unsigned dos_date =
                (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
            rc = 0; /* a zip64 directory (at 0xFFFFFFFF) is left as it is */
            for (unsigned e = 0; at != 0xFFFFFFFFUL && e < count && rc == 0; e++) {
                if (fseek(f, (long)at, SEEK_SET) != 0 || fread(entry, 1, 46, f) != 46 ||
                    get32(entry) != 0x02014b50UL) {
                    rc = -1;
                    break;
                }
                long local = (long)get32(entry + 42);
                if (put16_at(f, (long)at + 12, dos_time) < 0 ||
                    put16_at(f, (long)at + 14, dos_date) < 0 ||
                    (local != (long)0xFFFFFFFFL && (put16_at(f, local + 10, dos_time) < 0 ||
                                                    put16_at(f, local + 12, dos_date) < 0)))
                    rc = -1;
                at += 46 + get16(entry + 28) + get16(entry + 30) + get16(entry + 32);
            }
        }
    }
    if (fclose(f) != 0)
        rc = -1;
    return rc == 0 ? 0 : em_fail(err, EM_ERR_RUNTIME, "cannot date the entries of %s", zip_path);
}

static int make_zip(const shp_writer *w, const ex_ctx *ctx, const char *zip_path, em_error *err) {
    void *zip = CPLCreateZip(zip_path, NULL);
    if (!zip)
        return ex_gdal_fail(err, "creating %s", zip_path);
    int rc = add_to_zip(zip, w->dir, "fields.csv", ctx, err);
    static const char *const exts[] = {"shp", "shx", "dbf", "prj", "cpg", "qml"};
    for (int p = 0; rc == 0 && p < w->nparts; p++)
        for (size_t e = 0; rc == 0 && e < sizeof exts / sizeof exts[0]; e++) {
            char name[128];
            snprintf(name, sizeof name, "%s.%s", w->parts[p].base, exts[e]);
            rc = add_to_zip(zip, w->dir, name, ctx, err);
        }
    if (CPLCloseZip(zip) != CE_None && rc == 0)
        rc = ex_gdal_fail(err, "finishing %s", zip_path);
    if (rc == 0)
        rc = zip_stamp(zip_path, err);
    return rc;
}

static long long part_limit(const ex_ctx *ctx) {
    if (ctx->opt->part_bytes > 0)
        return ctx->opt->part_bytes;
    const char *env = getenv("ESTATEMAP_SHP_PART_BYTES");
    long long v = env ? atoll(env) : 0;
    return v >= 1024 && v < EM_EXPORT_PART_BYTES ? v : EM_EXPORT_PART_BYTES;
}

int ex_write_shapefiles(ex_source *srcs, int n, const ex_ctx *ctx, const char *zip_path,
                        em_error *err) {
    shp_writer w = {0};
    w.limit = part_limit(ctx);
    snprintf(w.dir, sizeof w.dir, "%s/shp", ctx->tmpdir);
    GDALDriverH drv = GDALGetDriverByName("ESRI Shapefile");
    if (!drv)
        return em_fail(err, EM_ERR_RUNTIME, "GDAL has no ESRI Shapefile driver");
    CPLErrorReset();
    w.ds = GDALCreate(drv, w.dir, 0, 0, 0, GDT_Unknown, NULL);
    if (!w.ds)
        return ex_gdal_fail(err, "creating the shapefile folder");
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = write_source(&w, &srcs[i], i, ctx, err);
        if (rc == 0 && ctx->report)
            ctx->report->layers++;
    }
    CPLErrorReset();
    GDALClose(w.ds);
    if (rc == 0 && CPLGetLastErrorType() >= CE_Failure)
        rc = ex_gdal_fail(err, "closing the shapefiles");
    for (int p = 0; rc == 0 && p < w.nparts; p++)
        rc = finish_part(&w, &w.parts[p], ctx, err);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/fields.csv", w.dir);
    if (rc == 0)
        rc = write_fields_csv(&w, ctx, path, err);
    if (rc == 0)
        rc = make_zip(&w, ctx, zip_path, err);
    for (int p = 0; p < w.nparts; p++)
        free(w.parts[p].map);
    free(w.parts);
    return rc;
}

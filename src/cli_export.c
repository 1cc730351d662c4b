/* cli_export.c -- `estatemap export`: the command line front end of export.h.
 *
 * It only turns argv into em_export_options with em_export_option_set (the same
 * call the HTTP handler makes with query parameters), opens the database and prints
 * what em_export reports. */
#include "analysis.h"
#include "cli.h"
#include "cli_export.h"
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char export_help[] =
    "usage: estatemap export SOURCE [options] -o FILE\n\n"
    "Write layers or an analysis result as a file for GIS programs (ArcGIS, QGIS,\n"
    "Excel, Google Earth). The file appears at FILE only when it is complete.\n\n"
    "SOURCE:\n"
    "  a layer            towns, estates, grid, violations, corridors, zones, renovation\n"
    "                     (per-estate renovation items: no geometry, so a bare .dbf in\n"
    "                     shp); several as a comma list (estates,violations) for shp,\n"
    "                     gpkg, kml and xlsx\n"
    "  an analysis        analysis:NAME; a name that is no layer's may go without the\n"
    "                     prefix (eligibility, density, hotspots, ...). A layer name\n"
    "                     always means the layer: `corridors` is the corridor layer,\n"
    "                     `analysis:corridors` the corridor analysis\n\n"
    "formats (--format, else from the extension of FILE):\n"
    "  shp      a .zip: one shapefile per layer and geometry type (points, lines and\n"
    "           polygons apart), each with .shp .shx .dbf .prj (ESRI WKT) .cpg and a\n"
    "           QGIS .qml style, plus fields.csv mapping the 10-byte DBF field names\n"
    "           (BUILT_YR, FEE_RATE, ...) to columns. Dates are DBF dates; date-times\n"
    "           are text (YYYY-MM-DD HH:MM:SS). A .shp or .dbf that would pass 2 GB is\n"
    "           continued in NAME_part2, NAME_part3, ...\n"
    "  gpkg     one GeoPackage with every layer, QGIS styles in layer_styles\n"
    "  geojson  one layer\n"
    "  csv      one layer; UTF-8 with a BOM (Excel); lon/lat columns for points (x/y\n"
    "           in a projected CRS), a WKT column for other geometry\n"
    "  kml      EPSG:4326 only\n"
    "  xlsx     a sheet per layer: attributes and a WKT column\n\n"
    "options:\n"
    "  -o, --output FILE   file to write (required)\n"
    "  --db FILE           database (default: $ESTATEMAP_DB, else estatemap.sqlite)\n"
    "  --format F          shp, gpkg, geojson, csv, kml or xlsx\n"
    "  --crs EPSG:NNNN     output CRS, default EPSG:4326 (lon/lat). EPSG:4490 CGCS2000,\n"
    "                      EPSG:4549 / EPSG:4550 CGCS2000 3-degree Gauss-Kruger CM 120E /\n"
    "                      123E, EPSG:3857 web mercator, or any EPSG code PROJ knows\n"
    "  --encoding E        shapefile text: UTF-8 (default; .cpg UTF-8) or GBK (.cpg 936)\n"
    "  --lang L            en (default) or zh: Chinese field names (in shapefiles 3\n"
    "                      characters in UTF-8, 5 in GBK, to fit 10 bytes)\n"
    "  -h, --help          show this help\n\n"
    "layer filters:\n"
    "  --town CODE|NAME    features of one town (estates and grid by town code, other\n"
    "                      layers by location)\n"
    "  --tier T            示范版 (demonstration), 提升版 (upgrade) or 基础版 (basic);\n"
    "                      estates and renovation\n"
    "  --built-before YEAR estates built before YEAR; estates and renovation\n"
    "  --bbox W,S,E,N      features meeting a lon/lat box\n"
    "  --polygon WKT|@FILE features that intersect a lon/lat polygon (touching counts):\n"
    "                      WKT POLYGON or MULTIPOLYGON, or @FILE holding WKT or\n"
    "                      GeoJSON (a geometry, a Feature, or a FeatureCollection of\n"
    "                      one Feature); it must be valid, at most 100000 vertices\n\n"
    "analysis options: every other --key VALUE goes to the analysis, as with\n"
    "`estatemap analyze NAME --key VALUE`.\n\n"
    "examples:\n"
    "  estatemap export estates --format shp --crs EPSG:4549 --encoding GBK -o estates.zip\n"
    "  estatemap export estates,violations,corridors -o minhang.gpkg --town 310112102\n"
    "  estatemap export analysis:corridors --buffer railway=50 -o along.zip\n"
    "  estatemap export estates --polygon @drawn.geojson --crs EPSG:4549 -o picked.zip\n";

#define POLYGON_FILE_MAX (64L << 20)

/* `--polygon @FILE`: the file's text (GeoJSON or WKT), read whole; NULL with a
 * message naming --polygon. The caller frees it. */
static char *read_polygon_file(const char *path, em_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        em_fail(err, EM_ERR_USAGE, "--polygon @%s: cannot read it: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *more = (long)cap < POLYGON_FILE_MAX ? realloc(text, cap * 2) : NULL;
            if (!more) {
                free(text);
                text = NULL;
                break;
            }
            text = more;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!text || failed) {
        free(text);
        em_fail(err, EM_ERR_USAGE, "--polygon @%s: %s", path,
                failed ? "reading it failed" : "the file is too large (64 MiB at most)");
        return NULL;
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        free(text);
        em_fail(err, EM_ERR_USAGE, "--polygon @%s: not a text file (it holds a NUL byte)", path);
        return NULL;
    }
    return text;
}

static void print_help(FILE *out) {
    fputs(export_help, out);
    if (em_analysis_count() > 0) {
        fputs("\nanalyses:\n", out);
        for (size_t i = 0; i < em_analysis_count(); i++)
            fprintf(out, "  %-12s %s\n", em_analysis_at(i)->name, em_analysis_at(i)->summary);
    }
}

/* The command; *polygon_text is a --polygon @FILE's text, freed by the caller. */
static int export_command(int argc, char **argv, char **polygon_text) {
    if (argc < 2) {
        print_help(stderr);
        return EM_EXIT_USAGE;
    }
    em_export_options opt;
    em_export_options_init(&opt);
    const char *db_opt = NULL, *output = NULL;
    em_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help(stdout);
            return EM_EXIT_OK;
        }
        if (strcmp(arg, "-o") == 0) {
            if (i + 1 >= argc)
                return em_cli_usage("export", "-o needs a file");
            output = argv[++i];
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-' && arg[1] != '\0')
                return em_cli_usage("export", "unknown option '%s'", arg);
            if (opt.source)
                return em_cli_usage("export", "unexpected argument '%s' (SOURCE is %s)", arg,
                                    opt.source);
            opt.source = arg;
            continue;
        }
        /* --key=value, --key value, or a bare --flag meaning true */
        char *name = argv[i] + 2;
        char *eq = strchr(name, '=');
        const char *value = NULL;
        if (eq) {
            *eq = '\0'; /* argv outlives opt: keys and values point into it */
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
                   strcmp(argv[i + 1], "-o") != 0) {
            value = argv[++i];
        }
        if (*name == '\0')
            return em_cli_usage("export", "bad option '%s'", arg);
        if (strcmp(name, "db") == 0 || strcmp(name, "output") == 0) {
            if (!value)
                return em_cli_usage("export", "--%s needs a value", name);
            if (strcmp(name, "db") == 0)
                db_opt = value;
            else
                output = value;
            continue;
        }
        if (strcmp(name, "polygon") == 0 && value && value[0] == '@') {
            if (*polygon_text)
                return em_cli_usage("export", "--polygon given twice");
            if (!(*polygon_text = read_polygon_file(value + 1, &err)))
                return em_cli_usage("export", "%s", err.message);
            value = *polygon_text;
        }
        int own = strcmp(name, "format") == 0 || strcmp(name, "crs") == 0 ||
                  strcmp(name, "encoding") == 0 || strcmp(name, "lang") == 0 ||
                  strcmp(name, "source") == 0;
        if (em_export_option_set(&opt, name, value || own ? value : "true", &err) < 0)
            return em_cli_usage("export", "%s", err.message);
    }
    if (!opt.source)
        return em_cli_usage("export", "no SOURCE: name a layer or an analysis");
    if (!output)
        return em_cli_usage("export", "-o FILE is required");
    if (!opt.format_set) {
        if (em_export_format_from_path(output, &opt.format) < 0)
            return em_cli_usage("export",
                                "--format is required (shp, gpkg, geojson, csv, kml or xlsx) "
                                "when FILE's extension does not say it");
        opt.format_set = 1;
    }

    em_db *db = em_db_open(em_db_default_path(db_opt), EM_DB_OPEN_EXISTING, 0, &err);
    if (!db)
        return em_cli_report("export", &err);
    em_export_report report;
    int rc = em_export(db, &opt, output, &report, &err);
    em_db_close(db);
    if (rc < 0) {
        if (err.kind == EM_ERR_USAGE)
            return em_cli_usage("export", "%s", err.message);
        return em_cli_report("export", &err);
    }
    if (report.warnings)
        fprintf(stderr, "estatemap export: warning: %s%s\n", report.warning,
                report.warnings > 1 ? " (and more like it)" : "");
    printf("wrote %s: %lld features in %d layer%s", output, report.features, report.layers,
           report.layers == 1 ? "" : "s");
    if (opt.format == EM_EXPORT_SHP)
        printf(", %d shapefile%s, %d files in the zip", report.parts, report.parts == 1 ? "" : "s",
               report.files);
    printf(" (%s, EPSG:%d)\n", em_export_format_name(opt.format), opt.epsg);
    return EM_EXIT_OK;
}

int em_cli_export(int argc, char **argv) {
    char *polygon_text = NULL;
    int rc = export_command(argc, argv, &polygon_text);
    free(polygon_text);
    return rc;
}

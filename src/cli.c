#include "cli.h"
#include "dbcheck.h"
#include "db.h"
#include "demo.h"
#include "import.h"
#include "paths.h"
#include "schema.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int em_cli_report(const char *command, const em_error *err) {
    fprintf(stderr, "estatemap %s: %s\n", command, err->message);
    return err->kind == EM_ERR_USAGE ? EM_EXIT_USAGE : EM_EXIT_FAILURE;
}

int em_cli_usage(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "estatemap %s: ", command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see estatemap %s --help)\n", command);
    return EM_EXIT_USAGE;
}

/* getopt's own message has already been printed for an unknown option. */
static int unknown_option(const char *command) {
    fprintf(stderr, "see estatemap %s --help\n", command);
    return EM_EXIT_USAGE;
}

static int parse_int(const char *text, long lo, long hi, long *out) {
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---------- init ---------- */

static const char init_help[] =
    "usage: estatemap init [--db FILE] [--schema-version N]\n\n"
    "Create an empty estatemap database: a SpatiaLite file in WAL mode with the six\n"
    "layers (towns, estates, grid, violations, corridors, zones), the lookup tables\n"
    "and the settings.\n\n"
    "options:\n"
    "  --db FILE             database to create (default: $ESTATEMAP_DB, else\n"
    "                        estatemap.sqlite); it must not exist yet\n"
    "  --schema-version N    create an older schema version (for migration tests);\n"
    "                        default: the newest\n"
    "  -h, --help            show this help\n";

int em_cli_init(int argc, char **argv) {
    static const struct option options[] = {{"db", required_argument, NULL, 'd'},
                                            {"schema-version", required_argument, NULL, 's'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *db_opt = NULL;
    long version = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_opt = optarg;
            break;
        case 's':
            if (parse_int(optarg, 1, EM_SCHEMA_VERSION, &version) < 0)
                return em_cli_usage("init", "--schema-version must be 1 to %d", EM_SCHEMA_VERSION);
            break;
        case 'h':
            fputs(init_help, stdout);
            return EM_EXIT_OK;
        default:
            return unknown_option("init");
        }
    }
    if (optind < argc)
        return em_cli_usage("init", "unexpected argument '%s'", argv[optind]);
    em_error err = {0};
    const char *path = em_db_default_path(db_opt);
    em_db *db = em_db_open(path, EM_DB_CREATE, (int)version, &err);
    if (!db)
        return em_cli_report("init", &err);
    em_db_close(db);
    printf("created %s (schema version %ld)\n", path, version ? version : EM_SCHEMA_VERSION);
    return EM_EXIT_OK;
}

/* ---------- import ---------- */

static const char import_help[] =
    "usage: estatemap import LAYER FILE [options]\n\n"
    "Import FILE into LAYER, one of: towns, estates, grid, violations, corridors, zones,\n"
    "renovation (per-estate renovation items, no geometry).\n\n"
    "FILE is anything GDAL reads: Shapefile (plain or .zip), GeoJSON, GeoPackage, KML,\n"
    "or CSV with lon/lat columns (lon|lng|longitude|x, lat|latitude|y) or a WKT column.\n"
    "Fields map to columns by name (case-insensitive, with common Chinese and DBF\n"
    "aliases); fields that map to nothing are kept in the `extra` JSON column.\n"
    "Polygons become MultiPolygons; invalid polygons are repaired and reported; what\n"
    "cannot be repaired is rejected by feature number and key. The import is one\n"
    "transaction: on any failure the database is left exactly as it was. Derived links\n"
    "(violation -> estate and grid cell, estate -> town) are recomputed before commit.\n\n"
    "options:\n"
    "  --db FILE             database (default: $ESTATEMAP_DB, else estatemap.sqlite)\n"
    "  --crs EPSG:NNNN       the file's CRS, when it has none or a wrong one\n"
    "  --coords SYSTEM       the file's lon/lat are in wgs84 (default), gcj02 (Amap,\n"
    "                        Tencent) or bd09 (Baidu); converted to WGS84\n"
    "  --encoding ENC        shapefile text encoding, overriding .cpg and the DBF code\n"
    "                        page (e.g. GBK, UTF-8)\n"
    "  --map SRC=DST         take column DST from source field SRC (repeatable)\n"
    "  --set COLUMN=VALUE    set COLUMN to VALUE on every feature (repeatable), e.g.\n"
    "                        --set type=railway for a corridors file\n"
    "  --source-layer NAME   layer to read from a multi-layer file (GeoPackage, zip)\n"
    "  --where EXPR          OGR SQL attribute filter on the source, e.g. \"fclass='rail'\"\n"
    "  --replace             replace the layer's features (default: append)\n"
    "  --skip-invalid        import the valid features even if some are rejected\n"
    "                        (default: any rejection aborts the whole import)\n"
    "  -q, --quiet           print only errors\n"
    "  -h, --help            show this help\n";

int em_cli_import(int argc, char **argv) {
    enum {
        O_DB = 256,
        O_CRS,
        O_COORDS,
        O_ENCODING,
        O_MAP,
        O_SET,
        O_SOURCE_LAYER,
        O_WHERE,
        O_REPLACE,
        O_SKIP
    };
    static const struct option options[] = {
        {"db", required_argument, NULL, O_DB},
        {"crs", required_argument, NULL, O_CRS},
        {"coords", required_argument, NULL, O_COORDS},
        {"encoding", required_argument, NULL, O_ENCODING},
        {"map", required_argument, NULL, O_MAP},
        {"set", required_argument, NULL, O_SET},
        {"source-layer", required_argument, NULL, O_SOURCE_LAYER},
        {"where", required_argument, NULL, O_WHERE},
        {"replace", no_argument, NULL, O_REPLACE},
        {"skip-invalid", no_argument, NULL, O_SKIP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    em_import_options opt = {.log = stderr};
    const char *db_opt = NULL;
    int quiet = 0, c, coords;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
        switch (c) {
        case O_DB:
            db_opt = optarg;
            break;
        case O_CRS:
            opt.crs = optarg;
            break;
        case O_COORDS:
            if ((coords = em_coords_parse(optarg)) < 0)
                return em_cli_usage("import", "--coords must be wgs84, gcj02 or bd09, not '%s'",
                                    optarg);
            opt.coords = (em_coords)coords;
            break;
        case O_ENCODING:
            opt.encoding = optarg;
            break;
        case O_MAP:
        case O_SET: {
            int *n = c == O_MAP ? &opt.nmap : &opt.nset;
            em_import_pair *pairs = c == O_MAP ? opt.map : opt.set;
            if (*n >= EM_IMPORT_MAX_PAIRS)
                return em_cli_usage("import", "too many --map/--set options");
            if (em_import_parse_pair(optarg, &pairs[*n]) < 0)
                return em_cli_usage("import", "--%s needs NAME=VALUE, not '%s'",
                                    c == O_MAP ? "map" : "set", optarg);
            if (c == O_SET) { /* --set COLUMN=VALUE: the pair is (value, column) */
                const char *column = pairs[*n].source;
                pairs[*n].source = pairs[*n].column;
                pairs[*n].column = column;
            }
            (*n)++;
            break;
        }
        case O_SOURCE_LAYER:
            opt.source_layer = optarg;
            break;
        case O_WHERE:
            opt.where = optarg;
            break;
        case O_REPLACE:
            opt.replace = 1;
            break;
        case O_SKIP:
            opt.skip_invalid = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(import_help, stdout);
            return EM_EXIT_OK;
        default:
            return unknown_option("import");
        }
    }
    if (argc - optind != 2)
        return em_cli_usage("import", "need LAYER and FILE");
    opt.layer = argv[optind];
    opt.path = argv[optind + 1];
    if (quiet)
        opt.log = NULL;
    opt.progress = !quiet && isatty(fileno(stderr));

    em_error err = {0};
    em_db *db = em_db_open(em_db_default_path(db_opt), EM_DB_OPEN_EXISTING, 0, &err);
    if (!db)
        return em_cli_report("import", &err);
    em_import_result r;
    int rc = em_import(db, &opt, &r, &err);
    em_db_close(db);
    if (!quiet || rc < 0)
        fprintf(rc < 0 ? stderr : stdout,
                "%s: read %ld, imported %ld, repaired %ld, rejected %ld\n", opt.path, r.read,
                r.imported, r.repaired, r.rejected);
    return rc < 0 ? em_cli_report("import", &err) : EM_EXIT_OK;
}

/* ---------- check ---------- */

static const char check_help[] =
    "usage: estatemap check [--db FILE] [--json]\n\n"
    "Report, per layer: feature count, invalid geometries, geometries not in SRID 4326,\n"
    "orphans (violations inside no grid cell, estates outside every town) and whether\n"
    "the spatial index agrees with the table; then SQLite's integrity_check.\n"
    "Exits 1 when any check fails. check writes nothing: it works on a read-only file\n"
    "(or folder, or mount), which it opens read-only; a writable file of an older\n"
    "schema is migrated first.\n\n"
    "options:\n"
    "  --db FILE   database (default: $ESTATEMAP_DB, else estatemap.sqlite)\n"
    "  --json      print the report as JSON\n"
    "  -h, --help  show this help\n";

int em_cli_check(int argc, char **argv) {
    static const struct option options[] = {{"db", required_argument, NULL, 'd'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *db_opt = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_opt = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(check_help, stdout);
            return EM_EXIT_OK;
        default:
            return unknown_option("check");
        }
    }
    if (optind < argc)
        return em_cli_usage("check", "unexpected argument '%s'", argv[optind]);
    em_error err = {0};
    /* check writes nothing itself; a file it may write is migrated first, one it may
     * not (read-only file, folder or mount) is checked as it is */
    const char *path = em_db_default_path(db_opt);
    em_db_mode mode =
        access(path, F_OK) == 0 && !em_db_writable(path) ? EM_DB_READONLY : EM_DB_OPEN_EXISTING;
    em_db *db = em_db_open(path, mode, 0, &err);
    if (!db)
        return em_cli_report("check", &err);
    em_check_report report;
    int rc = em_check(db, &report, &err);
    em_db_close(db);
    if (rc < 0)
        return em_cli_report("check", &err);
    if (json)
        em_check_print_json(&report, stdout);
    else
        em_check_print(&report, stdout);
    return report.problems ? EM_EXIT_FAILURE : EM_EXIT_OK;
}

/* ---------- demo ---------- */

static const char demo_help[] =
    "usage: estatemap demo [--db FILE] [--geodata DIR] [--force]\n\n"
    "Build the Minhang demo database from geodata/: the 13 real towns and the real\n"
    "OpenStreetMap corridors, with the generated estates, grid cells, violations,\n"
    "zones and renovation items (see geodata/README.md).\n\n"
    "options:\n"
    "  --db FILE       database to create (default: $ESTATEMAP_DB, else\n"
    "                  estatemap.sqlite)\n"
    "  --geodata DIR   demo data folder (default: geodata/ of the checkout or of the\n"
    "                  installation)\n"
    "  --force         replace the database if it exists\n"
    "  -q, --quiet     print only errors\n"
    "  -h, --help      show this help\n";

int em_cli_demo(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, NULL, 'd'}, {"geodata", required_argument, NULL, 'g'},
        {"force", no_argument, NULL, 'f'},    {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0}};
    const char *db_opt = NULL, *geodata = NULL;
    int force = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_opt = optarg;
            break;
        case 'g':
            geodata = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(demo_help, stdout);
            return EM_EXIT_OK;
        default:
            return unknown_option("demo");
        }
    }
    if (optind < argc)
        return em_cli_usage("demo", "unexpected argument '%s'", argv[optind]);
    char dir[PATH_MAX];
    if (!geodata) {
        if (em_resource_dir("geodata", NULL, dir, sizeof dir) < 0) {
            fprintf(stderr, "estatemap demo: cannot find the geodata/ folder; pass --geodata "
                            "DIR\n");
            return EM_EXIT_FAILURE;
        }
        geodata = dir;
    }
    em_error err = {0};
    if (em_demo_build(em_db_default_path(db_opt), geodata, force, quiet ? NULL : stderr, &err) < 0)
        return em_cli_report("demo", &err);
    return EM_EXIT_OK;
}

#include "cli_serve.h"

#include "cli.h"
#include "db.h"
#include "server.h"
#include "geom_cache.h"
#include "tile_http.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(FILE *out) {
    fprintf(out,
            "usage: estatemap serve [--db FILE] [--listen [HOST:]PORT] [--threads N]\n"
            "                       [--cors ORIGIN] [--access-log FILE]\n"
            "                       [--tile-cache-mb N] [--geom-cache-mb N] [--tile-max-bytes N]\n"
            "                       [--tokens FILE [--read-token]] [--read-only]\n"
            "                       [--tls-cert FILE.pem]\n"
            "\n"
            "Serve the database over HTTP until SIGTERM or SIGINT (Ctrl-C):\n"
            "  /                  the web map (from web/), with caching headers\n"
            "  /ogc               OGC API - Features: /ogc/conformance, /ogc/api (OpenAPI 3.0),\n"
            "                     /ogc/collections/{layer}/items[/{id}] for towns, estates, grid,\n"
            "                     violations, corridors and zones\n"
            "  /api               analyses (/api/analysis/NAME?key=value), estate cards\n"
            "                     (/api/estates/ID), and writes with a bearer token:\n"
            "                     POST /api/violations, PATCH /api/violations/ID,\n"
            "                     PATCH /api/estates/ID, PUT /api/estates/ID/renovation\n"
            "  /tiles/{layers}/{z}/{x}/{y}.mvt      Mapbox Vector Tiles 2.1; {layers} is one\n"
            "                     layer or several joined by commas (towns,estates)\n"
            "  /tiles/{layers}/{z}/{x}/{y}.geojson  the same features as geojson-vt JSON\n"
            "  /tiles/{layers}.json                 TileJSON 3.0.0 (?f=geojson for .geojson)\n"
            "  /healthz           {\"status\":\"ok\", \"schema_version\", \"layers\": counts}\n"
            "  /metrics           Prometheus text: requests, latencies, tile cache\n"
            "On SIGTERM the server stops accepting, finishes the requests in flight, closes\n"
            "the database and exits 0.\n"
            "\n"
            "options:\n"
            "  --db FILE           the database (else $ESTATEMAP_DB, else estatemap.sqlite);\n"
            "                      each worker thread opens it read-only\n"
            "  --listen ADDR       PORT or HOST:PORT to listen on, IPv4 only (default %s;\n"
            "                      0.0.0.0:PORT listens on every interface)\n"
            "  --threads N         worker threads, 1-%d (default %d); each serves one\n"
            "                      connection at a time and keeps its own read connection\n"
            "  --cors ORIGIN       send Access-Control-Allow-Origin: ORIGIN (\"*\" or\n"
            "                      https://host[:port]) so a web page on another origin can\n"
            "                      call the API; without it no CORS headers are sent\n"
            "  --access-log FILE   append the access log (Common Log Format) to FILE instead\n"
            "                      of standard error\n"
            "  --tile-cache-mb N   memory for the tile cache in MiB (default %d; 0: no cache).\n"
            "                      Tiles carry ETags from the layers' data versions; every\n"
            "                      write to the database makes their cached copies stale\n"
            "  --geom-cache-mb N   memory for the geometry cache in MiB (default %d; 0: none):\n"
            "                      each layer's features (boxes, geometry decoded, projected\n"
            "                      and weighed once, tags) so that a tile runs no SQL, and\n"
            "                      the violations' point set for clustering, kept per data\n"
            "                      version of their layer, so a write makes them stale too;\n"
            "                      a layer too big for half of it is read row by row\n"
            "  --tile-max-bytes N  byte cap per tile (default %d, at least %d). A tile over\n"
            "                      it loses its smallest features first until it fits; each\n"
            "                      such tile is logged on standard error\n"
            "  --tokens FILE       bearer tokens for writes, one per line: NAME ROLE SHA256HEX\n"
            "                      (ROLE inspector, planner or admin; the hash is\n"
            "                      `printf %%s TOKEN | sha256sum`; # starts a comment);\n"
            "                      without it every write answers 401\n"
            "  --read-token        reads of data (/api, /ogc, /tiles) need a valid token too\n"
            "  --read-only         never write to the database: reads are served, every\n"
            "                      write answers 503 (also what happens, without this\n"
            "                      option, when the file or its folder is read-only)\n"
            "  --tls-cert FILE     serve HTTPS only (TLS 1.2+), with the certificate and its\n"
            "                      private key, both PEM, in FILE (cat cert.pem key.pem)\n"
            "  -h, --help          show this help\n"
            "\n"
            "exit codes: 0 stopped cleanly, 1 could not start (database, port in use),\n"
            "2 usage error\n",
            EM_SERVER_DEFAULT_LISTEN, EM_SERVER_MAX_THREADS, EM_SERVER_DEFAULT_THREADS,
            EM_TILE_CACHE_DEFAULT_MB, EM_GEOM_CACHE_DEFAULT_MB, EM_TILE_MAX_BYTES_DEFAULT,
            EM_TILE_MAX_BYTES_MIN);
}

int em_cli_serve(int argc, char **argv) {
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"cors", required_argument, NULL, 'c'},
        {"access-log", required_argument, NULL, 'a'},
        {"tile-cache-mb", required_argument, NULL, 'C'},
        {"geom-cache-mb", required_argument, NULL, 'G'},
        {"tile-max-bytes", required_argument, NULL, 'M'},
        {"tokens", required_argument, NULL, 'k'},
        {"read-token", no_argument, NULL, 'r'},
        {"read-only", no_argument, NULL, 'R'},
        {"tls-cert", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    em_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *db = NULL;
    em_error err;
    em_error_clear(&err);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'l': {
            char host[64];
            int port;
            if (em_server_parse_listen(optarg, host, &port, &err) < 0)
                return em_cli_usage("serve", "%s", err.message);
            cfg.listen = optarg;
            break;
        }
        case 't': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 1 || n > EM_SERVER_MAX_THREADS)
                return em_cli_usage("serve", "--threads '%s': expected a number from 1 to %d",
                                    optarg, EM_SERVER_MAX_THREADS);
            cfg.threads = (int)n;
            break;
        }
        case 'c':
            if (em_server_check_origin(optarg, &err) < 0)
                return em_cli_usage("serve", "%s", err.message);
            cfg.cors_origin = optarg;
            break;
        case 'a':
            if (!*optarg)
                return em_cli_usage("serve", "--access-log needs a file name");
            cfg.access_log = optarg;
            break;
        case 'k':
            if (!*optarg)
                return em_cli_usage("serve", "--tokens needs a file name");
            cfg.tokens_file = optarg;
            break;
        case 'r':
            cfg.read_token = 1;
            break;
        case 'R':
            cfg.read_only = 1;
            break;
        case 'T':
            if (em_server_check_tls_cert(optarg, &err) < 0)
                return em_cli_usage("serve", "%s", err.message);
            cfg.tls_cert = optarg;
            break;
        case 'C':
        case 'G': {
            const char *name = c == 'C' ? "--tile-cache-mb" : "--geom-cache-mb";
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 0 || n > EM_TILE_CACHE_MAX_MB)
                return em_cli_usage("serve",
                                    "%s '%s': expected a number of MiB from 0 (no cache) to %d",
                                    name, optarg, EM_TILE_CACHE_MAX_MB);
            *(c == 'C' ? &cfg.tile_cache_mb : &cfg.geom_cache_mb) =
                n == 0 ? EM_SERVER_TILE_CACHE_OFF : (int)n;
            break;
        }
        case 'M': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < EM_TILE_MAX_BYTES_MIN || n > 1024L * 1024 * 1024)
                return em_cli_usage("serve",
                                    "--tile-max-bytes '%s': expected a number of bytes from %d "
                                    "to 1073741824",
                                    optarg, EM_TILE_MAX_BYTES_MIN);
            cfg.tile_max_bytes = n;
            break;
        }
        case 'h':
            print_help(stdout);
            return EM_EXIT_OK;
        case ':':
            return em_cli_usage("serve", "option %s needs a value", argv[optind - 1]);
        default:
            return em_cli_usage("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return em_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (cfg.read_token && !cfg.tokens_file)
        return em_cli_usage("serve", "--read-token needs --tokens FILE");
    cfg.db_path = em_db_default_path(db);
    if (em_server_run(&cfg, &err) < 0)
        return em_cli_report("serve", &err);
    return EM_EXIT_OK;
}

/* slice_bench.c -- estatemap-slice-bench: time GeoJSON tile slicing without HTTP.
 *
 *   estatemap-slice-bench --db FILE --layers towns[,estates...] --tiles FILE [--repeat N]
 *
 * FILE for --tiles has one tile a line, "z x y". The program opens the database
 * read-only, as each worker of `estatemap serve` does, and makes every tile of the
 * list once, in order, the way the server makes a tile that is not in its cache:
 * one read transaction, em_tile_read_layer() for each layer (the features from the
 * layer's set in the geometry cache, at the server's default cap, or for a layer
 * too big for it the R*Tree query and the rows; clipping, simplification,
 * quantisation and, for violations up to z14, clustering), then em_tile_geojson()
 * writes the tile's JSON. There is no tile cache and no HTTP. The list is made
 * twice on one connection, as a running server would: the first pass, untimed,
 * reads the layer sets and warms SQLite's page cache; the next N (--repeat,
 * default 1) are timed, and their counts and times summed. It prints one JSON
 * object:
 *
 *   {"tiles":N,"nonempty":N,"features":N,"bytes":N,"slice_s":S,"encode_s":S,
 *    "open_s":S,"warm_s":S,"cache_bytes":N}
 *
 * slice_s is the time of the transactions and reads (everything up to a tile held
 * in memory in tile coordinates, which is what geojson-vt's getTile returns);
 * encode_s the time of writing the JSON text; open_s the time of opening the
 * database; warm_s the untimed pass (which reads each layer's set into the
 * geometry cache, as geojson-vt's index build does its index); cache_bytes what
 * the geometry cache then holds. scripts/bench runs it for the "slice" rows. */
#include "db.h"
#include "errors.h"
#include "layers.h"
#include "strbuf.h"
#include "geom_cache.h"
#include "tiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(const char *why) {
    if (why)
        fprintf(stderr, "estatemap-slice-bench: %s\n", why);
    fprintf(stderr, "usage: estatemap-slice-bench --db FILE --layers NAME[,NAME...] --tiles FILE\n"
                    "                             [--repeat N]\n");
    return 2;
}

/* "towns,estates" -> spatial layers; -1 naming the bad one. */
static int parse_layers(char *list, const em_layer **layers, size_t *n) {
    *n = 0;
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const em_layer *l = em_layer_find(name);
        if (!l || em_tile_layer_index(l) < 0 || *n >= EM_TILE_MAX_LAYERS) {
            fprintf(stderr, "estatemap-slice-bench: --layers: '%s' is not a tile layer\n", name);
            return -1;
        }
        layers[(*n)++] = l;
    }
    return *n ? 0 : -1;
}

static em_tile_id *read_tiles(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "estatemap-slice-bench: cannot open --tiles %s\n", path);
        return NULL;
    }
    size_t cap = 1024;
    em_tile_id *ids = malloc(cap * sizeof *ids);
    *n = 0;
    int z;
    unsigned long x, y;
    while (ids && fscanf(f, "%d %lu %lu", &z, &x, &y) == 3) {
        if (*n == cap) {
            em_tile_id *more = realloc(ids, 2 * cap * sizeof *ids);
            if (!more) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = more;
            cap *= 2;
        }
        ids[*n] = (em_tile_id){z, (uint32_t)x, (uint32_t)y};
        if (!em_tile_id_valid(&ids[*n])) {
            fprintf(stderr, "estatemap-slice-bench: %s line %zu: no tile %d/%lu/%lu\n", path,
                    *n + 1, z, x, y);
            free(ids);
            ids = NULL;
            break;
        }
        (*n)++;
    }
    if (ids && !feof(f)) {
        fprintf(stderr, "estatemap-slice-bench: %s line %zu is not \"z x y\"\n", path, *n + 1);
        free(ids);
        ids = NULL;
    }
    fclose(f);
    return ids;
}

typedef struct {
    double slice_s, encode_s;
    size_t nonempty, features, bytes;
} cut_result;

/* Make every tile of the list once, as the server makes a tile it has not cached. */
static int cut(em_db *db, em_tile_source *src, em_geom_cache *geoms, const em_layer *const *layers,
               size_t nlayers, const em_tile_id *ids, size_t ntiles, cut_result *r, em_error *err) {
    int rc = 0;
    for (size_t i = 0; i < ntiles && rc == 0; i++) {
        double a = now();
        em_tile *t = em_tile_new(&ids[i]);
        rc = t && em_tile_source_begin(src, db->sql, err) == 0 ? 0 : -1;
        long long versions[EM_TILE_MAX_LAYERS];
        if (rc == 0)
            rc = em_tile_source_versions(src, db->sql, versions, err);
        for (size_t k = 0; k < nlayers && rc == 0; k++) {
            em_tile_read_opts opts = {geoms, versions[em_tile_layer_index(layers[k])], NULL};
            rc = em_tile_read_layer(src, db->sql, t, layers[k], &opts, err);
        }
        em_tile_source_commit(src, db->sql);
        double b = now();
        size_t n = rc == 0 ? em_tile_count(t, 1) : 0;
        em_strbuf json;
        em_strbuf_init(&json);
        if (n)
            em_tile_geojson(t, &json);
        double c = now();
        if (json.failed) {
            em_fail(err, EM_ERR_RUNTIME, "out of memory writing tile %zu", i + 1);
            rc = -1;
        }
        r->slice_s += b - a;
        r->encode_s += c - b;
        r->nonempty += n > 0;
        r->features += n;
        r->bytes += json.len;
        em_strbuf_free(&json);
        em_tile_free(t);
    }
    return rc;
}

int main(int argc, char **argv) {
    const char *db_path = NULL, *tiles_path = NULL;
    char *layer_list = NULL;
    long repeat = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--db") == 0)
            db_path = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--layers") == 0)
            layer_list = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--tiles") == 0)
            tiles_path = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--repeat") == 0) {
            char *end;
            repeat = strtol(argv[++i], &end, 10);
            if (*end || repeat < 1 || repeat > 1000000)
                return usage("--repeat must be a whole number from 1 to 1000000");
        } else
            return usage(strcmp(argv[i], "--help") == 0 ? NULL : "unknown or incomplete option");
    }
    if (!db_path || !layer_list || !tiles_path)
        return usage("--db, --layers and --tiles are required");
    const em_layer *layers[EM_TILE_MAX_LAYERS];
    size_t nlayers;
    if (parse_layers(layer_list, layers, &nlayers) < 0)
        return 2;
    size_t ntiles;
    em_tile_id *ids = read_tiles(tiles_path, &ntiles);
    if (!ids)
        return 2;

    em_error err;
    em_error_clear(&err);
    double t0 = now();
    em_db *db = em_db_open(db_path, EM_DB_READONLY, 0, &err);
    em_tile_source *src = db ? em_tile_source_new() : NULL;
    /* The server's geometry cache at its default size: the untimed warm-up pass fills it, as
     * geojson-vt's index build prepares its geometry before getTile is timed. */
    em_geom_cache *geoms = src ? em_geom_cache_new((size_t)EM_GEOM_CACHE_DEFAULT_MB << 20) : NULL;
    double open_s = now() - t0;
    if (!geoms) {
        em_tile_source_free(src);
        fprintf(stderr, "estatemap-slice-bench: %s\n", db ? "out of memory" : err.message);
        em_db_close(db);
        free(ids);
        return 1;
    }

    cut_result warm, r;
    memset(&warm, 0, sizeof warm);
    memset(&r, 0, sizeof r);
    int rc = cut(db, src, geoms, layers, nlayers, ids, ntiles, &warm, &err);
    for (long k = 0; k < repeat && rc == 0; k++)
        rc = cut(db, src, geoms, layers, nlayers, ids, ntiles, &r, &err);
    em_geom_cache_stats cs;
    em_geom_cache_stats_get(geoms, &cs);
    if (rc == 0)
        printf("{\"tiles\":%zu,\"nonempty\":%zu,\"features\":%zu,\"bytes\":%zu,\"slice_s\":%.6f,"
               "\"encode_s\":%.6f,\"open_s\":%.6f,\"warm_s\":%.6f,\"cache_bytes\":%zu}\n",
               ntiles * (size_t)repeat, r.nonempty, r.features, r.bytes, r.slice_s, r.encode_s,
               open_s, warm.slice_s + warm.encode_s, cs.bytes);
    else
        fprintf(stderr, "estatemap-slice-bench: %s\n",
                err.message[0] ? err.message : "out of memory");
    em_geom_cache_free(geoms);
    em_tile_source_free(src);
    em_db_close(db);
    free(ids);
    return rc == 0 ? 0 : 1;
}

/* Vector tiles below the integration suite: tile addressing, clipping to the
 * buffered tile, winding, simplification per zoom, degenerate parts, the MVT
 * encoding (decoded again with protobuf-c), the geojson-vt JSON writer, the byte
 * cap's order, ETag matching and the LRU cache's memory accounting.
 *
 * Geometries are written in tile units of a chosen tile and turned into lon/lat
 * SpatiaLite BLOBs here, so the expected output can be read off the input. */
#include "geom_cache.h"
#include "mvt.h"
#include "strbuf.h"
#include "testutil.h"
#include "tile_cache.h"
#include "tile_http.h"
#include "tiles.h"
#include "vector_tile.pb-c.h"

#include <math.h>
#include <spatialite/gaiageo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const em_tile_id T = {14, 13717, 6700};

/* Tile units of tile `id` -> lon/lat. */
static double lon_at(const em_tile_id *id, double px) {
    return (id->x + px / EM_TILE_EXTENT) / ldexp(1, id->z) * 360 - 180;
}

static double lat_at(const em_tile_id *id, double py) {
    double y = (id->y + py / EM_TILE_EXTENT) / ldexp(1, id->z);
    return atan(sinh(M_PI * (1 - 2 * y))) * 180 / M_PI;
}

/* A WKT whose numbers are tile units of `id`, e.g. "POLYGON((0 0,10 0,...))",
 * as a SpatiaLite BLOB in lon/lat (free() it). */
static unsigned char *blob_of(const em_tile_id *id, const char *wkt, int *size, int compressed) {
    gaiaGeomCollPtr g = gaiaParseWkt((const unsigned char *)wkt, -1);
    ck_assert_msg(g != NULL, "bad WKT %s", wkt);
    g->Srid = 4326;
    for (gaiaPointPtr p = g->FirstPoint; p; p = p->Next) {
        p->X = lon_at(id, p->X);
        p->Y = lat_at(id, p->Y);
    }
    for (gaiaLinestringPtr l = g->FirstLinestring; l; l = l->Next)
        for (int i = 0; i < l->Points; i++)
            gaiaSetPoint(l->Coords, i, lon_at(id, l->Coords[2 * i]),
                         lat_at(id, l->Coords[2 * i + 1]));
    for (gaiaPolygonPtr pg = g->FirstPolygon; pg; pg = pg->Next) {
        for (int r = -1; r < pg->NumInteriors; r++) {
            gaiaRingPtr ring = r < 0 ? pg->Exterior : pg->Interiors + r;
            for (int i = 0; i < ring->Points; i++)
                gaiaSetPoint(ring->Coords, i, lon_at(id, ring->Coords[2 * i]),
                             lat_at(id, ring->Coords[2 * i + 1]));
        }
    }
    unsigned char *blob = NULL;
    if (compressed)
        gaiaToCompressedBlobWkb(g, &blob, size);
    else
        gaiaToSpatiaLiteBlobWkb(g, &blob, size);
    gaiaFreeGeomColl(g);
    ck_assert_ptr_nonnull(blob);
    return blob;
}

/* The geometry prepared once for every tile (what the geometry cache keeps) must
 * give exactly the features the BLOB gives in `t`, here and in the tiles around. */
static void same_when_prepared(em_tile *t, const unsigned char *blob, int size) {
    em_error err;
    em_tile *scratch = em_tile_new(&t->id);
    em_geom *g = em_tile_prepare(scratch, blob, size, &err);
    ck_assert_ptr_nonnull(g);
    em_tile_free(scratch);
    for (int dz = -1; dz <= 2; dz++)
        for (uint32_t dx = 0; dx < (dz < 0 ? 1u : 1u << dz); dx++) {
            em_tile_id id = {t->id.z - 1, t->id.x >> 1, t->id.y >> 1}; /* the parent */
            if (dz >= 0)
                id = (em_tile_id){t->id.z + dz, (t->id.x << dz) + dx, (t->id.y << dz) + dx};
            em_tile *a = em_tile_new(&id), *b = em_tile_new(&id);
            em_tile_layer *la = em_tile_add_layer(a, "a"), *lb = em_tile_add_layer(b, "b");
            size_t first;
            ck_assert_int_eq(em_tile_add_geometry(a, la, blob, size, &first, &err), 0);
            ck_assert_int_eq(em_tile_add_prepared(b, lb, g, &first, &err), 0);
            ck_assert_uint_eq(la->nfeatures, lb->nfeatures);
            for (size_t i = 0; i < la->nfeatures; i++) {
                const em_tile_feature *fa = &la->features[i], *fb = &lb->features[i];
                ck_assert_int_eq(fa->type, fb->type);
                ck_assert_uint_eq(fa->nparts, fb->nparts);
                ck_assert_uint_eq(fa->npoints, fb->npoints);
                ck_assert_mem_eq(fa->part_len, fb->part_len, fa->nparts * sizeof *fa->part_len);
                ck_assert_mem_eq(fa->xy, fb->xy, fa->npoints * 2 * sizeof *fa->xy);
            }
            em_tile_free(a);
            em_tile_free(b);
        }
    em_geom_free(g);
}

/* Features `wkt` makes in tile `id`; the tile is returned for inspection. */
static em_tile *tile_with(const em_tile_id *id, const char *wkt, size_t *nfeatures) {
    em_tile *t = em_tile_new(id);
    ck_assert_ptr_nonnull(t);
    em_tile_layer *l = em_tile_add_layer(t, "test");
    int size = 0;
    unsigned char *blob = blob_of(id, wkt, &size, 0);
    size_t first;
    em_error err;
    ck_assert_int_eq(em_tile_add_geometry(t, l, blob, size, &first, &err), 0);
    ck_assert_uint_eq(first, 0);
    same_when_prepared(t, blob, size);
    free(blob);
    *nfeatures = l->nfeatures;
    return t;
}

static long long area2(const int32_t *xy, uint32_t n) {
    long long s = 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        s += (long long)xy[2 * i] * xy[2 * i + 3] - (long long)xy[2 * i + 2] * xy[2 * i + 1];
    return s;
}

/* The feature's part `p` as "x y,x y,..." */
static void part_text(const em_tile_feature *f, size_t p, char *out, size_t len) {
    const int32_t *xy = f->xy;
    for (size_t k = 0; k < p; k++)
        xy += 2 * (size_t)f->part_len[k];
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < f->part_len[p] && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%d %d", i ? "," : "", xy[2 * i],
                                 xy[2 * i + 1]);
}

/* ---- addressing ---------------------------------------------------------------- */

START_TEST(addressing) {
    ck_assert_double_eq_tol(em_tile_world_x(-180), 0, 1e-12);
    ck_assert_double_eq_tol(em_tile_world_x(0), 0.5, 1e-12);
    ck_assert_double_eq_tol(em_tile_world_y(0), 0.5, 1e-12);
    ck_assert_double_eq(em_tile_world_y(89.9), 0);
    ck_assert_double_eq(em_tile_world_y(-89.9), 1);
    double b[4];
    em_tile_id root = {0, 0, 0};
    em_tile_bounds(&root, 0, b);
    ck_assert_double_eq_tol(b[0], -180, 1e-9);
    ck_assert_double_eq_tol(b[2], 180, 1e-9);
    ck_assert_double_eq_tol(b[3], 85.0511287798, 1e-9);
    em_tile_bounds(&T, 0, b);
    ck_assert_double_eq_tol(b[0], lon_at(&T, 0), 1e-12);
    ck_assert_double_eq_tol(b[1], lat_at(&T, 4096), 1e-12);
    double bb[4];
    em_tile_bounds(&T, 64, bb);
    ck_assert(bb[0] < b[0] && bb[1] < b[1] && bb[2] > b[2] && bb[3] > b[3]);
    ck_assert_double_eq_tol(bb[0], lon_at(&T, -64), 1e-12);
    em_tile_id ok = {22, 4194303, 0}, bad_z = {23, 0, 0}, bad_x = {3, 8, 0}, bad_y = {0, 0, 1};
    ck_assert(em_tile_id_valid(&ok) && em_tile_id_valid(&root));
    ck_assert(!em_tile_id_valid(&bad_z) && !em_tile_id_valid(&bad_x) && !em_tile_id_valid(&bad_y));
}
END_TEST

/* ---- polygons ---------------------------------------------------------------- */

START_TEST(polygon_clipped_to_the_buffer) {
    size_t n;
    /* a square reaching out of the tile on the left and the top */
    em_tile *t =
        tile_with(&T, "POLYGON((-1000 -1000,1000 -1000,1000 1000,-1000 1000,-1000 -1000))", &n);
    ck_assert_uint_eq(n, 1);
    em_tile_feature *f = &t->layers[0].features[0];
    ck_assert_int_eq(f->type, EM_TILE_POLYGON);
    ck_assert_uint_eq(f->nparts, 1);
    char text[512];
    part_text(f, 0, text, sizeof text);
    /* the input runs counter-clockwise on the map (y up), so it comes back reversed:
     * an MVT exterior ring has a positive area in tile units (y down) */
    ck_assert_int_gt(area2(f->xy, f->part_len[0]), 0);
    ck_assert_uint_eq(f->part_len[0], 5);
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert(f->xy[2 * i] == -64 || f->xy[2 * i] == 1000);
        ck_assert(f->xy[2 * i + 1] == -64 || f->xy[2 * i + 1] == 1000);
    }
    ck_assert(f->xy[0] == f->xy[8] && f->xy[1] == f->xy[9]);
    /* the bounding box area ranks it for the byte cap */
    ck_assert_double_eq(f->size, 1000.0 * 1000.0);
    em_tile_free(t);

    /* the same ring the other way round gives the same winding */
    t = tile_with(&T, "POLYGON((-1000 -1000,-1000 1000,1000 1000,1000 -1000,-1000 -1000))", &n);
    ck_assert_int_gt(area2(t->layers[0].features[0].xy, t->layers[0].features[0].part_len[0]), 0);
    em_tile_free(t);

    /* entirely in the buffer of the neighbour, or beyond: nothing */
    t = tile_with(&T, "POLYGON((-500 100,-70 100,-70 200,-500 200,-500 100))", &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
    t = tile_with(&T, "POLYGON((-500 100,-40 100,-40 200,-500 200,-500 100))", &n);
    ck_assert_uint_eq(n, 1); /* reaches into our buffer */
    em_tile_free(t);
}
END_TEST

START_TEST(holes_and_multipolygons) {
    size_t n;
    em_tile *t = tile_with(&T,
                           "MULTIPOLYGON(((100 100,3000 100,3000 3000,100 3000,100 100),"
                           "(500 500,500 900,900 900,900 500,500 500),"
                           "(9000 9000,9100 9000,9100 9100,9000 9100,9000 9000)),"
                           "((9000 100,9500 100,9500 500,9000 500,9000 100)),"
                           "((3500 3500,3900 3500,3900 3900,3500 3900,3500 3500),"
                           "(3600 3600,3700 3600,3700 3700,3600 3700,3600 3600)))",
                           &n);
    ck_assert_uint_eq(n, 1);
    em_tile_feature *f = &t->layers[0].features[0];
    /* outer, its hole inside the tile (the one outside is gone), the second
     * polygon (outside) gone, the third with its hole */
    ck_assert_uint_eq(f->nparts, 4);
    const int32_t *xy = f->xy;
    long long sign[4];
    for (size_t p = 0; p < 4; p++) {
        sign[p] = area2(xy, f->part_len[p]);
        xy += 2 * (size_t)f->part_len[p];
    }
    ck_assert(sign[0] > 0 && sign[1] < 0 && sign[2] > 0 && sign[3] < 0);
    em_tile_free(t);
}
END_TEST

START_TEST(small_and_degenerate_parts_are_dropped) {
    size_t n;
    /* 3 x 3 units: under the tolerance (8) at this zoom */
    em_tile *t = tile_with(&T, "POLYGON((100 100,103 100,103 103,100 103,100 100))", &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
    /* the same place at z22, where nothing is simplified: 2^8 times larger */
    em_tile_id deep = {22, T.x << 8, T.y << 8};
    t = tile_with(&deep, "POLYGON((100 100,103 100,103 103,100 103,100 100))", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(t->layers[0].features[0].part_len[0], 5);
    em_tile_free(t);
    /* a sliver thinner than a unit: no area once rounded */
    t = tile_with(&deep, "POLYGON((100 100,2000 100.2,2000 100.4,100 100))", &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
    /* a polygon whose outer ring goes takes its hole with it */
    t = tile_with(&T, "POLYGON((10 10,14 10,14 14,10 14,10 10),(11 11,12 11,12 12,11 12,11 11))",
                  &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
    /* a line shorter than the tolerance, and one that rounds to one point */
    t = tile_with(&T, "LINESTRING(100 100,103 101)", &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
    t = tile_with(&deep, "LINESTRING(100 100,100.2 100.1)", &n);
    ck_assert_uint_eq(n, 0);
    em_tile_free(t);
}
END_TEST

START_TEST(simplified_per_zoom) {
    size_t n;
    /* a 2-unit bump in a 2000-unit line: dropped at this zoom ... */
    em_tile *t = tile_with(&T, "LINESTRING(100 1000,1000 1000,1100 1002,1200 1000,2100 1000)", &n);
    ck_assert_uint_eq(n, 1);
    char text[256];
    part_text(&t->layers[0].features[0], 0, text, sizeof text);
    ck_assert_str_eq(text, "100 1000,2100 1000");
    em_tile_free(t);
    /* ... while a bump of 16 units (the same one three zooms down) stays */
    em_tile_id child = {T.z + 3, T.x * 8, T.y * 8};
    char wkt[256];
    snprintf(wkt, sizeof wkt, "LINESTRING(%d %d,%d %d,%d %d,%d %d,%d %d)", 100 * 8, 100 * 8,
             150 * 8, 100 * 8, 155 * 8, 102 * 8, 160 * 8, 100 * 8, 200 * 8, 100 * 8);
    t = tile_with(&child, wkt, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(t->layers[0].features[0].part_len[0], 5);
    em_tile_free(t);
    /* a vertex 0.2 units from its neighbour at z22 rounds onto it: one point left */
    em_tile_id deep = {22, T.x << 8, T.y << 8};
    t = tile_with(&deep, "LINESTRING(100 100,200 100,200.2 100.1,300 100)", &n);
    part_text(&t->layers[0].features[0], 0, text, sizeof text);
    ck_assert_str_eq(text, "100 100,200 100,300 100");
    em_tile_free(t);
}
END_TEST

START_TEST(lines_split_at_the_edge) {
    size_t n;
    /* in, out through the right edge, back in: two lines */
    em_tile *t = tile_with(&T, "LINESTRING(3000 1000,5000 1000,5000 2000,3000 2000)", &n);
    ck_assert_uint_eq(n, 1);
    em_tile_feature *f = &t->layers[0].features[0];
    ck_assert_int_eq(f->type, EM_TILE_LINE);
    ck_assert_uint_eq(f->nparts, 2);
    char text[256];
    part_text(f, 0, text, sizeof text);
    ck_assert_str_eq(text, "3000 1000,4160 1000");
    part_text(f, 1, text, sizeof text);
    ck_assert_str_eq(text, "4160 2000,3000 2000");
    em_tile_free(t);
}
END_TEST

START_TEST(points) {
    size_t n;
    em_tile *t = tile_with(&T, "MULTIPOINT(10 10,-60 4150,-70 100,4200 10)", &n);
    ck_assert_uint_eq(n, 1);
    em_tile_feature *f = &t->layers[0].features[0];
    ck_assert_int_eq(f->type, EM_TILE_POINT);
    ck_assert_uint_eq(f->npoints, 2);
    ck_assert_int_eq(f->xy[0], 10);
    ck_assert_int_eq(f->xy[2], -60);
    ck_assert_int_eq(f->xy[3], 4150);
    em_tile_free(t);
    /* compressed BLOBs take SpatiaLite's reader; the answer is the same */
    t = em_tile_new(&T);
    em_tile_layer *l = em_tile_add_layer(t, "test");
    int size;
    unsigned char *blob =
        blob_of(&T, "LINESTRING(3000 1000,5000 1000,5000 2000,3000 2000)", &size, 1);
    size_t first;
    em_error err;
    ck_assert_int_eq(em_tile_add_geometry(t, l, blob, size, &first, &err), 0);
    free(blob);
    ck_assert_uint_eq(l->nfeatures, 1);
    ck_assert_uint_eq(l->features[0].nparts, 2);
    /* not a geometry */
    ck_assert_int_eq(em_tile_add_geometry(t, l, "nonsense", 8, &first, &err), -1);
    em_tile_free(t);
}
END_TEST

/* A ring and a line of hundreds of vertices that leave and re-enter the tile many
 * times: the prepared geometry steps over runs of points off the tile, and must
 * still give exactly what the BLOB gives (tile_with checks it here, in the parent
 * tile and in tiles two zooms down). */
START_TEST(big_parts_prepared) {
    em_strbuf w;
    em_strbuf_init(&w);
    em_strbuf_puts(&w, "GEOMETRYCOLLECTION(POLYGON((");
    for (int i = 0; i <= 720; i++) {
        double a = (i % 720) * M_PI / 360, r = 2600 + 1400 * sin(a * 9);
        em_strbuf_printf(&w, "%s%.3f %.3f", i ? "," : "", 2048 + r * cos(a), 2048 + r * sin(a));
    }
    em_strbuf_puts(&w, ")),LINESTRING(");
    for (int i = 0; i < 500; i++)
        em_strbuf_printf(&w, "%s%d %.3f", i ? "," : "", -3000 + 20 * i, 2048 + 3000 * sin(i / 7.0));
    em_strbuf_puts(&w, "))");
    size_t n;
    em_tile *t = tile_with(&T, em_strbuf_cstr(&w), &n);
    ck_assert_uint_eq(n, 2);
    em_tile_free(t);
    em_strbuf_free(&w);
}
END_TEST

/* ---- output ------------------------------------------------------------------ */

static em_tile *sample_tile(void) {
    em_tile *t = em_tile_new(&T);
    em_tile_layer *a = em_tile_add_layer(t, "estates");
    em_tile_layer *b = em_tile_add_layer(t, "empty");
    (void)b;
    const char *wkts[] = {"POLYGON((100 100,300 100,300 300,100 300,100 100))",
                          "POLYGON((1000 1000,1040 1000,1040 1040,1000 1040,1000 1000))",
                          "LINESTRING(-1000 -1000,5000 5000)"};
    for (int i = 0; i < 3; i++) {
        int size;
        unsigned char *blob = blob_of(&T, wkts[i], &size, 0);
        size_t first;
        em_error err;
        ck_assert_int_eq(em_tile_add_geometry(t, a, blob, size, &first, &err), 0);
        free(blob);
        em_tile_feature *f = &a->features[first];
        f->has_id = 1;
        f->id = 10 + i;
        f->props = em_tile_alloc(t, 3 * sizeof *f->props);
        f->props[0] =
            (em_tile_prop){"name", {EM_TV_STRING, {.s = i == 1 ? "a\"b\\\n" : "同名"}, 0}};
        f->props[0].value.len = strlen(f->props[0].value.v.s);
        f->props[1] = (em_tile_prop){"built_year", {EM_TV_INT, {.i = 1990 - 10 * i}, 0}};
        f->props[2] = (em_tile_prop){"ok", {EM_TV_BOOL, {.b = i != 2}, 0}};
        f->nprops = 3;
    }
    return t;
}

START_TEST(geojson_output) {
    em_tile *t = sample_tile();
    em_strbuf out;
    em_strbuf_init(&out);
    em_tile_geojson(t, &out);
    const char *text = em_strbuf_cstr(&out);
    const char *start = "{\"estates\":{\"features\":[{\"id\":10,\"type\":3,\"geometry\":[[[";
    ck_assert_msg(strncmp(text, start, strlen(start)) == 0, "%s", text);
    ck_assert_ptr_null(strstr(text, "empty")); /* layers without features are left out */
    ck_assert_ptr_nonnull(
        strstr(text, "\"tags\":{\"name\":\"同名\",\"built_year\":1990,\"ok\":true}"));
    ck_assert_ptr_nonnull(strstr(text, "\"name\":\"a\\\"b\\\\\\n\""));
    ck_assert_ptr_nonnull(
        strstr(text, "{\"id\":12,\"type\":2,\"geometry\":[[[-64,-64],[4160,4160]]]"));
    /* a dropped feature is not written */
    t->layers[0].features[1].dropped = 1;
    em_strbuf_reset(&out);
    em_tile_geojson(t, &out);
    ck_assert_ptr_null(strstr(em_strbuf_cstr(&out), "\"id\":11"));
    em_strbuf_free(&out);
    em_tile_free(t);
}
END_TEST

START_TEST(geojson_escapes_bad_utf8) {
    em_tile *t = em_tile_new(&T);
    em_tile_layer *l = em_tile_add_layer(t, "x");
    em_tile_feature *f =
        em_tile_add_point(t, l, em_tile_world_x(lon_at(&T, 5)), em_tile_world_y(lat_at(&T, 5)));
    ck_assert_ptr_nonnull(f);
    f->props = em_tile_alloc(t, sizeof *f->props);
    f->props[0] = (em_tile_prop){"k", {EM_TV_STRING, {.s = "a\xff\x01z\xe4\xb8"}, 6}};
    f->nprops = 1;
    em_strbuf out;
    em_strbuf_init(&out);
    em_tile_geojson(t, &out);
    ck_assert_str_eq(em_strbuf_cstr(&out), "{\"x\":{\"features\":[{\"type\":1,\"geometry\":[[5,5]],"
                                           "\"tags\":{\"k\":\"a\xEF\xBF\xBD\\u0001z\xEF\xBF\xBD"
                                           "\xEF\xBF\xBD\"}}]}}");
    em_strbuf_free(&out);
    em_tile_free(t);
}
END_TEST

START_TEST(mvt_output) {
    em_tile *t = sample_tile();
    unsigned char *buf;
    size_t len;
    em_error err;
    ck_assert_int_eq(em_mvt_encode(t, &buf, &len, &err), 0);
    ck_assert(buf && len > 0);
    VectorTile__Tile *vt = vector_tile__tile__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(vt);
    ck_assert_uint_eq(vt->n_layers, 1); /* "empty" is left out */
    VectorTile__Tile__Layer *l = vt->layers[0];
    ck_assert_str_eq(l->name, "estates");
    ck_assert_uint_eq(l->version, 2);
    ck_assert_uint_eq(l->extent, 4096);
    ck_assert_uint_eq(l->n_features, 3);
    ck_assert_uint_eq(l->n_keys, 3);
    /* "同名" twice, one other name, three years, true and false: 7 values */
    ck_assert_uint_eq(l->n_values, 7);
    VectorTile__Tile__Feature *f = l->features[0];
    ck_assert(f->has_id && f->id == 10);
    ck_assert_int_eq(f->type, VECTOR_TILE__TILE__GEOM_TYPE__POLYGON);
    /* MoveTo(1) LineTo(3) ClosePath(1): 1 + 2 + 1 + 6 + 1 */
    ck_assert_uint_eq(f->n_geometry, 11);
    ck_assert_uint_eq(f->geometry[0], 9);
    ck_assert_uint_eq(f->geometry[3], (3 << 3) | 2);
    ck_assert_uint_eq(f->geometry[10], 15);
    /* the first point is (300, 100) or another corner, zigzag-encoded */
    ck_assert_uint_eq(f->geometry[1] % 2, 0);
    ck_assert_uint_eq(l->features[2]->type, VECTOR_TILE__TILE__GEOM_TYPE__LINESTRING);
    /* a line: MoveTo(1) (-64,-64) -> zigzag 127, LineTo(1) (4224, 4224) */
    ck_assert_uint_eq(l->features[2]->n_geometry, 6);
    ck_assert_uint_eq(l->features[2]->geometry[1], 127);
    ck_assert_uint_eq(l->features[2]->geometry[4], 4224 * 2);
    /* tags: name, built_year, ok */
    ck_assert_uint_eq(f->n_tags, 6);
    ck_assert_str_eq(l->keys[f->tags[0]], "name");
    ck_assert_str_eq(l->values[f->tags[1]]->string_value, "同名");
    ck_assert(l->values[f->tags[3]]->has_uint_value && l->values[f->tags[3]]->uint_value == 1990);
    ck_assert(l->values[f->tags[5]]->has_bool_value && l->values[f->tags[5]]->bool_value);
    ck_assert_uint_eq(l->features[2]->tags[1], f->tags[1]); /* the same value, shared */
    vector_tile__tile__free_unpacked(vt, NULL);
    free(buf);

    /* nothing kept: no tile */
    for (size_t i = 0; i < t->layers[0].nfeatures; i++)
        t->layers[0].features[i].dropped = 1;
    ck_assert_int_eq(em_mvt_encode(t, &buf, &len, &err), 0);
    ck_assert(buf == NULL && len == 0);
    em_tile_free(t);
}
END_TEST

START_TEST(drop_order) {
    em_tile *t = sample_tile();
    size_t n;
    em_tile_feature **order = em_tile_drop_order(t, &n);
    ck_assert_uint_eq(n, 3);
    /* the 40 x 40 square, the 200 x 200 one, the diagonal over the whole tile */
    ck_assert_int_eq(order[0]->id, 11);
    ck_assert_int_eq(order[1]->id, 10);
    ck_assert_int_eq(order[2]->id, 12);
    free(order);
    t->layers[0].features[1].dropped = 1;
    order = em_tile_drop_order(t, &n);
    ck_assert_uint_eq(n, 2);
    free(order);
    em_tile_free(t);
}
END_TEST

START_TEST(etag_matching) {
    const char *e = "\"abc.1.2\"", *g = "\"abc.1.2.gz\"";
    ck_assert(em_tile_etag_matches("\"abc.1.2\"", e, g));
    ck_assert(em_tile_etag_matches("\"abc.1.2.gz\"", e, g));
    ck_assert(em_tile_etag_matches("W/\"abc.1.2\"", e, g));
    ck_assert(em_tile_etag_matches("\"x\", \"abc.1.2\"", e, g));
    ck_assert(em_tile_etag_matches("*", e, g));
    ck_assert(!em_tile_etag_matches("\"abc.1.3\"", e, g));
    ck_assert(!em_tile_etag_matches("\"abc.1.2", e, g));
    ck_assert(!em_tile_etag_matches("", e, g));
    ck_assert(!em_tile_etag_matches(NULL, e, g));
    ck_assert(!em_tile_etag_matches("\"abc.1.2.gz\"", e, NULL));
}
END_TEST

/* ---- the cache --------------------------------------------------------------- */

/* A prepared ring of `n` points (about 24 bytes each). */
static em_geom *prepared_ring(int n) {
    em_strbuf w;
    em_strbuf_init(&w);
    em_strbuf_puts(&w, "POLYGON((");
    for (int i = 0; i <= n; i++)
        em_strbuf_printf(&w, "%s%.3f %.3f", i ? "," : "", 2048 + 1000 * cos(i % n * 2 * M_PI / n),
                         2048 + 1000 * sin(i % n * 2 * M_PI / n));
    em_strbuf_puts(&w, "))");
    int size;
    unsigned char *blob = blob_of(&T, em_strbuf_cstr(&w), &size, 0);
    em_strbuf_free(&w);
    em_tile *t = em_tile_new(&T);
    em_error err;
    em_geom *g = em_tile_prepare(t, blob, size, &err);
    ck_assert_ptr_nonnull(g);
    em_tile_free(t);
    free(blob);
    return g;
}

START_TEST(geometry_cache_versions_and_memory) {
    size_t cap = 64 * 1024;
    em_geom_cache *c = em_geom_cache_new(cap);
    ck_assert_ptr_nonnull(c);
    em_geom *g = em_geom_cache_put(c, 1, 7, 3, prepared_ring(100));
    em_geom_cache_release(c, g);
    ck_assert_ptr_eq(em_geom_cache_get(c, 1, 7, 3), g);
    em_geom_cache_release(c, g);
    /* another version of the layer, another layer, another feature: misses */
    ck_assert_ptr_null(em_geom_cache_get(c, 1, 7, 4));
    ck_assert_ptr_null(em_geom_cache_get(c, 2, 7, 3));
    ck_assert_ptr_null(em_geom_cache_get(c, 1, 8, 3));
    /* a newer version replaces it; an older one is used once and not kept */
    em_geom *held = em_geom_cache_get(c, 1, 7, 3);
    em_geom *newer = em_geom_cache_put(c, 1, 7, 4, prepared_ring(100));
    ck_assert_ptr_null(em_geom_cache_get(c, 1, 7, 3));
    ck_assert_int_eq(held->nparts, 1); /* still readable while referenced */
    em_geom_cache_release(c, held);
    em_geom_cache_release(c, em_geom_cache_put(c, 1, 7, 2, prepared_ring(100)));
    ck_assert_ptr_eq(em_geom_cache_get(c, 1, 7, 4), newer);
    em_geom_cache_release(c, newer);
    em_geom_cache_release(c, newer);
    /* fill past the cap: it stays under, evicting */
    for (int i = 0; i < 40; i++) {
        em_geom_cache_release(c, em_geom_cache_put(c, 0, 100 + i, 1, prepared_ring(200)));
        em_geom_cache_stats st;
        em_geom_cache_stats_get(c, &st);
        ck_assert_uint_le(st.bytes, cap);
    }
    em_geom_cache_stats st;
    em_geom_cache_stats_get(c, &st);
    ck_assert_uint_gt(st.evictions, 0);
    ck_assert_uint_gt(st.entries, 2);
    ck_assert_uint_gt(st.hits, 2);
    em_geom *last = em_geom_cache_get(c, 0, 139, 1); /* the newest is there */
    ck_assert_ptr_nonnull(last);
    em_geom_cache_release(c, last);
    em_strbuf m;
    em_strbuf_init(&m);
    em_geom_cache_render_metrics(c, &m);
    ck_assert_ptr_nonnull(strstr(em_strbuf_cstr(&m), "estatemap_geom_cache_limit_bytes 65536\n"));
    em_strbuf_free(&m);
    em_geom_cache_free(c);
    /* no cache: a geometry is still handed back, and freed by its release */
    em_geom_cache_release(NULL, em_geom_cache_put(NULL, 0, 1, 1, prepared_ring(10)));
}
END_TEST

/* A whole-layer entry (here a too-big marker, as tile_source.c leaves) of `bytes`. */
static em_geom *whole_layer_entry(size_t bytes) {
    em_geom *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    g->too_big = 1;
    g->bytes = bytes;
    return g;
}

START_TEST(geometry_cache_layer_room) {
    em_geom_cache *c = em_geom_cache_new(100000);
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 1, -1), 50000); /* half the cap */
    em_geom_cache_release(c, em_geom_cache_put(c, 1, -1, 1, whole_layer_entry(30000)));
    em_geom_cache_release(c, em_geom_cache_put(c, 2, -1, 1, whole_layer_entry(40000)));
    /* a row's geometry does not count: it may be evicted */
    em_geom_cache_release(c, em_geom_cache_put(c, 3, 5, 1, prepared_ring(100)));
    /* the others' sets are left alone; an entry's own old version does not count */
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 3, -1), 30000);
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 1, -1), 50000);
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 1, -2), 30000);
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 2, -1), 50000);
    em_geom_cache_release(c, em_geom_cache_put(c, 4, -1, 1, whole_layer_entry(20000)));
    ck_assert_uint_eq(em_geom_cache_layer_room(c, 5, -1), 10000);
    em_geom_cache_free(c);
    ck_assert_uint_eq(em_geom_cache_layer_room(NULL, 1, -1), 0);
}
END_TEST

START_TEST(cache_lru_and_memory) {
    char body[1000];
    memset(body, 'x', sizeof body);
    size_t cap = 5000;
    em_tile_cache *c = em_tile_cache_new(cap);
    ck_assert_ptr_nonnull(c);
    em_tile_entry *e = em_tile_cache_put(c, "a/1/0/0.mvt", "\"e1\"", body, sizeof body, 0);
    ck_assert_ptr_nonnull(e);
    em_tile_cache_release(c, e);
    e = em_tile_cache_get(c, "a/1/0/0.mvt", "\"e1\"");
    ck_assert_ptr_nonnull(e);
    ck_assert(e->len == sizeof body && memcmp(e->body, body, sizeof body) == 0);
    /* a gzip copy counts too */
    em_tile_cache_stats s0, s1;
    em_tile_cache_stats_get(c, &s0);
    em_tile_cache_set_gzip(c, e, "gz", 2);
    em_tile_cache_stats_get(c, &s1);
    ck_assert_uint_eq(s1.bytes, s0.bytes + 2);
    ck_assert(e->gzip_len == 2 && memcmp(e->gzip, "gz", 2) == 0);
    em_tile_cache_release(c, e);
    /* another ETag: a miss, and the old entry is gone */
    ck_assert_ptr_null(em_tile_cache_get(c, "a/1/0/0.mvt", "\"e2\""));
    em_tile_cache_stats_get(c, &s1);
    ck_assert_uint_eq(s1.entries, 0);
    ck_assert_uint_eq(s1.bytes, 0);
    /* fill past the cap: the least recently used go */
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "a/5/%d/0.mvt", i);
        em_tile_cache_release(c, em_tile_cache_put(c, key, "\"e\"", body, sizeof body, 0));
        if (i == 10) { /* keep 0..: touch the first survivor */
            em_tile_entry *keep = em_tile_cache_get(c, "a/5/8/0.mvt", "\"e\"");
            ck_assert_ptr_nonnull(keep);
            em_tile_cache_release(c, keep);
        }
        em_tile_cache_stats_get(c, &s1);
        ck_assert_uint_le(s1.bytes, cap);
    }
    ck_assert_uint_gt(s1.evictions, 10);
    ck_assert_uint_ge(s1.entries, 3);
    ck_assert_ptr_null(em_tile_cache_get(c, "a/5/0/0.mvt", "\"e\""));
    e = em_tile_cache_get(c, "a/5/19/0.mvt", "\"e\"");
    ck_assert_ptr_nonnull(e);
    /* an entry in use survives its eviction until released */
    for (int i = 20; i < 30; i++) {
        snprintf(key, sizeof key, "a/5/%d/0.mvt", i);
        em_tile_cache_release(c, em_tile_cache_put(c, key, "\"e\"", body, sizeof body, 0));
    }
    ck_assert(memcmp(e->body, body, sizeof body) == 0);
    em_tile_cache_release(c, e);
    /* too large for the cap: not kept */
    char big[6000] = {0};
    ck_assert_ptr_null(em_tile_cache_put(c, "big", "\"e\"", big, sizeof big, 0));
    /* an empty tile (204) is an entry too */
    e = em_tile_cache_put(c, "empty", "\"e\"", NULL, 0, 0);
    ck_assert(e && e->body == NULL && e->len == 0);
    em_tile_cache_release(c, e);
    em_strbuf m;
    em_strbuf_init(&m);
    em_tile_cache_render_metrics(c, &m);
    ck_assert_ptr_nonnull(strstr(em_strbuf_cstr(&m), "estatemap_tile_cache_limit_bytes 5000\n"));
    em_strbuf_free(&m);
    em_tile_cache_free(c);

    /* cap 0: the cache keeps nothing */
    c = em_tile_cache_new(0);
    ck_assert_ptr_null(em_tile_cache_put(c, "k", "\"e\"", body, 10, 0));
    ck_assert_ptr_null(em_tile_cache_get(c, "k", "\"e\""));
    em_tile_cache_free(c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tiles");
    TCase *tc = tcase_create("tiles");
    tcase_add_test(tc, addressing);
    tcase_add_test(tc, polygon_clipped_to_the_buffer);
    tcase_add_test(tc, holes_and_multipolygons);
    tcase_add_test(tc, small_and_degenerate_parts_are_dropped);
    tcase_add_test(tc, simplified_per_zoom);
    tcase_add_test(tc, lines_split_at_the_edge);
    tcase_add_test(tc, points);
    tcase_add_test(tc, big_parts_prepared);
    tcase_add_test(tc, geojson_output);
    tcase_add_test(tc, geojson_escapes_bad_utf8);
    tcase_add_test(tc, mvt_output);
    tcase_add_test(tc, drop_order);
    tcase_add_test(tc, etag_matching);
    tcase_add_test(tc, cache_lru_and_memory);
    tcase_add_test(tc, geometry_cache_versions_and_memory);
    tcase_add_test(tc, geometry_cache_layer_room);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return testutil_run(suite());
}

/* metric.h -- geometry in metres for the spatial analyses: layer geometries read
 * from SpatiaLite blobs into flat coordinate arrays, projected once per run with
 * PROJ into EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E: the planning
 * bureau's CRS, scale error about 0.02% over Minhang), and the planar measures the
 * analyses need: area, centroid, point in polygon, distance to a segment.
 *
 * Why not ST_Transform/ST_Distance per row: on the demo SpatiaLite spends about
 * 10 us per ST_Transform and 45 us per ST_Distance pair (each call rebuilds GEOS
 * geometries from blobs), and the corridor distances need tens of thousands of
 * pairs. Projecting each geometry once and measuring segments directly keeps
 * every analysis far under a second, with no extra library to link.
 *
 * Topology (which polygon holds a point) is decided in stored lon/lat, like the
 * derived links (links.c); only lengths and areas use metres. */
#ifndef ESTATEMAP_METRIC_H
#define ESTATEMAP_METRIC_H

#include "errors.h"
#include <stddef.h>

#define EM_METRIC_EPSG 4549
#define EM_METRIC_CRS "EPSG:4549"
/* The operation PROJ 9 itself picks for EPSG:4326 -> EPSG:4549, normalised to
 * lon/lat in and easting/northing out (WGS 84 and CGCS2000 agree to centimetres,
 * so there is no datum step). Stated here because looking it up in proj.db costs
 * 25 ms per run; a unit test checks that PROJ still picks the same. */
#define EM_METRIC_PIPELINE                                                                         \
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad"                                \
    " +step +proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80"

/* A PROJ context and the lon/lat -> EPSG:4549 (easting, northing) transformation.
 * Not thread-safe: one per analysis run. */
typedef struct em_metric em_metric;

em_metric *em_metric_new(em_error *err);
void em_metric_free(em_metric *m);
/* Project n interleaved lon/lat pairs in place to easting/northing in metres. */
int em_metric_forward(em_metric *m, double *xy, size_t n, em_error *err);

typedef enum {
    EM_RING_LINE,  /* a linestring (or a single point: one vertex) */
    EM_RING_SHELL, /* a polygon's exterior ring */
    EM_RING_HOLE,  /* a polygon's interior ring */
} em_ring_kind;

/* Any SpatiaLite geometry as rings of vertices. Polygon rings are closed (first
 * vertex repeated last). Reusable: loading into a used shape keeps its buffers. */
typedef struct {
    double *xy; /* 2 * npts */
    int npts, cap_pts;
    int *start; /* ring r is vertices start[r] .. start[r+1]-1 */
    unsigned char *kind;
    int nrings, cap_rings;
    double minx, miny, maxx, maxy;
    /* point-in-polygon index over the polygon edges (em_shape_index) */
    int nstrips;
    double strip_y0, strip_h;
    int *strip_start, *strip_edge; /* edge = index of its first vertex */
} em_shape;

/* Fill `s` from a SpatiaLite BLOB-Geometry; -1 with a runtime error if it is not one. */
int em_shape_from_blob(em_shape *s, const void *blob, int size, em_error *err);
void em_shape_free(em_shape *s);
/* Project the vertices with `m` and recompute the bounding box; drops any index. */
int em_shape_project(em_shape *s, em_metric *m, em_error *err);
/* Move the contents of `from` into `to` (which must be zeroed or freed); `from`
 * is left empty. */
void em_shape_move(em_shape *to, em_shape *from);
int em_shape_is_polygonal(const em_shape *s);

/* Area of the polygon rings (holes subtracted), in the square units of the shape. */
double em_shape_area(const em_shape *s);
/* Area-weighted centroid of the polygon rings; the vertex mean when the area is 0. */
void em_shape_centroid(const em_shape *s, double *x, double *y);

/* Build a horizontal-strip index over the polygon edges so that point-in-polygon
 * tests on big polygons (towns) cost a few edges, not thousands. */
int em_shape_index(em_shape *s, em_error *err);
/* 1 when (x, y) is inside a polygon ring set or on its boundary (even-odd rule over
 * all polygon rings: valid polygons with holes and multipolygons). */
int em_shape_covers(const em_shape *s, double x, double y);

/* Planar distances. Segment to segment is 0 when they touch or cross. */
double em_point_segment_distance(double px, double py, double ax, double ay, double bx, double by);
double em_segment_distance(double ax, double ay, double bx, double by, double cx, double cy,
                           double dx, double dy);
/* Distance from segment a-b to the shape: 0 when it touches any ring, or when the
 * shape is polygonal and the segment lies inside it. */
double em_shape_segment_distance(const em_shape *s, double ax, double ay, double bx, double by);
/* Gap between two bounding boxes (0 when they overlap): a lower bound of distance. */
double em_box_gap(double aminx, double aminy, double amaxx, double amaxy, double bminx,
                  double bminy, double bmaxx, double bmaxy);

#endif

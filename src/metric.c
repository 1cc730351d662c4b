#include "metric.h"

#include <math.h>
#include <proj.h>
#include <sqlite3.h> /* before gaiageo.h, which uses its types */
#include <spatialite/gaiageo.h>
#include <stdlib.h>
#include <string.h>

/* Plain comparisons and sqrt, not fmin/fmax/hypot: those are library calls here
 * and took a third of the corridor run. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

struct em_metric {
    PJ_CONTEXT *ctx;
    PJ *pj;
};

em_metric *em_metric_new(em_error *err) {
    em_metric *m = calloc(1, sizeof *m);
    if (!m) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    m->ctx = proj_context_create();
    m->pj = m->ctx ? proj_create(m->ctx, EM_METRIC_PIPELINE) : NULL;
    if (!m->pj) {
        em_fail(err, EM_ERR_RUNTIME, "PROJ cannot transform EPSG:4326 to %s: %s", EM_METRIC_CRS,
                m->ctx ? proj_context_errno_string(m->ctx, proj_context_errno(m->ctx))
                       : "no context");
        em_metric_free(m);
        return NULL;
    }
    return m;
}

void em_metric_free(em_metric *m) {
    if (!m)
        return;
    if (m->pj)
        proj_destroy(m->pj);
    if (m->ctx)
        proj_context_destroy(m->ctx);
    free(m);
}

int em_metric_forward(em_metric *m, double *xy, size_t n, em_error *err) {
    if (n == 0)
        return 0;
    proj_trans_generic(m->pj, PJ_FWD, xy, 2 * sizeof(double), n, xy + 1, 2 * sizeof(double), n,
                       NULL, 0, 0, NULL, 0, 0);
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i]) || xy[i] == HUGE_VAL)
            return em_fail(err, EM_ERR_RUNTIME, "PROJ failed to project a coordinate to %s",
                           EM_METRIC_CRS);
    return 0;
}

/* ---------- loading ---------- */

static int reserve(em_shape *s, int pts, int rings) {
    if (s->npts + pts > s->cap_pts) {
        int cap = s->cap_pts ? s->cap_pts : 64;
        while (cap < s->npts + pts)
            cap *= 2;
        double *xy = realloc(s->xy, sizeof(double) * 2 * (size_t)cap);
        if (!xy)
            return -1;
        s->xy = xy;
        s->cap_pts = cap;
    }
    if (s->nrings + rings + 1 > s->cap_rings) {
        int cap = s->cap_rings ? s->cap_rings : 8;
        while (cap < s->nrings + rings + 1)
            cap *= 2;
        int *start = realloc(s->start, sizeof(int) * (size_t)cap);
        if (!start)
            return -1;
        s->start = start;
        unsigned char *kind = realloc(s->kind, (size_t)cap);
        if (!kind)
            return -1;
        s->kind = kind;
        s->cap_rings = cap;
    }
    return 0;
}

static void drop_index(em_shape *s) {
    free(s->strip_start);
    free(s->strip_edge);
    s->strip_start = s->strip_edge = NULL;
    s->nstrips = 0;
}

static void update_bbox(em_shape *s) {
    s->minx = s->miny = INFINITY;
    s->maxx = s->maxy = -INFINITY;
    for (int i = 0; i < s->npts; i++) {
        double x = s->xy[2 * i], y = s->xy[2 * i + 1];
        if (x < s->minx)
            s->minx = x;
        if (x > s->maxx)
            s->maxx = x;
        if (y < s->miny)
            s->miny = y;
        if (y > s->maxy)
            s->maxy = y;
    }
}

/* Append one ring from gaia's coordinate array (XY, XYZ, XYM or XYZM). */
static int add_ring(em_shape *s, const double *coords, int n, int dims, em_ring_kind kind) {
    int stride = dims == GAIA_XY ? 2 : dims == GAIA_XY_Z_M ? 4 : 3;
    if (n <= 0)
        return 0;
    if (reserve(s, n, 1) < 0)
        return -1;
    s->start[s->nrings] = s->npts;
    s->kind[s->nrings] = (unsigned char)kind;
    for (int i = 0; i < n; i++) {
        s->xy[2 * (s->npts + i)] = coords[(size_t)i * (size_t)stride];
        s->xy[2 * (s->npts + i) + 1] = coords[(size_t)i * (size_t)stride + 1];
    }
    s->npts += n;
    s->nrings++;
    s->start[s->nrings] = s->npts;
    return 0;
}

int em_shape_from_blob(em_shape *s, const void *blob, int size, em_error *err) {
    s->npts = 0;
    s->nrings = 0;
    drop_index(s);
    if (reserve(s, 0, 0) < 0)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    s->start[0] = 0;
    gaiaGeomCollPtr g =
        blob && size > 0 ? gaiaFromSpatiaLiteBlobWkb(blob, (unsigned int)size) : NULL;
    if (!g)
        return em_fail(err, EM_ERR_RUNTIME, "not a SpatiaLite geometry");
    int rc = 0;
    for (gaiaPointPtr p = g->FirstPoint; p && rc == 0; p = p->Next) {
        double xy[2] = {p->X, p->Y};
        rc = add_ring(s, xy, 1, GAIA_XY, EM_RING_LINE);
    }
    for (gaiaLinestringPtr l = g->FirstLinestring; l && rc == 0; l = l->Next)
        rc = add_ring(s, l->Coords, l->Points, l->DimensionModel, EM_RING_LINE);
    for (gaiaPolygonPtr p = g->FirstPolygon; p && rc == 0; p = p->Next) {
        rc = add_ring(s, p->Exterior->Coords, p->Exterior->Points, p->Exterior->DimensionModel,
                      EM_RING_SHELL);
        for (int i = 0; i < p->NumInteriors && rc == 0; i++)
            rc = add_ring(s, p->Interiors[i].Coords, p->Interiors[i].Points,
                          p->Interiors[i].DimensionModel, EM_RING_HOLE);
    }
    gaiaFreeGeomColl(g);
    if (rc < 0)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    update_bbox(s);
    return 0;
}

void em_shape_free(em_shape *s) {
    free(s->xy);
    free(s->start);
    free(s->kind);
    drop_index(s);
    memset(s, 0, sizeof *s);
}

void em_shape_move(em_shape *to, em_shape *from) {
    *to = *from;
    memset(from, 0, sizeof *from);
}

int em_shape_project(em_shape *s, em_metric *m, em_error *err) {
    drop_index(s);
    if (em_metric_forward(m, s->xy, (size_t)s->npts, err) < 0)
        return -1;
    update_bbox(s);
    return 0;
}

int em_shape_is_polygonal(const em_shape *s) {
    for (int r = 0; r < s->nrings; r++)
        if (s->kind[r] != EM_RING_LINE)
            return 1;
    return 0;
}

/* ---------- area and centroid ---------- */

/* Shoelace sums relative to the shape's first vertex: projected coordinates are in
 * the millions, and products of them would lose the area's digits. */
static void polygon_moments(const em_shape *s, double *area, double *mx, double *my) {
    double ox = s->npts ? s->xy[0] : 0, oy = s->npts ? s->xy[1] : 0;
    double A = 0, MX = 0, MY = 0;
    for (int r = 0; r < s->nrings; r++) {
        if (s->kind[r] == EM_RING_LINE)
            continue;
        double a = 0, x = 0, y = 0;
        for (int i = s->start[r]; i + 1 < s->start[r + 1]; i++) {
            double x0 = s->xy[2 * i] - ox, y0 = s->xy[2 * i + 1] - oy;
            double x1 = s->xy[2 * i + 2] - ox, y1 = s->xy[2 * i + 3] - oy;
            double c = x0 * y1 - x1 * y0;
            a += c;
            x += (x0 + x1) * c;
            y += (y0 + y1) * c;
        }
        a /= 2;
        x /= 6;
        y /= 6;
        if (a < 0) { /* orient every ring the same way, then subtract holes */
            a = -a;
            x = -x;
            y = -y;
        }
        if (s->kind[r] == EM_RING_HOLE) {
            a = -a;
            x = -x;
            y = -y;
        }
        A += a;
        MX += x;
        MY += y;
    }
    *area = A;
    *mx = MX + A * ox;
    *my = MY + A * oy;
}

double em_shape_area(const em_shape *s) {
    double a, mx, my;
    polygon_moments(s, &a, &mx, &my);
    return a;
}

void em_shape_centroid(const em_shape *s, double *x, double *y) {
    double a, mx, my;
    polygon_moments(s, &a, &mx, &my);
    if (a > 0) {
        *x = mx / a;
        *y = my / a;
        return;
    }
    double sx = 0, sy = 0;
    for (int i = 0; i < s->npts; i++) {
        sx += s->xy[2 * i];
        sy += s->xy[2 * i + 1];
    }
    *x = s->npts ? sx / s->npts : NAN;
    *y = s->npts ? sy / s->npts : NAN;
}

/* ---------- point in polygon ---------- */

int em_shape_index(em_shape *s, em_error *err) {
    drop_index(s);
    int nedges = 0;
    for (int r = 0; r < s->nrings; r++)
        if (s->kind[r] != EM_RING_LINE)
            nedges += s->start[r + 1] - s->start[r] - 1;
    if (nedges < 32)
        return 0; /* a scan is as fast */
    int nstrips = nedges / 4 > 4096 ? 4096 : nedges / 4;
    double h = (s->maxy - s->miny) / nstrips;
    if (!(h > 0))
        return 0;
    int *count = calloc((size_t)nstrips + 1, sizeof(int));
    if (!count)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    /* two passes: count the edges per strip, then place them */
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < s->nrings; r++) {
            if (s->kind[r] == EM_RING_LINE)
                continue;
            for (int i = s->start[r]; i + 1 < s->start[r + 1]; i++) {
                double y0 = s->xy[2 * i + 1], y1 = s->xy[2 * i + 3];
                int a = (int)floor(((y0 < y1 ? y0 : y1) - s->miny) / h);
                int b = (int)floor(((y0 < y1 ? y1 : y0) - s->miny) / h);
                a = a < 0 ? 0 : a >= nstrips ? nstrips - 1 : a;
                b = b < 0 ? 0 : b >= nstrips ? nstrips - 1 : b;
                for (int k = a; k <= b; k++) {
                    if (pass == 0)
                        count[k + 1]++;
                    else
                        s->strip_edge[count[k]++] = i;
                }
            }
        }
        if (pass == 0) {
            for (int k = 0; k < nstrips; k++)
                count[k + 1] += count[k];
            s->strip_start = malloc(sizeof(int) * ((size_t)nstrips + 1));
            s->strip_edge = malloc(sizeof(int) * ((size_t)count[nstrips] + 1));
            if (!s->strip_start || !s->strip_edge) {
                free(count);
                drop_index(s);
                return em_fail(err, EM_ERR_RUNTIME, "out of memory");
            }
            memcpy(s->strip_start, count, sizeof(int) * ((size_t)nstrips + 1));
        }
    }
    free(count);
    s->nstrips = nstrips;
    s->strip_y0 = s->miny;
    s->strip_h = h;
    return 0;
}

/* -1: on the edge; 1: a ray from (x, y) towards +x crosses it; 0: neither. */
static int edge_test(const double *a, double x, double y) {
    double ax = a[0], ay = a[1], bx = a[2], by = a[3];
    if (x >= MIN(ax, bx) && x <= MAX(ax, bx) && y >= MIN(ay, by) && y <= MAX(ay, by) &&
        (bx - ax) * (y - ay) - (by - ay) * (x - ax) == 0)
        return -1;
    if ((ay > y) != (by > y) && x < ax + (y - ay) * (bx - ax) / (by - ay))
        return 1;
    return 0;
}

int em_shape_covers(const em_shape *s, double x, double y) {
    if (x < s->minx || x > s->maxx || y < s->miny || y > s->maxy)
        return 0;
    int inside = 0;
    if (s->nstrips > 0) {
        int k = (int)floor((y - s->strip_y0) / s->strip_h);
        k = k < 0 ? 0 : k >= s->nstrips ? s->nstrips - 1 : k;
        for (int j = s->strip_start[k]; j < s->strip_start[k + 1]; j++) {
            int t = edge_test(&s->xy[2 * s->strip_edge[j]], x, y);
            if (t < 0)
                return 1;
            inside ^= t;
        }
        return inside;
    }
    for (int r = 0; r < s->nrings; r++) {
        if (s->kind[r] == EM_RING_LINE)
            continue;
        for (int i = s->start[r]; i + 1 < s->start[r + 1]; i++) {
            int t = edge_test(&s->xy[2 * i], x, y);
            if (t < 0)
                return 1;
            inside ^= t;
        }
    }
    return inside;
}

/* ---------- distances ---------- */

double em_point_segment_distance(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay;
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = px - (ax + t * dx), ey = py - (ay + t * dy);
    return sqrt(ex * ex + ey * ey);
}

static int sign_of(double v) {
    return (v > 0) - (v < 0);
}

double em_segment_distance(double ax, double ay, double bx, double by, double cx, double cy,
                           double dx, double dy) {
    int o1 = sign_of((bx - ax) * (cy - ay) - (by - ay) * (cx - ax));
    int o2 = sign_of((bx - ax) * (dy - ay) - (by - ay) * (dx - ax));
    int o3 = sign_of((dx - cx) * (ay - cy) - (dy - cy) * (ax - cx));
    int o4 = sign_of((dx - cx) * (by - cy) - (dy - cy) * (bx - cx));
    if (o1 * o2 < 0 && o3 * o4 < 0)
        return 0; /* proper crossing; touching shows as a zero distance below */
    double d = em_point_segment_distance(ax, ay, cx, cy, dx, dy);
    d = MIN(d, em_point_segment_distance(bx, by, cx, cy, dx, dy));
    d = MIN(d, em_point_segment_distance(cx, cy, ax, ay, bx, by));
    return MIN(d, em_point_segment_distance(dx, dy, ax, ay, bx, by));
}

double em_shape_segment_distance(const em_shape *s, double ax, double ay, double bx, double by) {
    double best = INFINITY;
    for (int r = 0; r < s->nrings && best > 0; r++) {
        int i0 = s->start[r], i1 = s->start[r + 1];
        if (i1 - i0 == 1) {
            double d = em_point_segment_distance(s->xy[2 * i0], s->xy[2 * i0 + 1], ax, ay, bx, by);
            best = MIN(best, d);
            continue;
        }
        for (int i = i0; i + 1 < i1 && best > 0; i++) {
            const double *p = &s->xy[2 * i];
            double d = em_segment_distance(ax, ay, bx, by, p[0], p[1], p[2], p[3]);
            best = MIN(best, d);
        }
    }
    if (best > 0 && em_shape_is_polygonal(s) && em_shape_covers(s, ax, ay))
        return 0;
    return best;
}

double em_box_gap(double aminx, double aminy, double amaxx, double amaxy, double bminx,
                  double bminy, double bmaxx, double bmaxy) {
    double gx = MAX(0, MAX(bminx - amaxx, aminx - bmaxx));
    double gy = MAX(0, MAX(bminy - amaxy, aminy - bmaxy));
    return sqrt(gx * gx + gy * gy);
}

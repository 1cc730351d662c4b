#include "tiles.h"

#include "tile_source_priv.h"

#include <math.h>
#include <sqlite3.h>
#include <spatialite/gaiageo.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ----------------------------------------------------------------- */

struct em_tile_arena {
    struct em_tile_arena *next;
    size_t used, cap;
    max_align_t data[]; /* `cap` bytes */
};

#define ARENA_BLOCK (64 * 1024)

void *em_tile_alloc(em_tile *tile, size_t n) {
    n = (n + 15) & ~(size_t)15;
    em_tile_arena *a = tile->arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        em_tile_arena *b = malloc(sizeof *b + cap);
        if (!b) {
            tile->failed = 1;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        /* A block made for one large request goes behind the current one, so the
         * current block's free space stays in use. */
        if (a && n > ARENA_BLOCK) {
            b->next = a->next;
            a->next = b;
        } else {
            b->next = a;
            tile->arena = b;
        }
        a = b;
    }
    void *p = (unsigned char *)a->data + a->used;
    a->used += n;
    return p;
}

const char *em_tile_strdup(em_tile *tile, const char *s, size_t len) {
    char *d = em_tile_alloc(tile, len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* ---- addressing ------------------------------------------------------------ */

int em_tile_id_valid(const em_tile_id *id) {
    if (id->z < 0 || id->z > EM_TILE_MAX_ZOOM)
        return 0;
    uint32_t n = (uint32_t)1 << id->z;
    return id->x < n && id->y < n;
}

double em_tile_world_x(double lon) {
    return lon / 360 + 0.5;
}

double em_tile_world_y(double lat) {
    double s = sin(lat * M_PI / 180);
    double y = 0.5 - 0.25 * log((1 + s) / (1 - s)) / M_PI;
    return y < 0 ? 0 : y > 1 ? 1 : y;
}

static double lon_of(double wx) {
    return (wx - 0.5) * 360;
}

static double lat_of(double wy) {
    return atan(sinh(M_PI * (1 - 2 * wy))) * 180 / M_PI;
}

void em_tile_bounds(const em_tile_id *id, double buffer, double out[4]) {
    double z2 = ldexp(1, id->z);
    double b = buffer / EM_TILE_EXTENT;
    double x0 = (id->x - b) / z2, x1 = (id->x + 1 + b) / z2;
    double y0 = (id->y - b) / z2, y1 = (id->y + 1 + b) / z2;
    out[0] = lon_of(x0);
    out[1] = lat_of(y1 > 1 ? 1 : y1);
    out[2] = lon_of(x1);
    out[3] = lat_of(y0 < 0 ? 0 : y0);
}

/* ---- tiles and layers ------------------------------------------------------ */

em_tile *em_tile_new(const em_tile_id *id) {
    em_tile *t = calloc(1, sizeof *t);
    if (t)
        t->id = *id;
    return t;
}

void em_tile_free(em_tile *t) {
    if (!t)
        return;
    for (em_tile_arena *a = t->arena, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    for (int i = 0; i < 3; i++) {
        free(t->work[i].x);
        free(t->work[i].y);
        free(t->work[i].w);
    }
    free(t->ixy);
    free(t->gx);
    free(t->gy);
    free(t->parts);
    free(t);
}

em_tile_layer *em_tile_add_layer(em_tile *t, const char *name) {
    if (t->nlayers >= EM_TILE_MAX_LAYERS)
        return NULL;
    em_tile_layer *l = &t->layers[t->nlayers++];
    memset(l, 0, sizeof *l);
    l->name = name;
    return l;
}

static em_tile_feature *new_feature(em_tile *t, em_tile_layer *l) {
    if (l->nfeatures == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        em_tile_feature *f = em_tile_alloc(t, cap * sizeof *f);
        if (!f)
            return NULL;
        if (l->nfeatures)
            memcpy(f, l->features, l->nfeatures * sizeof *f);
        l->features = f; /* the old array stays in the arena until the tile goes */
        l->cap = cap;
    }
    em_tile_feature *f = &l->features[l->nfeatures++];
    memset(f, 0, sizeof *f);
    return f;
}

size_t em_tile_count(const em_tile *t, int kept_only) {
    size_t n = 0;
    for (size_t i = 0; i < t->nlayers; i++)
        for (size_t k = 0; k < t->layers[i].nfeatures; k++)
            n += !kept_only || !t->layers[i].features[k].dropped;
    return n;
}

/* ---- scratch buffers ------------------------------------------------------- */

/* A capacity that holds `need`: `have` (or `first` when 0) doubled as often as it takes. */
static size_t doubled_cap(size_t have, size_t first, size_t need) {
    size_t cap = have ? have : first;
    while (cap < need)
        cap *= 2;
    return cap;
}

/* Grow each of the `n` parallel arrays to `cap` doubles. After a failure the arrays
 * already grown stay valid, and the caller keeps its old capacity. */
static int grow_doubles(double **arrays[], int n, size_t cap) {
    for (int i = 0; i < n; i++) {
        double *a = realloc(*arrays[i], cap * sizeof(double));
        if (!a)
            return -1;
        *arrays[i] = a;
    }
    return 0;
}

static int path_reserve(em_tile_path *p, size_t n) {
    if (n <= p->cap)
        return 0;
    size_t cap = doubled_cap(p->cap, 256, n);
    if (grow_doubles((double **[]){&p->x, &p->y, &p->w}, 3, cap) < 0)
        return -1;
    p->cap = cap;
    return 0;
}

static int ixy_reserve(em_tile *t, size_t npoints) {
    if (npoints * 2 <= t->icap)
        return 0;
    size_t cap = doubled_cap(t->icap, 1024, npoints * 2);
    int32_t *p = realloc(t->ixy, cap * sizeof *p);
    if (!p)
        return -1;
    t->ixy = p;
    t->icap = cap;
    return 0;
}

/* ---- reading SpatiaLite geometry BLOBs --------------------------------------- */

typedef struct em_tile_part {
    int kind;  /* EM_TILE_POINT, _LINE, or _POLYGON for a ring */
    int outer; /* a polygon's first ring */
    size_t off, n;
} tile_part;

typedef struct {
    em_tile *t;
    size_t nparts, npoints;
} geom_reader;

static int add_part(geom_reader *g, int kind, int outer, size_t n) {
    em_tile *t = g->t;
    if (g->nparts == t->partcap) {
        size_t cap = t->partcap ? t->partcap * 2 : 64;
        tile_part *p = realloc(t->parts, cap * sizeof *p);
        if (!p)
            return -1;
        t->parts = p;
        t->partcap = cap;
    }
    if (g->npoints + n > t->gcap) {
        size_t cap = doubled_cap(t->gcap, 1024, g->npoints + n);
        if (grow_doubles((double **[]){&t->gx, &t->gy}, 2, cap) < 0)
            return -1;
        t->gcap = cap;
    }
    t->parts[g->nparts++] = (tile_part){kind, outer, g->npoints, n};
    g->npoints += n;
    return 0;
}

typedef struct {
    const unsigned char *p, *end;
    int little;
} blob_cursor;

static uint64_t get_u64(const unsigned char *p, int little) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[little ? i : 7 - i] << (8 * i);
    return v;
}

static int get_i32(blob_cursor *c, int32_t *out) {
    if (c->end - c->p < 4)
        return -1;
    const unsigned char *p = c->p;
    uint32_t v =
        c->little
            ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
            : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
    c->p += 4;
    *out = (int32_t)v;
    return 0;
}

static double get_f64(const unsigned char *p, int little) {
    uint64_t u = get_u64(p, little);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* `n` positions of `stride` doubles each into a new part. */
static int read_positions(geom_reader *g, blob_cursor *c, int kind, int outer, int32_t n,
                          int stride) {
    if (n < 0 || (size_t)(c->end - c->p) / (8 * (size_t)stride) < (size_t)n)
        return -1;
    size_t at = g->npoints;
    if (add_part(g, kind, outer, (size_t)n) < 0)
        return -2;
    double *x = g->t->gx + at, *y = g->t->gy + at;
    for (int32_t i = 0; i < n; i++) {
        x[i] = get_f64(c->p, c->little);
        y[i] = get_f64(c->p + 8, c->little);
        c->p += 8 * (size_t)stride;
    }
    return 0;
}

/* -1: not a geometry, -2: out of memory, -3: a class we leave to SpatiaLite. */
static int read_body(geom_reader *g, blob_cursor *c, int32_t cls, int depth) {
    if (cls < 0 || cls >= 1000000) /* compressed classes */
        return -3;
    int dims = cls / 1000, base = cls % 1000;
    if (dims > 3)
        return -1;
    int stride = 2 + (dims == 1 || dims == 2) + 2 * (dims == 3);
    int32_t n;
    switch (base) {
    case 1:
        return read_positions(g, c, EM_TILE_POINT, 0, 1, stride);
    case 2:
        if (get_i32(c, &n) < 0)
            return -1;
        return read_positions(g, c, EM_TILE_LINE, 0, n, stride);
    case 3:
        if (get_i32(c, &n) < 0 || n < 0)
            return -1;
        for (int32_t i = 0; i < n; i++) {
            int32_t np;
            int rc;
            if (get_i32(c, &np) < 0)
                return -1;
            if ((rc = read_positions(g, c, EM_TILE_POLYGON, i == 0, np, stride)) < 0)
                return rc;
        }
        return 0;
    case 4:
    case 5:
    case 6:
    case 7:
        if (depth > 0 || get_i32(c, &n) < 0 || n < 0)
            return -1;
        for (int32_t i = 0; i < n; i++) {
            int32_t sub;
            int rc;
            if (c->p >= c->end || *c->p != 0x69)
                return -1;
            c->p++;
            if (get_i32(c, &sub) < 0)
                return -1;
            if ((rc = read_body(g, c, sub, depth + 1)) < 0)
                return rc;
        }
        return 0;
    default:
        return -1;
    }
}

static int gaia_positions(geom_reader *g, int kind, int outer, const double *coords, int n,
                          int model) {
    int stride = model == GAIA_XY_Z || model == GAIA_XY_M ? 3 : model == GAIA_XY_Z_M ? 4 : 2;
    size_t at = g->npoints;
    if (add_part(g, kind, outer, (size_t)n) < 0)
        return -2;
    for (int i = 0; i < n; i++) {
        g->t->gx[at + i] = coords[i * stride];
        g->t->gy[at + i] = coords[i * stride + 1];
    }
    return 0;
}

/* Compressed geometries and anything else unusual: let SpatiaLite decode it. */
static int read_with_gaia(geom_reader *g, const void *blob, int size) {
    gaiaGeomCollPtr gc = gaiaFromSpatiaLiteBlobWkb(blob, (unsigned int)size);
    if (!gc)
        return -1;
    int rc = 0;
    for (gaiaPointPtr p = gc->FirstPoint; p && rc == 0; p = p->Next) {
        double xy[2] = {p->X, p->Y};
        rc = gaia_positions(g, EM_TILE_POINT, 0, xy, 1, GAIA_XY);
    }
    for (gaiaLinestringPtr l = gc->FirstLinestring; l && rc == 0; l = l->Next)
        rc = gaia_positions(g, EM_TILE_LINE, 0, l->Coords, l->Points, l->DimensionModel);
    for (gaiaPolygonPtr pg = gc->FirstPolygon; pg && rc == 0; pg = pg->Next) {
        gaiaRingPtr r = pg->Exterior;
        rc = gaia_positions(g, EM_TILE_POLYGON, 1, r->Coords, r->Points, r->DimensionModel);
        for (int i = 0; i < pg->NumInteriors && rc == 0; i++) {
            r = pg->Interiors + i;
            rc = gaia_positions(g, EM_TILE_POLYGON, 0, r->Coords, r->Points, r->DimensionModel);
        }
    }
    gaiaFreeGeomColl(gc);
    return rc;
}

static int read_geometry(geom_reader *g, const void *blob, int size) {
    const unsigned char *b = blob;
    if (!b || size < 45 || b[0] != 0x00 || (b[1] != 0 && b[1] != 1) || b[38] != 0x7C ||
        b[size - 1] != 0xFE)
        return read_with_gaia(g, blob, size);
    blob_cursor c = {b + 39, b + size - 1, b[1] == 1};
    int32_t cls;
    if (get_i32(&c, &cls) < 0)
        return -1;
    int rc = read_body(g, &c, cls, 0);
    if (rc == -3) {
        g->nparts = g->npoints = 0;
        return read_with_gaia(g, blob, size);
    }
    return rc;
}

/* ---- simplification: geojson-vt's Douglas-Peucker weights ----------------------- */

static double sq_seg_dist(double px, double py, double x, double y, double bx, double by) {
    double dx = bx - x, dy = by - y;
    if (dx != 0 || dy != 0) {
        double t = ((px - x) * dx + (py - y) * dy) / (dx * dx + dy * dy);
        if (t > 1) {
            x = bx;
            y = by;
        } else if (t > 0) {
            x += dx * t;
            y += dy * t;
        }
    }
    dx = px - x;
    dy = py - y;
    return dx * dx + dy * dy;
}

/* Each vertex gets the distance at which Douglas-Peucker keeps it (0: never);
 * a zoom keeps the vertices whose weight exceeds its tolerance. The split point
 * and its tie-break (nearest the middle, counted in geojson-vt's flat x,y,z array
 * positions) are geojson-vt's. Only ranges that hold a vertex inside the clip box
 * (`need`, a prefix count) are refined: other weights are never read. With `need`
 * NULL every range is, as for a geometry prepared for all tiles. */
static int dp_weights(em_tile_path *p, const uint32_t *need, double sq_tol) {
    size_t n = p->n;
    if (n < 3)
        return 0;
    size_t cap = 64, top = 0;
    size_t *stack = malloc(cap * 2 * sizeof *stack);
    if (!stack)
        return -1;
    stack[top++] = 0;
    stack[top++] = n - 1;
    while (top > 0) {
        size_t last = stack[--top], first = stack[--top];
        if (need && need[last] - need[first + 1] == 0) /* no needed vertex in first+1 .. last-1 */
            continue;
        double max = sq_tol;
        long long mid3 = 3 * (long long)first + ((3 * (long long)(last - first)) >> 1);
        long long min_pos = 3 * (long long)(last - first);
        size_t index = 0;
        int found = 0;
        double ax = p->x[first], ay = p->y[first], bx = p->x[last], by = p->y[last];
        for (size_t i = first + 1; i < last; i++) {
            double d = sq_seg_dist(p->x[i], p->y[i], ax, ay, bx, by);
            if (d > max) {
                index = i;
                max = d;
                found = 1;
            } else if (d == max) {
                long long pos = llabs(3 * (long long)i - mid3);
                if (pos < min_pos) {
                    index = i;
                    min_pos = pos;
                    found = 1;
                }
            }
        }
        if (!found || max <= sq_tol)
            continue;
        p->w[index] = sqrt(max);
        if (top + 4 > cap * 2) {
            size_t *s = realloc(stack, cap * 4 * sizeof *s);
            if (!s) {
                free(stack);
                return -1;
            }
            stack = s;
            cap *= 2;
        }
        if (index - first > 1) {
            stack[top++] = first;
            stack[top++] = index;
        }
        if (last - index > 1) {
            stack[top++] = index;
            stack[top++] = last;
        }
    }
    free(stack);
    return 0;
}

/* ---- clipping: Sutherland-Hodgman against one axis at a time -------------------- */

typedef struct {
    em_tile_path *out;
    size_t slice_start;
    /* Where each line slice starts in `out` (a line can leave the tile and
     * come back); a polygon ring is one slice. */
    size_t *slices;
    size_t nslices, cap;
    int failed;
} clipper;

static void put(clipper *c, double x, double y, double w) {
    em_tile_path *o = c->out;
    if (path_reserve(o, o->n + 1) < 0) {
        c->failed = 1;
        return;
    }
    o->x[o->n] = x;
    o->y[o->n] = y;
    o->w[o->n] = w;
    o->n++;
}

static void intersect(clipper *c, double ax, double ay, double bx, double by, double k, int axis) {
    if (axis == 0) {
        double t = (k - ax) / (bx - ax);
        put(c, k, ay + (by - ay) * t, INFINITY);
    } else {
        double t = (k - ay) / (by - ay);
        put(c, ax + (bx - ax) * t, k, INFINITY);
    }
}

static void end_slice(clipper *c) {
    if (c->out->n == c->slice_start)
        return;
    if (c->nslices + 1 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        size_t *s = realloc(c->slices, cap * sizeof *s);
        if (!s) {
            c->failed = 1;
            return;
        }
        c->slices = s;
        c->cap = cap;
    }
    c->slices[c->nslices++] = c->slice_start;
    c->slice_start = c->out->n;
}

/* Clip points [from, to) of `in` to k1 <= axis <= k2, appending to c->out: one
 * ring for a polygon (closed again if the cut opened it), any number of slices for
 * a line. geojson-vt's clipRing, to the letter. */
static void clip_range(clipper *c, const em_tile_path *in, size_t from, size_t to, double k1,
                       double k2, int axis, int polygon) {
    const double *ca = axis == 0 ? in->x : in->y;
    const double *lo = axis == 0 && from == 0 ? in->xlo : NULL, *hi = in->xhi;
    c->slice_start = c->out->n;
    for (size_t i = from; i + 1 < to; i++) {
        if (lo && i % EM_GEOM_CHUNK == 0) {
            size_t j = i / EM_GEOM_CHUNK;
            if (hi[j] < k1 || lo[j] > k2) { /* its segments neither enter nor leave */
                i += EM_GEOM_CHUNK - 1;
                continue;
            }
        }
        double a = ca[i], b = ca[i + 1];
        double ax = in->x[i], ay = in->y[i], bx = in->x[i + 1], by = in->y[i + 1];
        int exited = 0;
        if (a < k1) {
            if (b >= k1)
                intersect(c, ax, ay, bx, by, k1, axis);
        } else if (a > k2) {
            if (b <= k2)
                intersect(c, ax, ay, bx, by, k2, axis);
        } else {
            put(c, ax, ay, in->w[i]);
        }
        if (b < k1 && a >= k1) {
            intersect(c, ax, ay, bx, by, k1, axis);
            exited = 1;
        }
        if (b > k2 && a <= k2) {
            intersect(c, ax, ay, bx, by, k2, axis);
            exited = 1;
        }
        if (!polygon && exited)
            end_slice(c);
    }
    if (to > from) {
        double a = ca[to - 1];
        if (a >= k1 && a <= k2)
            put(c, in->x[to - 1], in->y[to - 1], in->w[to - 1]);
    }
    em_tile_path *o = c->out;
    size_t s = c->slice_start;
    if (polygon && o->n - s >= 2 && (o->x[o->n - 1] != o->x[s] || o->y[o->n - 1] != o->y[s]))
        put(c, o->x[s], o->y[s], o->w[s]);
    end_slice(c);
}

/* ---- from world coordinates to tile units ------------------------------------ */

typedef struct {
    double z2, tx, ty;
    double k1x, k2x, k1y, k2y; /* the buffered tile in world coordinates */
    double tol;                /* world units; 0 at the highest zoom: keep every vertex */
    double sq_tol_base;        /* weights below this are not computed */
} tile_frame;

/* The weights every zoom might read are those above the highest zoom's tolerance. */
static double sq_tol_base(void) {
    double base = EM_TILE_TOLERANCE / (ldexp(1, EM_TILE_MAX_ZOOM) * EM_TILE_EXTENT);
    return base * base;
}

static void frame_of(const em_tile_id *id, tile_frame *f) {
    f->z2 = ldexp(1, id->z);
    f->tx = id->x;
    f->ty = id->y;
    double b = (double)EM_TILE_BUFFER / (f->z2 * EM_TILE_EXTENT);
    f->k1x = f->tx / f->z2 - b;
    f->k2x = (f->tx + 1) / f->z2 + b;
    f->k1y = f->ty / f->z2 - b;
    f->k2y = (f->ty + 1) / f->z2 + b;
    f->tol = id->z == EM_TILE_MAX_ZOOM ? 0 : EM_TILE_TOLERANCE / (f->z2 * EM_TILE_EXTENT);
    f->sq_tol_base = sq_tol_base();
}

static int32_t round_half_up(double v) {
    return (int32_t)floor(v + 0.5);
}

static int32_t to_tile_x(const tile_frame *f, double x) {
    return round_half_up(EM_TILE_EXTENT * (x * f->z2 - f->tx));
}

static int32_t to_tile_y(const tile_frame *f, double y) {
    return round_half_up(EM_TILE_EXTENT * (y * f->z2 - f->ty));
}

/* Twice the signed area of a closed ring in tile units (positive: MVT exterior). */
static long long ring_area2(const int32_t *xy, size_t n) {
    long long s = 0;
    for (size_t i = 0; i + 1 < n; i++)
        s += (long long)xy[2 * i] * xy[2 * i + 3] - (long long)xy[2 * i + 2] * xy[2 * i + 1];
    return s;
}

/* Quantise points [from, to) of `p` onto the end of the feature being built (at
 * t->ixy[*used ...]), keeping the vertices the zoom keeps and dropping repeats.
 * Returns the number of points written. */
static size_t quantise(em_tile *t, const tile_frame *f, const em_tile_path *p, size_t from,
                       size_t to, size_t *used) {
    if (ixy_reserve(t, *used + (to - from)) < 0) {
        t->failed = 1;
        return 0;
    }
    int32_t *o = t->ixy + 2 * *used;
    size_t k = 0;
    for (size_t i = from; i < to; i++) {
        if (f->tol > 0 && !(p->w[i] > f->tol))
            continue;
        int32_t x = to_tile_x(f, p->x[i]), y = to_tile_y(f, p->y[i]);
        if (k > 0 && o[2 * k - 2] == x && o[2 * k - 1] == y)
            continue;
        o[2 * k] = x;
        o[2 * k + 1] = y;
        k++;
    }
    return k;
}

/* ---- one geometry ---------------------------------------------------------- */

typedef struct {
    em_tile *t;
    const tile_frame *f;
    size_t used; /* points in t->ixy */
    uint32_t *lens;
    size_t nlens, lcap;
    uint32_t *need;
    size_t ncap;
    clipper cx, cy;
    int inside; /* the part ready_part made lies in the buffered tile: no cut needed */
    int failed;
} builder;

static int add_len(builder *b, size_t n) {
    if (b->nlens == b->lcap) {
        size_t cap = b->lcap ? b->lcap * 2 : 16;
        uint32_t *l = realloc(b->lens, cap * sizeof *l);
        if (!l)
            return -1;
        b->lens = l;
        b->lcap = cap;
    }
    b->lens[b->nlens++] = (uint32_t)n;
    return 0;
}

/* ---- a part ready to clip ------------------------------------------------------ */

/* Where a feature's parts come from: a prepared geometry (em_tile_prepare, world
 * coordinates with weights over each whole part), or the lon/lat just read into
 * the tile's scratch space, projected part by part as the tile needs them. */
typedef struct {
    const em_geom *g;
    const tile_part *parts; /* when g is NULL */
    size_t nparts;
} part_source;

static int part_kind(const part_source *s, size_t i) {
    return s->g ? s->g->parts[i].kind : s->parts[i].kind;
}

static int part_outer(const part_source *s, size_t i) {
    return s->g ? s->g->parts[i].outer : s->parts[i].outer;
}

/* Project `n` lon/lat positions into `p` (reserved), with their box. */
static void project_into(em_tile_path *p, const double *lon, const double *lat, size_t n,
                         double box[4]) {
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = em_tile_world_x(lon[i]);
        double y = em_tile_world_y(lat[i]);
        p->x[i] = x;
        p->y[i] = y;
        p->w[i] = 0;
        minx = x < minx ? x : minx;
        maxx = x > maxx ? x : maxx;
        miny = y < miny ? y : miny;
        maxy = y > maxy ? y : maxy;
    }
    p->n = n;
    box[0] = minx;
    box[1] = miny;
    box[2] = maxx;
    box[3] = maxy;
}

static int box_misses(const tile_frame *f, const double box[4]) {
    return box[2] < f->k1x || box[0] > f->k2x || box[3] < f->k1y || box[1] > f->k2y;
}

/* Every point within k1 <= v <= k2 on both axes: clip_range would put each one, in
 * order, and cut nothing. */
static int box_inside(const tile_frame *f, const double box[4]) {
    return box[0] >= f->k1x && box[2] <= f->k2x && box[1] >= f->k1y && box[3] <= f->k2y;
}

static void reverse_path(em_tile_path *p) {
    for (size_t i = 0, j = p->n - 1; i < j; i++, j--) {
        double x = p->x[i], y = p->y[i];
        p->x[i] = p->x[j];
        p->y[i] = p->y[j];
        p->x[j] = x;
        p->y[j] = y;
    }
}

/* A ring turned the way MVT wants it (outer rings clockwise on screen), or a line;
 * returns how big it is: sqrt of the ring's area, or the line's length. */
static double orient_and_measure(em_tile_path *p, int kind, int outer) {
    if (kind == EM_TILE_POLYGON) {
        double area = 0;
        for (size_t i = 1; i < p->n; i++)
            area += (p->x[i - 1] * p->y[i] - p->x[i] * p->y[i - 1]) / 2;
        if ((outer && area < 0) || (!outer && area >= 0))
            reverse_path(p);
        return sqrt(fabs(area));
    }
    double len = 0;
    for (size_t i = 1; i < p->n; i++)
        len += sqrt((p->x[i] - p->x[i - 1]) * (p->x[i] - p->x[i - 1]) +
                    (p->y[i] - p->y[i - 1]) * (p->y[i] - p->y[i - 1]));
    return len;
}

/* The prefix count of vertices inside the buffered tile, for dp_weights. */
static int mark_needed(builder *b, const em_tile_path *p) {
    if (p->n + 1 > b->ncap) {
        size_t cap = b->ncap ? b->ncap : 1024;
        while (cap < p->n + 1)
            cap *= 2;
        uint32_t *nd = realloc(b->need, cap * sizeof *nd);
        if (!nd)
            return -1;
        b->need = nd;
        b->ncap = cap;
    }
    const tile_frame *f = b->f;
    b->need[0] = 0;
    for (size_t i = 0; i < p->n; i++)
        b->need[i + 1] = b->need[i] + (p->x[i] >= f->k1x && p->x[i] <= f->k2x &&
                                       p->y[i] >= f->k1y && p->y[i] <= f->k2y);
    return 0;
}

/* Part `i` in world coordinates with its weights, in `*out`: a view of the
 * prepared geometry, or projected now into t->work[0] with the weights of the
 * vertices this tile needs. 0, 1 when nothing of it can show in the tile (off the
 * clip box, too few points, smaller than the zoom's tolerance), -1 out of memory. */
static int ready_part(builder *b, const part_source *s, size_t i, em_tile_path *out) {
    const tile_frame *f = b->f;
    int kind = part_kind(s, i);
    size_t min_points = kind == EM_TILE_POLYGON ? 4 : kind == EM_TILE_LINE ? 2 : 1;
    if (s->g) {
        const em_geom_part *gp = &s->g->parts[i];
        if (box_misses(f, gp->box) || gp->n < min_points ||
            (kind != EM_TILE_POINT && f->tol > 0 && gp->measure < f->tol))
            return 1;
        *out = (em_tile_path){
            s->g->x + gp->off,     s->g->y + gp->off,    s->g->w + gp->off, gp->n, gp->n,
            s->g->xlo + gp->chunk, s->g->xhi + gp->chunk};
        b->inside = box_inside(f, gp->box);
        return 0;
    }
    const tile_part *pt = &s->parts[i];
    em_tile_path *p = &b->t->work[0];
    if (path_reserve(p, pt->n) < 0)
        return -1;
    double box[4];
    project_into(p, b->t->gx + pt->off, b->t->gy + pt->off, pt->n, box);
    *out = *p;
    if (box_misses(f, box) || p->n < min_points)
        return 1;
    b->inside = box_inside(f, box);
    if (kind == EM_TILE_POINT)
        return 0;
    double measure = orient_and_measure(p, kind, pt->outer);
    if (f->tol > 0 && measure < f->tol)
        return 1;
    if (mark_needed(b, p) < 0)
        return -1;
    p->w[0] = p->w[p->n - 1] = INFINITY;
    if (dp_weights(p, b->need, f->sq_tol_base) < 0)
        return -1;
    *out = *p;
    return 0;
}

/* ---- one geometry ---------------------------------------------------------- */

/* Clipper c writes afresh into `out`. */
static void clip_start(clipper *c, em_tile_path *out) {
    c->out = out;
    out->n = 0;
    c->nslices = 0;
}

/* A polygon ring ready to clip: returns the number of points written (0: the
 * ring is gone). */
static size_t build_ring(builder *b, const em_tile_path *p, int outer) {
    em_tile *t = b->t;
    const tile_frame *f = b->f;
    /* a closed ring wholly in the tile is its own cut: clipping would copy it */
    const em_tile_path *q = p;
    if (!b->inside || p->x[0] != p->x[p->n - 1] || p->y[0] != p->y[p->n - 1]) {
        clip_start(&b->cx, &t->work[1]); /* x, then y */
        clip_range(&b->cx, p, 0, p->n, f->k1x, f->k2x, 0, 1);
        clip_start(&b->cy, &t->work[2]);
        clip_range(&b->cy, &t->work[1], 0, t->work[1].n, f->k1y, f->k2y, 1, 1);
        if (b->cx.failed || b->cy.failed) {
            b->failed = 1;
            return 0;
        }
        q = &t->work[2];
    }
    if (q->n == 0)
        return 0;
    size_t k = quantise(t, f, q, 0, q->n, &b->used);
    if (k == 0)
        return 0;
    int32_t *o = t->ixy + 2 * b->used;
    if (o[0] != o[2 * k - 2] || o[1] != o[2 * k - 1]) { /* close it */
        if (ixy_reserve(t, b->used + k + 1) < 0) {
            b->failed = 1;
            return 0;
        }
        o = t->ixy + 2 * b->used;
        o[2 * k] = o[0];
        o[2 * k + 1] = o[1];
        k++;
    }
    if (k < 4)
        return 0;
    long long a2 = ring_area2(o, k);
    if ((outer && a2 <= 0) || (!outer && a2 >= 0))
        return 0;
    return k;
}

/* A line ready to clip: its pieces in the tile, each a part of the feature. */
static void build_line(builder *b, const em_tile_path *p) {
    em_tile *t = b->t;
    const tile_frame *f = b->f;
    clip_start(&b->cx, &t->work[1]);
    clip_range(&b->cx, p, 0, p->n, f->k1x, f->k2x, 0, 0);
    clip_start(&b->cy, &t->work[2]);
    em_tile_path *mid = &t->work[1];
    for (size_t s = 0; s < b->cx.nslices; s++) {
        size_t from = b->cx.slices[s];
        size_t to = s + 1 < b->cx.nslices ? b->cx.slices[s + 1] : mid->n;
        clip_range(&b->cy, mid, from, to, f->k1y, f->k2y, 1, 0);
    }
    if (b->cx.failed || b->cy.failed) {
        b->failed = 1;
        return;
    }
    em_tile_path *q = &t->work[2];
    for (size_t s = 0; s < b->cy.nslices; s++) {
        size_t from = b->cy.slices[s];
        size_t to = s + 1 < b->cy.nslices ? b->cy.slices[s + 1] : q->n;
        size_t k = quantise(t, f, q, from, to, &b->used);
        if (k >= 2) {
            if (add_len(b, k) < 0) {
                b->failed = 1;
                return;
            }
            b->used += k;
        }
    }
}

/* The points of a part that lie in the tile, appended to the feature's one part. */
static size_t build_points(builder *b, const em_tile_path *p, size_t k) {
    em_tile *t = b->t;
    const tile_frame *f = b->f;
    for (size_t j = 0; j < p->n; j++) {
        double x = p->x[j], y = p->y[j];
        if (!(x >= f->k1x && x < f->k2x && y >= f->k1y && y < f->k2y))
            continue;
        if (ixy_reserve(t, b->used + k + 1) < 0) {
            b->failed = 1;
            return k;
        }
        t->ixy[2 * (b->used + k)] = to_tile_x(f, x);
        t->ixy[2 * (b->used + k) + 1] = to_tile_y(f, y);
        k++;
    }
    return k;
}

static double bbox_area(const int32_t *xy, size_t n) {
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        x = x < 0 ? 0 : x > EM_TILE_EXTENT ? EM_TILE_EXTENT : x;
        y = y < 0 ? 0 : y > EM_TILE_EXTENT ? EM_TILE_EXTENT : y;
        minx = x < minx ? x : minx;
        maxx = x > maxx ? x : maxx;
        miny = y < miny ? y : miny;
        maxy = y > maxy ? y : maxy;
    }
    return n ? (maxx - minx) * (maxy - miny) : 0;
}

/* Move what the builder collected into a new feature of `type`. */
static int emit(builder *b, em_tile_layer *layer, int type) {
    em_tile *t = b->t;
    if (b->nlens == 0)
        return 0;
    em_tile_feature *ft = new_feature(t, layer);
    int32_t *xy = em_tile_alloc(t, b->used * 2 * sizeof *xy);
    uint32_t *lens = em_tile_alloc(t, b->nlens * sizeof *lens);
    if (!ft || !xy || !lens)
        return -1;
    memcpy(xy, t->ixy, b->used * 2 * sizeof *xy);
    memcpy(lens, b->lens, b->nlens * sizeof *lens);
    ft->type = type;
    ft->xy = xy;
    ft->part_len = lens;
    ft->nparts = b->nlens;
    ft->npoints = b->used;
    ft->size = type == EM_TILE_POINT ? (double)b->used : bbox_area(xy, b->used);
    b->used = 0;
    b->nlens = 0;
    return 0;
}

/* One feature of each kind the source holds: points, lines, polygons. */
static int add_parts(em_tile *t, em_tile_layer *layer, const part_source *s, size_t *first,
                     em_error *err) {
    *first = layer->nfeatures;
    tile_frame f;
    frame_of(&t->id, &f);
    builder b;
    memset(&b, 0, sizeof b);
    b.t = t;
    b.f = &f;
    int kinds[3] = {0, 0, 0};
    for (size_t i = 0; i < s->nparts; i++)
        kinds[part_kind(s, i) - 1] = 1;
    em_tile_path p;
    for (int kind = EM_TILE_POINT; kind <= EM_TILE_POLYGON && !b.failed; kind++) {
        if (!kinds[kind - 1])
            continue;
        int polygon_kept = 0;
        size_t npoints = 0;
        for (size_t i = 0; i < s->nparts && !b.failed; i++) {
            if (part_kind(s, i) != kind)
                continue;
            int outer = part_outer(s, i);
            if (kind == EM_TILE_POLYGON && !outer && !polygon_kept)
                continue; /* a hole of a polygon that is not in the tile */
            int rc = ready_part(&b, s, i, &p);
            if (rc < 0)
                b.failed = 1;
            size_t k = 0;
            if (rc == 0 && kind == EM_TILE_POINT)
                npoints = build_points(&b, &p, npoints);
            else if (rc == 0 && kind == EM_TILE_LINE)
                build_line(&b, &p);
            else if (rc == 0)
                k = build_ring(&b, &p, outer);
            if (kind != EM_TILE_POLYGON)
                continue;
            if (outer)
                polygon_kept = k > 0;
            if (k > 0) {
                if (add_len(&b, k) < 0)
                    b.failed = 1;
                b.used += k;
            }
        }
        if (kind == EM_TILE_POINT && npoints > 0 && !b.failed) {
            if (add_len(&b, npoints) < 0)
                b.failed = 1;
            b.used += npoints;
        }
        if (!b.failed && emit(&b, layer, kind) < 0)
            b.failed = 1;
    }
    free(b.lens);
    free(b.need);
    free(b.cx.slices);
    free(b.cy.slices);
    if (b.failed || t->failed) {
        t->failed = 1;
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    }
    return 0;
}

static int read_blob(em_tile *t, const void *blob, int size, geom_reader *g, em_error *err) {
    *g = (geom_reader){t, 0, 0};
    int rc = read_geometry(g, blob, size);
    if (rc == -2 || (rc < 0 && t->failed))
        return em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
    if (rc < 0)
        return em_fail(err, EM_ERR_RUNTIME, "a stored geometry is not a SpatiaLite geometry");
    return 0;
}

int em_tile_add_geometry(em_tile *t, em_tile_layer *layer, const void *blob, int size,
                         size_t *first, em_error *err) {
    *first = layer->nfeatures;
    geom_reader g;
    if (read_blob(t, blob, size, &g, err) < 0)
        return -1;
    part_source s = {NULL, t->parts, g.nparts};
    return add_parts(t, layer, &s, first, err);
}

int em_tile_add_prepared(em_tile *t, em_tile_layer *layer, const em_geom *geom, size_t *first,
                         em_error *err) {
    part_source s = {geom, NULL, geom->nparts};
    return add_parts(t, layer, &s, first, err);
}

/* ---- prepared geometries ------------------------------------------------------ */

/* Runs of EM_GEOM_CHUNK segments in a part of n points (points count as lines). */
static size_t chunks_of(size_t n) {
    return n < 2 ? 0 : (n - 2) / EM_GEOM_CHUNK + 1;
}

em_geom *em_tile_prepare(em_tile *t, const void *blob, int size, em_error *err) {
    geom_reader rd;
    if (read_blob(t, blob, size, &rd, err) < 0)
        return NULL;
    size_t nchunks = 0;
    for (size_t i = 0; i < rd.nparts; i++)
        nchunks += t->parts[i].kind == EM_TILE_POINT ? 0 : chunks_of(t->parts[i].n);
    size_t bytes = sizeof(em_geom) + rd.nparts * sizeof(em_geom_part) +
                   (3 * rd.npoints + 2 * nchunks) * sizeof(double);
    em_geom *g = calloc(1, bytes);
    if (!g) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
        return NULL;
    }
    g->bytes = bytes;
    g->parts = (em_geom_part *)(g + 1);
    g->nparts = rd.nparts;
    g->x = (double *)(g->parts + rd.nparts);
    g->y = g->x + rd.npoints;
    g->w = g->y + rd.npoints;
    g->npoints = rd.npoints;
    g->xlo = g->w + rd.npoints;
    g->xhi = g->xlo + nchunks;
    g->nchunks = nchunks;
    size_t chunk = 0;
    for (size_t i = 0; i < rd.nparts; i++) {
        const tile_part *pt = &t->parts[i];
        em_geom_part *gp = &g->parts[i];
        gp->kind = pt->kind;
        gp->outer = pt->outer;
        gp->off = pt->off;
        gp->n = pt->n;
        gp->chunk = chunk;
        em_tile_path p = {g->x + pt->off, g->y + pt->off, g->w + pt->off, 0, pt->n, NULL, NULL};
        project_into(&p, t->gx + pt->off, t->gy + pt->off, pt->n, gp->box);
        if (pt->kind == EM_TILE_POINT || pt->n < 2)
            continue;
        gp->measure = orient_and_measure(&p, pt->kind, pt->outer);
        for (size_t j = 0; j < chunks_of(pt->n); j++, chunk++) {
            size_t last = (j + 1) * EM_GEOM_CHUNK < pt->n ? (j + 1) * EM_GEOM_CHUNK : pt->n - 1;
            g->xlo[chunk] = g->xhi[chunk] = p.x[j * EM_GEOM_CHUNK];
            for (size_t i = j * EM_GEOM_CHUNK + 1; i <= last; i++) {
                g->xlo[chunk] = fmin(g->xlo[chunk], p.x[i]);
                g->xhi[chunk] = fmax(g->xhi[chunk], p.x[i]);
            }
        }
        p.w[0] = p.w[p.n - 1] = INFINITY;
        if (dp_weights(&p, NULL, sq_tol_base()) < 0) {
            free(g);
            em_fail(err, EM_ERR_RUNTIME, "out of memory building a tile");
            return NULL;
        }
    }
    return g;
}

void em_geom_free(em_geom *g) {
    if (g)
        em_layer_set_free(g->set);
    free(g);
}

em_tile_feature *em_tile_add_point(em_tile *t, em_tile_layer *layer, double x, double y) {
    tile_frame f;
    frame_of(&t->id, &f);
    if (!(x >= f.k1x && x < f.k2x && y >= f.k1y && y < f.k2y))
        return NULL;
    em_tile_feature *ft = new_feature(t, layer);
    int32_t *xy = em_tile_alloc(t, 2 * sizeof *xy);
    uint32_t *len = em_tile_alloc(t, sizeof *len);
    if (!ft || !xy || !len) {
        t->failed = 1;
        return NULL;
    }
    xy[0] = to_tile_x(&f, x);
    xy[1] = to_tile_y(&f, y);
    len[0] = 1;
    ft->type = EM_TILE_POINT;
    ft->xy = xy;
    ft->part_len = len;
    ft->nparts = 1;
    ft->npoints = 1;
    ft->size = 1;
    return ft;
}

/* ---- the byte cap's order ---------------------------------------------------- */

typedef struct {
    em_tile_feature *f;
    size_t layer, index;
} ranked;

static int by_drop_order(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->f->size != b->f->size)
        return a->f->size < b->f->size ? -1 : 1;
    if (a->layer != b->layer)
        return a->layer > b->layer ? -1 : 1;
    return a->index > b->index ? -1 : a->index < b->index;
}

em_tile_feature **em_tile_drop_order(em_tile *t, size_t *n) {
    size_t total = em_tile_count(t, 1);
    *n = 0;
    ranked *r = malloc((total ? total : 1) * sizeof *r);
    em_tile_feature **out = malloc((total ? total : 1) * sizeof *out);
    if (!r || !out) {
        free(r);
        free(out);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < t->nlayers; i++)
        for (size_t j = 0; j < t->layers[i].nfeatures; j++)
            if (!t->layers[i].features[j].dropped)
                r[k++] = (ranked){&t->layers[i].features[j], i, j};
    if (k > 0)
        qsort(r, k, sizeof *r, by_drop_order);
    for (size_t i = 0; i < k; i++)
        out[i] = r[i].f;
    free(r);
    *n = k;
    return out;
}

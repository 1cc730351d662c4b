/* corridors.c -- distances from estates to the four corridor types.
 *
 * Every estate needs its nearest corridor of every type, out to 10 km, so a
 * candidate search through the layer's R*Tree does not narrow much: on the demo a
 * 500 m window already gives 25,000 estate/corridor pairs (1.2 s of ST_Distance),
 * and 10 km gives 1.4 million. Instead each run projects the corridors once into
 * EPSG:4549 (metric.h), cuts them into segments, buckets the segments of each type
 * in a uniform grid, and searches outward from each estate ring by ring, stopping
 * as soon as no unvisited cell can hold anything nearer. Distances are exact
 * polygon-to-segment distances in metres; the whole demo takes milliseconds. */
#include "corridors.h"
#include "fields.h"
#include "metric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MAX_TYPES 32
#define CELL_MIN_M 200.0
#define CELLS_MAX (4 << 20)

/* ---------- result columns, built per run ---------- */

/* Columns depend on the requested types, and em_table keeps a pointer to them, so
 * they live in one block attached to the table's summary object (json-c userdata),
 * which outlives the table. */
typedef struct {
    em_table_column columns[4 + 3 * MAX_TYPES + 1];
    char names[3 * MAX_TYPES][2][96];
} column_block;

static void free_column_block(json_object *jso, void *userdata) {
    (void)jso;
    free(userdata);
}

/* ---------- corridor types and parameters ---------- */

typedef struct {
    char type[48];
    char label_zh[64];
    double buffer;
} corridor_type;

typedef struct {
    corridor_type all[MAX_TYPES];
    int nall;
    int want[MAX_TYPES]; /* indexes into all, in the requested order */
    int nwant;
    const char *town;
    long built_before;
    const char *tier;
    int tier_none;
    int list_all;
} options;

static int load_types(em_db *db, options *o, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        db, "SELECT type, label_zh, buffer_m FROM corridor_types ORDER BY rowid", err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && o->nall < MAX_TYPES) {
        corridor_type *t = &o->all[o->nall++];
        snprintf(t->type, sizeof t->type, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(t->label_zh, sizeof t->label_zh, "%s", (const char *)sqlite3_column_text(st, 1));
        t->buffer = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return em_fail(err, EM_ERR_RUNTIME, "corridor_types has more than %d types", MAX_TYPES);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "reading corridor types: %s", sqlite3_errmsg(db->sql));
    return 0;
}

static int find_type(const options *o, const char *name) {
    for (int i = 0; i < o->nall; i++)
        if (strcmp(o->all[i].type, name) == 0)
            return i;
    return -1;
}

static void type_names(const options *o, char *out, size_t outlen) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < o->nall && used < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", o->all[i].type);
}

/* Next comma-separated item, trimmed; returns the rest of the list. */
static const char *next_item(const char *s, char *item, size_t itemlen) {
    while (*s == ' ')
        s++;
    const char *end = strchr(s, ',');
    if (!end)
        end = s + strlen(s);
    size_t len = (size_t)(end - s);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len >= itemlen)
        len = itemlen - 1;
    memcpy(item, s, len);
    item[len] = '\0';
    return *end ? end + 1 : end;
}

static int parse_types(const em_params *p, options *o, em_error *err) {
    const char *list = em_params_get(p, "types");
    char names[1024];
    if (!list) {
        for (int i = 0; i < o->nall; i++)
            o->want[o->nwant++] = i;
        return 0;
    }
    const char *s = list;
    do {
        char item[128];
        s = next_item(s, item, sizeof item);
        int t = find_type(o, item);
        if (t < 0) {
            type_names(o, names, sizeof names);
            return em_fail(err, EM_ERR_USAGE, "types: '%s' is not a corridor type (%s)", item,
                           names);
        }
        int dup = 0;
        for (int i = 0; i < o->nwant; i++)
            dup |= o->want[i] == t;
        if (!dup)
            o->want[o->nwant++] = t;
    } while (*s);
    return 0;
}

static int parse_buffers(const em_params *p, options *o, em_error *err) {
    const char *list = em_params_get(p, "buffer");
    if (!list)
        return 0;
    char names[1024];
    const char *s = list;
    do {
        char item[128];
        s = next_item(s, item, sizeof item);
        char *eq = strchr(item, '=');
        if (!eq)
            return em_fail(err, EM_ERR_USAGE,
                           "buffer: '%s' is not TYPE=METRES (e.g. railway=50,river=30)", item);
        *eq = '\0';
        char *type = item, *value = eq + 1;
        size_t tl = strlen(type);
        while (tl > 0 && type[tl - 1] == ' ')
            type[--tl] = '\0';
        while (*value == ' ')
            value++;
        int t = find_type(o, type);
        if (t < 0) {
            type_names(o, names, sizeof names);
            return em_fail(err, EM_ERR_USAGE, "buffer: '%s' is not a corridor type (%s)", type,
                           names);
        }
        double m;
        /* em_parse_real reads "50%" as 0.5: a percentage is no length */
        if (strchr(value, '%') || em_parse_real(value, &m) < 0 || m < 0 || m > EM_CORRIDOR_SEARCH_M)
            return em_fail(err, EM_ERR_USAGE,
                           "buffer: %s='%s' is not a number of metres from 0 to %g", type, value,
                           EM_CORRIDOR_SEARCH_M);
        o->all[t].buffer = m;
    } while (*s);
    return 0;
}

static int parse_tier(const em_params *p, options *o, em_error *err) {
    static const char *const tiers[][2] = {
        {"示范版", "demonstration"}, {"提升版", "upgrade"}, {"基础版", "basic"}};
    const char *v = em_params_get(p, "tier");
    if (!v)
        return 0;
    if (strcmp(v, "none") == 0) {
        o->tier_none = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++)
        if (strcmp(v, tiers[i][0]) == 0 || strcmp(v, tiers[i][1]) == 0) {
            o->tier = tiers[i][0];
            return 0;
        }
    return em_fail(
        err, EM_ERR_USAGE,
        "tier: '%s' is not 示范版, 提升版, 基础版 (demonstration, upgrade, basic) or none", v);
}

static int parse_options(em_db *db, const em_params *p, options *o, em_error *err) {
    static const char *const allowed[] = {"types", "buffer", "town", "built-before",
                                          "tier",  "all",    NULL};
    memset(o, 0, sizeof *o);
    if (em_params_check(p, allowed, err) < 0 || load_types(db, o, err) < 0 ||
        parse_types(p, o, err) < 0 || parse_buffers(p, o, err) < 0 || parse_tier(p, o, err) < 0)
        return -1;
    if (em_params_int(p, "built-before", 1900, 2100, &o->built_before, err) < 0 ||
        em_params_bool(p, "all", &o->list_all, err) < 0)
        return -1;
    if (em_params_town(db, p, &o->town, err) < 0)
        return -1;
    return 0;
}

/* ---------- corridors: segments in a uniform grid, per type ---------- */

typedef struct {
    double ax, ay, bx, by;
    int corridor; /* index into the run's corridor list */
} segment;

typedef struct {
    segment *segs;
    int nsegs, cap;
    int *polygons; /* corridors with area: an estate inside one is at distance 0 */
    int npolygons, cap_polygons;
    double x0, y0, cell;
    int nx, ny;
    int *cell_start, *items;
    unsigned *stamp;
    unsigned query;
} segment_grid;

typedef struct {
    long long id;
    char *name;
    em_shape shape; /* kept for polygons only */
} corridor;

static int add_segment(segment_grid *g, const double *a, const double *b, int corridor_index) {
    if (g->nsegs == g->cap) {
        int cap = g->cap ? 2 * g->cap : 1024;
        segment *s = realloc(g->segs, sizeof *s * (size_t)cap);
        if (!s)
            return -1;
        g->segs = s;
        g->cap = cap;
    }
    g->segs[g->nsegs++] = (segment){a[0], a[1], b[0], b[1], corridor_index};
    return 0;
}

static int add_corridor(segment_grid *g, em_shape *s, int corridor_index) {
    for (int r = 0; r < s->nrings; r++) {
        int i0 = s->start[r], i1 = s->start[r + 1];
        if (i1 - i0 == 1 && add_segment(g, &s->xy[2 * i0], &s->xy[2 * i0], corridor_index) < 0)
            return -1;
        for (int i = i0; i + 1 < i1; i++)
            if (add_segment(g, &s->xy[2 * i], &s->xy[2 * i + 2], corridor_index) < 0)
                return -1;
    }
    if (em_shape_is_polygonal(s)) {
        if (g->npolygons == g->cap_polygons) {
            int cap = g->cap_polygons ? 2 * g->cap_polygons : 8;
            int *p = realloc(g->polygons, sizeof *p * (size_t)cap);
            if (!p)
                return -1;
            g->polygons = p;
            g->cap_polygons = cap;
        }
        g->polygons[g->npolygons++] = corridor_index;
    }
    return 0;
}

static void cell_range(const segment_grid *g, double minx, double miny, double maxx, double maxy,
                       int r[4]) {
    r[0] = (int)floor((minx - g->x0) / g->cell);
    r[1] = (int)floor((miny - g->y0) / g->cell);
    r[2] = (int)floor((maxx - g->x0) / g->cell);
    r[3] = (int)floor((maxy - g->y0) / g->cell);
}

static int build_grid(segment_grid *g) {
    if (g->nsegs == 0)
        return 0;
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int i = 0; i < g->nsegs; i++) {
        const segment *s = &g->segs[i];
        minx = MIN(minx, MIN(s->ax, s->bx));
        maxx = MAX(maxx, MAX(s->ax, s->bx));
        miny = MIN(miny, MIN(s->ay, s->by));
        maxy = MAX(maxy, MAX(s->ay, s->by));
    }
    g->x0 = minx;
    g->y0 = miny;
    g->cell = CELL_MIN_M;
    for (;;) {
        g->nx = (int)floor((maxx - minx) / g->cell) + 1;
        g->ny = (int)floor((maxy - miny) / g->cell) + 1;
        if ((double)g->nx * g->ny <= CELLS_MAX)
            break;
        g->cell *= 2;
    }
    size_t ncells = (size_t)g->nx * (size_t)g->ny;
    int *count = calloc(ncells + 1, sizeof(int));
    g->stamp = calloc((size_t)g->nsegs, sizeof(unsigned));
    if (!count || !g->stamp) {
        free(count);
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->nsegs; i++) {
            const segment *s = &g->segs[i];
            int r[4];
            cell_range(g, MIN(s->ax, s->bx), MIN(s->ay, s->by), MAX(s->ax, s->bx),
                       MAX(s->ay, s->by), r);
            for (int cy = r[1]; cy <= r[3]; cy++)
                for (int cx = r[0]; cx <= r[2]; cx++) {
                    size_t c = (size_t)cy * (size_t)g->nx + (size_t)cx;
                    if (pass == 0)
                        count[c + 1]++;
                    else
                        g->items[count[c]++] = i;
                }
        }
        if (pass == 0) {
            for (size_t c = 0; c < ncells; c++)
                count[c + 1] += count[c];
            g->cell_start = malloc(sizeof(int) * (ncells + 1));
            g->items = malloc(sizeof(int) * ((size_t)count[ncells] + 1));
            if (!g->cell_start || !g->items) {
                free(count);
                return -1;
            }
            memcpy(g->cell_start, count, sizeof(int) * (ncells + 1));
        }
    }
    free(count);
    return 0;
}

static void free_grid(segment_grid *g) {
    free(g->segs);
    free(g->polygons);
    free(g->cell_start);
    free(g->items);
    free(g->stamp);
}

typedef struct {
    double dist;
    int corridor; /* -1: none within the search radius */
} nearest;

static void consider(nearest *best, double d, int which, const corridor *corridors) {
    if (d < best->dist || (d == best->dist && best->corridor >= 0 &&
                           corridors[which].id < corridors[best->corridor].id)) {
        best->dist = d;
        best->corridor = which;
    }
}

static void visit_cell(segment_grid *g, int cx, int cy, const em_shape *e, nearest *best,
                       const corridor *corridors) {
    if (cx < 0 || cy < 0 || cx >= g->nx || cy >= g->ny)
        return;
    size_t c = (size_t)cy * (size_t)g->nx + (size_t)cx;
    for (int j = g->cell_start[c]; j < g->cell_start[c + 1]; j++) {
        int i = g->items[j];
        if (g->stamp[i] == g->query)
            continue;
        g->stamp[i] = g->query;
        const segment *s = &g->segs[i];
        double lb = em_box_gap(MIN(s->ax, s->bx), MIN(s->ay, s->by), MAX(s->ax, s->bx),
                               MAX(s->ay, s->by), e->minx, e->miny, e->maxx, e->maxy);
        if (lb > best->dist)
            continue;
        consider(best, em_shape_segment_distance(e, s->ax, s->ay, s->bx, s->by), s->corridor,
                 corridors);
    }
}

/* The nearest corridor of one type to estate `e` (projected), out to `radius`.
 * Ring k of cells around the estate's cells is at least (k-1) cells away from the
 * estate, so once the best distance is under that no farther ring can beat it. */
static nearest find_nearest(segment_grid *g, const em_shape *e, double radius,
                            const corridor *corridors) {
    nearest best = {INFINITY, -1};
    for (int p = 0; p < g->npolygons; p++) {
        const em_shape *c = &corridors[g->polygons[p]].shape;
        if (em_shape_covers(c, e->xy[0], e->xy[1]))
            consider(&best, 0, g->polygons[p], corridors);
    }
    if (g->nsegs > 0) {
        g->query++;
        int r[4];
        cell_range(g, e->minx, e->miny, e->maxx, e->maxy, r);
        for (int k = 0;; k++) {
            if (k > 0 && (best.dist < (k - 1) * g->cell || (k - 1) * g->cell > radius))
                break;
            int x0 = r[0] - k, y0 = r[1] - k, x1 = r[2] + k, y1 = r[3] + k;
            for (int cy = y0 < 0 ? 0 : y0; cy <= y1 && cy < g->ny; cy++) {
                if (k == 0 || cy == y0 || cy == y1) { /* ring 0 is the whole block */
                    for (int cx = x0 < 0 ? 0 : x0; cx <= x1 && cx < g->nx; cx++)
                        visit_cell(g, cx, cy, e, &best, corridors);
                } else {
                    visit_cell(g, x0, cy, e, &best, corridors);
                    if (x1 != x0)
                        visit_cell(g, x1, cy, e, &best, corridors);
                }
            }
            if (x0 <= 0 && y0 <= 0 && x1 >= g->nx - 1 && y1 >= g->ny - 1)
                break; /* every cell visited */
        }
    }
    if (best.dist > radius)
        best = (nearest){INFINITY, -1};
    return best;
}

/* ---------- the analysis ---------- */

enum { COL_CODE, COL_NAME, COL_TOWN, COL_BUILT, COL_TYPES };

static column_block *make_columns(const options *o, int *ncolumns) {
    column_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->columns[COL_CODE] = (em_table_column){"code", "小区编号", -1};
    b->columns[COL_NAME] = (em_table_column){"name", "小区名称", -1};
    b->columns[COL_TOWN] = (em_table_column){"town_code", "街镇代码", -1};
    b->columns[COL_BUILT] = (em_table_column){"built_year", "建成年份", -1};
    static const char *const suffix[] = {"dist_m", "name", "along"};
    static const char *const label[] = {"%s距离(米)", "最近%s", "沿%s"};
    for (int w = 0; w < o->nwant; w++) {
        const corridor_type *t = &o->all[o->want[w]];
        for (int k = 0; k < 3; k++) {
            char *name = b->names[3 * w + k][0], *zh = b->names[3 * w + k][1];
            snprintf(name, sizeof b->names[0][0], "%s_%s", t->type, suffix[k]);
            snprintf(zh, sizeof b->names[0][1], label[k], t->label_zh);
            b->columns[COL_TYPES + 3 * w + k] = (em_table_column){name, zh, k == 0 ? 1 : -1};
        }
    }
    b->columns[COL_TYPES + 3 * o->nwant] = (em_table_column){"along_types", "所沿类型", -1};
    *ncolumns = COL_TYPES + 3 * o->nwant + 1;
    return b;
}

static int load_corridors(em_db *db, const options *o, em_metric *m, corridor **out, int *nout,
                          segment_grid *grids, em_error *err) {
    char typeset[MAX_TYPES * 50 + 2] = "|";
    for (int w = 0; w < o->nwant; w++) {
        size_t used = strlen(typeset);
        snprintf(typeset + used, sizeof typeset - used, "%s|", o->all[o->want[w]].type);
    }
    sqlite3_stmt *st = em_db_prepare(db,
                                     "SELECT id, type, name, geom FROM corridors"
                                     " WHERE instr(?1, '|' || type || '|') > 0 ORDER BY id",
                                     err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, typeset, -1, SQLITE_TRANSIENT);
    corridor *list = NULL;
    int n = 0, cap = 0, rc;
    em_shape shape = {0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 1);
        int w = 0;
        while (w < o->nwant && strcmp(o->all[o->want[w]].type, type) != 0)
            w++;
        if (w == o->nwant)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            corridor *l = realloc(list, sizeof *l * (size_t)cap);
            if (!l) {
                em_fail(err, EM_ERR_RUNTIME, "out of memory");
                break;
            }
            list = l;
        }
        corridor *c = &list[n];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        c->name = name ? strdup(name) : NULL;
        n++;
        if (em_shape_from_blob(&shape, sqlite3_column_blob(st, 3), sqlite3_column_bytes(st, 3),
                               err) < 0 ||
            em_shape_project(&shape, m, err) < 0) {
            em_error_prefix(err, "corridor %lld: ", c->id);
            break;
        }
        if (add_corridor(&grids[w], &shape, n - 1) < 0) {
            em_fail(err, EM_ERR_RUNTIME, "out of memory");
            break;
        }
        if (em_shape_is_polygonal(&shape)) {
            if (em_shape_index(&shape, err) < 0)
                break;
            em_shape_move(&c->shape, &shape);
        }
    }
    sqlite3_finalize(st);
    em_shape_free(&shape);
    *out = list;
    *nout = n;
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            em_fail(err, EM_ERR_RUNTIME, "reading corridors: %s", sqlite3_errmsg(db->sql));
        return -1;
    }
    for (int w = 0; w < o->nwant; w++)
        if (build_grid(&grids[w]) < 0)
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
    return 0;
}

static void add_summary(em_table *t, const options *o, int estates, int listed, int along_any,
                        const int *along) {
    json_object *s = em_table_summary(t);
    json_object *counts = json_object_new_object(), *buffers = json_object_new_object();
    for (int w = 0; w < o->nwant; w++) {
        const corridor_type *ct = &o->all[o->want[w]];
        json_object_object_add(counts, ct->type, json_object_new_int(along[w]));
        json_object_object_add(buffers, ct->type, json_object_new_double(ct->buffer));
    }
    json_object_object_add(s, "estates", json_object_new_int(estates));
    json_object_object_add(s, "listed", json_object_new_int(listed));
    json_object_object_add(s, "along", counts);
    json_object_object_add(s, "along_any", json_object_new_int(along_any));
    json_object_object_add(s, "buffers_m", buffers);
    json_object_object_add(s, "search_radius_m", json_object_new_double(EM_CORRIDOR_SEARCH_M));
    json_object_object_add(s, "crs", json_object_new_string(EM_METRIC_CRS));
}

static em_table *run_corridors(em_db *db, const em_params *params, em_error *err) {
    options o;
    if (parse_options(db, params, &o, err) < 0)
        return NULL;
    em_metric *m = em_metric_new(err);
    if (!m)
        return NULL;
    segment_grid grids[MAX_TYPES];
    memset(grids, 0, sizeof grids);
    corridor *corridors = NULL;
    int ncorridors = 0, ok = 0;
    em_table *t = NULL;
    sqlite3_stmt *st = NULL;
    em_shape e = {0};
    if (load_corridors(db, &o, m, &corridors, &ncorridors, grids, err) < 0)
        goto done;

    int ncolumns = 0;
    column_block *columns = make_columns(&o, &ncolumns);
    t = columns ? em_table_new(columns->columns, ncolumns) : NULL;
    if (!t) {
        free(columns);
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    json_object_set_userdata(em_table_summary(t), columns, free_column_block);

    st = em_db_prepare(db,
                       "SELECT code, name, town_code, built_year, geom, CASE WHEN ?60 THEN "
                       "AsGeoJSON(geom, 7) END"
                       " FROM estates WHERE (?1 IS NULL OR town_code = ?1)"
                       " AND (?2 IS NULL OR built_year < ?2) AND (?3 IS NULL OR tier = ?3)"
                       " AND (?4 IS NULL OR tier IS NULL) ORDER BY code",
                       err);
    if (!st)
        goto done;
    em_params_bind_geometry(params, st);
    if (o.town)
        sqlite3_bind_text(st, 1, o.town, -1, SQLITE_STATIC);
    if (o.built_before)
        sqlite3_bind_int64(st, 2, o.built_before);
    if (o.tier)
        sqlite3_bind_text(st, 3, o.tier, -1, SQLITE_STATIC);
    if (o.tier_none)
        sqlite3_bind_int(st, 4, 1);
    int estates = 0, listed = 0, along_any = 0, along[MAX_TYPES] = {0}, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(st, 0);
        if (em_shape_from_blob(&e, sqlite3_column_blob(st, 4), sqlite3_column_bytes(st, 4), err) <
                0 ||
            em_shape_project(&e, m, err) < 0) {
            em_error_prefix(err, "estate %s: ", code);
            goto done;
        }
        estates++;
        nearest near[MAX_TYPES];
        int any = 0;
        for (int w = 0; w < o.nwant; w++) {
            near[w] = find_nearest(&grids[w], &e, EM_CORRIDOR_SEARCH_M, corridors);
            if (near[w].corridor >= 0 && near[w].dist <= o.all[o.want[w]].buffer) {
                along[w]++;
                any = 1;
            }
        }
        along_any += any;
        if (!any && !o.list_all)
            continue;
        listed++;
        em_table_add_row(t);
        em_table_set_text(t, COL_CODE, code);
        em_table_set_text(t, COL_NAME, (const char *)sqlite3_column_text(st, 1));
        em_table_set_text(t, COL_TOWN, (const char *)sqlite3_column_text(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            em_table_set_int(t, COL_BUILT, sqlite3_column_int64(st, 3));
        json_object *types = json_object_new_array();
        for (int w = 0; w < o.nwant; w++) {
            int col = COL_TYPES + 3 * w;
            int is_along = near[w].corridor >= 0 && near[w].dist <= o.all[o.want[w]].buffer;
            if (near[w].corridor >= 0) {
                em_table_set_real(t, col, near[w].dist);
                em_table_set_text(t, col + 1, corridors[near[w].corridor].name);
            }
            em_table_set_bool(t, col + 2, is_along);
            if (is_along)
                json_object_array_add(types, json_object_new_string(o.all[o.want[w]].type));
        }
        em_table_set_json(t, COL_TYPES + 3 * o.nwant, types);
        em_table_set_geometry(t, (const char *)sqlite3_column_text(st, 5));
    }
    if (rc != SQLITE_DONE) {
        em_fail(err, EM_ERR_RUNTIME, "reading estates: %s", sqlite3_errmsg(db->sql));
        goto done;
    }
    add_summary(t, &o, estates, listed, along_any, along);
    ok = 1;
done:
    sqlite3_finalize(st);
    em_shape_free(&e);
    for (int w = 0; w < MAX_TYPES; w++)
        free_grid(&grids[w]);
    for (int i = 0; i < ncorridors; i++) {
        free(corridors[i].name);
        em_shape_free(&corridors[i].shape);
    }
    free(corridors);
    em_metric_free(m);
    if (!ok) {
        em_table_free(t);
        return NULL;
    }
    return t;
}

const em_analysis em_analysis_corridors = {
    .name = "corridors",
    .run = run_corridors,
    .summary =
        "四类沿线: each estate's distance to the nearest corridor of each type, and along or not",
    .help = "  --types LIST        corridor types to measure, comma-separated (default: every\n"
            "                      type in corridor_types: railway, expressway, river,\n"
            "                      rail_transit)\n"
            "  --buffer T=M,...    buffer in metres per type, e.g. railway=50,river=30 (0 to\n"
            "                      10000; default: corridor_types.buffer_m)\n"
            "  --town CODE         only the estates of this town (9-digit code)\n"
            "  --built-before Y    only estates built before year Y (the renovation scope is\n"
            "                      --built-before 2000)\n"
            "  --tier T            only estates of tier T: 示范版, 提升版 or 基础版 (also\n"
            "                      demonstration, upgrade, basic), or none for no tier yet\n"
            "  --all               list every estate, not only those along a requested type\n"
            "\n"
            "Distances are metres in EPSG:4549 (CGCS2000 Gauss-Kruger CM 120E) from the\n"
            "estate polygon to the nearest corridor of each type (0 when they touch or\n"
            "overlap); an estate is along a type when the distance is at or under its\n"
            "buffer. A type with no corridor within 10 km gives an empty (null) distance.\n"
            "Columns: code, name, town_code, built_year, then per type T: T_dist_m, T_name,\n"
            "T_along; then along_types. GeoJSON features are the estate polygons.\n",
    .has_geometry = 1,
};

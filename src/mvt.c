#include "mvt.h"

#include "vector_tile.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CMD_MOVE_TO = 1, CMD_LINE_TO = 2, CMD_CLOSE_PATH = 7 };

static uint32_t command(int id, uint32_t count) {
    return (uint32_t)(id & 7) | (count << 3);
}

static uint32_t zigzag(int32_t n) {
    return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31);
}

/* ---- a layer's value table --------------------------------------------------- */

typedef struct {
    const em_tile_value *v; /* NULL: empty slot */
    uint32_t index;
} slot;

typedef struct {
    slot *slots;
    size_t cap, n;
    const em_tile_value **list;
    size_t lcap;
} value_table;

static uint64_t hash_value(const em_tile_value *v) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)v->type;
    const unsigned char *p;
    size_t n;
    switch (v->type) {
    case EM_TV_STRING:
        p = (const unsigned char *)v->v.s;
        n = v->len;
        break;
    case EM_TV_INT:
        p = (const unsigned char *)&v->v.i;
        n = sizeof v->v.i;
        break;
    case EM_TV_DOUBLE:
        p = (const unsigned char *)&v->v.d;
        n = sizeof v->v.d;
        break;
    default:
        p = (const unsigned char *)&v->v.b;
        n = sizeof v->v.b;
        break;
    }
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int same_value(const em_tile_value *a, const em_tile_value *b) {
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case EM_TV_STRING:
        return a->len == b->len && memcmp(a->v.s, b->v.s, a->len) == 0;
    case EM_TV_INT:
        return a->v.i == b->v.i;
    case EM_TV_DOUBLE:
        return memcmp(&a->v.d, &b->v.d, sizeof a->v.d) == 0;
    default:
        return !a->v.b == !b->v.b;
    }
}

static int grow(value_table *t) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    slot *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].v)
            continue;
        size_t k = hash_value(t->slots[i].v) & (cap - 1);
        while (s[k].v)
            k = (k + 1) & (cap - 1);
        s[k] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

/* The index of `v` in the table, adding it if new; -1 when out of memory. */
static long value_index(value_table *t, const em_tile_value *v) {
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -1;
    size_t k = hash_value(v) & (t->cap - 1);
    while (t->slots[k].v) {
        if (same_value(t->slots[k].v, v))
            return t->slots[k].index;
        k = (k + 1) & (t->cap - 1);
    }
    if (t->n == t->lcap) {
        size_t cap = t->lcap ? t->lcap * 2 : 256;
        const em_tile_value **l = realloc(t->list, cap * sizeof *l);
        if (!l)
            return -1;
        t->list = l;
        t->lcap = cap;
    }
    t->slots[k].v = v;
    t->slots[k].index = (uint32_t)t->n;
    t->list[t->n] = v;
    return (long)t->n++;
}

/* ---- geometry ---------------------------------------------------------------- */

static size_t geometry_size(const em_tile_feature *f) {
    if (f->type == EM_TILE_POINT)
        return 1 + 2 * f->npoints;
    size_t n = 0;
    for (size_t p = 0; p < f->nparts; p++)
        n += f->type == EM_TILE_LINE ? 2 + 2 * f->part_len[p] : 3 + 2 * (f->part_len[p] - 1);
    return n;
}

static size_t encode_geometry(const em_tile_feature *f, uint32_t *g) {
    size_t n = 0;
    int32_t cx = 0, cy = 0;
    const int32_t *xy = f->xy;
#define PUT_POINT(i)                                                                               \
    do {                                                                                           \
        g[n++] = zigzag(xy[2 * (i)] - cx);                                                         \
        g[n++] = zigzag(xy[2 * (i) + 1] - cy);                                                     \
        cx = xy[2 * (i)];                                                                          \
        cy = xy[2 * (i) + 1];                                                                      \
    } while (0)
    if (f->type == EM_TILE_POINT) {
        g[n++] = command(CMD_MOVE_TO, (uint32_t)f->npoints);
        for (size_t i = 0; i < f->npoints; i++)
            PUT_POINT(i);
        return n;
    }
    for (size_t p = 0; p < f->nparts; p++) {
        uint32_t len = f->part_len[p];
        /* a ring's last point repeats its first: ClosePath draws that edge */
        uint32_t drawn = f->type == EM_TILE_POLYGON ? len - 1 : len;
        g[n++] = command(CMD_MOVE_TO, 1);
        PUT_POINT(0);
        g[n++] = command(CMD_LINE_TO, drawn - 1);
        for (uint32_t i = 1; i < drawn; i++)
            PUT_POINT(i);
        if (f->type == EM_TILE_POLYGON)
            g[n++] = command(CMD_CLOSE_PATH, 1);
        xy += 2 * (size_t)len;
    }
#undef PUT_POINT
    return n;
}

/* ---- the tile ---------------------------------------------------------------- */

typedef struct {
    const char *keys[64];
    size_t nkeys;
} key_table;

static long key_index(key_table *k, const char *key) {
    for (size_t i = 0; i < k->nkeys; i++)
        if (k->keys[i] == key || strcmp(k->keys[i], key) == 0)
            return (long)i;
    if (k->nkeys == sizeof k->keys / sizeof k->keys[0])
        return -1;
    k->keys[k->nkeys] = key;
    return (long)k->nkeys++;
}

static int encode_layer(em_tile *t, const em_tile_layer *l, VectorTile__Tile__Layer *out,
                        value_table *vt) {
    size_t kept = 0;
    for (size_t i = 0; i < l->nfeatures; i++)
        kept += !l->features[i].dropped;
    VectorTile__Tile__Feature *feats = em_tile_alloc(t, kept * sizeof *feats);
    VectorTile__Tile__Feature **fps = em_tile_alloc(t, kept * sizeof *fps);
    if (!feats || !fps)
        return -1;
    key_table keys;
    keys.nkeys = 0;
    vt->n = 0;
    if (vt->cap)
        memset(vt->slots, 0, vt->cap * sizeof *vt->slots);
    size_t k = 0;
    for (size_t i = 0; i < l->nfeatures; i++) {
        const em_tile_feature *f = &l->features[i];
        if (f->dropped)
            continue;
        VectorTile__Tile__Feature *o = &feats[k];
        vector_tile__tile__feature__init(o);
        if (f->has_id && f->id >= 0) {
            o->has_id = 1;
            o->id = (uint64_t)f->id;
        }
        o->has_type = 1;
        o->type = (VectorTile__Tile__GeomType)f->type;
        o->tags = em_tile_alloc(t, (2 * f->nprops + 1) * sizeof *o->tags);
        o->geometry = em_tile_alloc(t, geometry_size(f) * sizeof *o->geometry);
        if (!o->tags || !o->geometry)
            return -1;
        for (size_t p = 0; p < f->nprops; p++) {
            long ki = key_index(&keys, f->props[p].key);
            long vi = value_index(vt, &f->props[p].value);
            if (ki < 0 || vi < 0)
                return -1;
            o->tags[o->n_tags++] = (uint32_t)ki;
            o->tags[o->n_tags++] = (uint32_t)vi;
        }
        o->n_geometry = encode_geometry(f, o->geometry);
        fps[k++] = o;
    }
    vector_tile__tile__layer__init(out);
    out->version = 2;
    out->name = (char *)l->name;
    out->n_features = k;
    out->features = fps;
    out->has_extent = 1;
    out->extent = EM_TILE_EXTENT;
    out->n_keys = keys.nkeys;
    out->keys = em_tile_alloc(t, (keys.nkeys + 1) * sizeof *out->keys);
    VectorTile__Tile__Value *vals = em_tile_alloc(t, (vt->n + 1) * sizeof *vals);
    out->values = em_tile_alloc(t, (vt->n + 1) * sizeof *out->values);
    if (!out->keys || !vals || !out->values)
        return -1;
    for (size_t i = 0; i < keys.nkeys; i++)
        out->keys[i] = (char *)keys.keys[i];
    out->n_values = vt->n;
    for (size_t i = 0; i < vt->n; i++) {
        const em_tile_value *v = vt->list[i];
        VectorTile__Tile__Value *o = &vals[i];
        vector_tile__tile__value__init(o);
        switch (v->type) {
        case EM_TV_STRING:
            o->string_value = (char *)v->v.s;
            break;
        case EM_TV_INT:
            if (v->v.i >= 0) {
                o->has_uint_value = 1;
                o->uint_value = (uint64_t)v->v.i;
            } else {
                o->has_sint_value = 1;
                o->sint_value = v->v.i;
            }
            break;
        case EM_TV_DOUBLE:
            o->has_double_value = 1;
            o->double_value = v->v.d;
            break;
        case EM_TV_BOOL:
            o->has_bool_value = 1;
            o->bool_value = v->v.b != 0;
            break;
        }
        out->values[i] = o;
    }
    return 0;
}

int em_mvt_encode(em_tile *t, unsigned char **out, size_t *len, em_error *err) {
    *out = NULL;
    *len = 0;
    VectorTile__Tile__Layer layers[EM_TILE_MAX_LAYERS];
    VectorTile__Tile__Layer *lps[EM_TILE_MAX_LAYERS];
    VectorTile__Tile tile = VECTOR_TILE__TILE__INIT;
    value_table vt;
    memset(&vt, 0, sizeof vt);
    int rc = 0;
    for (size_t i = 0; i < t->nlayers && rc == 0; i++) {
        const em_tile_layer *l = &t->layers[i];
        size_t kept = 0;
        for (size_t k = 0; k < l->nfeatures; k++)
            kept += !l->features[k].dropped;
        if (kept == 0)
            continue;
        rc = encode_layer(t, l, &layers[tile.n_layers], &vt);
        lps[tile.n_layers] = &layers[tile.n_layers];
        tile.n_layers++;
    }
    free(vt.slots);
    free(vt.list);
    if (rc < 0)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory encoding a vector tile");
    if (tile.n_layers == 0)
        return 0;
    tile.layers = lps;
    size_t n = vector_tile__tile__get_packed_size(&tile);
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return em_fail(err, EM_ERR_RUNTIME, "out of memory encoding a vector tile");
    *len = vector_tile__tile__pack(&tile, buf);
    *out = buf;
    return 0;
}

/* tile_geojson.c -- a tile as geojson-vt's JSON, for map clients that draw tiles
 * themselves (Leaflet): the features of getTile(z, x, y), grouped by layer name.
 *
 * Written by hand into a byte buffer rather than through json-c: a tile holds
 * tens of thousands of numbers, and the format is fixed. */
#include "tiles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A JSON string. Text from the database is UTF-8 (imports check it); a byte that
 * is not valid UTF-8 is written as U+FFFD so that the tile stays valid JSON. */
static void put_string(em_strbuf *out, const char *s, size_t len) {
    em_strbuf_putc(out, '"');
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            em_strbuf_append(out, (const char *)run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            em_strbuf_putc(out, '\\');
            em_strbuf_putc(out, (char)c);
            p++;
        } else if (c < 0x20) {
            static const char *const named[] = {
                [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
            if (c < sizeof named / sizeof named[0] && named[c])
                em_strbuf_puts(out, named[c]);
            else
                em_strbuf_printf(out, "\\u%04x", c);
            p++;
        } else {
            size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            int ok = n > 0 && (size_t)(end - p) >= n;
            unsigned cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
            for (size_t k = 1; ok && k < n; k++) {
                ok = (p[k] & 0xC0) == 0x80;
                cp = (cp << 6) | (p[k] & 0x3F);
            }
            if (ok)
                ok = !(n == 2 && cp < 0x80) && !(n == 3 && cp < 0x800) &&
                     !(n == 4 && cp < 0x10000) && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
            if (ok) {
                em_strbuf_append(out, (const char *)p, n);
                p += n;
            } else {
                em_strbuf_puts(out, "\xEF\xBF\xBD");
                p++;
            }
        }
    }
    em_strbuf_putc(out, '"');
}

static void put_int(em_strbuf *out, long long v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    em_strbuf_append(out, buf, (size_t)n);
}

static void put_value(em_strbuf *out, const em_tile_value *v) {
    switch (v->type) {
    case EM_TV_STRING:
        put_string(out, v->v.s, v->len);
        break;
    case EM_TV_INT:
        put_int(out, v->v.i);
        break;
    case EM_TV_BOOL:
        em_strbuf_puts(out, v->v.b ? "true" : "false");
        break;
    case EM_TV_DOUBLE:
        if (isfinite(v->v.d))
            em_strbuf_printf(out, "%.17g", v->v.d);
        else
            em_strbuf_puts(out, "null");
        break;
    }
}

static void put_pair(em_strbuf *out, const int32_t *xy) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%d,%d]", (int)xy[0], (int)xy[1]);
    em_strbuf_append(out, buf, (size_t)n);
}

static void put_feature(em_strbuf *out, const em_tile_feature *f) {
    em_strbuf_putc(out, '{');
    if (f->has_id) {
        em_strbuf_puts(out, "\"id\":");
        put_int(out, f->id);
        em_strbuf_putc(out, ',');
    }
    em_strbuf_printf(out, "\"type\":%d,\"geometry\":[", f->type);
    const int32_t *xy = f->xy;
    if (f->type == EM_TILE_POINT) {
        /* points: [[x,y],...] */
        for (size_t i = 0; i < f->npoints; i++) {
            if (i)
                em_strbuf_putc(out, ',');
            put_pair(out, xy + 2 * i);
        }
    } else {
        /* lines and rings: [[[x,y],...],...] */
        for (size_t p = 0; p < f->nparts; p++) {
            em_strbuf_puts(out, p ? ",[" : "[");
            for (uint32_t i = 0; i < f->part_len[p]; i++) {
                if (i)
                    em_strbuf_putc(out, ',');
                put_pair(out, xy + 2 * i);
            }
            em_strbuf_putc(out, ']');
            xy += 2 * (size_t)f->part_len[p];
        }
    }
    em_strbuf_puts(out, "],\"tags\":{");
    for (size_t i = 0; i < f->nprops; i++) {
        if (i)
            em_strbuf_putc(out, ',');
        put_string(out, f->props[i].key, strlen(f->props[i].key));
        em_strbuf_putc(out, ':');
        put_value(out, &f->props[i].value);
    }
    em_strbuf_puts(out, "}}");
}

void em_tile_geojson(const em_tile *t, em_strbuf *out) {
    em_strbuf_putc(out, '{');
    int first_layer = 1;
    for (size_t i = 0; i < t->nlayers; i++) {
        const em_tile_layer *l = &t->layers[i];
        int first = 1;
        for (size_t k = 0; k < l->nfeatures; k++) {
            const em_tile_feature *f = &l->features[k];
            if (f->dropped)
                continue;
            if (first) {
                if (!first_layer)
                    em_strbuf_putc(out, ',');
                first_layer = 0;
                put_string(out, l->name, strlen(l->name));
                em_strbuf_puts(out, ":{\"features\":[");
                first = 0;
            } else {
                em_strbuf_putc(out, ',');
            }
            put_feature(out, f);
        }
        if (!first)
            em_strbuf_puts(out, "]}");
    }
    em_strbuf_putc(out, '}');
}

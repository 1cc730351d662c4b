#include "spatialite_blob.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { WKB_POINT = 1, WKB_LINE = 2, WKB_POLYGON = 3, WKB_COLLECTION = 7 };

#define HEADER_SIZE 39 /* start, byte order, SRID, MBR, 0x7C */

static int host_is_little(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

typedef struct {
    const unsigned char *p, *end;
    int swap; /* the current geometry's byte order differs from the host's */
    double mbr[4];
    int have_mbr;
    em_strbuf *out;
    int out_swap; /* the host is big-endian: BLOBs are written little-endian */
} wkb_reader;

static uint64_t swap64(uint64_t v) {
    return __builtin_bswap64(v);
}

static int read_u32(wkb_reader *r, uint32_t *v) {
    if (r->end - r->p < 4)
        return -1;
    memcpy(v, r->p, 4);
    if (r->swap)
        *v = __builtin_bswap32(*v);
    r->p += 4;
    return 0;
}

static void put_u32(wkb_reader *r, uint32_t v) {
    if (r->out_swap)
        v = __builtin_bswap32(v);
    em_strbuf_append(r->out, (const char *)&v, 4);
}

static void put_byte(wkb_reader *r, unsigned char c) {
    em_strbuf_append(r->out, (const char *)&c, 1);
}

static void put_double_at(wkb_reader *r, size_t at, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    if (r->out_swap)
        v = swap64(v);
    memcpy(r->out->data + at, &v, 8);
}

/* `n` points of x and y: copied (byte-swapped if need be), checked finite, and
 * added to the MBR when `grow_mbr`. */
static int copy_points(wkb_reader *r, uint32_t n, int grow_mbr) {
    if (n == 0 || (size_t)(r->end - r->p) / 16 < n)
        return -1;
    size_t at = r->out->len;
    em_strbuf_append(r->out, (const char *)r->p, (size_t)n * 16);
    if (r->out->failed)
        return -1;
    int convert = r->swap != r->out_swap; /* input order differs from the output's */
    for (uint32_t i = 0; i < n; i++) {
        double xy[2];
        for (int k = 0; k < 2; k++) {
            uint64_t v;
            memcpy(&v, r->p + 16 * (size_t)i + 8 * (size_t)k, 8);
            if (r->swap)
                v = swap64(v);
            memcpy(&xy[k], &v, 8);
            if (convert)
                put_double_at(r, at + 16 * (size_t)i + 8 * (size_t)k, xy[k]);
        }
        if (!isfinite(xy[0]) || !isfinite(xy[1]))
            return -1;
        if (!grow_mbr)
            continue;
        if (!r->have_mbr) {
            r->mbr[0] = r->mbr[2] = xy[0];
            r->mbr[1] = r->mbr[3] = xy[1];
            r->have_mbr = 1;
        }
        r->mbr[0] = fmin(r->mbr[0], xy[0]);
        r->mbr[1] = fmin(r->mbr[1], xy[1]);
        r->mbr[2] = fmax(r->mbr[2], xy[0]);
        r->mbr[3] = fmax(r->mbr[3], xy[1]);
    }
    r->p += (size_t)n * 16;
    return 0;
}

/* Byte order and type of the next WKB geometry; only 2-D types 1..7. */
static int read_head(wkb_reader *r, uint32_t *type) {
    if (r->p >= r->end || *r->p > 1)
        return -1;
    r->swap = (*r->p == 1) != host_is_little();
    r->p++;
    if (read_u32(r, type) < 0 || *type < WKB_POINT || *type > WKB_COLLECTION)
        return -1;
    return 0;
}

/* The body of a simple geometry (point, line, polygon) in SpatiaLite's layout. */
static int copy_body(wkb_reader *r, uint32_t type) {
    uint32_t n;
    switch (type) {
    case WKB_POINT:
        return copy_points(r, 1, 1);
    case WKB_LINE:
        if (read_u32(r, &n) < 0)
            return -1;
        put_u32(r, n);
        return copy_points(r, n, 1);
    case WKB_POLYGON: {
        uint32_t rings;
        if (read_u32(r, &rings) < 0 || rings == 0)
            return -1;
        put_u32(r, rings);
        for (uint32_t i = 0; i < rings; i++) {
            if (read_u32(r, &n) < 0)
                return -1;
            put_u32(r, n);
            /* SpatiaLite's MBR is the exterior ring's; holes lie inside it. */
            if (copy_points(r, n, i == 0) < 0)
                return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int encode(wkb_reader *r, int srid) {
    uint32_t type;
    if (read_head(r, &type) < 0)
        return -1;
    size_t start = r->out->len;
    unsigned char header[HEADER_SIZE] = {0x00, 0x01};
    uint32_t s = (uint32_t)srid;
    if (r->out_swap)
        s = __builtin_bswap32(s);
    memcpy(header + 2, &s, 4);
    header[HEADER_SIZE - 1] = 0x7C;
    em_strbuf_append(r->out, (const char *)header, sizeof header);
    put_u32(r, type);
    if (type < 4) {
        if (copy_body(r, type) < 0)
            return -1;
    } else {
        uint32_t parts;
        if (read_u32(r, &parts) < 0 || parts == 0)
            return -1;
        put_u32(r, parts);
        for (uint32_t i = 0; i < parts; i++) {
            uint32_t part;
            if (read_head(r, &part) < 0 || part >= 4 ||
                (type != WKB_COLLECTION && part != type - 3))
                return -1;
            put_byte(r, 0x69);
            put_u32(r, part);
            if (copy_body(r, part) < 0)
                return -1;
        }
    }
    put_byte(r, 0xFE);
    if (r->p != r->end || !r->have_mbr || r->out->failed)
        return -1;
    for (int k = 0; k < 4; k++)
        put_double_at(r, start + 6 + 8 * (size_t)k, r->mbr[k]);
    return 0;
}

int em_splite_from_wkb(const unsigned char *wkb, size_t size, int srid, em_strbuf *out) {
    wkb_reader r = {.p = wkb, .end = wkb + size, .out = out, .out_swap = !host_is_little()};
    size_t start = out->len;
    if (encode(&r, srid) < 0) {
        if (!out->failed)
            out->len = start;
        return -1;
    }
    return 0;
}

int em_splite_mbr(const unsigned char *blob, size_t size, double mbr[4]) {
    if (size < HEADER_SIZE + 5 || blob[0] != 0x00 || blob[1] > 1 || blob[HEADER_SIZE - 1] != 0x7C ||
        blob[size - 1] != 0xFE)
        return -1;
    int swap = (blob[1] == 1) != host_is_little();
    for (int k = 0; k < 4; k++) {
        uint64_t v;
        memcpy(&v, blob + 6 + 8 * k, 8);
        if (swap)
            v = swap64(v);
        memcpy(&mbr[k], &v, 8);
    }
    return 0;
}

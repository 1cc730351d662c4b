#include "geojson.h"

#include <math.h>
#include <sqlite3.h>
#include <spatialite/gaiageo.h>
#include <stdio.h>
#include <string.h>

void em_geojson_number(em_strbuf *out, double v, int precision) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.*f", precision, v);
    if (n <= 0 || (size_t)n >= sizeof buf) {
        em_strbuf_puts(out, "0");
        return;
    }
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    buf[n] = '\0';
    if (strcmp(buf, "-0") == 0)
        em_strbuf_puts(out, "0");
    else
        em_strbuf_append(out, buf, (size_t)n);
}

static int stride_of(int model) {
    switch (model) {
    case GAIA_XY_Z:
    case GAIA_XY_M:
        return 3;
    case GAIA_XY_Z_M:
        return 4;
    default:
        return 2;
    }
}

static int put_position(em_strbuf *out, double x, double y, const em_geojson_opts *o) {
    if (o->transform) {
        PJ_COORD c = proj_coord(x, y, 0, 0);
        c = proj_trans(o->transform, PJ_FWD, c);
        x = c.xy.x;
        y = c.xy.y;
    }
    if (!isfinite(x) || !isfinite(y))
        return -1;
    em_strbuf_putc(out, '[');
    em_geojson_number(out, x, o->precision);
    em_strbuf_putc(out, ',');
    em_geojson_number(out, y, o->precision);
    em_strbuf_putc(out, ']');
    return 0;
}

static int put_coords(em_strbuf *out, const double *coords, int npoints, int model,
                      const em_geojson_opts *o) {
    int stride = stride_of(model);
    em_strbuf_putc(out, '[');
    for (int i = 0; i < npoints; i++) {
        if (i)
            em_strbuf_putc(out, ',');
        if (put_position(out, coords[i * stride], coords[i * stride + 1], o) < 0)
            return -1;
    }
    em_strbuf_putc(out, ']');
    return 0;
}

static int put_polygon(em_strbuf *out, gaiaPolygonPtr pg, const em_geojson_opts *o) {
    em_strbuf_putc(out, '[');
    if (put_coords(out, pg->Exterior->Coords, pg->Exterior->Points, pg->Exterior->DimensionModel,
                   o) < 0)
        return -1;
    for (int i = 0; i < pg->NumInteriors; i++) {
        gaiaRingPtr r = pg->Interiors + i;
        em_strbuf_putc(out, ',');
        if (put_coords(out, r->Coords, r->Points, r->DimensionModel, o) < 0)
            return -1;
    }
    em_strbuf_putc(out, ']');
    return 0;
}

/* Writes the parts of `g` of one kind; `multi` wraps them in an outer array. */
static int put_points(em_strbuf *out, gaiaGeomCollPtr g, int multi, const em_geojson_opts *o) {
    if (multi)
        em_strbuf_putc(out, '[');
    int first = 1;
    for (gaiaPointPtr p = g->FirstPoint; p; p = p->Next) {
        if (!first)
            em_strbuf_putc(out, ',');
        first = 0;
        if (put_position(out, p->X, p->Y, o) < 0)
            return -1;
        if (!multi)
            break;
    }
    if (multi)
        em_strbuf_putc(out, ']');
    return 0;
}

static int put_lines(em_strbuf *out, gaiaGeomCollPtr g, int multi, const em_geojson_opts *o) {
    if (multi)
        em_strbuf_putc(out, '[');
    int first = 1;
    for (gaiaLinestringPtr l = g->FirstLinestring; l; l = l->Next) {
        if (!first)
            em_strbuf_putc(out, ',');
        first = 0;
        if (put_coords(out, l->Coords, l->Points, l->DimensionModel, o) < 0)
            return -1;
        if (!multi)
            break;
    }
    if (multi)
        em_strbuf_putc(out, ']');
    return 0;
}

static int put_polygons(em_strbuf *out, gaiaGeomCollPtr g, int multi, const em_geojson_opts *o) {
    if (multi)
        em_strbuf_putc(out, '[');
    int first = 1;
    for (gaiaPolygonPtr pg = g->FirstPolygon; pg; pg = pg->Next) {
        if (!first)
            em_strbuf_putc(out, ',');
        first = 0;
        if (put_polygon(out, pg, o) < 0)
            return -1;
        if (!multi)
            break;
    }
    if (multi)
        em_strbuf_putc(out, ']');
    return 0;
}

int em_geojson_geometry(em_strbuf *out, const void *blob, int size, const em_geojson_opts *o) {
    if (!blob || size <= 0) {
        em_strbuf_puts(out, "null");
        return 0;
    }
    gaiaGeomCollPtr g = gaiaFromSpatiaLiteBlobWkb(blob, (unsigned int)size);
    if (!g)
        return -1;
    int npt = 0, nln = 0, npg = 0;
    for (gaiaPointPtr p = g->FirstPoint; p; p = p->Next)
        npt++;
    for (gaiaLinestringPtr l = g->FirstLinestring; l; l = l->Next)
        nln++;
    for (gaiaPolygonPtr pg = g->FirstPolygon; pg; pg = pg->Next)
        npg++;
    /* DeclaredType keeps a one-part multi geometry a multi geometry; the +1000s
     * are the Z/M variants of the same types. */
    int declared = g->DeclaredType % 1000;
    int kinds = (npt > 0) + (nln > 0) + (npg > 0);
    int rc = 0;
    if (kinds == 0) {
        em_strbuf_puts(out, "{\"type\":\"GeometryCollection\",\"geometries\":[]}");
    } else if (kinds > 1 || declared == GAIA_GEOMETRYCOLLECTION) {
        em_strbuf_puts(out, "{\"type\":\"GeometryCollection\",\"geometries\":[");
        int first = 1;
        for (gaiaPointPtr p = g->FirstPoint; p && rc == 0; p = p->Next, first = 0) {
            em_strbuf_puts(out, first ? "{\"type\":\"Point\",\"coordinates\":"
                                      : ",{\"type\":\"Point\",\"coordinates\":");
            rc = put_position(out, p->X, p->Y, o);
            em_strbuf_putc(out, '}');
        }
        for (gaiaLinestringPtr l = g->FirstLinestring; l && rc == 0; l = l->Next, first = 0) {
            em_strbuf_puts(out, first ? "{\"type\":\"LineString\",\"coordinates\":"
                                      : ",{\"type\":\"LineString\",\"coordinates\":");
            rc = put_coords(out, l->Coords, l->Points, l->DimensionModel, o);
            em_strbuf_putc(out, '}');
        }
        for (gaiaPolygonPtr pg = g->FirstPolygon; pg && rc == 0; pg = pg->Next, first = 0) {
            em_strbuf_puts(out, first ? "{\"type\":\"Polygon\",\"coordinates\":"
                                      : ",{\"type\":\"Polygon\",\"coordinates\":");
            rc = put_polygon(out, pg, o);
            em_strbuf_putc(out, '}');
        }
        em_strbuf_puts(out, "]}");
    } else if (npt > 0) {
        int multi = npt > 1 || declared == GAIA_MULTIPOINT;
        em_strbuf_puts(out, multi ? "{\"type\":\"MultiPoint\",\"coordinates\":"
                                  : "{\"type\":\"Point\",\"coordinates\":");
        rc = put_points(out, g, multi, o);
        em_strbuf_putc(out, '}');
    } else if (nln > 0) {
        int multi = nln > 1 || declared == GAIA_MULTILINESTRING;
        em_strbuf_puts(out, multi ? "{\"type\":\"MultiLineString\",\"coordinates\":"
                                  : "{\"type\":\"LineString\",\"coordinates\":");
        rc = put_lines(out, g, multi, o);
        em_strbuf_putc(out, '}');
    } else {
        int multi = npg > 1 || declared == GAIA_MULTIPOLYGON;
        em_strbuf_puts(out, multi ? "{\"type\":\"MultiPolygon\",\"coordinates\":"
                                  : "{\"type\":\"Polygon\",\"coordinates\":");
        rc = put_polygons(out, g, multi, o);
        em_strbuf_putc(out, '}');
    }
    gaiaFreeGeomColl(g);
    return rc;
}

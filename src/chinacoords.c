#include "chinacoords.h"

#include <math.h>
#include <strings.h>

/* Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses. */
static const double krasovsky_a = 6378245.0;
static const double krasovsky_ee = 0.00669342162296594323;
static const double bd_x_pi = M_PI * 3000.0 / 180.0;
/* 1e-10 degrees is about 0.01 mm: far below what any survey needs. */
static const double iteration_tolerance = 1e-10;
static const int iteration_limit = 50;

int em_coords_parse(const char *name) {
    if (!name)
        return -1;
    if (strcasecmp(name, "wgs84") == 0)
        return EM_COORDS_WGS84;
    if (strcasecmp(name, "gcj02") == 0 || strcasecmp(name, "gcj-02") == 0)
        return EM_COORDS_GCJ02;
    if (strcasecmp(name, "bd09") == 0 || strcasecmp(name, "bd-09") == 0)
        return EM_COORDS_BD09;
    return -1;
}

int em_coords_out_of_china(double lon, double lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

static double offset_lat(double x, double y) {
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(y * M_PI) + 40.0 * sin(y / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * M_PI) + 320.0 * sin(y * M_PI / 30.0)) * 2.0 / 3.0;
    return r;
}

static double offset_lon(double x, double y) {
    double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(x * M_PI) + 40.0 * sin(x / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * M_PI) + 300.0 * sin(x / 30.0 * M_PI)) * 2.0 / 3.0;
    return r;
}

void em_wgs84_to_gcj02(double lon, double lat, double *out_lon, double *out_lat) {
    if (em_coords_out_of_china(lon, lat)) {
        *out_lon = lon;
        *out_lat = lat;
        return;
    }
    double dlat = offset_lat(lon - 105.0, lat - 35.0);
    double dlon = offset_lon(lon - 105.0, lat - 35.0);
    double radlat = lat / 180.0 * M_PI;
    double magic = 1.0 - krasovsky_ee * sin(radlat) * sin(radlat);
    double sqrtmagic = sqrt(magic);
    dlat = (dlat * 180.0) / ((krasovsky_a * (1.0 - krasovsky_ee)) / (magic * sqrtmagic) * M_PI);
    dlon = (dlon * 180.0) / (krasovsky_a / sqrtmagic * cos(radlat) * M_PI);
    *out_lon = lon + dlon;
    *out_lat = lat + dlat;
}

void em_gcj02_to_bd09(double lon, double lat, double *out_lon, double *out_lat) {
    double z = sqrt(lon * lon + lat * lat) + 0.00002 * sin(lat * bd_x_pi);
    double theta = atan2(lat, lon) + 0.000003 * cos(lon * bd_x_pi);
    *out_lon = z * cos(theta) + 0.0065;
    *out_lat = z * sin(theta) + 0.006;
}

typedef void (*forward_fn)(double, double, double *, double *);

/* Solve forward(w) = target for w. The offsets vary slowly (their Jacobian is close
 * to the identity), so w <- w - (forward(w) - target) converges in a few steps. */
static void invert(forward_fn forward, double lon, double lat, double *out_lon, double *out_lat) {
    double wlon = lon, wlat = lat;
    for (int i = 0; i < iteration_limit; i++) {
        double flon, flat;
        forward(wlon, wlat, &flon, &flat);
        double dlon = flon - lon, dlat = flat - lat;
        wlon -= dlon;
        wlat -= dlat;
        if (fabs(dlon) < iteration_tolerance && fabs(dlat) < iteration_tolerance)
            break;
    }
    *out_lon = wlon;
    *out_lat = wlat;
}

void em_gcj02_to_wgs84(double lon, double lat, double *out_lon, double *out_lat) {
    if (em_coords_out_of_china(lon, lat)) {
        *out_lon = lon;
        *out_lat = lat;
        return;
    }
    invert(em_wgs84_to_gcj02, lon, lat, out_lon, out_lat);
}

void em_bd09_to_gcj02(double lon, double lat, double *out_lon, double *out_lat) {
    invert(em_gcj02_to_bd09, lon, lat, out_lon, out_lat);
}

void em_bd09_to_wgs84(double lon, double lat, double *out_lon, double *out_lat) {
    double glon, glat;
    em_bd09_to_gcj02(lon, lat, &glon, &glat);
    em_gcj02_to_wgs84(glon, glat, out_lon, out_lat);
}

void em_coords_to_wgs84(em_coords from, double *lon, double *lat) {
    switch (from) {
    case EM_COORDS_GCJ02:
        em_gcj02_to_wgs84(*lon, *lat, lon, lat);
        break;
    case EM_COORDS_BD09:
        em_bd09_to_wgs84(*lon, *lat, lon, lat);
        break;
    case EM_COORDS_WGS84:
        break;
    }
}

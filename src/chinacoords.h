/* chinacoords.h -- China's offset coordinate systems, to and from WGS84.
 *
 * GCJ-02 (used by Amap/Gaode, Tencent) is WGS84 with a public, non-linear
 * obfuscation added; BD-09 (Baidu) is a further offset on top of GCJ-02. The forward
 * formulas are public; their inverses have no closed form, so we invert them by
 * fixed-point iteration to well under a millimetre instead of the common one-step
 * approximation, which is off by up to a few metres. Outside China both are identity. */
#ifndef ESTATEMAP_CHINACOORDS_H
#define ESTATEMAP_CHINACOORDS_H

typedef enum { EM_COORDS_WGS84 = 0, EM_COORDS_GCJ02, EM_COORDS_BD09 } em_coords;

/* Parses "wgs84", "gcj02", "bd09" (case-insensitive); -1 when unknown. */
int em_coords_parse(const char *name);

int em_coords_out_of_china(double lon, double lat);

void em_wgs84_to_gcj02(double lon, double lat, double *out_lon, double *out_lat);
void em_gcj02_to_wgs84(double lon, double lat, double *out_lon, double *out_lat);
void em_gcj02_to_bd09(double lon, double lat, double *out_lon, double *out_lat);
void em_bd09_to_gcj02(double lon, double lat, double *out_lon, double *out_lat);
void em_bd09_to_wgs84(double lon, double lat, double *out_lon, double *out_lat);

/* Converts one point from `from` to WGS84 in place. */
void em_coords_to_wgs84(em_coords from, double *lon, double *lat);

#endif

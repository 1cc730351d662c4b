/* hotspots.h -- hot and cold spots of violation reports: Getis-Ord Gi* over the
 * grid cells, so planners see clusters of high (or low) counts rather than single
 * busy cells. Weights are binary: cells whose centroids lie within a fixed
 * distance band in metres (EPSG:4549), the cell itself included (the "star"). */
#ifndef ESTATEMAP_HOTSPOTS_H
#define ESTATEMAP_HOTSPOTS_H

#include "analysis.h"

#define EM_HOTSPOT_BAND_DEFAULT 500.0
#define EM_HOTSPOT_BAND_MAX 50000.0

extern const em_analysis em_analysis_hotspots;

/* Gi* for n points (x, y in metres) with values v, band `band`:
 *
 *   z_i = (sum_j w_ij v_j - mean * W_i) / (S * sqrt((n W_i - W_i^2) / (n - 1)))
 *
 * with w_ij = 1 when |p_i - p_j| <= band (so w_ii = 1), W_i = sum_j w_ij, mean and
 * S the mean and population standard deviation of v. z[i] is NaN when undefined
 * (n < 2, all values equal, or a point neighbours every point). neighbours[i]
 * receives W_i when not NULL. Returns 0, or -1 when out of memory. */
int em_gi_star(int n, const double *x, const double *y, const double *v, double band, double *z,
               int *neighbours);

/* Two-sided p-value of a standard normal z (NaN for NaN). */
double em_normal_p_two_sided(double z);

/* hot_99, hot_95, hot_90, cold_99, cold_95, cold_90 (p under 0.01, 0.05, 0.10,
 * by the sign of z) or not_significant. */
const char *em_gi_class(double z, double p);

#endif

/* density.h -- violation density: reports counted per estate, grid cell or town,
 * as rates per hectare (and per 1,000 households for estates), with a quantile
 * class 1-5 per unit for mapping. */
#ifndef ESTATEMAP_DENSITY_H
#define ESTATEMAP_DENSITY_H

#include "analysis.h"

extern const em_analysis em_analysis_density;

/* Quintile classes. `sorted` holds the n rates in ascending order; breaks[k-1]
 * (k = 1..4) is the rate at 1-based rank ceil(k*n/5), the top of class k. A rate
 * is in class 1 + (number of breaks it exceeds): equal rates always share a
 * class (the lower one), so many ties - most often zeros - can leave a class
 * empty. With n = 0 the breaks are NaN. */
void em_quintile_breaks(const double *sorted, int n, double breaks[4]);
int em_quintile_class(double rate, const double breaks[4]);

#endif

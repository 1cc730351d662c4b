/* corridors.h -- the four corridor types (四类沿线): for every estate, the distance
 * in metres to the nearest corridor of each type and whether the estate is "along"
 * it (distance at or under the type's buffer). Policy §三(二)1. */
#ifndef ESTATEMAP_CORRIDORS_H
#define ESTATEMAP_CORRIDORS_H

#include "analysis.h"

/* Corridors farther than this from an estate count as none: a null distance. */
#define EM_CORRIDOR_SEARCH_M 10000.0

extern const em_analysis em_analysis_corridors;

#endif

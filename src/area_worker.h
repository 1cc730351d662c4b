/* area_worker.h -- the areas (square metres, in the metric CRS) of many SpatiaLite
 * polygons, measured on a second thread while the caller reads the next rows.
 *
 * Add each BLOB (copied) with the caller's index for it; results come back through
 * `store` on the caller's thread, inside em_area_worker_add() or _finish(), in the
 * order added. */
#ifndef ESTATEMAP_AREA_WORKER_H
#define ESTATEMAP_AREA_WORKER_H

#include "errors.h"
#include "metric.h"

#include <stddef.h>

/* Item `index` measured `area`; or, with `err` set, it could not be measured (the
 * callee may prefix the error with what the item is). */
typedef void (*em_area_store)(void *ctx, size_t index, double area, em_error *err);

typedef struct em_area_worker em_area_worker;

em_area_worker *em_area_worker_new(em_area_store store, void *ctx, em_error *err);
/* -1 with `err` when memory ran out or an earlier item failed (after `store`). */
int em_area_worker_add(em_area_worker *w, size_t index, const void *blob, int size, em_error *err);
/* Wait for every item; -1 as for _add. */
int em_area_worker_finish(em_area_worker *w, em_error *err);
/* Stops the thread; call it in every case. */
void em_area_worker_free(em_area_worker *w);

#endif

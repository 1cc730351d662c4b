/* links.h -- the links estatemap derives from location, never from input.
 *
 * estate -> town (the town holding a point on the estate's surface), violation ->
 * estate and violation -> grid cell (the polygon the point lies in or on). They are
 * recomputed inside the transaction of every import or write that moves geometry,
 * so they can never disagree with the geometry on disk. */
#ifndef ESTATEMAP_LINKS_H
#define ESTATEMAP_LINKS_H

#include "db.h"
#include "errors.h"

/* Recompute every link. Call inside the caller's transaction. */
int em_links_update(em_db *db, em_error *err);
/* Recompute the links of one violation (after an HTTP write). */
int em_links_update_violation(em_db *db, long long violation_id, em_error *err);

#endif

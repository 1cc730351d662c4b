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

/* Recompute the links that a write to `layer` can change, where that layer's rows
 * with id >= first_new_id are the new ones: new violations get their links; new
 * estates their town; and every violation is re-linked when estates or grid cells
 * changed, every estate when towns did. Call inside the caller's transaction. */
int em_links_after_write(em_db *db, const char *layer, long long first_new_id, em_error *err);
/* Recompute every link (after edits made outside estatemap). */
int em_links_update_all(em_db *db, em_error *err);

#endif

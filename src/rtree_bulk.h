/* rtree_bulk.h -- building a layer's SpatiaLite spatial index in one pass.
 *
 * SQLite's R*Tree inserts one row at a time, choosing a leaf and splitting nodes as
 * it goes, which made building the index the slowest step of an import. Here the
 * boxes are sorted into full nodes with Sort-Tile-Recursive packing and the nodes
 * are written straight into the R*Tree's own tables (%_node, %_parent, %_rowid), in
 * the documented node layout and with SQLite's own rounding of the box to 32-bit
 * floats, so the index holds exactly what row-by-row inserts would store, and
 * SQLite's R*Tree, rtreecheck() and SpatiaLite read and update it as usual. */
#ifndef ESTATEMAP_RTREE_BULK_H
#define ESTATEMAP_RTREE_BULK_H

#include "db.h"
#include "errors.h"
#include <stddef.h>

typedef struct {
    long long id;
    double box[4]; /* min x, min y, max x, max y */
} em_rtree_entry;

/* Fill the empty 2-D R*Tree `name` (columns id, min x, max x, min y, max y) with
 * `entries` (fastest in id order). Returns 0, or -1 with `err` set. */
int em_rtree_bulk_load(em_db *db, const char *name, em_rtree_entry *entries, size_t n,
                       em_error *err);

/* Bring the spatial index idx_<table>_geom up to date after rows with ids from
 * `first_new_id` on were written without it: the new rows are added one by one
 * when they are few next to the rest, else the index is dropped, created again
 * with the same definition and bulk-loaded from every row. */
int em_spatial_index_update(em_db *db, const char *table, long long first_new_id, em_error *err);

#endif

/* writes.h -- the four edits the programme's people make, as library calls the
 * HTTP API makes (api.c) and the CLI could make too:
 *
 *   - a grid inspector reports a violation (a GeoJSON Feature with a Point);
 *   - an inspector or planner resolves (or corrects) a report;
 *   - a planner or town officer sets an estate's tier, stage and attributes;
 *   - they replace an estate's renovation items (§四(二), items 1-15).
 *
 * Each call validates everything before it writes (the values through the same
 * em_field_bind() and column domains the importer uses), runs in one transaction
 * (BEGIN IMMEDIATE on the caller's writable connection), recomputes the derived
 * links a new report needs (links.h), records the change in the audit log with the
 * values before and after (audit.h), and commits; on any failure nothing is
 * written. The layer_versions triggers (schema v2) bump the layer's version, so
 * caches see the change. Times are Shanghai local time (an input with another
 * offset, or Z, is converted). */
#ifndef ESTATEMAP_WRITES_H
#define ESTATEMAP_WRITES_H

#include "audit.h"
#include "chinacoords.h"
#include "db.h"
#include "errors.h"
#include "layers.h"

#include <json-c/json.h>

/* A report may be dated at most this far ahead of the server's clock (clock skew
 * between a phone and the server), never more. */
#define EM_WRITE_CLOCK_SKEW_SECONDS 300
#define EM_WRITE_MAX_TEXT 4000 /* bytes of a description; other texts 200 */

typedef struct {
    /* EM_ERR_USAGE: the body is not the expected JSON shape (HTTP 400);
     * EM_ERR_INPUT: a value fails validation (HTTP 422);
     * EM_ERR_NOTFOUND: no such feature (404); EM_ERR_RUNTIME: a bug or database
     * failure (500), or see the flags. */
    em_error err;
    char field[64];  /* the member at fault ("geometry", "category", "items[2].status"), or "" */
    int conflict;    /* a unique value (a report's code) is taken: HTTP 409 */
    int unavailable; /* the database is read-only, busy or full: HTTP 503 */
} em_write_error;

/* POST: `feature` is a GeoJSON Feature with a Point geometry in lon/lat (`coords`
 * says whether it is WGS84/CGCS2000, GCJ-02 or BD-09) and properties category
 * (aliases such as 群租 or English names accepted), reported_at (default: now),
 * resolved_at, status, source (default 网格巡查), description, code, extra (an
 * object). The point must lie in a town of the district; dates may not be in the
 * future and resolved_at may not precede reported_at. estate_code and grid_code are
 * derived from the location. On success *out is the stored Feature. */
int em_write_violation_create(em_db *db, const em_audit_who *who, json_object *feature,
                              em_coords coords, json_object **out, em_write_error *e);

/* PATCH: members status, resolved_at, category, source, description, extra (merged:
 * a null member removes a key). status "resolved" without resolved_at resolves it
 * now; "open" reopens it and clears resolved_at. *out is the Feature after. */
int em_write_violation_update(em_db *db, const em_audit_who *who, long long id, json_object *patch,
                              json_object **out, em_write_error *e);

/* PATCH: any estate column but code and the derived town_code (tier, stage, dates,
 * attributes), plus extra (merged). null clears a value. plan_date <= start_date <=
 * completed_date <= accepted_date where a changed date meets another. `ref` is the
 * row id or the estate's code. *out is the estate's attributes after. */
int em_write_estate_update(em_db *db, const em_audit_who *who, const char *ref, json_object *patch,
                           json_object **out, em_write_error *e);

/* PUT: the estate's renovation items, replaced as a whole: an array (or {"items":
 * [...]}) of {item_id 1-15, status, budget_yuan, owners_share}, each item at most
 * once; [] removes them all. *out is {"estate_id", "estate_code", "items"}. */
int em_write_estate_renovation(em_db *db, const em_audit_who *who, const char *ref,
                               json_object *items, json_object **out, em_write_error *e);

/* ---- reading back (also the estate card's) ---- */

/* {"id", every column of the spatial layer, "extra"} for one row, typed as the OGC
 * API types them (booleans, numbers, strings); NULL with EM_ERR_NOTFOUND. */
json_object *em_feature_attributes(em_db *db, const em_layer *layer, long long id, em_error *err);
/* A violation as a GeoJSON Feature {"type","id","geometry","properties"}. */
json_object *em_violation_feature(em_db *db, long long id, em_error *err);

#endif

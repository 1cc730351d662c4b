/* audit.h -- the audit log: one row per write, in the write's own transaction.
 *
 * Every write made through the API (writes.h) records who made it (the token's name
 * and role, the client address), when (Shanghai time, with its +08:00 offset), what
 * (method, path, layer, feature id and code) and the feature's values before and
 * after as JSON (NULL before a creation). The table (schema migration 3) is
 * append-only: triggers refuse UPDATE and DELETE. */
#ifndef ESTATEMAP_AUDIT_H
#define ESTATEMAP_AUDIT_H

#include "db.h"
#include "errors.h"

#include <json-c/json.h>

typedef struct {
    const char *actor;  /* the token's name, or e.g. "cli:$USER" */
    const char *role;   /* inspector, planner, admin; may be NULL */
    const char *client; /* remote address; may be NULL */
    const char *method; /* POST, PATCH, PUT (or a CLI command) */
    const char *path;   /* the request path (or the CLI's arguments) */
} em_audit_who;

/* Now in Shanghai time: "YYYY-MM-DDTHH:MM:SS" (as times are stored) and with the
 * offset "YYYY-MM-DDTHH:MM:SS+08:00". China keeps no daylight saving time. */
void em_shanghai_now(char out[20]);
void em_shanghai_now_offset(char out[26]);

/* Append one row. `before`/`after` may be NULL; they are not consumed. */
int em_audit_record(em_db *db, const em_audit_who *who, const char *layer, long long feature_id,
                    const char *feature_code, json_object *before, json_object *after,
                    em_error *err);

typedef struct {
    const char *layer;    /* NULL: any */
    long long feature_id; /* 0: any */
    const char *actor;    /* NULL: any */
    long limit, offset;
} em_audit_query;

/* Rows newest first: {"numberMatched", "numberReturned", "entries": [{"id", "at",
 * "actor", "role", "client", "method", "path", "layer", "feature_id", "feature_code",
 * "before", "after"}]} with before/after as JSON. */
json_object *em_audit_list(em_db *db, const em_audit_query *q, em_error *err);

#endif

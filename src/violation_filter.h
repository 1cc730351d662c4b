/* violation_filter.h -- which violation reports an analysis counts: by category
 * or group (五违, 六乱, 违法使用房屋), status and reporting date. Density and hot
 * spots share it, so `--group 五违 --from 2016-01-01` means the same in both. */
#ifndef ESTATEMAP_VIOLATION_FILTER_H
#define ESTATEMAP_VIOLATION_FILTER_H

#include "analysis.h"

#include <json-c/json.h>
#include <sqlite3.h>

/* The parameters it reads: category, group, status, from, to. */
#define EM_VIOLATION_FILTER_KEYS "category", "group", "status", "from", "to"

/* Help lines for those parameters. */
#define EM_VIOLATION_FILTER_HELP                                                                   \
    "  --category LIST   count only these categories (comma-separated names, e.g.\n"               \
    "                    违法建筑,群租; aliases and English names accepted)\n"               \
    "  --group G         count only one group: 五违, 六乱 or 违法使用房屋\n"             \
    "  --status S        open or resolved\n"                                                       \
    "  --from DATE       reported on or after DATE (YYYY-MM-DD)\n"                                 \
    "  --to DATE         reported on or before DATE (the whole day counts)\n"

typedef struct {
    char *categories; /* "|违法建筑|违法居住|", or NULL for all */
    const char *status;
    char from[11], to[11]; /* "" when not given */
    json_object *summary;  /* the filter as given, for the result's summary */
} em_violation_filter;

/* A condition on the violations table (no alias) using parameters ?101-?104. */
#define EM_VIOLATION_FILTER_SQL                                                                    \
    "(?101 IS NULL OR instr(?101, '|' || category || '|') > 0)"                                    \
    " AND (?102 IS NULL OR status = ?102)"                                                         \
    " AND (?103 IS NULL OR reported_at >= ?103)"                                                   \
    " AND (?104 IS NULL OR substr(reported_at, 1, 10) <= ?104)"

/* Parse and validate; usage errors name the parameter. */
int em_violation_filter_parse(em_db *db, const em_params *p, em_violation_filter *f, em_error *err);
int em_violation_filter_bind(const em_violation_filter *f, sqlite3_stmt *st);
void em_violation_filter_free(em_violation_filter *f);

#endif

/* analysis.h -- the programme's analyses, by name, with string parameters.
 *
 * Parameters arrive as key/value strings from either front end (`--buffer
 * railway=50` on the CLI, `?buffer=railway=50` over HTTP) and each analysis parses
 * and validates its own, so both front ends accept and refuse exactly the same
 * input. Every analysis returns an em_table (table.h). */
#ifndef ESTATEMAP_ANALYSIS_H
#define ESTATEMAP_ANALYSIS_H

#include "db.h"
#include "errors.h"
#include "table.h"

#define EM_PARAMS_MAX 32

typedef struct {
    int n;
    const char *key[EM_PARAMS_MAX];
    const char *value[EM_PARAMS_MAX];
    /* Set by a front end whose output has no geometry (json, csv, table), so the
     * analyses skip writing GeoJSON text for every row. */
    int without_geometry;
} em_params;

/* The GeoJSON column of an analysis query, computed only when the output wants it.
 * It uses a fixed, high parameter number so that it never collides with the
 * statement's own numbered parameters (a named one would take number 1 here). */
#define EM_GEOJSON_PARAM 60 /* written "CASE WHEN ?60 THEN AsGeoJSON(geom, 7) END" */
/* Binds that parameter from the params (a statement without it is left alone). */
void em_params_bind_geometry(const em_params *p, sqlite3_stmt *st);

/* Adds a pair (pointers are kept, not copied); -1 when full. */
int em_params_add(em_params *p, const char *key, const char *value);
/* The value of `key`, or NULL. A key given twice is refused by em_params_check. */
const char *em_params_get(const em_params *p, const char *key);
/* Fails with a usage error naming the first parameter not in `allowed` (NULL-ended),
 * or one given twice. */
int em_params_check(const em_params *p, const char *const *allowed, em_error *err);

/* Typed getters: return 0 and set *out (left unchanged when absent), or fail with a
 * usage error naming the parameter. */
int em_params_int(const em_params *p, const char *key, long lo, long hi, long *out, em_error *err);
int em_params_real(const em_params *p, const char *key, double lo, double hi, double *out,
                   em_error *err);
int em_params_bool(const em_params *p, const char *key, int *out, em_error *err);
int em_params_date(const em_params *p, const char *key, char out[11], em_error *err);
/* `town`: NULL when absent; a usage error unless it is a 9-digit code that names a
 * town or appears on some estate or grid cell. */
int em_params_town(em_db *db, const em_params *p, const char **out, em_error *err);

typedef em_table *(*em_analysis_fn)(em_db *db, const em_params *params, em_error *err);

typedef struct {
    const char *name;
    em_analysis_fn run;
    const char *summary; /* one line */
    const char *help;    /* the parameters, one per line: "  --name VALUE  what it does" */
    int has_geometry;    /* can answer as GeoJSON */
} em_analysis;

const em_analysis *em_analysis_find(const char *name);
size_t em_analysis_count(void);
const em_analysis *em_analysis_at(size_t i);

#endif

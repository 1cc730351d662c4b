#include "analysis.h"
#include "corridors.h"
#include "density.h"
#include "eligibility.h"
#include "fields.h"
#include "hotspots.h"
#include "progress.h"
#include "tiers.h"

#include <stdlib.h>
#include <string.h>

/* The registry: each analysis module exports its entry. */
static const em_analysis *const registry[] = {
    /* spatial: corridors, density, hotspots */
    &em_analysis_corridors,
    &em_analysis_density,
    &em_analysis_hotspots,
    /* programme rules: eligibility, tiers, progress */
    &em_analysis_eligibility,
    &em_analysis_tiers,
    &em_analysis_progress,
    NULL,
};

const em_analysis *em_analysis_find(const char *name) {
    for (size_t i = 0; registry[i]; i++)
        if (name && strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

size_t em_analysis_count(void) {
    size_t n = 0;
    while (registry[n])
        n++;
    return n;
}

const em_analysis *em_analysis_at(size_t i) {
    return i < em_analysis_count() ? registry[i] : NULL;
}

void em_params_bind_geometry(const em_params *p, sqlite3_stmt *st) {
    if (sqlite3_bind_parameter_count(st) >= EM_GEOJSON_PARAM)
        sqlite3_bind_int(st, EM_GEOJSON_PARAM, !p->without_geometry);
}

int em_params_add(em_params *p, const char *key, const char *value) {
    if (p->n >= EM_PARAMS_MAX)
        return -1;
    p->key[p->n] = key;
    p->value[p->n] = value;
    p->n++;
    return 0;
}

const char *em_params_get(const em_params *p, const char *key) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->key[i], key) == 0)
            return p->value[i];
    return NULL;
}

int em_params_check(const em_params *p, const char *const *allowed, em_error *err) {
    for (int i = 0; i < p->n; i++) {
        int known = 0;
        for (int a = 0; allowed[a] && !known; a++)
            known = strcmp(allowed[a], p->key[i]) == 0;
        if (!known)
            return em_fail(err, EM_ERR_USAGE, "unknown parameter '%s'", p->key[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(p->key[j], p->key[i]) == 0)
                return em_fail(err, EM_ERR_USAGE, "parameter '%s' given twice", p->key[i]);
    }
    return 0;
}

int em_params_int(const em_params *p, const char *key, long lo, long hi, long *out, em_error *err) {
    const char *v = em_params_get(p, key);
    if (!v)
        return 0;
    long long n;
    if (em_parse_integer(v, &n) < 0 || n < lo || n > hi)
        return em_fail(err, EM_ERR_USAGE, "%s: '%s' is not a whole number from %ld to %ld", key, v,
                       lo, hi);
    *out = (long)n;
    return 0;
}

int em_params_real(const em_params *p, const char *key, double lo, double hi, double *out,
                   em_error *err) {
    const char *v = em_params_get(p, key);
    if (!v)
        return 0;
    double d;
    /* "50%" is a rate in an imported file, but never a buffer or a band in metres */
    if (strchr(v, '%') || em_parse_real(v, &d) < 0 || d < lo || d > hi)
        return em_fail(err, EM_ERR_USAGE, "%s: '%s' is not a number from %g to %g", key, v, lo, hi);
    *out = d;
    return 0;
}

int em_params_bool(const em_params *p, const char *key, int *out, em_error *err) {
    const char *v = em_params_get(p, key);
    if (!v)
        return 0;
    if (em_parse_bool(v, out) < 0)
        return em_fail(err, EM_ERR_USAGE, "%s: '%s' is not true or false", key, v);
    return 0;
}

int em_params_date(const em_params *p, const char *key, char out[11], em_error *err) {
    const char *v = em_params_get(p, key);
    if (!v)
        return 0;
    if (em_parse_date(v, out) < 0)
        return em_fail(err, EM_ERR_USAGE, "%s: '%s' is not a date (YYYY-MM-DD)", key, v);
    return 0;
}

int em_params_town(em_db *db, const em_params *p, const char **out, em_error *err) {
    const char *town = em_params_get(p, "town");
    *out = NULL;
    if (!town)
        return 0;
    int digits = (int)strlen(town) == 9;
    for (const char *c = town; digits && *c; c++)
        digits = *c >= '0' && *c <= '9';
    if (!digits)
        return em_fail(err, EM_ERR_USAGE, "town: '%s' is not a 9-digit town code (e.g. 310112101)",
                       town);
    sqlite3_stmt *st = em_db_prepare(db,
                                     "SELECT EXISTS (SELECT 1 FROM towns WHERE code = ?1)"
                                     " OR EXISTS (SELECT 1 FROM estates WHERE town_code = ?1)"
                                     " OR EXISTS (SELECT 1 FROM grid WHERE town_code = ?1)",
                                     err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, town, -1, SQLITE_STATIC);
    int known = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (!known)
        return em_fail(err, EM_ERR_USAGE, "town: no town, estate or grid cell has the code '%s'",
                       town);
    *out = town;
    return 0;
}

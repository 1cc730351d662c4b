/* eligibility.h -- §三 of the policy: the seven prerequisites every estate must meet
 * before it gets renovation support (§三(一)) and the three criteria that put an
 * eligible estate first in line (§三(二)).
 *
 * em_rules_evaluate is the one place these rules are computed; the `eligibility`
 * analysis prints it and the `tiers` analysis ranks on it, so the two always agree. */
#ifndef ESTATEMAP_ELIGIBILITY_H
#define ESTATEMAP_ELIGIBILITY_H

#include "analysis.h"
#include "settings.h"

#define EM_PREREQS 7
#define EM_PRIORITIES 3

typedef struct {
    char *code, *name, *town_code;
    int built_year; /* 0 when unknown */
    int in_scope;   /* built_year < scope_built_before; unknown year is out of scope */
    double fee_rate, satisfaction; /* NAN when unknown */
    char *owners_committee;        /* none / formed / operating, or NULL */
    char *tier;                    /* the assigned tier, or NULL */
    double grid_coverage;          /* 0-1; NAN when the estate has no area */
    int open_wuwei;                /* open 五违 reports as of the date */
    int pass[EM_PREREQS];
    char *reason[EM_PREREQS], *reason_zh[EM_PREREQS];
    int eligible; /* all seven pass */
    int prio[EM_PRIORITIES];
    char *prio_reason[EM_PRIORITIES], *prio_reason_zh[EM_PRIORITIES];
    int priority_score; /* criteria met, 0-3 */
    json_object *along; /* corridor types within their buffer, a JSON array */
    char *geojson;      /* the estate polygon, when asked for */
} em_estate_rules;

typedef struct {
    const char *as_of; /* YYYY-MM-DD: the state at the end of that day */
    const char *town;  /* NULL: every town */
    long built_before; /* 0: any year; else built_year < this */
    int scope_only;    /* only estates in the renovation scope (settings) */
    int with_geometry; /* fill geojson */
} em_rules_query;

typedef struct {
    em_settings settings;
    char as_of[11];
    int n;
    em_estate_rules *estates; /* ordered by code */
} em_rules;

int em_rules_evaluate(em_db *db, const em_rules_query *q, em_rules *out, em_error *err);
void em_rules_free(em_rules *r);

extern const em_analysis em_analysis_eligibility;

#endif

/* settings.h -- the programme's thresholds, typed, and the parameters the rules
 * analyses share (as-of date, town).
 *
 * The thresholds live in the `settings` table so a district can change them without
 * a new build; every rules analysis reads them here, once, so eligibility, tiers and
 * progress cannot disagree about what "fee collection high enough" means. A missing
 * row falls back to the policy's default; a value that does not parse is an error,
 * never silently replaced. */
#ifndef ESTATEMAP_SETTINGS_H
#define ESTATEMAP_SETTINGS_H

#include "analysis.h"
#include "db.h"
#include "errors.h"

typedef struct {
    double fee_collection_min; /* §三(一)2: 0-1 */
    double grid_coverage_min;  /* §三(一)6: 0-1 */
    long wuwei_open_max;       /* §三(一)1: most open 五违 reports allowed */
    long wuwei_new_days;       /* §三(一)1: no new 五违 in this many days; 0 turns it off */
    long scope_built_before;   /* §四(二): renovation scope, built before this year */
    double demo_quota;         /* §五(二)1: 示范版 share of each town's estates in scope */
    double upgrade_quota;      /* §五(二)2: 提升版 share */
} em_settings;

/* The policy's defaults (the values `estatemap init` writes). */
void em_settings_defaults(em_settings *s);
/* Read the settings table; missing keys keep their default. A value that is not a
 * number in its range fails with EM_ERR_INPUT naming the key. */
int em_settings_load(em_db *db, em_settings *s, em_error *err);
/* The settings as a JSON object, for analysis summaries. */
json_object *em_settings_json(const em_settings *s);

/* `as-of` (YYYY-MM-DD), defaulting to today's local date. */
int em_rules_as_of(const em_params *p, char out[11], em_error *err);

/* ceil(share * n) without floating-point surprises (0.1 * 30 is 3.0000000000000004). */
long em_quota_count(double share, long n);

#endif

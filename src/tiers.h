/* tiers.h -- §五(一): the three tiers (示范版, 提升版, 基础版), the tier the policy
 * recommends for each estate in scope, and each town's quotas (示范 >= 10%, 提升 >= 40%
 * of the estates in scope) checked against the tiers the towns have assigned. */
#ifndef ESTATEMAP_TIERS_H
#define ESTATEMAP_TIERS_H

#include "analysis.h"
#include "eligibility.h"

extern const em_analysis em_analysis_tiers;

/* The tiers analysis's row for one estate (`estatemap analyze tiers --by estate`,
 * with its columns: recommended_tier, assigned_tier, rank, note, ...), made by the
 * same ranking from `r`, an evaluation of at least the estate's whole town on the
 * date wanted (em_rules_evaluate, in scope or not). `require_committee` is the
 * analysis's --require-committee (true by default there). NULL when the estate is
 * outside the renovation scope, which has no tiers, or is not in `r`. */
json_object *em_tiers_estate(const em_rules *r, const char *code, int require_committee);

#endif

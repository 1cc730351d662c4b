/* tiers.h -- §五(一): the three tiers (示范版, 提升版, 基础版), the tier the policy
 * recommends for each estate in scope, and each town's quotas (示范 >= 10%, 提升 >= 40%
 * of the estates in scope) checked against the tiers the towns have assigned. */
#ifndef ESTATEMAP_TIERS_H
#define ESTATEMAP_TIERS_H

#include "analysis.h"

extern const em_analysis em_analysis_tiers;

#endif

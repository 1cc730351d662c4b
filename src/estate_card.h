/* estate_card.h -- everything about one estate on one page (GET /api/estates/{id}):
 *
 *   attributes     every column and `extra`, the town's name, the bounding box;
 *   prerequisites  the seven of §三(一), pass/fail with the reason, in English and
 *                  Chinese, as the eligibility analysis judges them (eligibility.h;
 *                  the same em_rules_evaluate, so card and analysis always agree);
 *   priority       the three criteria of §三(二), the score, the corridor types along;
 *   tiers          the estate's row of the tiers analysis (em_tiers_estate: recommended
 *                  tier, rank in its town, why), judged on the same date; an estate
 *                  outside the renovation scope gets in_scope false and no tier;
 *   violations     counts by category (with its group) and status, a monthly series
 *                  of reports and resolutions for a chart, the latest report;
 *   renovation     the estate's items joined with the 15 items' names, with totals.
 *
 * The card is built on the caller's (read-only) connection. */
#ifndef ESTATEMAP_ESTATE_CARD_H
#define ESTATEMAP_ESTATE_CARD_H

#include "analysis.h"
#include "db.h"
#include "errors.h"

#include <json-c/json.h>

/* An estate by row id (all digits) or by code; the id wins when both could match.
 * EM_ERR_NOTFOUND when neither does. `code` gets the estate's code. */
int em_estate_resolve(em_db *db, const char *ref, long long *id, char *code, size_t codelen,
                      em_error *err);

/* The estate's renovation items, by item id: [{"item_id", "name_zh", "name_en",
 * "category", "status", "budget_yuan", "owners_share"}]. */
json_object *em_renovation_items(em_db *db, const char *estate_code, em_error *err);

/* The card. `params` may hold "as-of" (YYYY-MM-DD, default today), the date the
 * prerequisites are judged on; any other key is a usage error. */
json_object *em_estate_card(em_db *db, const char *ref, const em_params *params, em_error *err);

#endif

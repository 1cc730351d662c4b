/* progress.c -- the §五(二) timeline, milestone by milestone, per town and for the
 * district, as of a date.
 *
 * Long format: one row per (town, milestone), the district's rows last (town_code
 * 310112), so a table, a CSV pivot and a chart all read it the same way. For each
 * milestone:
 *   target   how many estates must reach it (null where the policy sets none: the 5
 *            pilots are a district target, so towns only report their count);
 *   done     estates that reached it on or before min(as-of, deadline);
 *   late     estates that reached it after the deadline but by the as-of date
 *            (for the milestones that cover a whole set; null for pilots_2016 and
 *            demo_half, where a later completion is not a late one);
 *   share    done / target;
 *   status   met (done >= target), pending (not yet met, deadline after as-of) or
 *            not_met (deadline passed). A target of 0 is met.
 * The estates in the programme are those with an assigned tier (estates.tier); an
 * estate is complete on the earlier of completed_date and accepted_date (acceptance
 * implies completion). Stages without dates cannot be placed on the timeline; the
 * summary counts them so they can be fixed. */
#include "progress.h"
#include "settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_PLANS, M_SCOPE, M_PILOTS, M_DEMO_HALF, M_DEMO_ALL, M_UPGRADE, M_BASIC, M_ACCEPTED, M_N };

typedef struct {
    const char *id, *tier, *deadline, *en, *zh;
    int all; /* the target is the whole set, so "late" means something */
} milestone;

static const milestone milestones[M_N] = {
    {"plans", NULL, "2016-11-30", "a plan for every tiered estate (2016-10 to 11)",
     "已定版本小区完成一小区一实施方案（2016年10-11月）", 1},
    {"scope_planned", NULL, "2016-11-30",
     "every estate in scope (built before the scope year) tiered and planned by 2016-11",
     "应建尽建小区全部定版本并完成方案（2016年11月底前）", 1},
    {"pilots_2016", "示范版", "2016-12-31", "5 demonstration pilots completed in 2016 (district)",
     "年内完成5个试点小区创建（全区）", 0},
    {"demo_half", "示范版", "2017-03-31", "half of the 示范版 estates completed by 2017 Q1",
     "2017年一季度完成50%示范版小区创建", 0},
    {"demo_all", "示范版", "2017-06-30", "all 示范版 estates completed by 2017 Q2",
     "2017年二季度基本完成示范版小区创建", 1},
    {"upgrade_all", "提升版", "2017-12-31", "all 提升版 estates completed by 2017-12",
     "2017年12月底前全部完成提升版创建", 1},
    {"basic_all", "基础版", "2017-12-31", "all 基础版 estates completed by 2017-12",
     "2017年12月底前全部完成基础版创建", 1},
    {"accepted", NULL, "2017-12-31", "every tiered estate accepted (2017-04 to 12)",
     "已定版本小区全部通过考核验收（2017年4-12月）", 1},
};

#define DISTRICT_PILOTS 5

typedef struct {
    char *code, *name;
    long target[M_N], done[M_N], late[M_N];
    int counts[3]; /* tiered estates per tier */
    int in_scope;
} town_progress;

static town_progress *find_town(town_progress **towns, int *n, const char *code, int add) {
    for (int i = 0; i < *n; i++)
        if (strcmp((*towns)[i].code, code) == 0)
            return &(*towns)[i];
    if (!add)
        return NULL;
    town_progress *t = realloc(*towns, sizeof *t * (size_t)(*n + 1));
    if (!t)
        abort();
    *towns = t;
    t = &(*towns)[(*n)++];
    memset(t, 0, sizeof *t);
    t->code = strdup(code);
    return t;
}

/* date <= min(as_of, deadline): on time; deadline < date <= as_of: late */
static void count_date(town_progress *t, int m, const char *date, const char *as_of) {
    if (!date || strcmp(date, as_of) > 0)
        return;
    if (strcmp(date, milestones[m].deadline) <= 0)
        t->done[m]++;
    else
        t->late[m]++;
}

static int tier_of(const char *tier) {
    if (!tier)
        return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(tier, i == 0 ? "示范版" : i == 1 ? "提升版" : "基础版") == 0)
            return i;
    return -1;
}

enum {
    C_CODE,
    C_NAME,
    C_MILESTONE,
    C_DESC,
    C_DESC_ZH,
    C_TIER,
    C_DEADLINE,
    C_TARGET,
    C_DONE,
    C_LATE,
    C_SHARE,
    C_STATUS,
    C_COUNT
};

static const em_table_column columns[C_COUNT] = {
    {"town_code", "街镇代码", -1},     {"town_name", "街镇", -1},      {"milestone", "节点", -1},
    {"description", "说明(英文)", -1}, {"description_zh", "说明", -1}, {"tier", "版本", -1},
    {"deadline", "截止日期", -1},      {"target", "目标数", -1},       {"done", "按期完成", -1},
    {"late", "逾期完成", -1},          {"share", "完成率", 3},         {"status", "状态", -1},
};

static void add_rows(em_table *t, const town_progress *w, const char *as_of) {
    for (int m = 0; m < M_N; m++) {
        em_table_add_row(t);
        em_table_set_text(t, C_CODE, w->code[0] ? w->code : NULL);
        em_table_set_text(t, C_NAME, w->name);
        em_table_set_text(t, C_MILESTONE, milestones[m].id);
        em_table_set_text(t, C_DESC, milestones[m].en);
        em_table_set_text(t, C_DESC_ZH, milestones[m].zh);
        em_table_set_text(t, C_TIER, milestones[m].tier);
        em_table_set_text(t, C_DEADLINE, milestones[m].deadline);
        em_table_set_int(t, C_DONE, w->done[m]);
        if (milestones[m].all)
            em_table_set_int(t, C_LATE, w->late[m]);
        long target = w->target[m];
        if (target < 0)
            continue; /* no target: only the count */
        em_table_set_int(t, C_TARGET, target);
        if (target > 0)
            em_table_set_real(t, C_SHARE, (double)w->done[m] / (double)target);
        const char *status = w->done[m] >= target                        ? "met"
                             : strcmp(milestones[m].deadline, as_of) > 0 ? "pending"
                                                                         : "not_met";
        em_table_set_text(t, C_STATUS, status);
    }
}

static void set_targets(town_progress *w, int district) {
    w->target[M_PLANS] = w->counts[0] + w->counts[1] + w->counts[2];
    w->target[M_SCOPE] = w->in_scope;
    w->target[M_PILOTS] = district ? DISTRICT_PILOTS : -1;
    w->target[M_DEMO_HALF] = em_quota_count(0.5, w->counts[0]);
    w->target[M_DEMO_ALL] = w->counts[0];
    w->target[M_UPGRADE] = w->counts[1];
    w->target[M_BASIC] = w->counts[2];
    w->target[M_ACCEPTED] = w->target[M_PLANS];
}

static const char *const allowed[] = {"as-of", "town", NULL};

static const char *const estates_sql =
    "SELECT coalesce(town_code, ''), tier, built_year < ?2, plan_date,"
    " CASE WHEN completed_date IS NULL THEN accepted_date"
    "  WHEN accepted_date IS NULL OR completed_date <= accepted_date THEN completed_date"
    "  ELSE accepted_date END,"
    " accepted_date, stage"
    " FROM estates WHERE (?1 IS NULL OR town_code = ?1) AND (tier IS NOT NULL OR built_year < ?2)"
    " ORDER BY code";

static em_table *run_progress(em_db *db, const em_params *params, em_error *err) {
    char as_of[11];
    const char *town = NULL;
    em_settings settings;
    if (em_params_check(params, allowed, err) < 0 || em_rules_as_of(params, as_of, err) < 0 ||
        em_params_town(db, params, &town, err) < 0 || em_settings_load(db, &settings, err) < 0)
        return NULL;

    town_progress *towns = NULL;
    int ntowns = 0;
    sqlite3_stmt *st = em_db_prepare(
        db, "SELECT code, name FROM towns WHERE ?1 IS NULL OR code = ?1 ORDER BY code", err);
    if (!st)
        return NULL;
    if (town)
        sqlite3_bind_text(st, 1, town, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        town_progress *t = find_town(&towns, &ntowns, code ? code : "", 1);
        if (!t->name && name)
            t->name = strdup(name);
    }
    sqlite3_finalize(st);

    town_progress district = {0};
    district.code = "310112";
    district.name = "闵行区";
    long undated = 0, dated_early_stage = 0;
    st = em_db_prepare(db, estates_sql, err);
    if (!st)
        goto fail;
    if (town)
        sqlite3_bind_text(st, 1, town, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, settings.scope_built_before);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(st, 0);
        int tier = tier_of((const char *)sqlite3_column_text(st, 1));
        int in_scope = sqlite3_column_int(st, 2);
        const char *plan = (const char *)sqlite3_column_text(st, 3);
        const char *complete = (const char *)sqlite3_column_text(st, 4);
        const char *accepted = (const char *)sqlite3_column_text(st, 5);
        const char *stage = (const char *)sqlite3_column_text(st, 6);
        town_progress *targets[2] = {find_town(&towns, &ntowns, code ? code : "", 1), &district};
        int finished = stage && (strcmp(stage, "completed") == 0 || strcmp(stage, "accepted") == 0);
        if (tier >= 0 && finished && !complete)
            undated++;
        if (tier >= 0 && !finished && complete)
            dated_early_stage++;
        for (int k = 0; k < 2; k++) {
            town_progress *t = targets[k];
            t->in_scope += in_scope;
            if (in_scope && tier >= 0)
                count_date(t, M_SCOPE, plan, as_of);
            if (tier < 0)
                continue;
            t->counts[tier]++;
            count_date(t, M_PLANS, plan, as_of);
            count_date(t, M_ACCEPTED, accepted, as_of);
            if (tier == 0) {
                count_date(t, M_PILOTS, complete, as_of);
                count_date(t, M_DEMO_HALF, complete, as_of);
                count_date(t, M_DEMO_ALL, complete, as_of);
            } else {
                count_date(t, tier == 1 ? M_UPGRADE : M_BASIC, complete, as_of);
            }
        }
    }
    if (rc != SQLITE_DONE) {
        em_fail(err, EM_ERR_RUNTIME, "reading estates: %s", sqlite3_errmsg(db->sql));
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);

    em_table *t = em_table_new(columns, C_COUNT);
    for (int i = 0; i < ntowns; i++) {
        set_targets(&towns[i], 0);
        add_rows(t, &towns[i], as_of);
    }
    if (!town) {
        set_targets(&district, 1);
        add_rows(t, &district, as_of);
    }
    json_object *s = em_table_summary(t);
    json_object_object_add(s, "as_of", json_object_new_string(as_of));
    const town_progress *whole = town ? (ntowns ? &towns[0] : &district) : &district;
    json_object *tiers = json_object_new_object();
    json_object_object_add(tiers, "示范版", json_object_new_int(whole->counts[0]));
    json_object_object_add(tiers, "提升版", json_object_new_int(whole->counts[1]));
    json_object_object_add(tiers, "基础版", json_object_new_int(whole->counts[2]));
    json_object_object_add(s, "tiered", tiers);
    json_object_object_add(s, "in_scope", json_object_new_int(whole->in_scope));
    json_object *status = json_object_new_object();
    const char *names[] = {"met", "pending", "not_met"};
    for (int k = 0; k < 3; k++) {
        int n = 0;
        for (int r = 0; r < em_table_rows(t); r++) {
            const char *v = em_table_text(t, r, C_STATUS);
            n += v && strcmp(v, names[k]) == 0;
        }
        json_object_object_add(status, names[k], json_object_new_int(n));
    }
    json_object_object_add(s, "rows_by_status", status);
    json_object_object_add(s, "finished_without_date", json_object_new_int64(undated));
    json_object_object_add(s, "dated_but_stage_not_finished",
                           json_object_new_int64(dated_early_stage));
    for (int i = 0; i < ntowns; i++) {
        free(towns[i].code);
        free(towns[i].name);
    }
    free(towns);
    return t;

fail:
    for (int i = 0; i < ntowns; i++) {
        free(towns[i].code);
        free(towns[i].name);
    }
    free(towns);
    return NULL;
}

const em_analysis em_analysis_progress = {
    "progress",
    run_progress,
    "§五(二) timeline: each milestone per town and for the district, as of a date",
    "  --as-of DATE  measure progress at the end of DATE (YYYY-MM-DD; default today)\n"
    "  --town CODE   only this town (9-digit code); without it the district rows follow\n"
    "\n"
    "One row per town and milestone (district last, town_code 310112):\n"
    "  plans          every tiered estate has a plan_date by 2016-11-30\n"
    "  scope_planned  every estate in scope is tiered with a plan_date by 2016-11-30\n"
    "  pilots_2016    示范版 completed in 2016: district target 5, towns report counts\n"
    "  demo_half      ceil(50%) of 示范版 completed by 2017-03-31\n"
    "  demo_all       all 示范版 completed by 2017-06-30\n"
    "  upgrade_all    all 提升版 completed by 2017-12-31\n"
    "  basic_all      all 基础版 completed by 2017-12-31\n"
    "  accepted       every tiered estate accepted by 2017-12-31 (acceptance 2017-04..12)\n"
    "done counts estates on or before min(as-of, deadline); late counts those after the\n"
    "deadline but by as-of. Completion is the earlier of completed_date and accepted_date.\n"
    "status: met, pending (deadline after as-of) or not_met.\n",
    0,
};

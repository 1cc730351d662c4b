/* tiers.c -- recommended tiers and town quotas (§五(一), §五(二)2).
 *
 * The rule, per town, over its estates in scope (built before scope_built_before):
 *   - an estate failing any prerequisite (eligibility.c) can only be 基础版;
 *   - the eligible ones are ranked by priority score (§三(二) criteria met), then
 *     governance strength: 业委会 operating > formed > none > unknown, then fee
 *     collection rate, then satisfaction (unknown last), then code;
 *   - the top ceil(demo_quota x in scope) eligible estates are 示范版, the next
 *     ceil(upgrade_quota x in scope) are 提升版, the rest 基础版.
 * An eligible estate whose 业委会 is not operating also stays at 基础版: §五(一)3 lists
 * "业委会未组建未有效运行" among the 基础版 cases (--require-committee false ranks it).
 * The quotas are checked on the tiers the towns have ASSIGNED (estates.tier): a town
 * meets 示范 when its assigned 示范版 >= demo_quota x in scope, and "needed" is how
 * many more it must assign. The district row adds up the towns: its "needed" is the
 * sum of each town's shortfall (one town's surplus does not cover another's). */
#include "tiers.h"
#include "eligibility.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO "示范版"
#define UPGRADE "提升版"
#define BASIC "基础版"

typedef struct {
    char *code, *name, *geojson;
    int in_scope, eligible, assigned[3], unassigned, assigned_failing, recommended[3];
    long demo_required, upgrade_required;
} town_row;

typedef struct {
    em_estate_rules *e;
    int rank;    /* among the town's eligible estates, from 1; 0 when failing */
    int of;      /* how many eligible in the town */
    int tier;    /* recommended: 0 示范版, 1 提升版, 2 基础版 */
    long demo_n; /* the town's 示范版 places */
    long upgrade_n;
    int town_scope;
    int qualifies; /* may be above 基础版: eligible (and 业委会 operating, if required) */
} ranked;

static int tier_index(const char *tier) {
    if (!tier)
        return -1;
    if (strcmp(tier, DEMO) == 0)
        return 0;
    if (strcmp(tier, UPGRADE) == 0)
        return 1;
    if (strcmp(tier, BASIC) == 0)
        return 2;
    return -1;
}

static const char *const tier_names[3] = {DEMO, UPGRADE, BASIC};

static int committee_rank(const char *c) {
    if (!c)
        return -1;
    if (strcmp(c, "operating") == 0)
        return 2;
    if (strcmp(c, "formed") == 0)
        return 1;
    return 0;
}

/* descending, with unknown (NAN) last */
static int cmp_desc(double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return (a < b) - (a > b);
}

static int by_strength(const void *pa, const void *pb) {
    const em_estate_rules *a = ((const ranked *)pa)->e, *b = ((const ranked *)pb)->e;
    if (a->priority_score != b->priority_score)
        return b->priority_score - a->priority_score;
    int ca = committee_rank(a->owners_committee), cb = committee_rank(b->owners_committee);
    if (ca != cb)
        return cb - ca;
    int c = cmp_desc(a->fee_rate, b->fee_rate);
    if (c)
        return c;
    c = cmp_desc(a->satisfaction, b->satisfaction);
    if (c)
        return c;
    return strcmp(a->code, b->code);
}

static const char *town_key(const em_estate_rules *e) {
    return e->town_code ? e->town_code : "";
}

static int load_towns(em_db *db, const char *town, town_row **out, int *n, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        db,
        "SELECT code, name, AsGeoJSON(geom, 7) FROM towns WHERE ?1 IS NULL OR code = ?1"
        " ORDER BY code",
        err);
    if (!st)
        return -1;
    if (town)
        sqlite3_bind_text(st, 1, town, -1, SQLITE_STATIC);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            town_row *t = realloc(*out, sizeof *t * (size_t)cap);
            if (!t)
                abort();
            *out = t;
        }
        town_row *t = &(*out)[(*n)++];
        memset(t, 0, sizeof *t);
        const char *s;
        t->code = strdup((s = (const char *)sqlite3_column_text(st, 0)) ? s : "");
        t->name = (s = (const char *)sqlite3_column_text(st, 1)) ? strdup(s) : NULL;
        t->geojson = (s = (const char *)sqlite3_column_text(st, 2)) ? strdup(s) : NULL;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "reading towns: %s", sqlite3_errmsg(db->sql));
    return 0;
}

static town_row *find_or_add_town(town_row **towns, int *n, const char *code) {
    for (int i = 0; i < *n; i++)
        if (strcmp((*towns)[i].code, code) == 0)
            return &(*towns)[i];
    town_row *t = realloc(*towns, sizeof *t * (size_t)(*n + 1));
    if (!t)
        abort();
    *towns = t;
    t = &(*towns)[(*n)++];
    memset(t, 0, sizeof *t);
    t->code = strdup(code);
    return t;
}

static long count_tiered_out_of_scope(em_db *db, const em_settings *s, const char *town) {
    sqlite3_stmt *st = em_db_prepare(db,
                                     "SELECT count(*) FROM estates WHERE tier IS NOT NULL"
                                     " AND NOT coalesce(built_year < ?1, 0)"
                                     " AND (?2 IS NULL OR town_code = ?2)",
                                     NULL);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, s->scope_built_before);
    if (town)
        sqlite3_bind_text(st, 2, town, -1, SQLITE_STATIC);
    long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

/* Town first, then the eligible before the failing, the eligible by strength and
 * the failing by code: each town's run of the sorted list is its ranking. */
static int by_town_then_strength(const void *pa, const void *pb) {
    const ranked *ka = pa, *kb = pb;
    int c = strcmp(town_key(ka->e), town_key(kb->e));
    if (c)
        return c;
    if (ka->qualifies != kb->qualifies)
        return kb->qualifies - ka->qualifies;
    return ka->qualifies ? by_strength(pa, pb) : strcmp(ka->e->code, kb->e->code);
}

/* Rank each town's eligible estates in scope and recommend tiers; fill the town
 * counts. The estates in scope end up in `rk` in that order; returns how many. */
static int recommend(const em_rules *r, int require_committee, ranked *rk, town_row **towns,
                     int *ntowns) {
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        if (!r->estates[i].in_scope)
            continue;
        ranked *k = &rk[n++];
        k->e = &r->estates[i];
        k->tier = 2;
        k->qualifies =
            k->e->eligible && (!require_committee || committee_rank(k->e->owners_committee) == 2);
    }
    if (n > 0) /* qsort's array may not be NULL, even when empty */
        qsort(rk, (size_t)n, sizeof *rk, by_town_then_strength);
    for (int start = 0, end; start < n; start = end) {
        const char *key = town_key(rk[start].e);
        int qualified = 0;
        for (end = start; end < n && strcmp(town_key(rk[end].e), key) == 0; end++)
            qualified += rk[end].qualifies;
        int scope = end - start;
        long demo_n = em_quota_count(r->settings.demo_quota, scope);
        long upgrade_n = em_quota_count(r->settings.upgrade_quota, scope);
        town_row *t = find_or_add_town(towns, ntowns, key);
        for (int j = start; j < end; j++) {
            ranked *k = &rk[j];
            k->demo_n = demo_n;
            k->upgrade_n = upgrade_n;
            k->town_scope = scope;
            if (k->qualifies) {
                int g = j - start; /* the qualified come first */
                k->rank = g + 1;
                k->of = qualified;
                k->tier = g < demo_n ? 0 : g < demo_n + upgrade_n ? 1 : 2;
            }
            t->in_scope++;
            t->eligible += k->e->eligible;
            t->recommended[k->tier]++;
            int a = tier_index(k->e->tier);
            if (a < 0)
                t->unassigned++;
            else
                t->assigned[a]++;
            if (a >= 0 && a < 2 && !k->qualifies)
                t->assigned_failing++;
        }
    }
    return n;
}

static void note(const ranked *k, const em_settings *s, char *en, size_t enlen, char *zh,
                 size_t zhlen) {
    const em_estate_rules *e = k->e;
    if (e->eligible && !k->qualifies) {
        snprintf(en, enlen, "业委会 not operating (%s): 基础版 only",
                 e->owners_committee ? e->owners_committee : "unknown");
        snprintf(zh, zhlen, "业委会未有效运行，只能为基础版");
        return;
    }
    if (!e->eligible) {
        char list_en[64] = "", list_zh[64] = "";
        size_t le = 0, lz = 0;
        for (int p = 0; p < EM_PREREQS; p++)
            if (!e->pass[p]) {
                le += (size_t)snprintf(list_en + le, sizeof list_en - le, "%s%d", le ? ", " : "",
                                       p + 1);
                lz += (size_t)snprintf(list_zh + lz, sizeof list_zh - lz, "%s%d", lz ? "、" : "",
                                       p + 1);
            }
        snprintf(en, enlen, "fails prerequisite%s %s: 基础版 only", strchr(list_en, ',') ? "s" : "",
                 list_en);
        snprintf(zh, zhlen, "未满足前提条件 %s，只能为基础版", list_zh);
        return;
    }
    char dq[16], uq[16];
    snprintf(dq, sizeof dq, "%g%%", s->demo_quota * 100.0);
    snprintf(uq, sizeof uq, "%g%%", s->upgrade_quota * 100.0);
    if (k->tier == 0) {
        snprintf(en, enlen, "rank %d of %d eligible; 示范版 for the top %ld (%s of %d in scope)",
                 k->rank, k->of, k->demo_n, dq, k->town_scope);
        snprintf(zh, zhlen, "合格小区中排第 %d/%d；示范版取前 %ld 个（范围内 %d 个的 %s）", k->rank,
                 k->of, k->demo_n, k->town_scope, dq);
    } else if (k->tier == 1) {
        snprintf(en, enlen, "rank %d of %d eligible; 提升版 for the next %ld (%s of %d in scope)",
                 k->rank, k->of, k->upgrade_n, uq, k->town_scope);
        snprintf(zh, zhlen, "合格小区中排第 %d/%d；提升版取其后 %ld 个（范围内 %d 个的 %s）",
                 k->rank, k->of, k->upgrade_n, k->town_scope, uq);
    } else {
        snprintf(en, enlen,
                 "rank %d of %d eligible; the %ld 示范版 and %ld 提升版 places are taken", k->rank,
                 k->of, k->demo_n, k->upgrade_n);
        snprintf(zh, zhlen, "合格小区中排第 %d/%d；示范版 %ld 个、提升版 %ld 个名额已满", k->rank,
                 k->of, k->demo_n, k->upgrade_n);
    }
}

/* ---------- output ---------- */

enum {
    E_CODE,
    E_NAME,
    E_TOWN,
    E_BUILT,
    E_ELIGIBLE,
    E_FAILED,
    E_SCORE,
    E_COMMITTEE,
    E_FEE,
    E_SATISFACTION,
    E_RANK,
    E_RECOMMENDED,
    E_ASSIGNED,
    E_MATCHES,
    E_ALLOWED,
    E_NOTE,
    E_NOTE_ZH,
    E_COUNT
};

static const em_table_column estate_columns[E_COUNT] = {
    {"code", "小区编码", -1},
    {"name", "小区名称", -1},
    {"town_code", "街镇代码", -1},
    {"built_year", "建成年份", -1},
    {"eligible", "符合全部条件", -1},
    {"failed", "未满足条件", -1},
    {"priority_score", "优先条件数", -1},
    {"owners_committee", "业委会", -1},
    {"fee_collection_rate", "物业费收缴率", 2},
    {"satisfaction", "满意度", 1},
    {"rank", "街镇内排名", -1},
    {"recommended_tier", "建议版本", -1},
    {"assigned_tier", "已定版本", -1},
    {"matches", "与建议一致", -1},
    {"assigned_allowed", "已定版本符合条件", -1},
    {"note", "说明(英文)", -1},
    {"note_zh", "说明", -1},
};

enum {
    T_CODE,
    T_NAME,
    T_SCOPE,
    T_ELIGIBLE,
    T_A_DEMO,
    T_A_UPGRADE,
    T_A_BASIC,
    T_UNASSIGNED,
    T_A_FAILING,
    T_R_DEMO,
    T_R_UPGRADE,
    T_R_BASIC,
    T_DEMO_REQ,
    T_DEMO_MET,
    T_DEMO_NEED,
    T_UP_REQ,
    T_UP_MET,
    T_UP_NEED,
    T_COUNT
};

static const em_table_column town_columns[T_COUNT] = {
    {"town_code", "街镇代码", -1},
    {"town_name", "街镇", -1},
    {"in_scope", "应建小区数", -1},
    {"eligible", "符合条件数", -1},
    {"assigned_demo", "已定示范版", -1},
    {"assigned_upgrade", "已定提升版", -1},
    {"assigned_basic", "已定基础版", -1},
    {"unassigned", "未定版本", -1},
    {"assigned_failing", "不符条件却定为示范/提升", -1},
    {"recommended_demo", "建议示范版", -1},
    {"recommended_upgrade", "建议提升版", -1},
    {"recommended_basic", "建议基础版", -1},
    {"demo_required", "示范版最少数", -1},
    {"demo_quota_met", "示范版达标", -1},
    {"demo_needed", "示范版尚缺", -1},
    {"upgrade_required", "提升版最少数", -1},
    {"upgrade_quota_met", "提升版达标", -1},
    {"upgrade_needed", "提升版尚缺", -1},
};

static void add_town_row(em_table *t, const town_row *w) {
    em_table_add_row(t);
    em_table_set_text(t, T_CODE, w->code[0] ? w->code : NULL);
    em_table_set_text(t, T_NAME, w->name);
    em_table_set_int(t, T_SCOPE, w->in_scope);
    em_table_set_int(t, T_ELIGIBLE, w->eligible);
    em_table_set_int(t, T_A_DEMO, w->assigned[0]);
    em_table_set_int(t, T_A_UPGRADE, w->assigned[1]);
    em_table_set_int(t, T_A_BASIC, w->assigned[2]);
    em_table_set_int(t, T_UNASSIGNED, w->unassigned);
    em_table_set_int(t, T_A_FAILING, w->assigned_failing);
    em_table_set_int(t, T_R_DEMO, w->recommended[0]);
    em_table_set_int(t, T_R_UPGRADE, w->recommended[1]);
    em_table_set_int(t, T_R_BASIC, w->recommended[2]);
    long demo_need = w->demo_required > w->assigned[0] ? w->demo_required - w->assigned[0] : 0;
    long up_need = w->upgrade_required > w->assigned[1] ? w->upgrade_required - w->assigned[1] : 0;
    em_table_set_int(t, T_DEMO_REQ, w->demo_required);
    em_table_set_bool(t, T_DEMO_MET, demo_need == 0);
    em_table_set_int(t, T_DEMO_NEED, demo_need);
    em_table_set_int(t, T_UP_REQ, w->upgrade_required);
    em_table_set_bool(t, T_UP_MET, up_need == 0);
    em_table_set_int(t, T_UP_NEED, up_need);
    em_table_set_geometry(t, w->geojson);
}

/* One estate's row of the by-estate table. */
static void add_estate_row(em_table *t, const ranked *k, const em_settings *settings) {
    const em_estate_rules *e = k->e;
    char en[512], zh[512];
    em_table_add_row(t);
    em_table_set_text(t, E_CODE, e->code);
    em_table_set_text(t, E_NAME, e->name);
    em_table_set_text(t, E_TOWN, e->town_code);
    if (e->built_year)
        em_table_set_int(t, E_BUILT, e->built_year);
    em_table_set_bool(t, E_ELIGIBLE, e->eligible);
    json_object *failed = json_object_new_array();
    for (int p = 0; p < EM_PREREQS; p++)
        if (!e->pass[p]) {
            char name[8];
            snprintf(name, sizeof name, "p%d", p + 1);
            json_object_array_add(failed, json_object_new_string(name));
        }
    em_table_set_json(t, E_FAILED, failed);
    em_table_set_int(t, E_SCORE, e->priority_score);
    em_table_set_text(t, E_COMMITTEE, e->owners_committee);
    em_table_set_real(t, E_FEE, e->fee_rate);
    em_table_set_real(t, E_SATISFACTION, e->satisfaction);
    if (k->rank)
        em_table_set_int(t, E_RANK, k->rank);
    em_table_set_text(t, E_RECOMMENDED, tier_names[k->tier]);
    em_table_set_text(t, E_ASSIGNED, e->tier);
    int a = tier_index(e->tier);
    if (a >= 0)
        em_table_set_bool(t, E_MATCHES, a == k->tier);
    em_table_set_bool(t, E_ALLOWED, a < 0 || a == 2 || k->qualifies);
    note(k, settings, en, sizeof en, zh, sizeof zh);
    em_table_set_text(t, E_NOTE, en);
    em_table_set_text(t, E_NOTE_ZH, zh);
    em_table_set_geometry(t, e->geojson);
}

static const char *const allowed[] = {"as-of", "town", "by", "require-committee", NULL};

static em_table *run_tiers(em_db *db, const em_params *params, em_error *err) {
    char as_of[11];
    const char *town = NULL;
    int require_committee = 1;
    if (em_params_check(params, allowed, err) < 0 || em_rules_as_of(params, as_of, err) < 0 ||
        em_params_bool(params, "require-committee", &require_committee, err) < 0 ||
        em_params_town(db, params, &town, err) < 0)
        return NULL;
    const char *by = em_params_get(params, "by");
    if (!by)
        by = "town";
    int by_estate = strcmp(by, "estate") == 0;
    if (!by_estate && strcmp(by, "town") != 0) {
        em_fail(err, EM_ERR_USAGE, "by: '%s' is not estate or town", by);
        return NULL;
    }
    em_rules_query q = {as_of, town, 0, 1, by_estate};
    em_rules r;
    if (em_rules_evaluate(db, &q, &r, err) < 0)
        return NULL;
    town_row *towns = NULL;
    int ntowns = 0;
    if (load_towns(db, town, &towns, &ntowns, err) < 0) {
        em_rules_free(&r);
        return NULL;
    }
    ranked *rk = calloc((size_t)(r.n ? r.n : 1), sizeof *rk);
    if (!rk)
        abort();
    int nranked = recommend(&r, require_committee, rk, &towns, &ntowns);

    town_row total = {0};
    total.code = "310112";
    total.name = "闵行区";
    int demo_met_towns = 0, up_met_towns = 0;
    for (int i = 0; i < ntowns; i++) {
        town_row *w = &towns[i];
        w->demo_required = em_quota_count(r.settings.demo_quota, w->in_scope);
        w->upgrade_required = em_quota_count(r.settings.upgrade_quota, w->in_scope);
        demo_met_towns += w->assigned[0] >= w->demo_required;
        up_met_towns += w->assigned[1] >= w->upgrade_required;
        total.in_scope += w->in_scope;
        total.eligible += w->eligible;
        total.unassigned += w->unassigned;
        total.assigned_failing += w->assigned_failing;
        for (int k = 0; k < 3; k++) {
            total.assigned[k] += w->assigned[k];
            total.recommended[k] += w->recommended[k];
        }
        total.demo_required += w->demo_required;
        total.upgrade_required += w->upgrade_required;
    }

    em_table *t;
    if (by_estate) {
        t = em_table_new(estate_columns, E_COUNT);
        for (int i = 0; i < nranked; i++)
            add_estate_row(t, &rk[i], &r.settings);
    } else {
        t = em_table_new(town_columns, T_COUNT);
        for (int i = 0; i < ntowns; i++)
            add_town_row(t, &towns[i]);
        if (!town) {
            long demo_need = 0, up_need = 0;
            for (int i = 0; i < ntowns; i++) {
                long d = towns[i].demo_required - towns[i].assigned[0];
                long u = towns[i].upgrade_required - towns[i].assigned[1];
                demo_need += d > 0 ? d : 0;
                up_need += u > 0 ? u : 0;
            }
            add_town_row(t, &total);
            /* the district's shortfall is the towns' shortfalls added up */
            em_table_set_bool(t, T_DEMO_MET, demo_need == 0);
            em_table_set_int(t, T_DEMO_NEED, demo_need);
            em_table_set_bool(t, T_UP_MET, up_need == 0);
            em_table_set_int(t, T_UP_NEED, up_need);
        }
    }

    json_object *s = em_table_summary(t);
    json_object_object_add(s, "as_of", json_object_new_string(r.as_of));
    json_object_object_add(s, "by", json_object_new_string(by_estate ? "estate" : "town"));
    json_object_object_add(s, "require_committee", json_object_new_boolean(require_committee));
    json_object_object_add(s, "in_scope", json_object_new_int(total.in_scope));
    json_object_object_add(s, "eligible", json_object_new_int(total.eligible));
    json_object *assigned = json_object_new_object(), *recommended = json_object_new_object();
    for (int k = 0; k < 3; k++) {
        json_object_object_add(assigned, tier_names[k], json_object_new_int(total.assigned[k]));
        json_object_object_add(recommended, tier_names[k],
                               json_object_new_int(total.recommended[k]));
    }
    json_object_object_add(assigned, "unassigned", json_object_new_int(total.unassigned));
    json_object_object_add(s, "assigned", assigned);
    json_object_object_add(s, "recommended", recommended);
    json_object_object_add(s, "assigned_failing", json_object_new_int(total.assigned_failing));
    json_object_object_add(s, "towns", json_object_new_int(ntowns));
    json_object_object_add(s, "towns_meeting_demo_quota", json_object_new_int(demo_met_towns));
    json_object_object_add(s, "towns_meeting_upgrade_quota", json_object_new_int(up_met_towns));
    long outside = count_tiered_out_of_scope(db, &r.settings, town);
    if (outside >= 0)
        json_object_object_add(s, "tiered_out_of_scope", json_object_new_int64(outside));
    json_object_object_add(s, "settings", em_settings_json(&r.settings));

    for (int i = 0; i < ntowns; i++) {
        free(towns[i].code);
        free(towns[i].name);
        free(towns[i].geojson);
    }
    free(towns);
    free(rk);
    em_rules_free(&r);
    return t;
}

json_object *em_tiers_estate(const em_rules *r, const char *code, int require_committee) {
    ranked *rk = calloc((size_t)(r->n ? r->n : 1), sizeof *rk);
    if (!rk)
        abort();
    town_row *towns = NULL;
    int ntowns = 0;
    int n = recommend(r, require_committee, rk, &towns, &ntowns);
    json_object *row = NULL;
    for (int i = 0; i < n && !row; i++)
        if (strcmp(rk[i].e->code, code) == 0) {
            em_table *t = em_table_new(estate_columns, E_COUNT);
            add_estate_row(t, &rk[i], &r->settings);
            json_object *doc = em_table_to_json(t, EM_FMT_JSON, EM_LANG_EN), *rows = NULL;
            if (json_object_object_get_ex(doc, "rows", &rows))
                row = json_object_get(json_object_array_get_idx(rows, 0));
            json_object_put(doc);
            em_table_free(t);
        }
    for (int i = 0; i < ntowns; i++)
        free(towns[i].code);
    free(towns);
    free(rk);
    return row;
}

const em_analysis em_analysis_tiers = {
    "tiers",
    run_tiers,
    "§五 tiers: recommended tier per estate in scope, town quotas (示范 >= 10%, 提升 >= 40%)",
    "  --as-of DATE         prerequisites as at the end of DATE (YYYY-MM-DD; default today)\n"
    "  --town CODE          only this town (9-digit code); no district row then\n"
    "  --by town|estate     one row per town with its quotas (default), or one per estate\n"
    "                       in scope with its recommended and assigned tier\n"
    "  --require-committee BOOL  keep eligible estates whose 业委会 is not operating at\n"
    "                       基础版, as §五(一)3 does (default true; false ranks them too)\n"
    "\n"
    "Estates in scope are those built before scope_built_before (settings). An estate\n"
    "failing any prerequisite is 基础版. The eligible ones are ranked by priority score,\n"
    "then 业委会 (operating > formed > none), fee collection rate and satisfaction; the\n"
    "top ceil(demo_quota x in scope) are 示范版, the next ceil(upgrade_quota x in scope)\n"
    "提升版, the rest 基础版. Quotas are checked on the assigned tiers; *_needed is how\n"
    "many more estates a town must assign to meet them. The district row (310112) adds\n"
    "the towns up; its *_needed is the sum of the towns' shortfalls.\n",
    1,
};

#include "estate_card.h"

#include "eligibility.h"
#include "layers.h"
#include "tiers.h"
#include "writes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The seven prerequisites and three priority criteria, in the policy's order (the
 * order of em_estate_rules.pass[] and .prio[]). */
static const struct {
    const char *key, *en, *zh;
} prerequisites[EM_PREREQS] =
    {
        {"no_wuwei", "no standing 五违 and none new", "无五违存量且无新增"},
        {"fee_collection", "property fee collection at or above the threshold", "物业费收缴率达标"},
        {"owners_cofund", "owners willing to co-fund", "业主有出资意愿"},
        {"tianyuan_model", "田园模式 in place", "田园模式落地"},
        {"four_in_one", "四位一体 in place", "四位一体落实"},
        {"grid_coverage", "fully covered by grid cells", "网格化管理全覆盖"},
        {"elevators", "elevators within their inspection date", "电梯在检验有效期内"},
},
  priorities[EM_PRIORITIES] = {
      {"corridor_or_remediation",
       "along a corridor or in a key remediation area, with good 五违 cooperation",
       "四类沿线或重点整治区域，且五违整治配合好"},
      {"civilised_key_area", "in a civilised-district key area", "位于创全重点区域"},
      {"water_roof_works", "rain/sewage separation, secondary water supply or roof works",
       "雨污分流、二次供水或平改坡工程"},
};

int em_estate_resolve(em_db *db, const char *ref, long long *id, char *code, size_t codelen,
                      em_error *err) {
    size_t n = ref ? strlen(ref) : 0;
    int digits = n > 0 && n <= 18;
    for (size_t i = 0; digits && i < n; i++)
        digits = ref[i] >= '0' && ref[i] <= '9';
    sqlite3_stmt *st = em_db_prepare(db,
                                     "SELECT id, code FROM estates WHERE id = ?1"
                                     " UNION ALL SELECT id, code FROM estates WHERE code = ?2"
                                     " LIMIT 1",
                                     err);
    if (!st)
        return -1;
    if (digits)
        sqlite3_bind_int64(st, 1, strtoll(ref, NULL, 10));
    sqlite3_bind_text(st, 2, ref ? ref : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        snprintf(code, codelen, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "finding estate: %s", sqlite3_errmsg(db->sql));
    return em_fail(err, EM_ERR_NOTFOUND, "no estate has the id or code '%s'", ref ? ref : "");
}

static json_object *col_json(sqlite3_stmt *st, int i) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_object_new_int64(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_object_new_double_s(sqlite3_column_double(st, i),
                                        (const char *)sqlite3_column_text(st, i));
    case SQLITE_TEXT:
        return json_object_new_string((const char *)sqlite3_column_text(st, i));
    default:
        return NULL;
    }
}

json_object *em_renovation_items(em_db *db, const char *estate_code, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        db,
        "SELECT r.item_id, i.name_zh, i.name_en, i.category, r.status, r.budget_yuan,"
        " r.owners_share FROM estate_renovation r LEFT JOIN renovation_items i ON i.id = r.item_id"
        " WHERE r.estate_code = ? ORDER BY r.item_id",
        err);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, estate_code, -1, SQLITE_TRANSIENT);
    static const char *const names[] = {"item_id", "name_zh",     "name_en",     "category",
                                        "status",  "budget_yuan", "owners_share"};
    json_object *items = json_object_new_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_object *o = json_object_new_object();
        for (int i = 0; i < 7; i++)
            json_object_object_add(o, names[i], col_json(st, i));
        json_object_array_add(items, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_object_put(items);
        em_fail(err, EM_ERR_RUNTIME, "reading renovation items: %s", sqlite3_errmsg(db->sql));
        return NULL;
    }
    return items;
}

/* ---- sections ------------------------------------------------------------ */

static const char *attr_text(json_object *attrs, const char *name) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(attrs, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int town_and_bbox(em_db *db, long long id, json_object *attrs, json_object *card,
                         em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        db,
        "SELECT (SELECT name FROM towns WHERE code = e.town_code), MbrMinX(e.geom),"
        " MbrMinY(e.geom), MbrMaxX(e.geom), MbrMaxY(e.geom) FROM estates e WHERE e.id = ?",
        err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    json_object *town = json_object_new_object(), *bbox = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *code = attr_text(attrs, "town_code");
        json_object_object_add(town, "code", code ? json_object_new_string(code) : NULL);
        json_object_object_add(town, "name", col_json(st, 0));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            bbox = json_object_new_array();
            for (int i = 1; i <= 4; i++) {
                char text[32];
                snprintf(text, sizeof text, "%.7f", sqlite3_column_double(st, i));
                json_object_array_add(bbox, json_object_new_double_s(atof(text), text));
            }
        }
    }
    sqlite3_finalize(st);
    json_object_object_add(card, "town", town);
    json_object_object_add(card, "bbox", bbox);
    return 0;
}

static json_object *rule_item(int number, const char *key, const char *en, const char *zh,
                              const char *verdict, int pass, const char *reason,
                              const char *reason_zh) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "number", json_object_new_int(number));
    json_object_object_add(o, "key", json_object_new_string(key));
    json_object_object_add(o, "name_en", json_object_new_string(en));
    json_object_object_add(o, "name_zh", json_object_new_string(zh));
    json_object_object_add(o, verdict, json_object_new_boolean(pass));
    json_object_object_add(o, "reason", reason ? json_object_new_string(reason) : NULL);
    json_object_object_add(o, "reason_zh", reason_zh ? json_object_new_string(reason_zh) : NULL);
    return o;
}

/* The estate's row of the tiers analysis (its recommended tier, rank and why), from
 * the same evaluation of its town; an estate outside the renovation scope has none. */
static json_object *tiers_section(const em_rules *r, const em_estate_rules *e) {
    json_object *row = e->in_scope ? em_tiers_estate(r, e->code, 1) : NULL;
    if (row) {
        json_object_object_add(row, "in_scope", json_object_new_boolean(1));
        return row;
    }
    char en[256], zh[256], year[16] = "unknown", year_zh[16] = "未知";
    if (e->built_year)
        snprintf(year, sizeof year, "%d", e->built_year),
            snprintf(year_zh, sizeof year_zh, "%d 年", e->built_year);
    snprintf(en, sizeof en,
             "built %s: outside the renovation scope (built before %ld), so no tier is "
             "recommended",
             year, r->settings.scope_built_before);
    snprintf(zh, sizeof zh, "建成年份%s，不在改造范围内（%ld 年前建成），不建议版本", year_zh,
             r->settings.scope_built_before);
    row = json_object_new_object();
    json_object_object_add(row, "code", json_object_new_string(e->code));
    json_object_object_add(row, "in_scope", json_object_new_boolean(0));
    json_object_object_add(row, "recommended_tier", NULL);
    json_object_object_add(row, "assigned_tier", e->tier ? json_object_new_string(e->tier) : NULL);
    json_object_object_add(row, "note", json_object_new_string(en));
    json_object_object_add(row, "note_zh", json_object_new_string(zh));
    return row;
}

/* Judge the estate as the eligibility analysis does. em_rules_evaluate() works per
 * town, so the estate's town is evaluated and its row picked. */
static int rules_sections(em_db *db, const char *code, json_object *attrs, const em_params *params,
                          json_object *card, em_error *err) {
    static const char *const allowed[] = {"as-of", NULL};
    char as_of[11];
    if (em_params_check(params, allowed, err) < 0 || em_rules_as_of(params, as_of, err) < 0)
        return -1;
    em_rules_query q;
    memset(&q, 0, sizeof q);
    q.as_of = as_of;
    q.town = attr_text(attrs, "town_code");
    em_rules r;
    if (em_rules_evaluate(db, &q, &r, err) < 0)
        return -1;
    const em_estate_rules *e = NULL;
    for (int i = 0; i < r.n && !e; i++)
        if (strcmp(r.estates[i].code, code) == 0)
            e = &r.estates[i];
    if (!e) {
        em_rules_free(&r);
        return em_fail(err, EM_ERR_RUNTIME, "estate %s is missing from its town's evaluation",
                       code);
    }
    json_object *elig = json_object_new_object();
    json_object_object_add(elig, "as_of", json_object_new_string(r.as_of));
    json_object_object_add(elig, "in_scope", json_object_new_boolean(e->in_scope));
    json_object_object_add(elig, "eligible", json_object_new_boolean(e->eligible));
    int failing = 0;
    for (int p = 0; p < EM_PREREQS; p++)
        failing += !e->pass[p];
    json_object_object_add(elig, "failing", json_object_new_int(failing));
    json_object_object_add(elig, "grid_coverage",
                           isfinite(e->grid_coverage)
                               ? json_object_new_double(round(e->grid_coverage * 1e5) / 1e5)
                               : NULL);
    json_object_object_add(elig, "open_wuwei", json_object_new_int(e->open_wuwei));
    json_object *pre = json_object_new_array();
    for (int p = 0; p < EM_PREREQS; p++)
        json_object_array_add(pre, rule_item(p + 1, prerequisites[p].key, prerequisites[p].en,
                                             prerequisites[p].zh, "pass", e->pass[p], e->reason[p],
                                             e->reason_zh[p]));
    json_object_object_add(elig, "prerequisites", pre);
    json_object_object_add(elig, "settings", em_settings_json(&r.settings));
    json_object_object_add(card, "eligibility", elig);

    json_object *prio = json_object_new_object();
    json_object_object_add(prio, "score", json_object_new_int(e->priority_score));
    json_object *crit = json_object_new_array();
    for (int p = 0; p < EM_PRIORITIES; p++)
        json_object_array_add(crit, rule_item(p + 1, priorities[p].key, priorities[p].en,
                                              priorities[p].zh, "met", e->prio[p],
                                              e->prio_reason[p], e->prio_reason_zh[p]));
    json_object_object_add(prio, "criteria", crit);
    json_object_object_add(prio, "along",
                           e->along ? json_object_get(e->along) : json_object_new_array());
    json_object_object_add(card, "priority", prio);
    json_object_object_add(card, "tiers", tiers_section(&r, e));
    em_rules_free(&r);
    return 0;
}

static void add_int(json_object *o, const char *key, long long delta) {
    json_object *v = NULL;
    long long cur = json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
    json_object_object_add(o, key, json_object_new_int64(cur + delta));
}

/* "2016-03" + 1 month */
static void next_month(char m[8]) {
    int y = atoi(m), mo = atoi(m + 5) + 1;
    if (mo > 12)
        mo = 1, y++;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d", y % 10000, mo);
    memcpy(m, tmp, 8);
}

static int violations_section(em_db *db, const char *code, json_object *card, em_error *err) {
    json_object *v = json_object_new_object();
    json_object_object_add(card, "violations", v);
    sqlite3_stmt *st = em_db_prepare(
        db,
        "SELECT v.category, c.group_name, sum(v.status = 'open'), sum(v.status = 'resolved'),"
        " count(*) FROM violations v LEFT JOIN violation_categories c ON c.name = v.category"
        " WHERE v.estate_code = ? GROUP BY v.category ORDER BY count(*) DESC, v.category",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_TRANSIENT);
    json_object *cats = json_object_new_array(), *status = json_object_new_object(),
                *groups = json_object_new_object();
    json_object_object_add(status, "open", json_object_new_int64(0));
    json_object_object_add(status, "resolved", json_object_new_int64(0));
    long long total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *c = json_object_new_object();
        const char *group = (const char *)sqlite3_column_text(st, 1);
        json_object_object_add(c, "category", col_json(st, 0));
        json_object_object_add(c, "group", col_json(st, 1));
        json_object_object_add(c, "open", json_object_new_int64(sqlite3_column_int64(st, 2)));
        json_object_object_add(c, "resolved", json_object_new_int64(sqlite3_column_int64(st, 3)));
        json_object_object_add(c, "total", json_object_new_int64(sqlite3_column_int64(st, 4)));
        json_object_array_add(cats, c);
        add_int(status, "open", sqlite3_column_int64(st, 2));
        add_int(status, "resolved", sqlite3_column_int64(st, 3));
        if (group) {
            json_object *g = NULL;
            if (!json_object_object_get_ex(groups, group, &g)) {
                g = json_object_new_object();
                json_object_object_add(groups, group, g);
            }
            add_int(g, "open", sqlite3_column_int64(st, 2));
            add_int(g, "resolved", sqlite3_column_int64(st, 3));
            add_int(g, "total", sqlite3_column_int64(st, 4));
        }
        total += sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    json_object_object_add(v, "total", json_object_new_int64(total));
    json_object_object_add(v, "by_status", status);
    json_object_object_add(v, "by_group", groups);
    json_object_object_add(v, "by_category", cats);

    /* Reports and resolutions per month, gaps filled, with the reports still open at
     * each month's end: a chart's series. */
    st = em_db_prepare(db,
                       "SELECT m, sum(rep), sum(res) FROM ("
                       " SELECT substr(reported_at, 1, 7) AS m, 1 AS rep, 0 AS res FROM violations"
                       " WHERE estate_code = ?1"
                       " UNION ALL SELECT substr(resolved_at, 1, 7), 0, 1 FROM violations"
                       " WHERE estate_code = ?1 AND resolved_at IS NOT NULL)"
                       " WHERE m IS NOT NULL AND length(m) = 7 GROUP BY m ORDER BY m",
                       err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_TRANSIENT);
    json_object *monthly = json_object_new_array();
    char month[8] = "";
    long long open = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        if (month[0]) { /* fill the months without any report or resolution */
            next_month(month);
            for (int guard = 0; strcmp(month, m) < 0 && guard < 1200; guard++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "month", json_object_new_string(month));
                json_object_object_add(o, "reported", json_object_new_int(0));
                json_object_object_add(o, "resolved", json_object_new_int(0));
                json_object_object_add(o, "open_at_end", json_object_new_int64(open));
                json_object_array_add(monthly, o);
                next_month(month);
            }
        }
        snprintf(month, sizeof month, "%s", m);
        long long rep = sqlite3_column_int64(st, 1), res = sqlite3_column_int64(st, 2);
        open += rep - res;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "month", json_object_new_string(m));
        json_object_object_add(o, "reported", json_object_new_int64(rep));
        json_object_object_add(o, "resolved", json_object_new_int64(res));
        json_object_object_add(o, "open_at_end", json_object_new_int64(open));
        json_object_array_add(monthly, o);
    }
    sqlite3_finalize(st);
    json_object_object_add(v, "monthly", monthly);

    st = em_db_prepare(db,
                       "SELECT id FROM violations WHERE estate_code = ?"
                       " ORDER BY reported_at DESC, id DESC LIMIT 1",
                       err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_TRANSIENT);
    long long latest = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    json_object *feature = NULL;
    if (latest > 0 && !(feature = em_violation_feature(db, latest, err)))
        return -1;
    json_object_object_add(v, "latest", feature);
    return 0;
}

static int renovation_section(em_db *db, const char *code, json_object *card, em_error *err) {
    json_object *items = em_renovation_items(db, code, err);
    if (!items)
        return -1;
    json_object *by_status = json_object_new_object(), *by_category = json_object_new_object();
    double budget = 0, owners = 0;
    int budgeted = 0;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i), *b = NULL, *s = NULL;
        const char *status = attr_text(it, "status"), *cat = attr_text(it, "category");
        if (status)
            add_int(by_status, status, 1);
        if (cat)
            add_int(by_category, cat, 1);
        if (json_object_object_get_ex(it, "budget_yuan", &b) && b) {
            double yuan = json_object_get_double(b);
            budget += yuan;
            budgeted++;
            if (json_object_object_get_ex(it, "owners_share", &s) && s)
                owners += yuan * json_object_get_double(s);
        }
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "count", json_object_new_int((int)json_object_array_length(items)));
    json_object_object_add(r, "by_status", by_status);
    json_object_object_add(r, "by_category", by_category);
    json_object_object_add(r, "budget_yuan", budgeted ? json_object_new_double(budget) : NULL);
    json_object_object_add(r, "owners_yuan",
                           budgeted ? json_object_new_double(round(owners * 100) / 100) : NULL);
    json_object_object_add(r, "items", items);
    json_object_object_add(card, "renovation", r);
    return 0;
}

json_object *em_estate_card(em_db *db, const char *ref, const em_params *params, em_error *err) {
    long long id;
    char code[256];
    if (em_estate_resolve(db, ref, &id, code, sizeof code, err) < 0)
        return NULL;
    json_object *attrs = em_feature_attributes(db, em_layer_find("estates"), id, err);
    if (!attrs)
        return NULL;
    json_object *card = json_object_new_object();
    json_object_object_add(card, "id", json_object_new_int64(id));
    json_object_object_add(card, "code", json_object_new_string(code));
    const char *name = attr_text(attrs, "name");
    json_object_object_add(card, "name", name ? json_object_new_string(name) : NULL);
    json_object_object_add(card, "attributes", json_object_get(attrs));
    int ok = town_and_bbox(db, id, attrs, card, err) == 0 &&
             rules_sections(db, code, attrs, params, card, err) == 0 &&
             violations_section(db, code, card, err) == 0 &&
             renovation_section(db, code, card, err) == 0;
    json_object_put(attrs);
    if (!ok) {
        json_object_put(card);
        return NULL;
    }
    return card;
}

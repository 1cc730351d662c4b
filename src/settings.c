/* settings.c -- typed reading of the settings table, and the parameters shared by
 * the rules analyses (eligibility.c, tiers.c, progress.c). */
#include "settings.h"
#include "fields.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void em_settings_defaults(em_settings *s) {
    s->fee_collection_min = 0.8;
    s->grid_coverage_min = 0.99;
    s->wuwei_open_max = 0;
    s->wuwei_new_days = 365;
    s->scope_built_before = 2000;
    s->demo_quota = 0.10;
    s->upgrade_quota = 0.40;
}

typedef struct {
    const char *key;
    int is_real;
    double lo, hi;
    size_t offset;
} setting_def;

static const setting_def defs[] = {
    {"fee_collection_min", 1, 0, 1, offsetof(em_settings, fee_collection_min)},
    {"grid_coverage_min", 1, 0, 1, offsetof(em_settings, grid_coverage_min)},
    {"wuwei_open_max", 0, 0, 1000000, offsetof(em_settings, wuwei_open_max)},
    {"wuwei_new_days", 0, 0, 36500, offsetof(em_settings, wuwei_new_days)},
    {"scope_built_before", 0, 1900, 2100, offsetof(em_settings, scope_built_before)},
    {"demo_quota", 1, 0, 1, offsetof(em_settings, demo_quota)},
    {"upgrade_quota", 1, 0, 1, offsetof(em_settings, upgrade_quota)},
};

int em_settings_load(em_db *db, em_settings *s, em_error *err) {
    em_settings_defaults(s);
    sqlite3_stmt *st = em_db_prepare(db, "SELECT key, value FROM settings", err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        for (size_t i = 0; key && i < sizeof defs / sizeof defs[0]; i++) {
            if (strcmp(defs[i].key, key) != 0)
                continue;
            char *field = (char *)s + defs[i].offset;
            if (defs[i].is_real) {
                double d;
                if (!value || em_parse_real(value, &d) < 0 || d < defs[i].lo || d > defs[i].hi) {
                    em_fail(err, EM_ERR_INPUT, "settings: %s is '%s', not a number from %g to %g",
                            key, value ? value : "", defs[i].lo, defs[i].hi);
                    sqlite3_finalize(st);
                    return -1;
                }
                memcpy(field, &d, sizeof d);
            } else {
                long long n;
                if (!value || em_parse_integer(value, &n) < 0 || n < (long long)defs[i].lo ||
                    n > (long long)defs[i].hi) {
                    em_fail(err, EM_ERR_INPUT,
                            "settings: %s is '%s', not a whole number from %.0f to %.0f", key,
                            value ? value : "", defs[i].lo, defs[i].hi);
                    sqlite3_finalize(st);
                    return -1;
                }
                long l = (long)n;
                memcpy(field, &l, sizeof l);
            }
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "reading settings: %s", sqlite3_errmsg(db->sql));
    return 0;
}

/* Shortest text that reads back as the same number: 0.8, not 0.80000000000000004. */
static json_object *number(double d) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", d);
    return json_object_new_double_s(d, buf);
}

json_object *em_settings_json(const em_settings *s) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "fee_collection_min", number(s->fee_collection_min));
    json_object_object_add(o, "grid_coverage_min", number(s->grid_coverage_min));
    json_object_object_add(o, "wuwei_open_max", json_object_new_int64(s->wuwei_open_max));
    json_object_object_add(o, "wuwei_new_days", json_object_new_int64(s->wuwei_new_days));
    json_object_object_add(o, "scope_built_before", json_object_new_int64(s->scope_built_before));
    json_object_object_add(o, "demo_quota", number(s->demo_quota));
    json_object_object_add(o, "upgrade_quota", number(s->upgrade_quota));
    return o;
}

int em_rules_as_of(const em_params *p, char out[11], em_error *err) {
    time_t now = time(NULL);
    struct tm local;
    if (!localtime_r(&now, &local) || strftime(out, 11, "%Y-%m-%d", &local) != 10)
        return em_fail(err, EM_ERR_RUNTIME, "cannot read today's date");
    return em_params_date(p, "as-of", out, err);
}

long em_quota_count(double share, long n) {
    if (n <= 0 || share <= 0)
        return 0;
    return (long)ceil(share * (double)n - 1e-9);
}

/* The programme rules' building blocks: quota arithmetic (ceil without floating-point
 * surprises), typed settings, the shared parameters, and the registry entries. */
#include "eligibility.h"
#include "progress.h"
#include "settings.h"
#include "testutil.h"
#include "tiers.h"

#include <string.h>

START_TEST(quota_count_is_an_exact_ceiling) {
    ck_assert_int_eq(em_quota_count(0.10, 30), 3); /* 0.1 * 30 = 3.0000000000000004 */
    ck_assert_int_eq(em_quota_count(0.10, 31), 4);
    ck_assert_int_eq(em_quota_count(0.40, 30), 12);
    ck_assert_int_eq(em_quota_count(0.10, 1), 1);
    ck_assert_int_eq(em_quota_count(0.10, 0), 0);
    ck_assert_int_eq(em_quota_count(0.0, 50), 0);
    ck_assert_int_eq(em_quota_count(0.5, 5), 3);
    for (long n = 0; n <= 5000; n++) {
        ck_assert_int_eq(em_quota_count(0.10, n), (n + 9) / 10);
        ck_assert_int_eq(em_quota_count(0.40, n), (4 * n + 9) / 10);
        ck_assert_int_eq(em_quota_count(0.50, n), (n + 1) / 2);
    }
}
END_TEST

START_TEST(settings_read_typed_with_defaults) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    em_settings s, d;
    em_error err = {0};
    em_settings_defaults(&d);
    ck_assert_int_eq(em_settings_load(db, &s, &err), 0);
    ck_assert(s.fee_collection_min == d.fee_collection_min && s.fee_collection_min == 0.8);
    ck_assert(s.grid_coverage_min == 0.99);
    ck_assert_int_eq(s.wuwei_open_max, 0);
    ck_assert_int_eq(s.wuwei_new_days, 365);
    ck_assert_int_eq(s.scope_built_before, 2000);
    ck_assert(s.demo_quota == 0.10 && s.upgrade_quota == 0.40);

    ck_assert_int_eq(em_db_exec(db,
                                "UPDATE settings SET value = '0.75' WHERE key = "
                                "'fee_collection_min'; DELETE FROM settings WHERE key = "
                                "'wuwei_new_days'",
                                &err),
                     0);
    ck_assert_int_eq(em_settings_load(db, &s, &err), 0);
    ck_assert(s.fee_collection_min == 0.75);
    ck_assert_int_eq(s.wuwei_new_days, 365); /* missing row: the default */

    ck_assert_int_eq(
        em_db_exec(db, "UPDATE settings SET value = '1.5' WHERE key = 'demo_quota'", &err), 0);
    ck_assert_int_eq(em_settings_load(db, &s, &err), -1);
    ck_assert_int_eq(err.kind, EM_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "demo_quota"));

    ck_assert_int_eq(em_db_exec(db,
                                "UPDATE settings SET value = '0.1' WHERE key = 'demo_quota';"
                                "UPDATE settings SET value = '2.5' WHERE key = 'wuwei_open_max'",
                                &err),
                     0);
    ck_assert_int_eq(em_settings_load(db, &s, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "wuwei_open_max"));
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(town_and_date_parameters) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    em_error err = {0};
    em_params p = {0};
    const char *town = "x";
    ck_assert_int_eq(em_params_town(db, &p, &town, &err), 0);
    ck_assert_ptr_null(town);
    char date[11];
    ck_assert_int_eq(em_rules_as_of(&p, date, &err), 0);
    ck_assert_int_eq((int)strlen(date), 10); /* today */

    em_params bad = {0};
    em_params_add(&bad, "town", "31011");
    ck_assert_int_eq(em_params_town(db, &bad, &town, &err), -1);
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "town"));

    em_params unknown = {0};
    em_params_add(&unknown, "town", "310112999");
    ck_assert_int_eq(em_params_town(db, &unknown, &town, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "310112999"));

    em_params when = {0};
    em_params_add(&when, "as-of", "2017/3/1");
    ck_assert_int_eq(em_rules_as_of(&when, date, &err), 0);
    ck_assert_str_eq(date, "2017-03-01");
    em_params never = {0};
    em_params_add(&never, "as-of", "2017-02-29");
    ck_assert_int_eq(em_rules_as_of(&never, date, &err), -1);
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    testutil_remove_db(db, path);
}
END_TEST

START_TEST(empty_database_evaluates_to_nothing) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    em_error err = {0};
    em_rules r;
    em_rules_query q = {"2017-01-01", NULL, 0, 0, 1};
    ck_assert_msg(em_rules_evaluate(db, &q, &r, &err) == 0, "%s", err.message);
    ck_assert_int_eq(r.n, 0);
    em_rules_free(&r);
    em_params none = {0};
    const em_analysis *names[] = {&em_analysis_eligibility, &em_analysis_tiers,
                                  &em_analysis_progress};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_eq(em_analysis_find(names[i]->name), names[i]);
        em_table *t = names[i]->run(db, &none, &err);
        ck_assert_msg(t != NULL, "%s: %s", names[i]->name, err.message);
        em_table_free(t);
    }
    testutil_remove_db(db, path);
}
END_TEST

/* The HTTP server opens the file read-only: the temporary corridor index must still
 * work there. */
START_TEST(runs_on_a_read_only_connection) {
    char path[4200];
    em_db *db = testutil_new_db(0, path, sizeof path);
    em_error err = {0};
    em_db *ro = em_db_open(path, EM_DB_READONLY, 0, &err);
    ck_assert_msg(ro != NULL, "%s", err.message);
    em_params p = {0};
    em_params_add(&p, "as-of", "2017-01-01");
    em_table *t = em_analysis_eligibility.run(ro, &p, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    em_table_free(t);
    em_db_close(ro);
    testutil_remove_db(db, path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, quota_count_is_an_exact_ceiling);
    tcase_add_test(tc, settings_read_typed_with_defaults);
    tcase_add_test(tc, town_and_date_parameters);
    tcase_add_test(tc, empty_database_evaluates_to_nothing);
    tcase_add_test(tc, runs_on_a_read_only_connection);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

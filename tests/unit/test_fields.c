/* Value spellings from real files: each must normalise to one canonical form, and
 * anything that is not a value of the column must be refused, never guessed. */
#include "fields.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

START_TEST(dates) {
    char out[11];
    ck_assert_int_eq(em_parse_date("2016-10-01", out), 0);
    ck_assert_str_eq(out, "2016-10-01");
    ck_assert_int_eq(em_parse_date("2016/1/5", out), 0);
    ck_assert_str_eq(out, "2016-01-05");
    ck_assert_int_eq(em_parse_date(" 20170630 ", out), 0);
    ck_assert_str_eq(out, "2017-06-30");
    ck_assert_int_eq(em_parse_date("2016/10/01 08:30:00", out), 0);
    ck_assert_str_eq(out, "2016-10-01");
    ck_assert_int_eq(em_parse_date("2016-02-29", out), 0);
    ck_assert_int_eq(em_parse_date("2017-02-29", out), -1);
    ck_assert_int_eq(em_parse_date("2017-13-01", out), -1);
    ck_assert_int_eq(em_parse_date("2017-04-31", out), -1);
    ck_assert_int_eq(em_parse_date("2016-10/01", out), -1);
    ck_assert_int_eq(em_parse_date("yesterday", out), -1);
    ck_assert_int_eq(em_parse_date("", out), -1);
    ck_assert_int_eq(em_parse_date("2016-10-01x", out), -1);
}
END_TEST

START_TEST(datetimes) {
    char out[20];
    ck_assert_int_eq(em_parse_datetime("2016-10-01T08:30:15", out), 0);
    ck_assert_str_eq(out, "2016-10-01T08:30:15");
    ck_assert_int_eq(em_parse_datetime("2016/10/01 08:30", out), 0);
    ck_assert_str_eq(out, "2016-10-01T08:30:00");
    ck_assert_int_eq(em_parse_datetime("2016-10-01", out), 0);
    ck_assert_str_eq(out, "2016-10-01T00:00:00");
    ck_assert_int_eq(em_parse_datetime("2016-10-01T08:30:15.250+08:00", out), 0);
    ck_assert_str_eq(out, "2016-10-01T08:30:15");
    ck_assert_int_eq(em_parse_datetime("2016-10-01T08:30:15Z", out), -1);
    ck_assert_int_eq(em_parse_datetime("2016-10-01T25:00", out), -1);
    ck_assert_int_eq(em_parse_datetime("2016-10-01T08", out), -1);
}
END_TEST

START_TEST(booleans) {
    int v = -1;
    ck_assert_int_eq(em_parse_bool("是", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(em_parse_bool("否", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(em_parse_bool("TRUE", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(em_parse_bool(" 0 ", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(em_parse_bool("maybe", &v), -1);
    ck_assert_int_eq(em_parse_bool("2", &v), -1);
}
END_TEST

START_TEST(numbers) {
    double d;
    long long i;
    ck_assert_int_eq(em_parse_real("0.85", &d), 0);
    ck_assert_double_eq_tol(d, 0.85, 1e-12);
    ck_assert_int_eq(em_parse_real("85%", &d), 0);
    ck_assert_double_eq_tol(d, 0.85, 1e-12);
    ck_assert_int_eq(em_parse_real("nan", &d), -1);
    ck_assert_int_eq(em_parse_real("inf", &d), -1);
    ck_assert_int_eq(em_parse_real("1e999", &d), -1);
    ck_assert_int_eq(em_parse_real("12abc", &d), -1);
    ck_assert_int_eq(em_parse_integer("1998", &i), 0);
    ck_assert_int_eq(i, 1998);
    ck_assert_int_eq(em_parse_integer("1998.0", &i), 0);
    ck_assert_int_eq(i, 1998);
    ck_assert_int_eq(em_parse_integer("1998.5", &i), -1);
    ck_assert_int_eq(em_parse_integer("50%", &i), -1);
    ck_assert_int_eq(em_parse_integer("1e300", &i), -1);
}
END_TEST

START_TEST(categories) {
    ck_assert_str_eq(em_category_canonical("违法搭建"), "违法建筑");
    ck_assert_str_eq(em_category_canonical("群租"), "违法居住");
    ck_assert_str_eq(em_category_canonical("乱停车"), "乱停车");
}
END_TEST

START_TEST(binding_checks_domains) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT ?", -1, &st, NULL), SQLITE_OK);
    const em_layer *estates = em_layer_find("estates");
    char why[256];
    ck_assert_int_eq(
        em_field_bind(st, 1, em_layer_column(estates, "tier"), "示范版", why, sizeof why), 0);
    ck_assert_int_eq(
        em_field_bind(st, 1, em_layer_column(estates, "tier"), "金牌版", why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "tier"));
    ck_assert_ptr_nonnull(strstr(why, "金牌版"));
    ck_assert_int_eq(
        em_field_bind(st, 1, em_layer_column(estates, "built_year"), "nineteen", why, sizeof why),
        -1);
    ck_assert_ptr_nonnull(strstr(why, "built_year"));
    /* blank is NULL, not an error */
    ck_assert_int_eq(
        em_field_bind(st, 1, em_layer_column(estates, "built_year"), "  ", why, sizeof why), 0);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_type(st, 0), SQLITE_NULL);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* A whole number bound as a number must bind what its decimal text binds, and be
 * left to em_field_bind() (-1) whenever that refuses the text. */
START_TEST(integers_bind_like_their_text) {
    sqlite3 *db = NULL;
    sqlite3_stmt *a = NULL, *b = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT ?1, typeof(?1)", -1, &a, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT ?1, typeof(?1)", -1, &b, NULL), SQLITE_OK);
    const em_layer *estates = em_layer_find("estates");
    const char *columns[] = {"built_year", "floor_area_m2", "owners_cofund", "name", "plan_date"};
    const long long values[] = {0,
                                1,
                                2,
                                -5,
                                1998,
                                9000000000000000LL,
                                9000000000000001LL,
                                -9000000000000001LL,
                                12345678901234567LL};
    char why[256], text[32];
    for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
        const em_column *col = em_layer_column(estates, columns[c]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            snprintf(text, sizeof text, "%lld", values[v]);
            int by_text = em_field_bind(a, 1, col, text, why, sizeof why);
            int by_number = em_field_bind_integer(b, 1, col, values[v]);
            if (by_text < 0 || col->type == EM_COL_TEXT || col->type == EM_COL_DATE) {
                ck_assert_msg(by_number == -1, "%s=%s", columns[c], text);
                continue;
            }
            ck_assert_msg(by_number == 0, "%s=%s", columns[c], text);
            ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
            ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
            ck_assert_str_eq((const char *)sqlite3_column_text(a, 1),
                             (const char *)sqlite3_column_text(b, 1));
            ck_assert_msg(sqlite3_column_double(a, 0) == sqlite3_column_double(b, 0) &&
                              sqlite3_column_int64(a, 0) == sqlite3_column_int64(b, 0),
                          "%s=%s", columns[c], text);
            sqlite3_reset(a);
            sqlite3_reset(b);
        }
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    sqlite3_close(db);
}
END_TEST

int main(void) {
    Suite *s = suite_create("fields");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, dates);
    tcase_add_test(tc, datetimes);
    tcase_add_test(tc, booleans);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, categories);
    tcase_add_test(tc, binding_checks_domains);
    tcase_add_test(tc, integers_bind_like_their_text);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

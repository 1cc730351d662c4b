/* Getis-Ord Gi* against a hand computation on a 5 x 5 grid, the p-values and
 * classes, the density quintiles, and the parameter checks of the spatial
 * analyses (every refusal names its parameter). */
#include "corridors.h"
#include "density.h"
#include "hotspots.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

/* Counts on a 5 x 5 grid of cells 100 m apart (row-major, row 0 first):
 *
 *     0 0 0 0 0
 *     0 1 2 1 0
 *     0 2 8 2 0
 *     0 1 2 1 0
 *     0 0 0 0 0
 *
 * With a 120 m band each cell's neighbours are itself and its rook neighbours
 * (diagonals are 141 m away).
 *   n = 25, sum = 20, mean = 0.8, sum of squares = 84,
 *   S^2 = 84/25 - 0.8^2 = 3.36 - 0.64 = 2.72.
 * Gi*_i = (L_i - 0.8 W_i) / (sqrt(2.72) * sqrt((25 W_i - W_i^2) / 24)).
 *   centre (2,2): W = 5, L = 8+2+2+2+2 = 16: (16 - 4) / (sqrt(2.72) sqrt(100/24))
 *   corner (0,0): W = 3, L = 0:              (0 - 2.4) / (sqrt(2.72) sqrt(66/24))
 *   edge (0,2):   W = 4, L = 0+0+0+2 = 2:     (2 - 3.2) / (sqrt(2.72) sqrt(84/24))
 *   (1,1):        W = 5, L = 1+0+0+2+2 = 5:   (5 - 4) / (sqrt(2.72) sqrt(100/24))
 *   (1,2):        W = 5, L = 2+0+1+1+8 = 12:  (12 - 4) / (sqrt(2.72) sqrt(100/24)) */
static const double counts[25] = {0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 2, 8,
                                  2, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0};

static void grid_xy(double *x, double *y) {
    for (int i = 0; i < 25; i++) {
        x[i] = 633000.0 + 100.0 * (i % 5);
        y[i] = 3442000.0 - 100.0 * (i / 5);
    }
}

START_TEST(gi_star_hand_computation) {
    double x[25], y[25], z[25];
    int w[25];
    grid_xy(x, y);
    ck_assert_int_eq(em_gi_star(25, x, y, counts, 120.0, z, w), 0);
    double s = sqrt(2.72);
    ck_assert_int_eq(w[12], 5);
    ck_assert_double_eq_tol(z[12], 12.0 / (s * sqrt(100.0 / 24.0)), 1e-12);
    ck_assert_double_eq_tol(z[12], 3.5645, 1e-4); /* the number itself, worked by hand */
    ck_assert_int_eq(w[0], 3);
    ck_assert_double_eq_tol(z[0], -2.4 / (s * sqrt(66.0 / 24.0)), 1e-12);
    ck_assert_int_eq(w[2], 4);
    ck_assert_double_eq_tol(z[2], -1.2 / (s * sqrt(84.0 / 24.0)), 1e-12);
    ck_assert_int_eq(w[6], 5);
    ck_assert_double_eq_tol(z[6], 1.0 / (s * sqrt(100.0 / 24.0)), 1e-12);
    ck_assert_double_eq_tol(z[7], 8.0 / (s * sqrt(100.0 / 24.0)), 1e-12);
    /* symmetric counts give symmetric scores */
    ck_assert_double_eq_tol(z[0], z[24], 1e-12);
    ck_assert_double_eq_tol(z[7], z[11], 1e-12);
}
END_TEST

/* Every cell against a direct O(n^2) evaluation of the formula, for several bands
 * (120 m: rook; 150 m: queen; 250 m: two rings). */
START_TEST(gi_star_matches_direct_formula) {
    double x[25], y[25], z[25];
    int w[25];
    grid_xy(x, y);
    const double bands[] = {120.0, 150.0, 250.0};
    for (size_t b = 0; b < sizeof bands / sizeof bands[0]; b++) {
        ck_assert_int_eq(em_gi_star(25, x, y, counts, bands[b], z, w), 0);
        double sum = 0, sum2 = 0;
        for (int j = 0; j < 25; j++) {
            sum += counts[j];
            sum2 += counts[j] * counts[j];
        }
        double mean = sum / 25, s = sqrt(sum2 / 25 - mean * mean);
        for (int i = 0; i < 25; i++) {
            double wi = 0, li = 0;
            for (int j = 0; j < 25; j++)
                if (hypot(x[i] - x[j], y[i] - y[j]) <= bands[b]) {
                    wi += 1;
                    li += counts[j];
                }
            double expect = (li - mean * wi) / (s * sqrt((25 * wi - wi * wi) / 24));
            ck_assert_int_eq(w[i], (int)wi);
            ck_assert_double_eq_tol(z[i], expect, 1e-12);
        }
    }
}
END_TEST

START_TEST(gi_star_undefined_cases) {
    double x[25], y[25], z[25], flat[25];
    grid_xy(x, y);
    for (int i = 0; i < 25; i++)
        flat[i] = 3;
    ck_assert_int_eq(em_gi_star(25, x, y, flat, 120.0, z, NULL), 0);
    for (int i = 0; i < 25; i++)
        ck_assert(isnan(z[i]));
    /* a band that makes every cell a neighbour of every cell: no contrast left */
    ck_assert_int_eq(em_gi_star(25, x, y, counts, 10000.0, z, NULL), 0);
    for (int i = 0; i < 25; i++)
        ck_assert(isnan(z[i]));
    ck_assert_str_eq(em_gi_class(NAN, NAN), "not_significant");
    ck_assert_int_eq(em_gi_star(0, x, y, counts, 120.0, z, NULL), 0);
}
END_TEST

START_TEST(p_values_and_classes) {
    ck_assert_double_eq_tol(em_normal_p_two_sided(0), 1.0, 1e-15);
    ck_assert_double_eq_tol(em_normal_p_two_sided(1.6448536269514722), 0.10, 1e-12);
    ck_assert_double_eq_tol(em_normal_p_two_sided(1.959963984540054), 0.05, 1e-12);
    ck_assert_double_eq_tol(em_normal_p_two_sided(-2.5758293035489004), 0.01, 1e-12);
    ck_assert(isnan(em_normal_p_two_sided(NAN)));
    double z = 12.0 / (sqrt(2.72) * sqrt(100.0 / 24.0));
    ck_assert_str_eq(em_gi_class(z, em_normal_p_two_sided(z)), "hot_99");
    ck_assert_str_eq(em_gi_class(2.2, em_normal_p_two_sided(2.2)), "hot_95");
    ck_assert_str_eq(em_gi_class(1.7, em_normal_p_two_sided(1.7)), "hot_90");
    ck_assert_str_eq(em_gi_class(1.6, em_normal_p_two_sided(1.6)), "not_significant");
    ck_assert_str_eq(em_gi_class(-2.7, em_normal_p_two_sided(-2.7)), "cold_99");
    ck_assert_str_eq(em_gi_class(-2.0, em_normal_p_two_sided(-2.0)), "cold_95");
    ck_assert_str_eq(em_gi_class(-1.7, em_normal_p_two_sided(-1.7)), "cold_90");
}
END_TEST

START_TEST(quintiles) {
    double breaks[4];
    const double ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    em_quintile_breaks(ten, 10, breaks);
    ck_assert_double_eq(breaks[0], 2);
    ck_assert_double_eq(breaks[3], 8);
    const int expect_ten[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(em_quintile_class(ten[i], breaks), expect_ten[i]);
    /* ties are never split: six zeros all take class 1, and classes 2-3 stay empty */
    const double ties[] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    em_quintile_breaks(ties, 10, breaks);
    const int expect_ties[] = {1, 1, 1, 1, 1, 1, 4, 4, 5, 5};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(em_quintile_class(ties[i], breaks), expect_ties[i]);
    /* seven units: ranks ceil(7k/5) = 2, 3, 5, 6 */
    const double seven[] = {10, 20, 30, 40, 50, 60, 70};
    em_quintile_breaks(seven, 7, breaks);
    ck_assert_double_eq(breaks[0], 20);
    ck_assert_double_eq(breaks[1], 30);
    ck_assert_double_eq(breaks[2], 50);
    ck_assert_double_eq(breaks[3], 60);
    em_quintile_breaks(seven, 0, breaks);
    ck_assert(isnan(breaks[0]));
}
END_TEST

/* ---------- parameters: refused with a usage error that names the parameter ---------- */

static void expect_usage(em_db *db, const em_analysis *a, const char *key, const char *value,
                         const char *needle) {
    em_params p = {0};
    em_params_add(&p, key, value);
    em_error err = {0};
    em_table *t = a->run(db, &p, &err);
    ck_assert_msg(t == NULL, "%s --%s %s was accepted", a->name, key, value);
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    ck_assert_msg(strstr(err.message, needle) != NULL, "%s --%s %s: message '%s' lacks '%s'",
                  a->name, key, value, err.message, needle);
}

START_TEST(parameters_are_checked) {
    char path[512];
    em_db *db = testutil_new_db(0, path, sizeof path);
    const em_analysis *c = &em_analysis_corridors, *d = &em_analysis_density,
                      *h = &em_analysis_hotspots;
    expect_usage(db, c, "types", "railway,canal", "types: 'canal'");
    expect_usage(db, c, "buffer", "railway=abc", "buffer: railway='abc'");
    expect_usage(db, c, "buffer", "railway=50%", "buffer: railway='50%'");
    expect_usage(db, c, "buffer", "railway=-1", "buffer");
    expect_usage(db, c, "buffer", "railway=20000", "buffer");
    expect_usage(db, c, "buffer", "tram=50", "buffer: 'tram'");
    expect_usage(db, c, "buffer", "railway", "buffer: 'railway'");
    expect_usage(db, c, "town", "310112999", "town");
    expect_usage(db, c, "built-before", "nineteen", "built-before");
    expect_usage(db, c, "tier", "gold", "tier: 'gold'");
    expect_usage(db, c, "all", "maybe", "all");
    expect_usage(db, c, "band", "500", "band");
    expect_usage(db, d, "by", "street", "by: 'street'");
    expect_usage(db, d, "category", "违法建筑,打架", "category: '打架'");
    expect_usage(db, d, "group", "七乱", "group: '七乱'");
    expect_usage(db, d, "status", "closed", "status: 'closed'");
    expect_usage(db, d, "from", "2016-13-01", "from");
    expect_usage(db, d, "buffer", "railway=50", "buffer");
    expect_usage(db, h, "band", "0", "band");
    expect_usage(db, h, "band", "wide", "band");
    expect_usage(db, h, "band", "50%", "band");
    expect_usage(db, h, "to", "yesterday", "to");

    /* a category outside the group, and a date range the wrong way round */
    em_params p = {0};
    em_params_add(&p, "group", "五违");
    em_params_add(&p, "category", "乱停车");
    em_error err = {0};
    ck_assert_ptr_null(d->run(db, &p, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "category: '乱停车' is in group 六乱"));
    em_params q = {0};
    em_params_add(&q, "from", "2017-01-01");
    em_params_add(&q, "to", "2016-01-01");
    ck_assert_ptr_null(h->run(db, &q, &err));
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "from"));

    /* valid parameters on an empty database: empty results, not errors */
    em_params ok = {0};
    em_params_add(&ok, "types", "railway, river");
    em_params_add(&ok, "buffer", "railway=50,river=30.5");
    em_params_add(&ok, "all", "true");
    em_table *t = c->run(db, &ok, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_int_eq(em_table_rows(t), 0);
    ck_assert_int_eq(em_table_columns(t), 4 + 2 * 3 + 1);
    em_table_free(t);
    em_params grp = {0};
    em_params_add(&grp, "group", "五违");
    em_params_add(&grp, "category", "违法搭建,群租");
    em_params_add(&grp, "by", "town");
    t = d->run(db, &grp, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    em_table_free(t);
    t = h->run(db, &(em_params){0}, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_int_eq(em_table_rows(t), 0);
    em_table_free(t);
    testutil_remove_db(db, path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hotspots");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gi_star_hand_computation);
    tcase_add_test(tc, gi_star_matches_direct_formula);
    tcase_add_test(tc, gi_star_undefined_cases);
    tcase_add_test(tc, p_values_and_classes);
    tcase_add_test(tc, quintiles);
    tcase_add_test(tc, parameters_are_checked);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

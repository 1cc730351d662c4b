/* The names a column goes by on import: every name an export gives a column (the DBF
 * short names of shapefile_names.c, English and Chinese, UTF-8 and GBK) must import
 * as that column and as no other, so an exported file always imports again. */
#include "layers.h"
#include "shapefile_names.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* How many columns of `layer` take a field named `field`. */
static int claimants(const em_layer *layer, const char *field, const em_column **which) {
    int n = 0;
    for (size_t c = 0; c < layer->ncolumns; c++)
        if (em_column_known_as(layer, &layer->columns[c], field)) {
            n++;
            *which = &layer->columns[c];
        }
    return n;
}

static void check_name(const em_layer *layer, const em_column *col, const char *field) {
    const em_column *got = NULL;
    int n = claimants(layer, field, &got);
    ck_assert_msg(n == 1 && got == col, "%s: field '%s' is taken by %d columns (%s), not just %s",
                  layer->name, field, n, got ? got->name : "none", col->name);
}

START_TEST(every_column_has_export_names) {
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *layer = em_layer_at(i);
        for (size_t c = 0; c < layer->ncolumns; c++) {
            const em_dbf_name *m = em_dbf_name_find(layer->name, layer->columns[c].name);
            ck_assert_msg(m && strcmp(m->layer, layer->name) == 0, "%s.%s has no short name",
                          layer->name, layer->columns[c].name);
            ck_assert(m->dbf && m->zh_utf8 && m->zh_gbk && m->zh);
        }
    }
}
END_TEST

START_TEST(export_names_import_as_their_column) {
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *layer = em_layer_at(i);
        for (size_t c = 0; c < layer->ncolumns; c++) {
            const em_column *col = &layer->columns[c];
            const em_dbf_name *m = em_dbf_name_find(layer->name, col->name);
            check_name(layer, col, col->name);
            check_name(layer, col, m->dbf);
            check_name(layer, col, m->zh_utf8);
            check_name(layer, col, m->zh_gbk);
            check_name(layer, col, m->zh);
        }
    }
}
END_TEST

/* What an export really writes: the names after cutting and making them unique. */
START_TEST(assigned_names_import_as_their_column) {
    const em_dbf_names_style styles[] = {EM_DBF_NAMES_EN, EM_DBF_NAMES_ZH_UTF8,
                                         EM_DBF_NAMES_ZH_GBK};
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *layer = em_layer_at(i);
        const char *columns[64];
        char out[64][EM_DBF_NAME_BUF];
        int n = (int)layer->ncolumns;
        ck_assert_int_le(n, 64);
        for (int c = 0; c < n; c++)
            columns[c] = layer->columns[c].name;
        for (size_t s = 0; s < sizeof styles / sizeof styles[0]; s++) {
            em_dbf_names_assign(layer->name, n, columns, NULL, styles[s], out);
            for (int c = 0; c < n; c++)
                check_name(layer, &layer->columns[c], out[c]);
        }
    }
}
END_TEST

/* The older hand-written aliases do not claim another column's names either. */
START_TEST(aliases_are_unambiguous) {
    for (size_t i = 0; i < em_layer_count(); i++) {
        const em_layer *layer = em_layer_at(i);
        for (size_t c = 0; c < layer->ncolumns; c++) {
            const em_column *col = &layer->columns[c];
            for (const char *a = col->aliases; a && *a;) {
                const char *bar = strchr(a, '|');
                size_t len = bar ? (size_t)(bar - a) : strlen(a);
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)len, a);
                check_name(layer, col, name);
                a += len + (bar ? 1 : 0);
            }
        }
    }
}
END_TEST

START_TEST(case_and_unknown_names) {
    const em_layer *renovation = em_layer_find("renovation");
    const em_column *estate = em_layer_column(renovation, "estate_code");
    const em_column *share = em_layer_column(renovation, "owners_share");
    ck_assert(em_column_known_as(renovation, estate, "ESTATE"));
    ck_assert(em_column_known_as(renovation, estate, "estate"));
    ck_assert(em_column_known_as(renovation, share, "OWN_SHARE"));
    ck_assert(!em_column_known_as(renovation, share, "OWN_SHAR"));
    ck_assert(!em_column_known_as(renovation, estate, ""));
    const em_layer *estates = em_layer_find("estates");
    ck_assert(em_column_known_as(estates, em_layer_column(estates, "built_year"), "建成年"));
    ck_assert(!em_column_known_as(estates, em_layer_column(estates, "built_year"), "建成"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_column_has_export_names);
    tcase_add_test(tc, export_names_import_as_their_column);
    tcase_add_test(tc, assigned_names_import_as_their_column);
    tcase_add_test(tc, aliases_are_unambiguous);
    tcase_add_test(tc, case_and_unknown_names);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* Result tables: the same rows must read the same in every format, and Chinese
 * must line up in a terminal and survive CSV quoting. */
#include "table.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static const em_table_column columns[] = {
    {"name", "名称", -1},
    {"dist_m", "距离(米)", 1},
    {"along", "沿线", -1},
    {"types", "类型", -1},
};

static em_table *sample(void) {
    em_table *t = em_table_new(columns, 4);
    em_table_add_row(t);
    em_table_set_text(t, 0, "莘松三村");
    em_table_set_real(t, 1, 49.94);
    em_table_set_bool(t, 2, 1);
    json_object *types = json_object_new_array();
    json_object_array_add(types, json_object_new_string("railway"));
    json_object_array_add(types, json_object_new_string("river"));
    em_table_set_json(t, 3, types);
    em_table_set_geometry(t, "{\"type\":\"Point\",\"coordinates\":[121.4,31.1]}");
    em_table_add_row(t);
    em_table_set_text(t, 0, "a \"quoted\", name");
    em_table_set_real(t, 1, 0.0 / 0.0); /* NaN is stored as null */
    json_object_object_add(em_table_summary(t), "total", json_object_new_int(2));
    return t;
}

static char *render(const em_table *t, em_format fmt, em_lang lang) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(em_table_write(t, fmt, lang, f), 0);
    fclose(f);
    return buf;
}

START_TEST(text_table_aligns_cjk) {
    em_table *t = sample();
    char *out = render(t, EM_FMT_TABLE, EM_LANG_ZH);
    /* The widest name is 16 columns; 名称 is 4 wide (not 6 bytes), so 12 spaces of
     * padding and 2 of separator follow it, and 莘松三村 (8 wide) gets 8 + 2. */
    ck_assert_ptr_nonnull(strstr(out, "名称              距离(米)"));
    /* then 莘松三村, 8 + 2 spaces, and 49.9 right-aligned under the 8-wide 距离(米) */
    ck_assert_ptr_nonnull(strstr(out, "莘松三村"
                                      "              "
                                      "49.9"));
    ck_assert_ptr_nonnull(strstr(out, "铁路;河道"));
    ck_assert_ptr_nonnull(strstr(out, "是"));
    free(out);
    em_table_free(t);
}
END_TEST

START_TEST(csv_quotes_and_nulls) {
    em_table *t = sample();
    char *out = render(t, EM_FMT_CSV, EM_LANG_EN);
    ck_assert_ptr_nonnull(strstr(out, "name,dist_m,along,types\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "莘松三村,49.9,true,railway;river\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"a \"\"quoted\"\", name\",,,\r\n"));
    free(out);
    em_table_free(t);
}
END_TEST

START_TEST(json_and_geojson_keep_types) {
    em_table *t = sample();
    json_object *doc = em_table_to_json(t, EM_FMT_GEOJSON, EM_LANG_EN);
    json_object *features = json_object_object_get(doc, "features");
    ck_assert_int_eq((int)json_object_array_length(features), 2);
    json_object *first = json_object_array_get_idx(features, 0);
    json_object *props = json_object_object_get(first, "properties");
    ck_assert(json_object_get_boolean(json_object_object_get(props, "along")));
    ck_assert_double_eq_tol(json_object_get_double(json_object_object_get(props, "dist_m")), 49.94,
                            1e-12);
    ck_assert_str_eq(json_object_get_string(
                         json_object_object_get(json_object_object_get(first, "geometry"), "type")),
                     "Point");
    json_object *second = json_object_array_get_idx(features, 1);
    json_object *dist = NULL;
    ck_assert(
        json_object_object_get_ex(json_object_object_get(second, "properties"), "dist_m", &dist));
    ck_assert_ptr_null(dist);
    ck_assert_ptr_null(json_object_object_get(second, "geometry"));
    ck_assert_int_eq(json_object_get_int(
                         json_object_object_get(json_object_object_get(doc, "summary"), "total")),
                     2);
    json_object_put(doc);
    em_table_free(t);
}
END_TEST

START_TEST(format_names) {
    em_format f;
    em_lang l;
    ck_assert_int_eq(em_format_parse("GeoJSON", &f), 0);
    ck_assert_int_eq(f, EM_FMT_GEOJSON);
    ck_assert_int_eq(em_format_parse("xml", &f), -1);
    ck_assert_int_eq(em_lang_parse("zh", &l), 0);
    ck_assert_int_eq(em_lang_parse("fr", &l), -1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, text_table_aligns_cjk);
    tcase_add_test(tc, csv_quotes_and_nulls);
    tcase_add_test(tc, json_and_geojson_keep_types);
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

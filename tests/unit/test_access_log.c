/* The access log's request target: credentials in the query string are redacted. */
#include "access_log.h"
#include "testutil.h"

#include <string.h>

static void target(const char *path, const char *query, const char *want) {
    char out[256];
    em_access_log_target(path, query, out, sizeof out);
    ck_assert_str_eq(out, want);
}

START_TEST(redacts_credentials) {
    target("/ogc", NULL, "/ogc");
    target("/ogc", "", "/ogc?");
    target("/ogc/collections", "f=json&limit=5", "/ogc/collections?f=json&limit=5");
    target("/ogc", "access_token=s3cret&f=json", "/ogc?access_token=REDACTED&f=json");
    target("/ogc", "f=json&token=s3cret", "/ogc?f=json&token=REDACTED");
    target("/x", "API_KEY=a&apikey=b&Secret=c&password=d&X-Auth=e&session_id=f",
           "/x?API_KEY=REDACTED&apikey=REDACTED&Secret=REDACTED&password=REDACTED&"
           "X-Auth=REDACTED&session_id=REDACTED");
    /* %-escaped names are decoded before they are judged */
    target("/x", "%61ccess%5Ftoken=s3cret", "/x?%61ccess%5Ftoken=REDACTED");
    /* a name without a value, empty pairs and a value holding '=' */
    target("/x", "token&&a=b=c&token==x", "/x?token&&a=b=c&token=REDACTED");
    /* "tile" is no credential; the value of "monkey" is (it holds "key") */
    target("/x", "tile=1&monkey=2", "/x?tile=1&monkey=REDACTED");
}
END_TEST

START_TEST(truncates_safely) {
    char out[16];
    em_access_log_target("/ogc/collections/estates", "token=abc", out, sizeof out);
    ck_assert_uint_eq(strlen(out), sizeof out - 1);
    ck_assert_ptr_null(strstr(out, "abc"));
    char small[24];
    em_access_log_target("/o", "f=json&token=abcdefghijklmnop", small, sizeof small);
    ck_assert_ptr_null(strstr(small, "abcdef"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("access_log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, redacts_credentials);
    tcase_add_test(tc, truncates_safely);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

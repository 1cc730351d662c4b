/* The HTTP layer's parsers and writers, below the integration suite: the datetime
 * parameter in Shanghai time, %-decoding and the query parser, GeoJSON numbers and
 * geometry (with a CRS's axis order), listen addresses, metrics, and one in-process
 * server answering /healthz on an ephemeral port. */
#include "crs.h"
#include "db.h"
#include "geojson.h"
#include "http.h"
#include "http_static.h"
#include "metrics.h"
#include "server.h"
#include "strbuf.h"
#include "testutil.h"
#include "timespan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static em_timespan span(const char *text, int expect_ok) {
    em_timespan t;
    em_error err;
    int rc = em_timespan_parse(text, &t, &err);
    ck_assert_msg((rc == 0) == expect_ok, "%s: rc %d (%s)", text, rc, rc ? err.message : "");
    return t;
}

START_TEST(datetime_parameter) {
    em_timespan t = span("2016-01-08", 1);
    ck_assert(t.has_lo && t.has_hi);
    ck_assert_str_eq(t.lo, "2016-01-08T00:00:00");
    ck_assert_str_eq(t.hi, "2016-01-08T23:59:59");
    /* UTC to Shanghai, across midnight and a month end */
    t = span("2016-01-31T20:30:00Z", 1);
    ck_assert_str_eq(t.lo, "2016-02-01T04:30:00");
    ck_assert_str_eq(t.hi, "2016-02-01T04:30:00");
    t = span("2016-03-01T01:00:00-05:00", 1);
    ck_assert_str_eq(t.lo, "2016-03-01T14:00:00");
    t = span("2016-02-29T12:00:00", 1); /* no offset: Shanghai time */
    ck_assert_str_eq(t.lo, "2016-02-29T12:00:00");
    t = span("2016-02-29T12:00:00+08:00", 1);
    ck_assert_str_eq(t.lo, "2016-02-29T12:00:00");
    /* fractions: the start rounds up, the end down */
    t = span("2016-01-01T00:00:00.5Z/2016-01-02T00:00:00.9Z", 1);
    ck_assert_str_eq(t.lo, "2016-01-01T08:00:01");
    ck_assert_str_eq(t.hi, "2016-01-02T08:00:00");
    t = span("../2016-12-31", 1);
    ck_assert(!t.has_lo && t.has_hi);
    ck_assert_str_eq(t.hi, "2016-12-31T23:59:59");
    t = span("2016-06-01/", 1);
    ck_assert(t.has_lo && !t.has_hi);
    t = span("../..", 1);
    ck_assert(!t.has_lo && !t.has_hi);
    t = span("2016-12-31T23:59:60Z", 1); /* leap second */
    ck_assert_str_eq(t.lo, "2017-01-01T07:59:59");
    span("", 0);
    span("..", 0);
    span("2016-02-30", 0);
    span("2015-02-29", 0);
    span("2016-1-1", 0);
    span("2016-01-01T10:00Z", 0);
    span("2016-01-01T24:00:00Z", 0);
    span("2016-01-01T10:00:00+8", 0);
    span("2016-01-01 10:00:00", 0);
    span("2016-03-01/2016-02-01", 0);
    span("a/b/c", 0);
    span("2016-01-01x", 0);
}
END_TEST

START_TEST(rfc3339_of_stored_times) {
    char out[40];
    em_timespan_rfc3339("2016-01-08T09:00:00", out, sizeof out);
    ck_assert_str_eq(out, "2016-01-08T09:00:00+08:00");
    em_timespan_rfc3339("2016-01-08", out, sizeof out);
    ck_assert_str_eq(out, "2016-01-08T00:00:00+08:00");
}
END_TEST

START_TEST(path_decoding) {
    char a[] = "/ogc/collections/%E5%B0%8F%E5%8C%BA";
    ck_assert_int_eq(em_http_decode_path(a), 0);
    ck_assert_str_eq(a, "/ogc/collections/小区");
    char plus[] = "/a+b";
    ck_assert_int_eq(em_http_decode_path(plus), 0);
    ck_assert_str_eq(plus, "/a+b"); /* '+' is only a space in a query */
    char nul[] = "/a%00b", bad[] = "/a%zz", cut[] = "/a%2", utf[] = "/%FF%FE";
    ck_assert_int_eq(em_http_decode_path(nul), -1);
    ck_assert_int_eq(em_http_decode_path(bad), -1);
    ck_assert_int_eq(em_http_decode_path(cut), -1);
    ck_assert_int_eq(em_http_decode_path(utf), -1);
    ck_assert(em_http_utf8_valid("示范版", strlen("示范版")));
    ck_assert(!em_http_utf8_valid("\xC0\xAF", 2));     /* overlong '/' */
    ck_assert(!em_http_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
    ck_assert(!em_http_utf8_valid("\xE7\xA4", 2));     /* cut short */
}
END_TEST

START_TEST(query_parsing) {
    em_http_request req;
    memset(&req, 0, sizeof req);
    em_error err;
    const char *bad = NULL;
    ck_assert_int_eq(
        em_http_parse_query(&req, "tier=%E7%A4%BA%E8%8C%83%E7%89%88&name=a+b&flag&x=", &bad, &err),
        0);
    ck_assert_int_eq(req.nparams, 4);
    ck_assert_str_eq(em_http_param(&req, "tier"), "示范版");
    ck_assert_str_eq(em_http_param(&req, "name"), "a b");
    ck_assert_str_eq(em_http_param(&req, "flag"), "");
    ck_assert_str_eq(em_http_param(&req, "x"), "");
    ck_assert_ptr_null(em_http_param(&req, "nope"));
    em_http_free_params(&req);

    ck_assert_int_eq(em_http_parse_query(&req, "limit=1&limit=2", &bad, &err), -1);
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    ck_assert_str_eq(bad, "limit");
    em_http_free_params(&req);
    ck_assert_int_eq(em_http_parse_query(&req, "a=%ZZ", &bad, &err), -1);
    em_http_free_params(&req);
    ck_assert_int_eq(em_http_parse_query(&req, "=1", &bad, &err), -1);
    em_http_free_params(&req);
    ck_assert_int_eq(em_http_parse_query(&req, "a=1&&b=2&", &bad, &err), 0);
    ck_assert_int_eq(req.nparams, 2);
    em_http_free_params(&req);

    char many[1024] = "";
    for (int i = 0; i < EM_HTTP_MAX_PARAMS + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "p%d=1&", i);
    ck_assert_int_eq(em_http_parse_query(&req, many, &bad, &err), -1);
    ck_assert_ptr_null(bad);
    em_http_free_params(&req);

    /* over the length cap: the longest parameter is named (a drawn polygon) */
    static char longq[EM_HTTP_MAX_QUERY + 64];
    int n = snprintf(longq, sizeof longq, "source=estates&polygon=");
    memset(longq + n, '1', EM_HTTP_MAX_QUERY - 10);
    snprintf(longq + n + EM_HTTP_MAX_QUERY - 10, sizeof longq - (size_t)n - EM_HTTP_MAX_QUERY + 10,
             "&format=shp");
    ck_assert_int_eq(em_http_parse_query(&req, longq, &bad, &err), -1);
    ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    ck_assert_str_eq(bad, "polygon");
    ck_assert_ptr_nonnull(strstr(err.message, "polygon is the longest"));
    em_http_free_params(&req);
}
END_TEST

START_TEST(numbers) {
    em_strbuf b;
    em_strbuf_init(&b);
    em_geojson_number(&b, 121.4000000, 7);
    em_strbuf_putc(&b, ' ');
    em_geojson_number(&b, 31.12345678, 7);
    em_strbuf_putc(&b, ' ');
    em_geojson_number(&b, -0.00000001, 7);
    em_strbuf_putc(&b, ' ');
    em_geojson_number(&b, 3435067.9904, 3);
    em_strbuf_putc(&b, ' ');
    em_geojson_number(&b, 100, 3);
    ck_assert_str_eq(em_strbuf_cstr(&b), "121.4 31.1234568 0 3435067.99 100");
    em_strbuf_free(&b);
}
END_TEST

static char db_path[4096];

static const void *geometry_blob(em_db *db, const char *wkt, int *size, sqlite3_stmt **st) {
    *st = em_db_prepare(db, "SELECT GeomFromText(?, 4326)", NULL);
    ck_assert_ptr_nonnull(*st);
    sqlite3_bind_text(*st, 1, wkt, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(*st), SQLITE_ROW);
    *size = sqlite3_column_bytes(*st, 0);
    return sqlite3_column_blob(*st, 0);
}

static void check_geojson(em_db *db, const char *wkt, const em_geojson_opts *o,
                          const char *expect) {
    sqlite3_stmt *st;
    int size;
    const void *blob = geometry_blob(db, wkt, &size, &st);
    em_strbuf b;
    em_strbuf_init(&b);
    ck_assert_int_eq(em_geojson_geometry(&b, blob, size, o), 0);
    ck_assert_str_eq(em_strbuf_cstr(&b), expect);
    em_strbuf_free(&b);
    sqlite3_finalize(st);
}

START_TEST(geometry) {
    em_db *db = testutil_new_db(0, db_path, sizeof db_path);
    em_geojson_opts plain = {NULL, 7};
    check_geojson(db, "POINT(121.4 31.1)", &plain,
                  "{\"type\":\"Point\",\"coordinates\":[121.4,31.1]}");
    check_geojson(db, "MULTIPOLYGON(((0 0,1 0,1 1,0 0)))", &plain,
                  "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],[0,0]]]]}");
    check_geojson(db, "POLYGON((0 0,2 0,2 2,0 0),(0.5 0.2,1 0.2,1 0.5,0.5 0.2))", &plain,
                  "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[2,0],[2,2],[0,0]],"
                  "[[0.5,0.2],[1,0.2],[1,0.5],[0.5,0.2]]]}");
    check_geojson(db, "LINESTRING(0 0,1 1)", &plain,
                  "{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}");
    check_geojson(db, "MULTILINESTRING((0 0,1 1),(2 2,3 3))", &plain,
                  "{\"type\":\"MultiLineString\",\"coordinates\":[[[0,0],[1,1]],[[2,2],[3,3]]]}");
    check_geojson(
        db, "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))", &plain,
        "{\"type\":\"GeometryCollection\",\"geometries\":[{\"type\":\"Point\","
        "\"coordinates\":[1,2]},{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}]}");

    /* EPSG:4326 by its authority: latitude first */
    em_crs_cache *cache = em_crs_cache_new();
    em_error err;
    em_geojson_opts latlon = {
        em_crs_from_crs84(cache, em_crs_find_uri("http://www.opengis.net/def/crs/EPSG/0/4326"),
                          &err),
        7};
    ck_assert_ptr_nonnull(latlon.transform);
    check_geojson(db, "POINT(121.4 31.1)", &latlon,
                  "{\"type\":\"Point\",\"coordinates\":[31.1,121.4]}");
    /* CRS84 needs no transformation */
    ck_assert_ptr_null(em_crs_from_crs84(cache, em_crs_at(0), &err));
    ck_assert_int_eq(err.kind, EM_OK);

    em_strbuf b;
    em_strbuf_init(&b);
    ck_assert_int_eq(em_geojson_geometry(&b, NULL, 0, &plain), 0);
    ck_assert_str_eq(em_strbuf_cstr(&b), "null");
    ck_assert_int_eq(em_geojson_geometry(&b, "not a blob at all", 17, &plain), -1);
    em_strbuf_free(&b);
    em_crs_cache_free(cache);
    testutil_remove_db(db, db_path);
}
END_TEST

START_TEST(bbox_to_crs84) {
    em_crs_cache *cache = em_crs_cache_new();
    em_error err;
    double out[4];
    const double latlon[4] = {31.0, 121.4, 31.1, 121.5};
    ck_assert_int_eq(
        em_crs_bbox_to_crs84(cache, em_crs_find_uri("http://www.opengis.net/def/crs/EPSG/0/4326"),
                             latlon, out, &err),
        0);
    ck_assert_double_eq_tol(out[0], 121.4, 1e-9);
    ck_assert_double_eq_tol(out[1], 31.0, 1e-9);
    ck_assert_double_eq_tol(out[2], 121.5, 1e-9);
    ck_assert_double_eq_tol(out[3], 31.1, 1e-9);
    const double huge[4] = {-1e300, -1e300, 1e300, 1e300};
    int rc = em_crs_bbox_to_crs84(
        cache, em_crs_find_uri("http://www.opengis.net/def/crs/EPSG/0/3857"), huge, out, &err);
    ck_assert(rc == -1 || (out[0] >= -180.0001 && out[2] <= 180.0001));
    ck_assert_ptr_null(em_crs_find_uri("EPSG:4326"));
    em_crs_cache_free(cache);
}
END_TEST

START_TEST(listen_addresses) {
    char host[64];
    int port;
    em_error err;
    ck_assert_int_eq(em_server_parse_listen(NULL, host, &port, &err), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8080);
    ck_assert_int_eq(em_server_parse_listen("9000", host, &port, &err), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 9000);
    ck_assert_int_eq(em_server_parse_listen("0.0.0.0:80", host, &port, &err), 0);
    ck_assert_str_eq(host, "0.0.0.0");
    ck_assert_int_eq(em_server_parse_listen("localhost:81", host, &port, &err), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    const char *bad[] = {"",
                         ":80",
                         "abc",
                         "1.2.3:80",
                         "example.org:80",
                         "127.0.0.1:",
                         "127.0.0.1:65536",
                         "127.0.0.1:-1",
                         "[::1]:80",
                         "127.0.0.1:8o"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!*bad[i])
            continue; /* empty means the default */
        ck_assert_msg(em_server_parse_listen(bad[i], host, &port, &err) == -1, "%s", bad[i]);
        ck_assert_int_eq(err.kind, EM_ERR_USAGE);
    }
    ck_assert_int_eq(em_server_check_origin("*", &err), 0);
    ck_assert_int_eq(em_server_check_origin("https://planner.example.org:8443", &err), 0);
    ck_assert_int_eq(em_server_check_origin("example.org", &err), -1);
    ck_assert_int_eq(em_server_check_origin("https://a.b/path", &err), -1);
    ck_assert_int_eq(em_server_check_origin("https://a.b\r\nX: y", &err), -1);
}
END_TEST

START_TEST(mime_types) {
    ck_assert_str_eq(em_static_mime_type("/web/index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(em_static_mime_type("/web/app.JS"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(em_static_mime_type("/web/vendor/leaflet.css"), "text/css; charset=utf-8");
    ck_assert_str_eq(em_static_mime_type("/web/a.b/README"), "application/octet-stream");
    ck_assert_str_eq(em_static_cache_control("/"), "no-cache");
    ck_assert_str_eq(em_static_cache_control("/i18n.js"), "no-cache");
    ck_assert_str_eq(em_static_cache_control("/styles/estates.json"), "no-cache");
    ck_assert_str_eq(em_static_cache_control("/vendor/leaflet/dist/leaflet.js"),
                     "public, max-age=604800");
    ck_assert_str_eq(em_static_cache_control("/vendors.js"), "no-cache");
}
END_TEST

START_TEST(content_disposition) {
    char out[512];
    em_http_content_disposition("attachment", "estates.zip", out, sizeof out);
    ck_assert_str_eq(out, "attachment; filename=\"estates.zip\"");
    /* non-ASCII: an ASCII fallback, then RFC 5987 */
    em_http_content_disposition("attachment", "小区 a.zip", out, sizeof out);
    ck_assert_str_eq(out, "attachment; filename=\"__ a.zip\"; "
                          "filename*=UTF-8''%E5%B0%8F%E5%8C%BA%20a.zip");
    /* quotes, backslashes and control characters never reach the quoted string */
    em_http_content_disposition("attachment", "a\"b\\c\r\nd.csv", out, sizeof out);
    ck_assert_str_eq(out, "attachment; filename=\"a_b_c__d.csv\"; "
                          "filename*=UTF-8''a%22b%5Cc%0D%0Ad.csv");
}
END_TEST

START_TEST(metrics_text) {
    em_metrics_reset();
    em_metrics_observe_request("/healthz", 200, 0.0004);
    em_metrics_observe_request("/healthz", 200, 0.2);
    em_metrics_observe_request("/healthz", 503, 20);
    em_metrics_counter_add("estatemap_test_total", "a test counter", 2);
    em_strbuf b;
    em_strbuf_init(&b);
    em_metrics_render(&b);
    const char *t = em_strbuf_cstr(&b);
    ck_assert_ptr_nonnull(
        strstr(t, "estatemap_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "estatemap_http_requests_total{route=\"/healthz\",status=\"503\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        t, "estatemap_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.001\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        t, "estatemap_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.25\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        t, "estatemap_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        t, "estatemap_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "# TYPE estatemap_test_total counter\nestatemap_test_total 2\n"));
    em_strbuf_free(&b);
    em_metrics_reset();
}
END_TEST

/* One GET over a plain socket; returns the status code and copies the body. */
static int http_get(int port, const char *path, char *body, size_t bodylen) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    static char buf[65536];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *start = strstr(buf, "\r\n\r\n");
    snprintf(body, bodylen, "%s", start ? start + 4 : "");
    return status;
}

START_TEST(server_in_process) {
    em_db *db = testutil_new_db(0, db_path, sizeof db_path);
    em_db_close(db);
    em_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.db_path = db_path;
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    cfg.access_log = "/dev/null";
    em_error err;
    em_server *s = em_server_start(&cfg, &err);
    ck_assert_msg(s != NULL, "%s", err.message);
    int port = em_server_port(s);
    ck_assert_int_gt(port, 0);
    char body[4096];
    ck_assert_int_eq(http_get(port, "/healthz", body, sizeof body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"status\":\"ok\""));
    ck_assert_ptr_nonnull(strstr(body, "\"estates\":0"));
    ck_assert_int_eq(http_get(port, "/ogc/collections/estates/items?bogus=1", body, sizeof body),
                     400);
    ck_assert_ptr_nonnull(strstr(body, "\"parameter\":\"bogus\""));
    ck_assert_int_eq(http_get(port, "/ogc/collections/estates/items", body, sizeof body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"numberMatched\":0"));
    em_server_stop(s);

    cfg.db_path = "/nonexistent/estatemap.sqlite";
    ck_assert_ptr_null(em_server_start(&cfg, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/estatemap.sqlite"));
    testutil_remove_db(NULL, db_path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, datetime_parameter);
    tcase_add_test(tc, rfc3339_of_stored_times);
    tcase_add_test(tc, path_decoding);
    tcase_add_test(tc, query_parsing);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, geometry);
    tcase_add_test(tc, bbox_to_crs84);
    tcase_add_test(tc, listen_addresses);
    tcase_add_test(tc, mime_types);
    tcase_add_test(tc, content_disposition);
    tcase_add_test(tc, metrics_text);
    tcase_add_test(tc, server_in_process);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

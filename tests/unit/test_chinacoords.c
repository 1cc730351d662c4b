/* GCJ-02 and BD-09: the iterated inverses must undo the public forward formulas to
 * far better than the 1 m the importer promises, everywhere in and around Minhang. */
#include "chinacoords.h"
#include "testutil.h"

#include <math.h>

/* Metres per degree near Shanghai: good enough for sub-millimetre comparisons. */
static double metres(double lon1, double lat1, double lon2, double lat2) {
    double dx = (lon1 - lon2) * 111320.0 * cos(lat1 * M_PI / 180.0);
    double dy = (lat1 - lat2) * 110574.0;
    return sqrt(dx * dx + dy * dy);
}

START_TEST(gcj02_round_trip_over_minhang) {
    double worst = 0;
    for (double lon = 121.25; lon <= 121.60; lon += 0.0123)
        for (double lat = 30.95; lat <= 31.25; lat += 0.0117) {
            double glon, glat, wlon, wlat;
            em_wgs84_to_gcj02(lon, lat, &glon, &glat);
            em_gcj02_to_wgs84(glon, glat, &wlon, &wlat);
            double d = metres(lon, lat, wlon, wlat);
            if (d > worst)
                worst = d;
        }
    ck_assert_msg(worst < 0.001, "worst round-trip error %.6f m", worst);
}
END_TEST

START_TEST(gcj02_offset_is_hundreds_of_metres_in_shanghai) {
    double glon, glat;
    em_wgs84_to_gcj02(121.4737, 31.2304, &glon, &glat);
    double d = metres(121.4737, 31.2304, glon, glat);
    /* The published offset in Shanghai is a few hundred metres to the south-east. */
    ck_assert_msg(d > 300 && d < 700, "offset %.1f m", d);
    ck_assert(glon > 121.4737);
    ck_assert(glat < 31.2304);
}
END_TEST

START_TEST(bd09_round_trip_over_minhang) {
    double worst = 0;
    for (double lon = 121.25; lon <= 121.60; lon += 0.0131)
        for (double lat = 30.95; lat <= 31.25; lat += 0.0109) {
            double glon, glat, blon, blat, wlon, wlat;
            em_wgs84_to_gcj02(lon, lat, &glon, &glat);
            em_gcj02_to_bd09(glon, glat, &blon, &blat);
            em_bd09_to_wgs84(blon, blat, &wlon, &wlat);
            double d = metres(lon, lat, wlon, wlat);
            if (d > worst)
                worst = d;
        }
    ck_assert_msg(worst < 0.001, "worst round-trip error %.6f m", worst);
}
END_TEST

START_TEST(one_step_inverse_is_not_good_enough) {
    /* Why we iterate: the usual one-step inverse misses by metres. */
    double worst = 0;
    for (double lon = 121.25; lon <= 121.60; lon += 0.05)
        for (double lat = 30.95; lat <= 31.25; lat += 0.05) {
            double glon, glat, flon, flat;
            em_wgs84_to_gcj02(lon, lat, &glon, &glat);
            em_wgs84_to_gcj02(glon, glat, &flon, &flat);
            double one_lon = glon - (flon - glon), one_lat = glat - (flat - glat);
            double d = metres(lon, lat, one_lon, one_lat);
            if (d > worst)
                worst = d;
        }
    ck_assert_msg(worst > 0.01, "one-step inverse already within %.4f m", worst);
}
END_TEST

START_TEST(outside_china_is_identity) {
    double lon, lat;
    em_gcj02_to_wgs84(2.35, 48.85, &lon, &lat);
    ck_assert(lon == 2.35 && lat == 48.85);
    em_wgs84_to_gcj02(-74.0, 40.7, &lon, &lat);
    ck_assert(lon == -74.0 && lat == 40.7);
}
END_TEST

START_TEST(parse_names) {
    ck_assert_int_eq(em_coords_parse("gcj02"), EM_COORDS_GCJ02);
    ck_assert_int_eq(em_coords_parse("BD09"), EM_COORDS_BD09);
    ck_assert_int_eq(em_coords_parse("wgs84"), EM_COORDS_WGS84);
    ck_assert_int_eq(em_coords_parse("mercator"), -1);
    ck_assert_int_eq(em_coords_parse(NULL), -1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("chinacoords");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gcj02_round_trip_over_minhang);
    tcase_add_test(tc, gcj02_offset_is_hundreds_of_metres_in_shanghai);
    tcase_add_test(tc, bd09_round_trip_over_minhang);
    tcase_add_test(tc, one_step_inverse_is_not_good_enough);
    tcase_add_test(tc, outside_china_is_identity);
    tcase_add_test(tc, parse_names);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

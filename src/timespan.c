#include "timespan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHANGHAI_OFFSET (8 * 3600L)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long days_from_civil(long y, long m, long d) {
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, long *m, long *d) {
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(long y, long m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

static int digits(const char *s, int n, long *out) {
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static void format_local(long seconds, char out[20]) {
    long days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    long rem = seconds - days * 86400;
    long y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1) {
        memcpy(out, "0001-01-01T00:00:00", 20);
        return;
    }
    if (y > 9999) {
        memcpy(out, "9999-12-31T23:59:59", 20);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, (int)m, (int)d,
             (int)(rem / 3600), (int)((rem / 60) % 60), (int)(rem % 60));
    memcpy(out, buf, 19);
    out[19] = '\0';
}

/* One end of an interval; `is_end` picks the end of a bare date's day and rounds
 * fractional seconds down rather than up. Returns 0, or -1 when malformed. */
static int parse_end(const char *s, int is_end, char out[20]) {
    size_t n = strlen(s);
    long y, mo, d, h = 0, mi = 0, sec = 0;
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    long local = days_from_civil(y, mo, d) * 86400;
    if (n == 10) {
        if (is_end)
            local += 86399;
        format_local(local, out);
        return 0;
    }
    const char *p = s + 10;
    if ((*p != 'T' && *p != 't') || digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) ||
        p[6] != ':' || digits(p + 7, 2, &sec))
        return -1;
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    if (sec == 60) /* a leap second sorts with the second before it */
        sec = 59;
    p += 9;
    int fraction = 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++)
            if (*p != '0')
                fraction = 1;
    }
    long offset = SHANGHAI_OFFSET;
    if (*p == 'Z' || *p == 'z') {
        offset = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        long oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p != '\0')
        return -1;
    long t = local + h * 3600 + mi * 60 + sec - offset + SHANGHAI_OFFSET;
    if (fraction && !is_end)
        t += 1; /* stored times are whole seconds: the first one not before the start */
    format_local(t, out);
    return 0;
}

int em_timespan_parse(const char *text, em_timespan *out, em_error *err) {
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return em_fail(err, EM_ERR_USAGE, "datetime is empty");
    if (strlen(text) > 80)
        return em_fail(err, EM_ERR_USAGE, "datetime is too long");
    char buf[96];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (!slash) {
        if (strcmp(buf, "..") == 0 || parse_end(buf, 0, out->lo) < 0 ||
            parse_end(buf, 1, out->hi) < 0)
            return em_fail(err, EM_ERR_USAGE,
                           "datetime '%s' is not an RFC 3339 date, date-time or interval", text);
        out->has_lo = out->has_hi = 1;
        return 0;
    }
    *slash = '\0';
    const char *a = buf, *b = slash + 1;
    if (strchr(b, '/'))
        return em_fail(err, EM_ERR_USAGE, "datetime '%s' has more than one '/'", text);
    if (*a && strcmp(a, "..") != 0) {
        if (parse_end(a, 0, out->lo) < 0)
            return em_fail(err, EM_ERR_USAGE,
                           "datetime: the start '%s' is not an RFC 3339 "
                           "date or date-time",
                           a);
        out->has_lo = 1;
    }
    if (*b && strcmp(b, "..") != 0) {
        if (parse_end(b, 1, out->hi) < 0)
            return em_fail(err, EM_ERR_USAGE,
                           "datetime: the end '%s' is not an RFC 3339 date or date-time", b);
        out->has_hi = 1;
    }
    if (out->has_lo && out->has_hi && strcmp(out->lo, out->hi) > 0)
        return em_fail(err, EM_ERR_USAGE, "datetime: the start is after the end");
    return 0;
}

void em_timespan_rfc3339(const char *stored, char *out, size_t outlen) {
    if (strlen(stored) == 10)
        snprintf(out, outlen, "%sT00:00:00+08:00", stored);
    else
        snprintf(out, outlen, "%s+08:00", stored);
}

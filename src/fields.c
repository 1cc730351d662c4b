#include "fields.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy `raw` without leading and trailing white space into `buf`. */
static const char *trimmed(const char *raw, char *buf, size_t buflen) {
    while (*raw && isspace((unsigned char)*raw))
        raw++;
    size_t n = strlen(raw);
    while (n > 0 && isspace((unsigned char)raw[n - 1]))
        n--;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, raw, n);
    buf[n] = '\0';
    return buf;
}

static int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* Reads Y M D separated by '-', '/' or '.', or packed as YYYYMMDD; returns the
 * number of characters consumed, or -1. */
static int scan_date(const char *s, int *y, int *m, int *d) {
    int n = 0;
    char sep1, sep2;
    if (sscanf(s, "%4d%c%2d%c%2d%n", y, &sep1, m, &sep2, d, &n) == 5 && n > 0 && sep1 == sep2 &&
        (sep1 == '-' || sep1 == '/' || sep1 == '.')) {
    } else if (strlen(s) >= 8 && sscanf(s, "%4d%2d%2d%n", y, m, d, &n) == 3 && n == 8) {
    } else {
        return -1;
    }
    if (*y < 1900 || *y > 2100 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return n;
}

int em_parse_date(const char *text, char out[11]) {
    char buf[64];
    const char *s = trimmed(text, buf, sizeof buf);
    int y, m, d;
    int n = scan_date(s, &y, &m, &d);
    if (n < 0)
        return -1;
    /* A time part is allowed and dropped: a date column keeps the day. */
    if (s[n] != '\0' && s[n] != ' ' && s[n] != 'T')
        return -1;
    char tmp[64]; /* wide enough for any int, so the compiler sees no truncation */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    memcpy(out, tmp, 11);
    return 0;
}

int em_parse_datetime(const char *text, char out[20]) {
    char buf[64];
    const char *s = trimmed(text, buf, sizeof buf);
    int y, m, d, hh = 0, mm = 0, ss = 0;
    int n = scan_date(s, &y, &m, &d);
    if (n < 0)
        return -1;
    const char *rest = s + n;
    if (*rest == 'T' || *rest == ' ') {
        int used = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &used) != 2)
            return -1;
        rest += 1 + used;
        if (*rest == ':') {
            if (sscanf(rest + 1, "%2d%n", &ss, &used) != 1)
                return -1;
            rest += 1 + used;
            if (*rest == '.') /* fractional seconds: dropped */
                for (rest++; isdigit((unsigned char)*rest); rest++)
                    ;
        }
    }
    /* Times are Shanghai local time; an explicit +08 offset is the same thing. */
    if (strcmp(rest, "+08:00") == 0 || strcmp(rest, "+0800") == 0 || strcmp(rest, "+08") == 0)
        rest += strlen(rest);
    if (*rest != '\0' || hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0)
        return -1;
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, hh, mm, ss);
    memcpy(out, tmp, 20);
    return 0;
}

int em_parse_bool(const char *text, int *out) {
    static const char *const truths[] = {"1",  "true", "t",      "yes",    "y", "是",
                                         "有", "已",   "已建立", "已落实", NULL};
    static const char *const falsities[] = {"0",  "false", "f",      "no",     "n", "否",
                                            "无", "未",    "未建立", "未落实", NULL};
    char buf[64];
    const char *s = trimmed(text, buf, sizeof buf);
    for (int i = 0; truths[i]; i++)
        if (strcasecmp(s, truths[i]) == 0)
            return *out = 1, 0;
    for (int i = 0; falsities[i]; i++)
        if (strcasecmp(s, falsities[i]) == 0)
            return *out = 0, 0;
    return -1;
}

int em_parse_real(const char *text, double *out) {
    char buf[64];
    const char *s = trimmed(text, buf, sizeof buf);
    if (!*s)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return -1;
    if (*end == '%') { /* "85%" is a rate of 0.85 */
        v /= 100.0;
        end++;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

int em_parse_integer(const char *text, long long *out) {
    double v;
    if (em_parse_real(text, &v) < 0 || strchr(text, '%'))
        return -1;
    /* Shapefiles and spreadsheets hand us integers as "1998.0"; accept integral reals. */
    if (v != floor(v) || fabs(v) > 9.0e15)
        return -1;
    *out = (long long)v;
    return 0;
}

const char *em_category_canonical(const char *name) {
    static const char *const aliases[][2] = {
        {"违法搭建", "违法建筑"}, {"违章建筑", "违法建筑"}, {"群租", "违法居住"},
        {"无证经营", "违法经营"}, {"乱设摊", "无序设摊"},   {"小广告", "黑色小广告"},
        {"高空抛物", "乱抛物"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i][0]) == 0)
            return aliases[i][1];
    return name;
}

static int in_domain(const em_column *col, const char *value) {
    if (!col->domain)
        return 1;
    for (int i = 0; col->domain[i]; i++)
        if (strcmp(col->domain[i], value) == 0)
            return 1;
    return 0;
}

static void list_domain(const em_column *col, char *out, size_t outlen) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; col->domain[i] && used < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", col->domain[i]);
}

int em_field_bind(sqlite3_stmt *st, int index, const em_column *col, const char *raw, char *why,
                  size_t whylen) {
    char buf[4096];
    const char *s = raw ? trimmed(raw, buf, sizeof buf) : "";
    if (!*s)
        return sqlite3_bind_null(st, index) == SQLITE_OK ? 0 : -1;
    const char *expected = NULL;
    switch (col->type) {
    case EM_COL_TEXT:
        if (!in_domain(col, s)) {
            char allowed[512];
            list_domain(col, allowed, sizeof allowed);
            snprintf(why, whylen, "%s: '%s' is not one of %s", col->name, s, allowed);
            return -1;
        }
        sqlite3_bind_text(st, index, s, -1, SQLITE_TRANSIENT);
        return 0;
    case EM_COL_INTEGER: {
        long long v;
        if (em_parse_integer(s, &v) == 0)
            return sqlite3_bind_int64(st, index, v) == SQLITE_OK ? 0 : -1;
        expected = "a whole number";
        break;
    }
    case EM_COL_REAL: {
        double v;
        if (em_parse_real(s, &v) == 0)
            return sqlite3_bind_double(st, index, v) == SQLITE_OK ? 0 : -1;
        expected = "a number";
        break;
    }
    case EM_COL_BOOL: {
        int v;
        if (em_parse_bool(s, &v) == 0)
            return sqlite3_bind_int(st, index, v) == SQLITE_OK ? 0 : -1;
        expected = "yes or no (1/0, true/false, 是/否)";
        break;
    }
    case EM_COL_DATE: {
        char v[11];
        if (em_parse_date(s, v) == 0)
            return sqlite3_bind_text(st, index, v, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
        expected = "a date (YYYY-MM-DD)";
        break;
    }
    case EM_COL_DATETIME: {
        char v[20];
        if (em_parse_datetime(s, v) == 0)
            return sqlite3_bind_text(st, index, v, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
        expected = "a date and time (YYYY-MM-DDTHH:MM:SS)";
        break;
    }
    }
    snprintf(why, whylen, "%s: '%s' is not %s", col->name, s, expected ? expected : "valid");
    return -1;
}

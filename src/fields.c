#include "fields.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The largest whole number em_parse_integer() accepts. */
#define MAX_WHOLE 9.0e15

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

/* Up to `max` decimal digits at *s (at least one) into *value; advances *s. */
static int digits(const char **s, int max, int *value) {
    int n = 0, v = 0;
    while (n < max && (*s)[n] >= '0' && (*s)[n] <= '9') {
        v = v * 10 + ((*s)[n] - '0');
        n++;
    }
    if (n == 0)
        return -1;
    *s += n;
    *value = v;
    return 0;
}

/* Reads Y M D separated by '-', '/' or '.' (one of them, twice), or packed as
 * YYYYMMDD; returns the number of characters consumed, or -1. */
static int scan_date(const char *s, int *y, int *m, int *d) {
    const char *p = s;
    char sep;
    if (digits(&p, 4, y) == 0 && (sep = *p) != '\0' && (sep == '-' || sep == '/' || sep == '.')) {
        p++;
        if (digits(&p, 2, m) < 0 || *p != sep)
            return -1;
        p++;
        if (digits(&p, 2, d) < 0)
            return -1;
    } else {
        p = s;
        if (digits(&p, 4, y) < 0 || p - s != 4 || digits(&p, 2, m) < 0 || p - s != 6 ||
            digits(&p, 2, d) < 0 || p - s != 8)
            return -1;
    }
    if (*y < 1900 || *y > 2100 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return (int)(p - s);
}

/* Writes `v` as `width` digits, zero-padded (0 <= v < 10^width). */
static char *put_digits(char *out, int v, int width) {
    for (int i = width - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
    return out + width;
}

/* YYYY-MM-DD into out (no terminator); returns the end. */
static char *put_date(char *out, int y, int m, int d) {
    out = put_digits(out, y, 4);
    *out++ = '-';
    out = put_digits(out, m, 2);
    *out++ = '-';
    return put_digits(out, d, 2);
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
    *put_date(out, y, m, d) = '\0';
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
        rest++;
        if (digits(&rest, 2, &hh) < 0 || *rest++ != ':' || digits(&rest, 2, &mm) < 0)
            return -1;
        if (*rest == ':') {
            rest++;
            if (digits(&rest, 2, &ss) < 0)
                return -1;
            if (*rest == '.') /* fractional seconds: dropped */
                for (rest++; isdigit((unsigned char)*rest); rest++)
                    ;
        }
    }
    /* Times are Shanghai local time; an explicit +08 offset is the same thing. */
    if (strcmp(rest, "+08:00") == 0 || strcmp(rest, "+0800") == 0 || strcmp(rest, "+08") == 0)
        rest += strlen(rest);
    if (*rest != '\0' || hh > 23 || mm > 59 || ss > 60)
        return -1;
    char *o = put_date(out, y, m, d);
    *o++ = 'T';
    o = put_digits(o, hh, 2);
    *o++ = ':';
    o = put_digits(o, mm, 2);
    *o++ = ':';
    o = put_digits(o, ss, 2);
    *o = '\0';
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
    if (v != floor(v) || fabs(v) > MAX_WHOLE)
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

int em_field_bind_integer(sqlite3_stmt *st, int index, const em_column *col, long long value) {
    switch (col->type) {
    case EM_COL_INTEGER:
        if (value > (long long)MAX_WHOLE || value < -(long long)MAX_WHOLE)
            return -1;
        return sqlite3_bind_int64(st, index, value) == SQLITE_OK ? 0 : -1;
    case EM_COL_REAL:
        return sqlite3_bind_double(st, index, (double)value) == SQLITE_OK ? 0 : -1;
    case EM_COL_BOOL:
        if (value != 0 && value != 1)
            return -1;
        return sqlite3_bind_int(st, index, (int)value) == SQLITE_OK ? 0 : -1;
    default:
        return -1;
    }
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

/* timespan.h -- the `datetime` parameter of OGC API - Features, in Shanghai time.
 *
 * estatemap stores times as Shanghai local time without an offset
 * ("YYYY-MM-DDTHH:MM:SS", see fields.h). A request gives an RFC 3339 instant or
 * interval, usually in UTC ("Z"); this turns it into an inclusive range of stored
 * strings that SQL can compare as text. A bare date means the whole day; a time
 * without an offset is taken as Shanghai time. */
#ifndef ESTATEMAP_TIMESPAN_H
#define ESTATEMAP_TIMESPAN_H

#include "errors.h"

typedef struct {
    int has_lo, has_hi;  /* 0 for an open end ("..", or empty) */
    char lo[20], hi[20]; /* inclusive, YYYY-MM-DDTHH:MM:SS, Shanghai time */
} em_timespan;

/* Parse "INSTANT", "START/END", "../END", "START/..". EM_ERR_USAGE when malformed
 * or when START is after END. */
int em_timespan_parse(const char *text, em_timespan *out, em_error *err);

/* A stored local time as RFC 3339 with its offset ("...+08:00"). */
void em_timespan_rfc3339(const char *stored, char *out, size_t outlen);

#endif

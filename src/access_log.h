/* access_log.h -- one line per request in Common Log Format.
 *
 *   127.0.0.1 - - [01/Nov/2016:10:00:00 +0800] "GET /ogc/collections HTTP/1.1" 200 5120
 *
 * Lines are written whole under a lock, so worker threads never interleave, and
 * flushed at once, so `tail -f` and log shippers see them. Bytes outside printable
 * ASCII (and quotes and backslashes) in the request line are written as \xHH, so a
 * client cannot forge log lines. */
#ifndef ESTATEMAP_ACCESS_LOG_H
#define ESTATEMAP_ACCESS_LOG_H

#include "errors.h"

typedef struct em_access_log em_access_log;

/* `path` NULL or "-" logs to stderr; otherwise the file is appended to. */
em_access_log *em_access_log_open(const char *path, em_error *err);
void em_access_log_close(em_access_log *log);

/* `target` is the request target as received (path and query); `user` may be NULL. */
void em_access_log_write(em_access_log *log, const char *remote_addr, const char *user,
                         const char *method, const char *target, const char *http_version,
                         int status, long long bytes);

#endif

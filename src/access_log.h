/* access_log.h -- one line per request in Common Log Format.
 *
 *   127.0.0.1 - - [01/Nov/2016:10:00:00 +0800] "GET /ogc/collections HTTP/1.1" 200 5120
 *
 * Lines are written whole under a lock, so worker threads never interleave, and
 * flushed at once, so `tail -f` and log shippers see them. Bytes outside printable
 * ASCII (and quotes and backslashes) in the request line are written as \xHH, so a
 * client cannot forge log lines. The user field is the name of the token a request
 * authenticated with; a token itself is never logged, not even one sent in the
 * query string. */
#ifndef ESTATEMAP_ACCESS_LOG_H
#define ESTATEMAP_ACCESS_LOG_H

#include "errors.h"

#include <stddef.h>

typedef struct em_access_log em_access_log;

/* `path` NULL or "-" logs to stderr; otherwise the file is appended to. */
em_access_log *em_access_log_open(const char *path, em_error *err);
void em_access_log_close(em_access_log *log);

/* "path?query" into `out`, with the value of every query parameter whose name looks
 * like a credential (it holds "token", "key", "secret", "passw", "auth" or "session",
 * in any case, %-escaped or not) replaced by REDACTED: a token a client puts in the
 * URL never reaches the log. `query` may be NULL. */
void em_access_log_target(const char *path, const char *query, char *out, size_t outlen);

/* `target` is the request target (em_access_log_target); `user` is the authenticated
 * token's name, or NULL ("-"). */
void em_access_log_write(em_access_log *log, const char *remote_addr, const char *user,
                         const char *method, const char *target, const char *http_version,
                         int status, long long bytes);

#endif

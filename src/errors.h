/* errors.h -- one error slot that library calls fill and front ends print.
 *
 * Every library function that can fail takes an em_error* and returns -1 (or NULL)
 * after filling it; the CLI maps it to exit code 1, the HTTP layer to a status. */
#ifndef ESTATEMAP_ERRORS_H
#define ESTATEMAP_ERRORS_H

#include <stddef.h>

typedef enum {
    EM_OK = 0,
    EM_ERR_USAGE, /* bad option or parameter: exit 2 / HTTP 400 */
    EM_ERR_INPUT, /* bad input file or feature: exit 1 / HTTP 400 or 422 */
    EM_ERR_NOTFOUND,
    EM_ERR_RUNTIME, /* database, I/O, library failure: exit 1 / HTTP 500 */
    EM_ERR_NOSPACE, /* the disk is full: exit 1 / HTTP 503 */
} em_error_kind;

typedef struct {
    em_error_kind kind;
    char message[1024];
} em_error;

void em_error_clear(em_error *err);
/* Set the error (printf-style) and return -1, so callers can `return em_fail(...)`. */
int em_fail(em_error *err, em_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix context ("importing x.shp: ") onto an error already set. */
void em_error_prefix(em_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* fuzz.h -- what the libFuzzer targets in tests/fuzz/ share.
 *
 * Each target (fuzz_*.c) defines LLVMFuzzerInitialize and LLVMFuzzerTestOneInput.
 * Built with -DESTATEMAP_FUZZ=ON they link libFuzzer's main(); in every build they
 * also link replay.c, whose main() feeds each file of the committed corpus to the
 * same entry points (ctest fuzz.*), so every regression input is guarded in the
 * release and ASan test passes too.
 *
 * The targets run on a scratch copy of a small fixture database, built once per
 * process from tests/fuzz/fixture/ (the demo's files cut down to one town). A
 * target that writes puts the database back as it was after every input. */
#ifndef ESTATEMAP_FUZZ_H
#define ESTATEMAP_FUZZ_H

#include "db.h"
#include "http.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Report a broken invariant and abort, so libFuzzer keeps the input. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* With ESTATEMAP_FUZZ_VERBOSE set, say what an input did (for checking seeds). */
void fuzz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A scratch directory for this process, removed at exit. */
const char *fuzz_tmpdir(void);
/* A file name in the scratch directory. */
void fuzz_tmpfile(const char *name, char *out, size_t len);
/* The fixture database, built on first use into the scratch directory. */
const char *fuzz_fixture_db(void);

/* `data` as a NUL-terminated string (cut at the first NUL); the caller frees it. */
char *fuzz_string(const uint8_t *data, size_t size);

/* A GET request made in-process, as the server's router makes it: `target` is
 * "PATH?QUERY" (PATH %-encoded). Returns 0 when the router would have answered 400
 * before any handler (bad escape, bad query), else 1 with `req` ready for the
 * handler at req->path; free with fuzz_request_free(). */
int fuzz_request(em_http_request *req, em_http_worker *worker, const char *target);
void fuzz_request_free(em_http_request *req);
/* A handler must answer, and never with a 5xx: bad input is a 4xx. */
void fuzz_check_status(const em_http_request *req, const char *target);
/* The whole of a GET target: `prefix` ("/ogc") and the input make the target; when
 * the router would pass it on, handle(req, rest after the prefix, ctx) answers and
 * its status is checked. */
typedef int (*fuzz_handler)(em_http_request *req, const char *rest, void *ctx);
void fuzz_get(const uint8_t *data, size_t size, const char *prefix, em_http_worker *worker,
              fuzz_handler handle, void *ctx);

/* A writable connection to a private copy of the fixture, and its reset: after
 * fuzz_db_reset() the file holds exactly the fixture again. */
em_db *fuzz_db_writable(void);
void fuzz_db_reset(void);
/* The invariants after a write or import that failed: no transaction left open
 * and the audit log unchanged since fuzz_db_mark(). */
void fuzz_db_mark(void);
void fuzz_db_check_unchanged(const char *what);
/* After a write or import that succeeded: every geometry valid and in SRID 4326,
 * every spatial index in step with its table, integrity_check ok (em_check()). */
void fuzz_db_check_healthy(const char *what);

#endif

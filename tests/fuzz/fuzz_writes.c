/* fuzz_writes -- the JSON bodies of the four writes. The first byte picks the write
 * and its target, the rest is the body:
 *   byte % 4 == 0  POST /api/violations (coords: (byte / 4) % 3 -> wgs84, gcj02, bd09)
 *              1  PATCH /api/violations/{1 + (byte / 4) % 24}
 *              2  PATCH /api/estates/{ref}      (ref: 1-4 or the first estate's code)
 *              3  PUT /api/estates/{ref}/renovation
 * The body is parsed as the API parses it (em_http_parse_json_body) and handed to
 * the same em_write_* function on a writable copy of the fixture. A write that
 * succeeds is undone afterwards; one that fails must leave no transaction open and
 * the audit log as it was; one that succeeds must leave the database healthy (valid
 * geometry, spatial indexes in step, integrity_check ok); an internal error (a 500)
 * is a failure. */
#include "fuzz.h"

#include "writes.h"

#include <stdio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_db_writable();
    return 0;
}

static const char *const estate_refs[] = {"1", "2", "3", "4", "310112006-0001", "0", "x"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned op = data[0] % 4, arg = data[0] / 4;
    em_db *db = fuzz_db_writable();
    em_write_error e = {0};
    json_object *body = NULL, *out = NULL;
    if (em_http_parse_json_body((const char *)data + 1, size - 1, &body, &e.err) < 0) {
        if (e.err.kind == EM_ERR_RUNTIME)
            fuzz_fail("parsing the body: %s", e.err.message);
        return 0;
    }
    static const char *const methods[] = {"POST", "PATCH", "PATCH", "PUT"};
    em_audit_who who = {"fuzz", "admin", "127.0.0.1", methods[op], "/api/fuzz"};
    const char *ref = estate_refs[arg % (sizeof estate_refs / sizeof *estate_refs)];
    fuzz_db_mark();
    int rc;
    switch (op) {
    case 0:
        rc = em_write_violation_create(db, &who, body, (em_coords)(arg % 3), &out, &e);
        break;
    case 1:
        rc = em_write_violation_update(db, &who, 1 + arg % 24, body, &out, &e);
        break;
    case 2:
        rc = em_write_estate_update(db, &who, ref, body, &out, &e);
        break;
    default:
        rc = em_write_estate_renovation(db, &who, ref, body, &out, &e);
        break;
    }
    fuzz_note("  %s: %s", rc < 0 ? "rejected" : "written", rc < 0 ? e.err.message : "");
    if (rc < 0) {
        if (e.err.kind == EM_ERR_RUNTIME && !e.unavailable && !e.conflict)
            fuzz_fail("%s write %u answered 500: %s", methods[op], op, e.err.message);
        fuzz_db_check_unchanged(methods[op]);
    } else {
        if (!out)
            fuzz_fail("%s write %u succeeded without a result", methods[op], op);
        fuzz_db_check_healthy(methods[op]);
        fuzz_db_reset();
    }
    json_object_put(out);
    json_object_put(body);
    return 0;
}

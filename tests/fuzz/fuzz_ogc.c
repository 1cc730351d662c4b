/* fuzz_ogc -- an OGC API - Features request: the input is what follows /ogc in the
 * request target ("/collections/violations/items?bbox=...&datetime=...&limit=5"),
 * as it comes on the wire. It goes through the router's decoding and query parsing
 * and then em_ogc_handle() on the fixture: bbox, bbox-crs, crs, datetime, limit,
 * offset, attribute filters, and the query they make. Any 5xx is a failure. */
#include "fuzz.h"

#include "ogc.h"

static em_http_worker worker;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    worker.db_path = fuzz_fixture_db();
    return 0;
}

static int handle(em_http_request *req, const char *rest, void *ctx) {
    (void)ctx;
    return em_ogc_handle(req, rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_get(data, size, "/ogc", &worker, handle, NULL);
    return 0;
}

/* fuzz_tiles -- a tile request: the input is what follows /tiles/ in the request
 * target ("towns,estates/12/3430/1673.mvt?f=x"), %-escapes and query string as
 * they come on the wire. It goes through the router's decoding and query parsing
 * and then em_tile_handle() on the fixture: layer list, z/x/y, format, TileJSON,
 * the tile itself and the cache. Any 5xx is a failure. */
#include "fuzz.h"

#include "tile_http.h"

static em_http_worker worker;
static em_tile_service *service;
static em_tile_source *source;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    em_error err;
    em_error_clear(&err);
    worker.db_path = fuzz_fixture_db();
    service = em_tile_service_new(1 << 20, 1 << 20, 0, &err);
    source = em_tile_source_new();
    if (!service || !source)
        fuzz_fail("cannot set up the tile service: %s", err.message);
    return 0;
}

static int handle(em_http_request *req, const char *rest, void *ctx) {
    (void)ctx;
    return em_tile_handle(req, service, source, rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_get(data, size, "/tiles/", &worker, handle, NULL);
    return 0;
}

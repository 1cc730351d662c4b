/* fuzz_tiles -- a tile request: the input is what follows /tiles/ in the request
 * target ("towns,estates/12/3430/1673.mvt?f=x"), %-escapes and query string as
 * they come on the wire. It goes through the router's decoding and query parsing
 * and then em_tile_handle() on the fixture: layer list, z/x/y, format, TileJSON,
 * the tile itself and the cache. Any 5xx is a failure. An in-process request has no
 * headers, so what follows a first newline (which a request target cannot hold) is
 * given to the parsers of the two headers a tile request reads: If-None-Match
 * (em_tile_etag_matches) and Accept-Encoding (em_gzip_accepted). */
#include "fuzz.h"

#include "gzip.h"
#include "tile_http.h"

#include <stdlib.h>
#include <string.h>

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
    const uint8_t *nl = memchr(data, '\n', size);
    fuzz_get(data, nl ? (size_t)(nl - data) : size, "/tiles/", &worker, handle, NULL);
    if (nl) {
        char *header = fuzz_string(nl + 1, size - (size_t)(nl + 1 - data));
        int matches = em_tile_etag_matches(header, "\"0123abcd.1.2\"", "\"0123abcd.1.2.gz\"");
        fuzz_note("  If-None-Match %s, gzip %s", matches ? "matches" : "does not match",
                  em_gzip_accepted(header) ? "accepted" : "not accepted");
        free(header);
    }
    return 0;
}

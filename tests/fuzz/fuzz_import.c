/* fuzz_import_geojson, fuzz_import_csv -- a file to import. The first byte picks
 * the layer (bits 0-2, modulo the number of layers) and options (bit 3: --skip-invalid, bit 4:
 * --replace, bits 5-6: --coords); the rest is written to a .geojson or .csv file
 * (FUZZ_IMPORT_EXT) and em_import() reads it into a writable copy of the fixture,
 * as `estatemap import` does. A successful import is undone afterwards; a failed
 * one must leave no transaction open and the audit log as it was, and a successful
 * one a healthy database (valid geometry, indexes in step, integrity_check ok). */
#include "fuzz.h"

#include "import.h"
#include "layers.h"

#include <stdio.h>

#ifndef FUZZ_IMPORT_EXT
#define FUZZ_IMPORT_EXT "geojson"
#endif

static char path[640];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_db_writable();
    fuzz_tmpfile("input." FUZZ_IMPORT_EXT, path, sizeof path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    em_db *db = fuzz_db_writable();
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0)
        fuzz_fail("cannot write %s", path);
    em_import_options opt = {
        .layer = em_layer_at((data[0] & 7) % em_layer_count())->name,
        .path = path,
        .skip_invalid = (data[0] >> 3) & 1,
        .replace = (data[0] >> 4) & 1,
        .coords = (em_coords)(((data[0] >> 5) & 3) % 3),
    };
    em_import_result result = {0};
    em_error err;
    em_error_clear(&err);
    fuzz_db_mark();
    int rc = em_import(db, &opt, &result, &err);
    fuzz_note("  %s: %s: %ld read, %ld imported, %ld rejected %s", opt.layer,
              rc < 0 ? "failed" : "imported", result.read, result.imported, result.rejected,
              rc < 0 ? err.message : "");
    if (rc < 0) {
        fuzz_db_check_unchanged("import");
    } else {
        fuzz_db_check_healthy("import");
        fuzz_db_reset();
    }
    return 0;
}

#include "demo.h"
#include "db.h"
#include "import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *layer;
    const char *file;
} demo_file;

/* Towns before estates and grid before violations, so each import's derived links
 * find what they link to. */
static const demo_file demo_files[] = {
    {"towns", "towns.geojson"},       {"corridors", "corridors.geojson"},
    {"zones", "zones.geojson"},       {"estates", "estates.geojson"},
    {"grid", "grid.geojson"},         {"violations", "violations.csv"},
    {"renovation", "renovation.csv"},
};

static void remove_database(const char *path) {
    char side[4200];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int em_demo_build(const char *db_path, const char *geodata_dir, int force, FILE *log,
                  em_error *err) {
    struct stat st;
    if (stat(db_path, &st) == 0) {
        if (!force)
            return em_fail(err, EM_ERR_USAGE, "%s already exists; pass --force to rebuild it",
                           db_path);
        remove_database(db_path);
    }
    em_db *db = em_db_open(db_path, EM_DB_CREATE, 0, err);
    if (!db)
        return -1;
    double started = now_seconds();
    for (size_t i = 0; i < sizeof demo_files / sizeof demo_files[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", geodata_dir, demo_files[i].file);
        em_import_options opt = {.layer = demo_files[i].layer, .path = path, .log = log};
        em_import_result result;
        double t0 = now_seconds();
        if (em_import(db, &opt, &result, err) < 0) {
            em_error_prefix(err, "demo: ");
            em_db_close(db);
            remove_database(db_path);
            return -1;
        }
        if (log)
            fprintf(log, "%-10s %7ld features from %s (%.1f s)\n", demo_files[i].layer,
                    result.imported, demo_files[i].file, now_seconds() - t0);
    }
    if (em_db_exec(db, "ANALYZE", err) < 0) {
        em_db_close(db);
        remove_database(db_path);
        return -1;
    }
    em_db_close(db);
    if (log)
        fprintf(log, "demo database %s built in %.1f s\n", db_path, now_seconds() - started);
    return 0;
}

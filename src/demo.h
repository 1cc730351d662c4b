/* demo.h -- building the Minhang demo database from geodata/. */
#ifndef ESTATEMAP_DEMO_H
#define ESTATEMAP_DEMO_H

#include "errors.h"
#include <stdio.h>

/* Creates `db_path` (replacing it when `force`) and imports every demo file from
 * `geodata_dir`. On failure the half-built file is removed. */
int em_demo_build(const char *db_path, const char *geodata_dir, int force, FILE *log,
                  em_error *err);

#endif

/* dbcheck.h -- a health report of the database: per-layer counts, invalid geometry,
 * SRIDs, spatial index consistency, orphans, and SQLite's integrity_check. */
#ifndef ESTATEMAP_DBCHECK_H
#define ESTATEMAP_DBCHECK_H

#include "db.h"
#include "errors.h"
#include <stdio.h>

typedef struct {
    char layer[32];
    long features;
    long invalid;    /* geometries failing ST_IsValid */
    long wrong_srid; /* geometries whose SRID is not 4326 */
    long orphans;    /* violations in no grid cell; estates in no town */
    int index_ok;    /* CheckSpatialIndex() agreed with the table */
} em_check_layer;

typedef struct {
    em_check_layer layers[6];
    int nlayers;
    char integrity[256]; /* "ok", or SQLite's first complaint */
    int problems;        /* number of failed checks; 0 means healthy */
} em_check_report;

int em_check(em_db *db, em_check_report *report, em_error *err);
void em_check_print(const em_check_report *report, FILE *out);
void em_check_print_json(const em_check_report *report, FILE *out);

#endif

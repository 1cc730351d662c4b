/* layers.h -- the fixed list of tables estatemap imports into, and their columns.
 *
 * Every layer or table name that arrives from a user (CLI argument, URL) is checked
 * against this list before it reaches SQL; nothing else names a table. The columns
 * here must match the schema (schema.c); a unit test checks that they do. */
#ifndef ESTATEMAP_LAYERS_H
#define ESTATEMAP_LAYERS_H

#include <stddef.h>

typedef enum {
    EM_COL_TEXT,
    EM_COL_INTEGER,
    EM_COL_REAL,
    EM_COL_DATE,     /* stored as TEXT YYYY-MM-DD */
    EM_COL_DATETIME, /* stored as TEXT YYYY-MM-DDTHH:MM:SS */
    EM_COL_BOOL,     /* stored as INTEGER 0/1 */
} em_col_type;

typedef enum {
    EM_GEOM_NONE,
    EM_GEOM_POINT,
    EM_GEOM_POLYGON,             /* one ring set; a one-part multipolygon is accepted */
    EM_GEOM_MULTIPOLYGON,        /* polygons are promoted */
    EM_GEOM_LINEAL_OR_POLYGONAL, /* corridors: (multi)linestring or (multi)polygon */
} em_geom_kind;

typedef struct {
    const char *name;
    em_col_type type;
    int required;
    /* NULL-terminated list of allowed values, or NULL for any. */
    const char *const *domain;
    /* Other names the column goes by in source files (Chinese headers, DBF short names),
     * "|"-separated, matched case-insensitively. The names our own exports give it
     * come from shapefile_names.c and need not be repeated (em_column_known_as). */
    const char *aliases;
    /* Derived by estatemap after every import (links): recomputed from location. */
    int derived;
    /* Value stored when the source has none, or NULL. */
    const char *fallback;
} em_column;

typedef struct {
    const char *name;  /* what users call it: CLI argument, URL segment */
    const char *table; /* the SQL table behind it */
    const char *label_zh;
    em_geom_kind geom;
    const em_column *columns;
    size_t ncolumns;
    /* Column that identifies a feature in messages, or NULL. */
    const char *key;
} em_layer;

/* Six spatial layers, then the non-spatial tables an import may target. */
const em_layer *em_layer_find(const char *name);
size_t em_layer_count(void);
const em_layer *em_layer_at(size_t i);
int em_layer_is_spatial(const em_layer *layer);
const em_column *em_layer_column(const em_layer *layer, const char *name);
/* 1 when a source field named `field` is `col` of `layer`: its name or one of its
 * aliases (case-insensitively), or a name an export gives it (shapefile_names.h: the
 * DBF short name, the Chinese short names for UTF-8 and GBK shapefiles, the full
 * Chinese name of --lang zh), so that every export imports again. */
int em_column_known_as(const em_layer *layer, const em_column *col, const char *field);
/* Comma-separated list of importable names, for help and error messages. */
const char *em_layer_names(void);

#endif

/* table.h -- the result of an analysis: named, typed columns, rows, an optional
 * geometry per row, and a summary. Every analysis fills one; the CLI and the HTTP
 * API only choose the format (table, json, csv, geojson), so both say the same. */
#ifndef ESTATEMAP_TABLE_H
#define ESTATEMAP_TABLE_H

#include <json-c/json.h>
#include <stdio.h>

typedef enum { EM_V_NULL, EM_V_TEXT, EM_V_INT, EM_V_REAL, EM_V_BOOL, EM_V_JSON } em_value_type;

typedef struct {
    const char *name;     /* machine name: JSON key, CSV header, GeoJSON property */
    const char *label_zh; /* header with --lang zh */
    int decimals;         /* for REAL in table/csv output; -1 for full precision */
} em_table_column;

typedef struct em_table em_table;

typedef enum { EM_FMT_TABLE, EM_FMT_JSON, EM_FMT_CSV, EM_FMT_GEOJSON } em_format;
typedef enum { EM_LANG_EN, EM_LANG_ZH } em_lang;

int em_format_parse(const char *name, em_format *out); /* 0 or -1 */
int em_lang_parse(const char *name, em_lang *out);

em_table *em_table_new(const em_table_column *columns, int ncolumns);
void em_table_free(em_table *t);

/* Start a row; then set cells by column index. Unset cells are NULL. */
void em_table_add_row(em_table *t);
void em_table_set_text(em_table *t, int col, const char *text);
void em_table_set_int(em_table *t, int col, long long v);
void em_table_set_real(em_table *t, int col, double v);
void em_table_set_bool(em_table *t, int col, int v);
/* Takes ownership of `v` (an array or object). */
void em_table_set_json(em_table *t, int col, json_object *v);
/* GeoJSON geometry text for the current row (copied). */
void em_table_set_geometry(em_table *t, const char *geojson);

int em_table_rows(const em_table *t);
int em_table_columns(const em_table *t);
em_value_type em_table_type(const em_table *t, int row, int col);
const char *em_table_text(const em_table *t, int row, int col);
long long em_table_int(const em_table *t, int row, int col);
double em_table_real(const em_table *t, int row, int col);

/* Summary: a JSON object printed after the table, as "summary" in JSON and GeoJSON.
 * The table owns it; add members with json_object_object_add. */
json_object *em_table_summary(em_table *t);

/* Labels for values (tiers, corridor types, ...) in the chosen language. */
const char *em_label(const char *value, em_lang lang);

int em_table_write(const em_table *t, em_format fmt, em_lang lang, FILE *out);
/* The JSON or GeoJSON document as a json-c object (caller puts it). */
json_object *em_table_to_json(const em_table *t, em_format fmt, em_lang lang);

#endif

/* shapefile_names.h -- the fixed DBF field names of every exported column.
 *
 * A DBF field name holds at most 10 bytes, and GIS programs truncate longer names
 * into clashes (BUILT_YEAR_ and BUILT_YEAR_1). So every column has a fixed,
 * documented short name here (BUILT_YR, TIER, FEE_RATE, ...). The importer accepts
 * every name in this table as its column (em_column_known_as in layers.c), so an
 * exported shapefile imports again, in English or Chinese, UTF-8 or GBK.
 * With --lang zh a column has a Chinese name that fits 10 bytes in the encoding:
 * 3 characters in UTF-8, 5 in GBK. Analysis columns that are not in the map get a
 * derived name; either way em_dbf_names_assign makes the set unique, and fields.csv
 * in the export records every mapping. The README's table is printed from this one. */
#ifndef ESTATEMAP_SHAPEFILE_NAMES_H
#define ESTATEMAP_SHAPEFILE_NAMES_H

#include <stddef.h>

#define EM_DBF_NAME_MAX 10 /* bytes in the DBF's encoding */
#define EM_DBF_NAME_BUF 32 /* room for the UTF-8 form of a 10-byte GBK name */

typedef struct {
    const char *layer;   /* layer name, analysis:NAME, or "*" for columns analyses share */
    const char *column;  /* database / analysis column */
    const char *dbf;     /* ASCII short name, at most 10 bytes */
    const char *zh;      /* full Chinese name (headers of GPKG, CSV, ... with --lang zh) */
    const char *zh_utf8; /* at most 3 Chinese characters: 9 bytes in UTF-8 */
    const char *zh_gbk;  /* at most 5 Chinese characters: 10 bytes in GBK */
    int width;           /* DBF width of numbers (a minimum: grown to fit the data) */
    int precision;       /* DBF decimals of reals */
    const char *description;
} em_dbf_name;

typedef enum {
    EM_DBF_NAMES_EN,      /* the ASCII short names */
    EM_DBF_NAMES_ZH_UTF8, /* Chinese, 10 bytes of UTF-8 */
    EM_DBF_NAMES_ZH_GBK,  /* Chinese, 10 bytes of GBK */
} em_dbf_names_style;

/* The entry for `column` of `layer` (a layer name, or analysis:NAME): its own, else
 * the shared "*" entry; NULL when there is none. (An ASCII name is also taken from
 * any layer's entry for the same column: analyses repeat the estates' columns.) */
const em_dbf_name *em_dbf_name_find(const char *layer, const char *column);
size_t em_dbf_name_count(void);
const em_dbf_name *em_dbf_name_at(size_t i);

/* Bytes `utf8` takes in the style's encoding (GBK: 1 per ASCII byte, 2 per other
 * character). */
size_t em_dbf_name_bytes(const char *utf8, em_dbf_names_style style);

/* Fills out[i] (UTF-8) with a DBF name for each of n columns: the map's name when
 * the column has one, else one derived from the column name (EN) or its Chinese
 * label (ZH); cut to 10 bytes at a character boundary, and made unique, ignoring
 * case, with a numeric suffix. `labels_zh` may be NULL or hold NULLs. */
void em_dbf_names_assign(const char *layer, int n, const char *const *columns,
                         const char *const *labels_zh, em_dbf_names_style style,
                         char (*out)[EM_DBF_NAME_BUF]);

#endif

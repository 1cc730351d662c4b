/* fields.h -- turning the text of a source field into a column value.
 *
 * Source files spell the same value many ways (dates with slashes, "是"/"否" for
 * booleans, "85%" for a rate). This module owns those spellings, so the importer and
 * the HTTP writes accept exactly the same input and store one canonical form. */
#ifndef ESTATEMAP_FIELDS_H
#define ESTATEMAP_FIELDS_H

#include "layers.h"
#include <sqlite3.h>
#include <stddef.h>

/* Normalise `raw` for `col` and bind it at `index`. NULL or blank binds NULL.
 * Returns 0, or -1 with a reason in `why` naming the column and the value. */
int em_field_bind(sqlite3_stmt *st, int index, const em_column *col, const char *raw, char *why,
                  size_t whylen);

/* Bind a whole number read as a number (not as text) for an INTEGER, REAL or BOOL
 * column, exactly as em_field_bind() would bind its decimal text. Returns 0, or -1
 * when em_field_bind() must decide instead (another type, or a value it refuses,
 * which it then names in its reason). */
int em_field_bind_integer(sqlite3_stmt *st, int index, const em_column *col, long long value);

/* Each returns 0 and writes the canonical form, or -1 when `text` is not one. */
int em_parse_date(const char *text, char out[11]);     /* YYYY-MM-DD */
int em_parse_datetime(const char *text, char out[20]); /* YYYY-MM-DDTHH:MM:SS */
int em_parse_bool(const char *text, int *out);
int em_parse_integer(const char *text, long long *out);
int em_parse_real(const char *text, double *out);

/* Violation categories go by other names in the field (违法搭建, 群租); returns the
 * canonical name, or `name` itself when it has no alias. */
const char *em_category_canonical(const char *name);

#endif

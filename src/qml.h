/* qml.h -- QGIS styles (QML) made from the layer styles in styles/.
 *
 * styles/<layer>.json is the one description of how a layer looks (colours, widths,
 * fill by attribute; see styles/style.schema.json). The web map reads it as it is;
 * exports turn it into QML here: a .qml beside every exported shapefile and rows of
 * a GeoPackage's layer_styles table, so the bureau opens the files in QGIS and sees
 * the same map. The QML names fields as the file does (TIER, 版本, 创建版本) and
 * carries the full column names as QGIS aliases. */
#ifndef ESTATEMAP_QML_H
#define ESTATEMAP_QML_H

#include "errors.h"
#include "table.h"

#include <json-c/json.h>

typedef enum { EM_QML_POINT, EM_QML_LINE, EM_QML_POLYGON } em_qml_geometry;

typedef struct {
    const char *column; /* machine name, as styles/ name it */
    const char *field;  /* name in the exported file */
    const char *alias;  /* full name QGIS shows, or NULL */
} em_qml_field;

/* styles/<name>.json parsed, or a plain style for `geometry` when the source has no
 * file. NULL with err set only when a file exists but is not valid JSON. `name` must
 * be a compiled-in layer or analysis name. Caller puts the object. */
json_object *em_style_load(const char *name, em_qml_geometry geometry, em_error *err);

/* The style's theme keys, the default theme first; returns how many (at most max).
 * The strings belong to `style`. */
int em_style_themes(json_object *style, const char **keys, int max);

/* The column a theme colours by, or NULL. */
const char *em_style_theme_field(json_object *style, const char *theme);

/* Label of a theme in `lang` (its key when it has none). */
const char *em_style_theme_label(json_object *style, const char *theme, em_lang lang);

/* The theme an export uses: the default theme if its field is among `columns`, else
 * the first theme whose field is; NULL for none (the plain symbol). */
const char *em_style_pick_theme(json_object *style, const char *const *columns, int ncolumns);

/* An OGR feature style string (PEN and BRUSH, OGR Feature Style spec) for a line or
 * polygon of `theme` (NULL: the plain symbol) whose field holds `value` (as text;
 * NULL when empty). GDAL's KML writer turns PEN into the placemark's <LineStyle> and
 * ignores BRUSH, so a filled polygon's fill colour is also its (2 px) outline. */
void em_style_ogr(json_object *style, const char *theme, em_qml_geometry geometry,
                  const char *value, char *out, size_t len);

/* A QML document for `theme` of `style` (NULL: the default theme, or the first
 * theme whose field is among `fields`). A theme whose field is not among `fields`
 * gives the plain symbol. Caller frees; NULL with err on failure. */
char *em_qml_build(json_object *style, const char *theme, em_qml_geometry geometry,
                   const em_qml_field *fields, int nfields, em_lang lang, em_error *err);

#endif

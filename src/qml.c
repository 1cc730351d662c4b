#include "qml.h"
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- loading ---------- */

static json_object *fallback_style(const char *name, em_qml_geometry geometry) {
    static const char *const kinds[] = {"point", "line", "polygon"};
    json_object *style = json_object_new_object();
    json_object *sym = json_object_new_object();
    json_object_object_add(style, "layer", json_object_new_string(name));
    json_object_object_add(style, "geometry", json_object_new_string(kinds[geometry]));
    json_object_object_add(sym, "color", json_object_new_string("#2171b5"));
    json_object_object_add(sym, "weight", json_object_new_double(geometry == EM_QML_LINE ? 2 : 1));
    json_object_object_add(sym, "opacity", json_object_new_double(1));
    json_object_object_add(sym, "fillColor", json_object_new_string("#6baed6"));
    json_object_object_add(sym, "fillOpacity", json_object_new_double(0.6));
    json_object_object_add(sym, "radius", json_object_new_double(4));
    json_object_object_add(style, "default", sym);
    return style;
}

json_object *em_style_load(const char *name, em_qml_geometry geometry, em_error *err) {
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return fallback_style(name, geometry); /* never a path */
    char dir[PATH_MAX], path[PATH_MAX + 64];
    if (em_resource_dir("styles", NULL, dir, sizeof dir) < 0)
        return fallback_style(name, geometry);
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fallback_style(name, geometry);
    fclose(f);
    json_object *style = json_object_from_file(path);
    if (!style || !json_object_is_type(style, json_type_object) ||
        !json_object_object_get_ex(style, "default", NULL)) {
        json_object_put(style);
        em_fail(err, EM_ERR_RUNTIME, "style %s is not a valid style file (%s)", path,
                json_util_get_last_err() ? json_util_get_last_err() : "no \"default\" symbol");
        return NULL;
    }
    return style;
}

static json_object *member(json_object *o, const char *key) {
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *member_string(json_object *o, const char *key) {
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int em_style_themes(json_object *style, const char **keys, int max) {
    int n = 0;
    const char *def = member_string(style, "default_theme");
    json_object *themes = member(style, "themes");
    if (def && member(themes, def) && n < max)
        keys[n++] = def;
    if (themes && json_object_is_type(themes, json_type_object)) {
        json_object_object_foreach(themes, key, value) {
            (void)value;
            if (n < max && !(def && strcmp(key, def) == 0))
                keys[n++] = key;
        }
    }
    return n;
}

const char *em_style_theme_field(json_object *style, const char *theme) {
    return member_string(member(member(style, "themes"), theme), "field");
}

const char *em_style_theme_label(json_object *style, const char *theme, em_lang lang) {
    json_object *t = member(member(style, "themes"), theme);
    const char *label = member_string(t, lang == EM_LANG_ZH ? "label_zh" : "label_en");
    return label ? label : theme;
}

const char *em_style_pick_theme(json_object *style, const char *const *columns, int ncolumns) {
    const char *keys[64];
    int n = em_style_themes(style, keys, 64);
    for (int i = 0; i < n; i++) {
        const char *field = em_style_theme_field(style, keys[i]);
        for (int c = 0; field && c < ncolumns; c++)
            if (strcmp(columns[c], field) == 0)
                return keys[i];
    }
    return NULL;
}

/* ---------- writing ---------- */

static void xml_text(FILE *out, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* A QGIS expression naming a field: "NAME" with quotes doubled, then XML-escaped. */
static void xml_field_ref(FILE *out, const char *field) {
    fputs("&quot;", out);
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            fputs("&quot;&quot;", out);
        else {
            char c[2] = {*p, 0};
            xml_text(out, c);
        }
    }
    fputs("&quot;", out);
}

typedef struct {
    const char *color, *fill, *dash;
    double weight, opacity, fill_opacity, radius;
} symbol;

static double member_number(json_object *o, const char *key, double fallback) {
    json_object *v = member(o, key);
    if (v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return json_object_get_double(v);
    return fallback;
}

/* The default symbol with `over`'s properties applied. */
static symbol symbol_from(json_object *base, json_object *over) {
    symbol s = {"#2171b5", "#6baed6", NULL, 1, 1, 0.6, 4};
    json_object *layers[2] = {base, over};
    for (int i = 0; i < 2; i++) {
        json_object *o = layers[i];
        if (!o)
            continue;
        if (member_string(o, "color"))
            s.color = member_string(o, "color");
        if (member_string(o, "fillColor"))
            s.fill = member_string(o, "fillColor");
        if (member_string(o, "dashArray"))
            s.dash = member_string(o, "dashArray");
        s.weight = member_number(o, "weight", s.weight);
        s.opacity = member_number(o, "opacity", s.opacity);
        s.fill_opacity = member_number(o, "fillOpacity", s.fill_opacity);
        s.radius = member_number(o, "radius", s.radius);
    }
    return s;
}

static void rgba(const char *hex, double alpha, char out[32]) {
    unsigned r = 0, g = 0, b = 0;
    if (!hex || sscanf(hex, "#%2x%2x%2x", &r, &g, &b) != 3)
        r = g = b = 128;
    if (alpha < 0)
        alpha = 0;
    if (alpha > 1)
        alpha = 1;
    snprintf(out, 32, "%u,%u,%u,%d", r, g, b, (int)(alpha * 255 + 0.5));
}

/* Properties in both spellings QGIS 3 reads: <Option> maps (3.16 on) and <prop>. */
static void props(FILE *out, const char *const *kv, int n) {
    fputs("          <Option type=\"Map\">\n", out);
    for (int i = 0; i < n; i++) {
        fputs("            <Option type=\"QString\" name=\"", out);
        xml_text(out, kv[2 * i]);
        fputs("\" value=\"", out);
        xml_text(out, kv[2 * i + 1]);
        fputs("\"/>\n", out);
    }
    fputs("          </Option>\n", out);
    for (int i = 0; i < n; i++) {
        fputs("          <prop k=\"", out);
        xml_text(out, kv[2 * i]);
        fputs("\" v=\"", out);
        xml_text(out, kv[2 * i + 1]);
        fputs("\"/>\n", out);
    }
}

static void write_symbol(FILE *out, int index, const symbol *s, em_qml_geometry geometry) {
    char stroke[32], fill[32], width[32], size[32], dash[64] = "5;2";
    rgba(s->color, s->opacity, stroke);
    rgba(s->fill, s->fill_opacity, fill);
    snprintf(width, sizeof width, "%g", s->weight);
    snprintf(size, sizeof size, "%g", 2 * s->radius);
    if (s->dash) {
        snprintf(dash, sizeof dash, "%s", s->dash);
        for (char *p = dash; *p; p++)
            if (*p == ' ')
                *p = ';';
    }
    const char *stroke_style = s->weight <= 0 ? "no" : s->dash ? "dash" : "solid";
    static const char *const types[] = {"marker", "line", "fill"};
    fprintf(out,
            "      <symbol type=\"%s\" name=\"%d\" alpha=\"1\" clip_to_extent=\"1\" "
            "force_rhr=\"0\">\n",
            types[geometry], index);
    if (geometry == EM_QML_POLYGON) {
        const char *kv[] = {"color",
                            fill,
                            "style",
                            s->fill_opacity <= 0 ? "no" : "solid",
                            "outline_color",
                            stroke,
                            "outline_style",
                            stroke_style,
                            "outline_width",
                            width,
                            "outline_width_unit",
                            "Pixel",
                            "joinstyle",
                            "round"};
        fputs("        <layer class=\"SimpleFill\" enabled=\"1\" locked=\"0\" pass=\"0\">\n", out);
        props(out, kv, (int)(sizeof kv / sizeof kv[0] / 2));
    } else if (geometry == EM_QML_LINE) {
        const char *kv[] = {"line_color",      stroke,
                            "line_style",      s->weight <= 0 ? "no" : "solid",
                            "line_width",      width,
                            "line_width_unit", "Pixel",
                            "use_custom_dash", s->dash ? "1" : "0",
                            "customdash",      dash,
                            "customdash_unit", "Pixel",
                            "capstyle",        "round",
                            "joinstyle",       "round"};
        fputs("        <layer class=\"SimpleLine\" enabled=\"1\" locked=\"0\" pass=\"0\">\n", out);
        props(out, kv, (int)(sizeof kv / sizeof kv[0] / 2));
    } else {
        const char *kv[] = {
            "name",          "circle",     "color",         fill,   "outline_color",      stroke,
            "outline_style", stroke_style, "outline_width", width,  "outline_width_unit", "Pixel",
            "size",          size,         "size_unit",     "Pixel"};
        fputs("        <layer class=\"SimpleMarker\" enabled=\"1\" locked=\"0\" pass=\"0\">\n",
              out);
        props(out, kv, (int)(sizeof kv / sizeof kv[0] / 2));
    }
    fputs("        </layer>\n      </symbol>\n", out);
}

static void class_value_text(json_object *v, char out[64]) {
    if (!v)
        out[0] = '\0';
    else if (json_object_is_type(v, json_type_string))
        snprintf(out, 64, "%s", json_object_get_string(v));
    else if (json_object_is_type(v, json_type_boolean))
        snprintf(out, 64, "%s", json_object_get_boolean(v) ? "1" : "0");
    else
        snprintf(out, 64, "%.15g", json_object_get_double(v));
}

/* The class, range or "other" entry of `theme` a value falls in. */
static json_object *entry_for(json_object *theme, const char *value) {
    json_object *classes = member(theme, "classes"), *ranges = member(theme, "ranges");
    for (size_t i = 0; value && classes && i < json_object_array_length(classes); i++) {
        json_object *c = json_object_array_get_idx(classes, i);
        char text[64];
        class_value_text(member(c, "value"), text);
        if (strcmp(text, value) == 0)
            return c;
    }
    char *end = NULL;
    double v = value ? strtod(value, &end) : 0;
    for (size_t i = 0;
         value && end && end != value && !*end && ranges && i < json_object_array_length(ranges);
         i++) {
        json_object *r = json_object_array_get_idx(ranges, i);
        json_object *min = member(r, "min"), *max = member(r, "max");
        if ((!min || v >= json_object_get_double(min)) && (!max || v < json_object_get_double(max)))
            return r;
    }
    return member(theme, "other");
}

static void ogr_color(const char *hex, double alpha, char out[16]) {
    unsigned r = 0, g = 0, b = 0;
    if (!hex || sscanf(hex, "#%2x%2x%2x", &r, &g, &b) != 3)
        r = g = b = 128;
    int a = (int)((alpha < 0 ? 0 : alpha > 1 ? 1 : alpha) * 255 + 0.5);
    snprintf(out, 16, "#%02X%02X%02X%02X", r, g, b, (unsigned)a);
}

void em_style_ogr(json_object *style, const char *theme, em_qml_geometry geometry,
                  const char *value, char *out, size_t len) {
    json_object *t = theme ? member(member(style, "themes"), theme) : NULL;
    symbol s = symbol_from(member(style, "default"), t ? entry_for(t, value) : NULL);
    char pen[16], brush[16];
    ogr_color(s.color, s.weight > 0 ? s.opacity : 0, pen);
    ogr_color(s.fill, s.fill_opacity, brush);
    if (geometry == EM_QML_POLYGON && s.fill_opacity > 0) {
        /* GDAL's KML writer draws PEN only: the fill colour becomes the outline */
        char outline[16];
        ogr_color(s.fill, 1, outline);
        snprintf(out, len, "PEN(c:%s,w:%gpx);BRUSH(fc:%s)", outline, s.weight < 2 ? 2 : s.weight,
                 brush);
    } else
        snprintf(out, len, "PEN(c:%s,w:%gpx)", pen, s.weight);
}

static const em_qml_field *field_of(const em_qml_field *fields, int nfields, const char *column) {
    for (int i = 0; column && i < nfields; i++)
        if (strcmp(fields[i].column, column) == 0)
            return &fields[i];
    return NULL;
}

static const char *label_of(json_object *o, em_lang lang, const char *fallback) {
    const char *l = member_string(o, lang == EM_LANG_ZH ? "label_zh" : "label_en");
    if (!l)
        l = member_string(o, lang == EM_LANG_ZH ? "label_en" : "label_zh");
    return l ? l : fallback;
}

static void number_text(json_object *v, char out[64]) {
    snprintf(out, 64, "%.15g", json_object_get_double(v));
}

/* Value classes: QGIS's categorized renderer; the "other" symbol is the category
 * with an empty value, which QGIS draws for every value no other category has. */
static void write_categories(FILE *out, json_object *theme, json_object *base, const char *field,
                             em_qml_geometry geometry, em_lang lang) {
    json_object *classes = member(theme, "classes");
    json_object *other = member(theme, "other");
    size_t n = json_object_array_length(classes);
    fputs("  <renderer-v2 type=\"categorizedSymbol\" attr=\"", out);
    xml_text(out, field);
    fputs("\" forceraster=\"0\" symbollevels=\"0\" enableorderby=\"0\">\n    <categories>\n", out);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(classes, i);
        json_object *v = member(c, "value");
        char value[64];
        const char *text = value;
        if (v && json_object_is_type(v, json_type_string))
            text = json_object_get_string(v);
        else if (v && json_object_is_type(v, json_type_boolean))
            text = json_object_get_boolean(v) ? "1" : "0";
        else if (v)
            number_text(v, value);
        else
            text = "";
        fprintf(out, "      <category render=\"true\" symbol=\"%zu\" value=\"", i);
        xml_text(out, text);
        fputs("\" label=\"", out);
        xml_text(out, label_of(c, lang, text));
        fputs("\"/>\n", out);
    }
    fprintf(out, "      <category render=\"true\" symbol=\"%zu\" value=\"\" label=\"", n);
    xml_text(out, label_of(other, lang, lang == EM_LANG_ZH ? "其他" : "other"));
    fputs("\"/>\n    </categories>\n    <symbols>\n", out);
    for (size_t i = 0; i < n; i++) {
        symbol s = symbol_from(base, json_object_array_get_idx(classes, i));
        write_symbol(out, (int)i, &s, geometry);
    }
    symbol s = symbol_from(base, other);
    write_symbol(out, (int)n, &s, geometry);
    fputs("    </symbols>\n    <source-symbol>\n", out);
    s = symbol_from(base, NULL);
    write_symbol(out, 0, &s, geometry);
    fputs("    </source-symbol>\n  </renderer-v2>\n", out);
}

/* Numeric ranges: a rule-based renderer, so "min <= v < max" is said exactly; the
 * "other" symbol is the ELSE rule. */
static void write_ranges(FILE *out, json_object *theme, json_object *base, const char *field,
                         em_qml_geometry geometry, em_lang lang) {
    json_object *ranges = member(theme, "ranges");
    json_object *other = member(theme, "other");
    size_t n = json_object_array_length(ranges);
    fputs("  <renderer-v2 type=\"RuleRenderer\" forceraster=\"0\" symbollevels=\"0\" "
          "enableorderby=\"0\">\n    <rules key=\"{estatemap-root}\">\n",
          out);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(ranges, i);
        json_object *min = member(r, "min"), *max = member(r, "max");
        char lo[64] = "", hi[64] = "", fallback[160];
        if (min)
            number_text(min, lo);
        if (max)
            number_text(max, hi);
        snprintf(fallback, sizeof fallback, "%s-%s", lo, hi);
        fprintf(out, "      <rule key=\"{estatemap-%zu}\" symbol=\"%zu\" label=\"", i, i);
        xml_text(out, label_of(r, lang, fallback));
        fputs("\" filter=\"", out);
        if (min) {
            xml_field_ref(out, field);
            fprintf(out, " &gt;= %s", lo);
        }
        if (min && max)
            fputs(" AND ", out);
        if (max) {
            xml_field_ref(out, field);
            fprintf(out, " &lt; %s", hi);
        }
        if (!min && !max)
            fputs("TRUE", out);
        fputs("\"/>\n", out);
    }
    fprintf(out, "      <rule key=\"{estatemap-else}\" symbol=\"%zu\" label=\"", n);
    xml_text(out, label_of(other, lang, lang == EM_LANG_ZH ? "其他" : "other"));
    fputs("\" filter=\"ELSE\"/>\n    </rules>\n    <symbols>\n", out);
    for (size_t i = 0; i < n; i++) {
        symbol s = symbol_from(base, json_object_array_get_idx(ranges, i));
        write_symbol(out, (int)i, &s, geometry);
    }
    symbol s = symbol_from(base, other);
    write_symbol(out, (int)n, &s, geometry);
    fputs("    </symbols>\n  </renderer-v2>\n", out);
}

char *em_qml_build(json_object *style, const char *theme_key, em_qml_geometry geometry,
                   const em_qml_field *fields, int nfields, em_lang lang, em_error *err) {
    char *doc = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&doc, &len);
    if (!out) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory writing a QGIS style");
        return NULL;
    }
    json_object *base = member(style, "default");
    json_object *theme = NULL;
    const em_qml_field *f = NULL;
    if (theme_key) {
        theme = member(member(style, "themes"), theme_key);
        f = field_of(fields, nfields, member_string(theme, "field"));
    } else {
        /* the default theme, else the first whose field the file has */
        const char *keys[64];
        int n = em_style_themes(style, keys, 64);
        for (int i = 0; i < n && !f; i++) {
            theme_key = keys[i];
            theme = member(member(style, "themes"), theme_key);
            f = field_of(fields, nfields, member_string(theme, "field"));
        }
    }

    fputs("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
          "<qgis version=\"3.22.0\" styleCategories=\"Symbology|Fields\">\n",
          out);
    fputs("  <!-- made by estatemap from styles/", out);
    xml_text(out, member_string(style, "layer"));
    fputs(".json", out);
    if (theme && f) {
        fputs(", theme ", out);
        xml_text(out, theme_key);
    }
    fputs(" -->\n", out);
    if (theme && f && member(theme, "ranges"))
        write_ranges(out, theme, base, f->field, geometry, lang);
    else if (theme && f && member(theme, "classes"))
        write_categories(out, theme, base, f->field, geometry, lang);
    else {
        fputs("  <renderer-v2 type=\"singleSymbol\" forceraster=\"0\" symbollevels=\"0\" "
              "enableorderby=\"0\">\n    <symbols>\n",
              out);
        symbol s = symbol_from(base, NULL);
        write_symbol(out, 0, &s, geometry);
        fputs("    </symbols>\n  </renderer-v2>\n", out);
    }
    fputs("  <aliases>\n", out);
    for (int i = 0; i < nfields; i++) {
        fprintf(out, "    <alias index=\"%d\" field=\"", i);
        xml_text(out, fields[i].field);
        fputs("\" name=\"", out);
        xml_text(out, fields[i].alias ? fields[i].alias : "");
        fputs("\"/>\n", out);
    }
    fputs("  </aliases>\n", out);
    fprintf(out, "  <layerGeometryType>%d</layerGeometryType>\n</qgis>\n", (int)geometry);
    if (fclose(out) != 0) {
        free(doc);
        em_fail(err, EM_ERR_RUNTIME, "out of memory writing a QGIS style");
        return NULL;
    }
    return doc;
}

#include "table.h"

#include "strbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    em_value_type type;
    union {
        char *text;
        long long i;
        double d;
        int b;
        json_object *j;
    } v;
} cell;

struct em_table {
    em_table_column *columns; /* our own copy: callers may build theirs per run */
    int ncolumns;
    cell *cells; /* rows * ncolumns */
    char **geometry;
    int rows, capacity;
    json_object *summary;
};

int em_format_parse(const char *name, em_format *out) {
    static const char *const names[] = {"table", "json", "csv", "geojson"};
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, names[i]) == 0)
            return *out = (em_format)i, 0;
    return -1;
}

int em_lang_parse(const char *name, em_lang *out) {
    if (name && strcasecmp(name, "en") == 0)
        return *out = EM_LANG_EN, 0;
    if (name && strcasecmp(name, "zh") == 0)
        return *out = EM_LANG_ZH, 0;
    return -1;
}

em_table *em_table_new(const em_table_column *columns, int ncolumns) {
    em_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->columns = calloc((size_t)ncolumns, sizeof *t->columns);
    if (!t->columns) {
        free(t);
        return NULL;
    }
    for (int c = 0; c < ncolumns; c++) {
        t->columns[c].name = strdup(columns[c].name);
        t->columns[c].label_zh = columns[c].label_zh ? strdup(columns[c].label_zh) : NULL;
        t->columns[c].decimals = columns[c].decimals;
    }
    t->ncolumns = ncolumns;
    t->summary = json_object_new_object();
    return t;
}

static void cell_clear(cell *c) {
    if (c->type == EM_V_TEXT)
        free(c->v.text);
    else if (c->type == EM_V_JSON)
        json_object_put(c->v.j);
    c->type = EM_V_NULL;
}

void em_table_free(em_table *t) {
    if (!t)
        return;
    for (int i = 0; i < t->rows * t->ncolumns; i++)
        cell_clear(&t->cells[i]);
    for (int r = 0; r < t->rows; r++)
        free(t->geometry[r]);
    for (int c = 0; c < t->ncolumns; c++) {
        free((char *)t->columns[c].name);
        free((char *)t->columns[c].label_zh);
    }
    free(t->columns);
    free(t->cells);
    free(t->geometry);
    json_object_put(t->summary);
    free(t);
}

void em_table_add_row(em_table *t) {
    if (t->rows == t->capacity) {
        int cap = t->capacity ? t->capacity * 2 : 64;
        cell *cells = realloc(t->cells, sizeof(cell) * (size_t)cap * (size_t)t->ncolumns);
        char **geometry = realloc(t->geometry, sizeof(char *) * (size_t)cap);
        if (!cells || !geometry)
            abort(); /* an analysis of the district fits in memory many times over */
        t->cells = cells;
        t->geometry = geometry;
        t->capacity = cap;
    }
    memset(&t->cells[t->rows * t->ncolumns], 0, sizeof(cell) * (size_t)t->ncolumns);
    t->geometry[t->rows] = NULL;
    t->rows++;
}

static cell *current(em_table *t, int col) {
    cell *c = &t->cells[(t->rows - 1) * t->ncolumns + col];
    cell_clear(c);
    return c;
}

void em_table_set_text(em_table *t, int col, const char *text) {
    cell *c = current(t, col);
    if (text) {
        c->type = EM_V_TEXT;
        c->v.text = strdup(text);
    }
}

void em_table_set_int(em_table *t, int col, long long v) {
    cell *c = current(t, col);
    c->type = EM_V_INT;
    c->v.i = v;
}

void em_table_set_real(em_table *t, int col, double v) {
    cell *c = current(t, col);
    if (isfinite(v)) { /* JSON has no NaN: an undefined rate is null */
        c->type = EM_V_REAL;
        c->v.d = v;
    }
}

void em_table_set_bool(em_table *t, int col, int v) {
    cell *c = current(t, col);
    c->type = EM_V_BOOL;
    c->v.b = v != 0;
}

void em_table_set_json(em_table *t, int col, json_object *v) {
    cell *c = current(t, col);
    if (v) {
        c->type = EM_V_JSON;
        c->v.j = v;
    }
}

void em_table_set_geometry(em_table *t, const char *geojson) {
    free(t->geometry[t->rows - 1]);
    t->geometry[t->rows - 1] = geojson ? strdup(geojson) : NULL;
}

int em_table_rows(const em_table *t) {
    return t->rows;
}

int em_table_columns(const em_table *t) {
    return t->ncolumns;
}

static const cell *at(const em_table *t, int row, int col) {
    return &t->cells[row * t->ncolumns + col];
}

em_value_type em_table_type(const em_table *t, int row, int col) {
    return at(t, row, col)->type;
}

const char *em_table_text(const em_table *t, int row, int col) {
    const cell *c = at(t, row, col);
    return c->type == EM_V_TEXT ? c->v.text : NULL;
}

long long em_table_int(const em_table *t, int row, int col) {
    const cell *c = at(t, row, col);
    return c->type == EM_V_INT ? c->v.i : c->type == EM_V_BOOL ? c->v.b : 0;
}

double em_table_real(const em_table *t, int row, int col) {
    const cell *c = at(t, row, col);
    return c->type == EM_V_REAL ? c->v.d : c->type == EM_V_INT ? (double)c->v.i : NAN;
}

json_object *em_table_summary(em_table *t) {
    return t->summary;
}

const char *em_label(const char *value, em_lang lang) {
    static const char *const labels[][3] = {
        /* value, en, zh */
        {"railway", "railway", "铁路"},
        {"expressway", "expressway", "高速公路/高架"},
        {"river", "river", "河道"},
        {"rail_transit", "rail transit", "轨道交通"},
        {"示范版", "demonstration", "示范版"},
        {"提升版", "upgrade", "提升版"},
        {"基础版", "basic", "基础版"},
        {"pass", "pass", "通过"},
        {"fail", "fail", "未通过"},
        {"open", "open", "未处置"},
        {"resolved", "resolved", "已处置"},
        {"hot_99", "hot spot 99%", "热点 99%"},
        {"hot_95", "hot spot 95%", "热点 95%"},
        {"hot_90", "hot spot 90%", "热点 90%"},
        {"cold_99", "cold spot 99%", "冷点 99%"},
        {"cold_95", "cold spot 95%", "冷点 95%"},
        {"cold_90", "cold spot 90%", "冷点 90%"},
        {"not_significant", "not significant", "不显著"},
        {"met", "met", "达标"},
        {"not_met", "not met", "未达标"},
        {"pending", "pending", "未到期"},
        {"key_remediation", "key remediation area", "重点整治区域"},
        {"civilised_key", "civilised-district key area", "创全重点区域"},
    };
    if (!value)
        return NULL;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(labels[i][0], value) == 0)
            return labels[i][lang == EM_LANG_ZH ? 2 : 1];
    return value;
}

/* ---------- formatting ---------- */

static void cell_text(const em_table *t, int row, int col, em_lang lang, char *buf, size_t buflen) {
    const cell *c = at(t, row, col);
    int decimals = t->columns[col].decimals;
    switch (c->type) {
    case EM_V_NULL:
        buf[0] = '\0';
        break;
    case EM_V_TEXT:
        snprintf(buf, buflen, "%s", lang == EM_LANG_ZH ? em_label(c->v.text, lang) : c->v.text);
        break;
    case EM_V_INT:
        snprintf(buf, buflen, "%lld", c->v.i);
        break;
    case EM_V_REAL:
        if (decimals >= 0)
            snprintf(buf, buflen, "%.*f", decimals, c->v.d);
        else
            snprintf(buf, buflen, "%.10g", c->v.d);
        break;
    case EM_V_BOOL:
        snprintf(buf, buflen, "%s",
                 lang == EM_LANG_ZH ? (c->v.b ? "是" : "否") : (c->v.b ? "true" : "false"));
        break;
    case EM_V_JSON:
        if (json_object_is_type(c->v.j, json_type_array)) {
            /* arrays of strings print as a;b;c in tables and CSV */
            size_t used = 0;
            buf[0] = '\0';
            for (size_t i = 0; i < json_object_array_length(c->v.j) && used < buflen; i++) {
                json_object *item = json_object_array_get_idx(c->v.j, i);
                const char *s = json_object_get_string(item);
                used += (size_t)snprintf(buf + used, buflen - used, "%s%s", i ? ";" : "",
                                         lang == EM_LANG_ZH ? em_label(s, lang) : s);
            }
        } else {
            snprintf(buf, buflen, "%s", json_object_to_json_string_ext(c->v.j, 0));
        }
        break;
    }
}

/* Terminal columns of UTF-8 text: CJK characters take two. */
static int display_width(const char *s) {
    int width = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        int len;
        if (*p < 0x80) {
            cp = *p;
            len = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            len = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            len = 3;
        } else {
            cp = *p & 0x07;
            len = 4;
        }
        for (int i = 1; i < len && p[i]; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        width +=
            (cp >= 0x1100 &&
             (cp <= 0x115F || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
              (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
              (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6)))
                ? 2
                : 1;
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    return width;
}

static const char *header(const em_table *t, int col, em_lang lang) {
    return lang == EM_LANG_ZH && t->columns[col].label_zh ? t->columns[col].label_zh
                                                          : t->columns[col].name;
}

static void write_text_table(const em_table *t, em_lang lang, FILE *out) {
    int *widths = calloc((size_t)t->ncolumns, sizeof(int));
    char buf[2048];
    for (int c = 0; c < t->ncolumns; c++)
        widths[c] = display_width(header(t, c, lang));
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < t->ncolumns; c++) {
            cell_text(t, r, c, lang, buf, sizeof buf);
            int w = display_width(buf);
            if (w > widths[c])
                widths[c] = w;
        }
    for (int c = 0; c < t->ncolumns; c++) {
        const char *h = header(t, c, lang);
        fprintf(out, "%s%s%*s", c ? "  " : "", h, widths[c] - display_width(h), "");
    }
    fputc('\n', out);
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->ncolumns; c++) {
            cell_text(t, r, c, lang, buf, sizeof buf);
            int numeric = at(t, r, c)->type == EM_V_INT || at(t, r, c)->type == EM_V_REAL;
            int pad = widths[c] - display_width(buf);
            if (numeric)
                fprintf(out, "%s%*s%s", c ? "  " : "", pad, "", buf);
            else
                fprintf(out, "%s%s%*s", c ? "  " : "", buf, c == t->ncolumns - 1 ? 0 : pad, "");
        }
        fputc('\n', out);
    }
    if (json_object_object_length(t->summary) > 0)
        fprintf(out, "\nsummary: %s\n",
                json_object_to_json_string_ext(t->summary, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    free(widths);
}

static void write_csv_field(const char *s, FILE *out) {
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void write_csv(const em_table *t, em_lang lang, FILE *out) {
    char buf[4096];
    for (int c = 0; c < t->ncolumns; c++) {
        if (c)
            fputc(',', out);
        write_csv_field(header(t, c, lang), out);
    }
    fputs("\r\n", out);
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->ncolumns; c++) {
            if (c)
                fputc(',', out);
            cell_text(t, r, c, lang, buf, sizeof buf);
            write_csv_field(buf, out);
        }
        fputs("\r\n", out);
    }
}

static json_object *cell_json(const cell *c) {
    switch (c->type) {
    case EM_V_TEXT:
        return json_object_new_string(c->v.text);
    case EM_V_INT:
        return json_object_new_int64(c->v.i);
    case EM_V_REAL:
        return json_object_new_double(c->v.d);
    case EM_V_BOOL:
        return json_object_new_boolean(c->v.b);
    case EM_V_JSON:
        return json_object_get(c->v.j);
    case EM_V_NULL:
        break;
    }
    return NULL;
}

static json_object *row_properties(const em_table *t, int r) {
    json_object *props = json_object_new_object();
    for (int c = 0; c < t->ncolumns; c++)
        json_object_object_add(props, t->columns[c].name, cell_json(at(t, r, c)));
    return props;
}

json_object *em_table_to_json(const em_table *t, em_format fmt, em_lang lang) {
    json_object *root = json_object_new_object();
    json_object *items = json_object_new_array();
    for (int r = 0; r < t->rows; r++) {
        json_object *props = row_properties(t, r);
        if (fmt == EM_FMT_GEOJSON) {
            json_object *feature = json_object_new_object();
            json_object_object_add(feature, "type", json_object_new_string("Feature"));
            json_object *geometry = t->geometry[r] ? json_tokener_parse(t->geometry[r]) : NULL;
            json_object_object_add(feature, "geometry", geometry);
            json_object_object_add(feature, "properties", props);
            json_object_array_add(items, feature);
        } else {
            json_object_array_add(items, props);
        }
    }
    if (fmt == EM_FMT_GEOJSON) {
        json_object_object_add(root, "type", json_object_new_string("FeatureCollection"));
        json_object_object_add(root, "features", items);
    } else {
        json_object *columns = json_object_new_array();
        for (int c = 0; c < t->ncolumns; c++) {
            json_object *col = json_object_new_object();
            json_object_object_add(col, "name", json_object_new_string(t->columns[c].name));
            json_object_object_add(col, "label", json_object_new_string(header(t, c, lang)));
            json_object_array_add(columns, col);
        }
        json_object_object_add(root, "columns", columns);
        json_object_object_add(root, "rows", items);
    }
    json_object_object_add(root, "summary", json_object_get(t->summary));
    return root;
}

/* GeoJSON is written feature by feature, with each geometry's text copied as it came
 * from SpatiaLite: parsing and re-serialising 40,000 grid cells would double the time.
 * Each row is built in a buffer and written whole: a stdio call per character (each
 * taking the stream's lock) was a tenth of a Shanghai-scale density table's time. */
static void put_json_string(em_strbuf *b, const char *s) {
    em_strbuf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        size_t run = 0;
        while (p[run] && p[run] != '"' && p[run] != '\\' && p[run] >= 0x20)
            run++; /* UTF-8 passes through as it is */
        em_strbuf_append(b, (const char *)p, run);
        p += run;
        if (!*p)
            break;
        if (*p == '"' || *p == '\\')
            em_strbuf_printf(b, "\\%c", *p);
        else
            em_strbuf_printf(b, "\\u%04x", *p);
        p++;
    }
    em_strbuf_putc(b, '"');
}

/* One row's properties as a JSON object, written straight out: building a json-c
 * tree for 40,000 grid cells and freeing it cost more than the analysis. */
static void put_row_object(em_strbuf *b, const em_table *t, int r) {
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    em_strbuf_putc(b, '{');
    for (int c = 0; c < t->ncolumns; c++) {
        const cell *v = at(t, r, c);
        if (c)
            em_strbuf_putc(b, ',');
        put_json_string(b, t->columns[c].name);
        em_strbuf_putc(b, ':');
        switch (v->type) {
        case EM_V_NULL:
            em_strbuf_puts(b, "null");
            break;
        case EM_V_TEXT:
            put_json_string(b, v->v.text);
            break;
        case EM_V_INT:
            em_strbuf_printf(b, "%lld", v->v.i);
            break;
        case EM_V_REAL:
            em_strbuf_printf(b, "%.17g", v->v.d);
            break;
        case EM_V_BOOL:
            em_strbuf_puts(b, v->v.b ? "true" : "false");
            break;
        case EM_V_JSON:
            em_strbuf_puts(b, json_object_to_json_string_ext(v->v.j, flags));
            break;
        }
    }
    em_strbuf_putc(b, '}');
}

/* Write what `b` holds and empty it; -1 when memory ran out building it (nothing of
 * it is written then: a row cut short would look whole). */
static int flush(em_strbuf *b, FILE *out) {
    int failed = b->failed ? -1 : 0;
    if (!failed)
        fwrite(em_strbuf_cstr(b), 1, b->len, out);
    em_strbuf_reset(b);
    return failed;
}

static int write_geojson(const em_table *t, FILE *out) {
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    em_strbuf b;
    em_strbuf_init(&b);
    int failed = 0;
    em_strbuf_puts(&b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int r = 0; r < t->rows; r++) {
        em_strbuf_printf(&b, "%s{\"type\":\"Feature\",\"geometry\":", r ? "," : "");
        em_strbuf_puts(&b, t->geometry[r] ? t->geometry[r] : "null");
        em_strbuf_puts(&b, ",\"properties\":");
        put_row_object(&b, t, r);
        em_strbuf_putc(&b, '}');
        failed |= flush(&b, out);
    }
    em_strbuf_printf(&b, "],\"summary\":%s}\n", json_object_to_json_string_ext(t->summary, flags));
    failed |= flush(&b, out);
    em_strbuf_free(&b);
    return failed;
}

static int write_json(const em_table *t, em_lang lang, FILE *out) {
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    em_strbuf b;
    em_strbuf_init(&b);
    int failed = 0;
    em_strbuf_puts(&b, "{\"columns\":[");
    for (int c = 0; c < t->ncolumns; c++) {
        em_strbuf_puts(&b, c ? ",{\"name\":" : "{\"name\":");
        put_json_string(&b, t->columns[c].name);
        em_strbuf_puts(&b, ",\"label\":");
        put_json_string(&b, header(t, c, lang));
        em_strbuf_putc(&b, '}');
    }
    em_strbuf_puts(&b, "],\"rows\":[");
    for (int r = 0; r < t->rows; r++) {
        if (r)
            em_strbuf_putc(&b, ',');
        put_row_object(&b, t, r);
        failed |= flush(&b, out);
    }
    em_strbuf_printf(&b, "],\"summary\":%s}\n", json_object_to_json_string_ext(t->summary, flags));
    failed |= flush(&b, out);
    em_strbuf_free(&b);
    return failed;
}

int em_table_write(const em_table *t, em_format fmt, em_lang lang, FILE *out) {
    int failed = 0;
    switch (fmt) {
    case EM_FMT_TABLE:
        write_text_table(t, lang, out);
        break;
    case EM_FMT_CSV:
        write_csv(t, lang, out);
        break;
    case EM_FMT_GEOJSON:
        failed = write_geojson(t, out);
        break;
    case EM_FMT_JSON:
        failed = write_json(t, lang, out);
        break;
    }
    return failed || ferror(out) ? -1 : 0;
}

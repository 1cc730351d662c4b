/* api_analysis.c -- GET /api/analysis/{name}: the analyses of analysis.h over HTTP.
 *
 * The query string becomes the analysis's em_params exactly as the CLI's options
 * do, so both front ends accept and refuse the same input; only `format` and
 * `lang` are the front end's own. The analysis validates its parameters itself;
 * its usage errors become 400s naming the parameter at fault. */
#include "api.h"

#include "analysis.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_object *em_api_analysis_list(const em_http_request *req) {
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < em_analysis_count(); i++) {
        const em_analysis *a = em_analysis_at(i);
        char href[512];
        snprintf(href, sizeof href, "%s/api/analysis/%s", req->base_url, a->name);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(a->name));
        json_object_object_add(o, "summary", json_object_new_string(a->summary));
        json_object_object_add(o, "parameters", json_object_new_string(a->help));
        json_object_object_add(o, "geometry", json_object_new_boolean(a->has_geometry));
        json_object_object_add(o, "default_format",
                               json_object_new_string(a->has_geometry ? "geojson" : "json"));
        json_object_object_add(o, "href", json_object_new_string(href));
        json_object_array_add(list, o);
    }
    return list;
}

/* Which query parameter an analysis's message is about: "unknown parameter 'x'",
 * "x: 'v' is not ...", "parameter 'x' given twice". */
static const char *blamed(const em_http_request *req, const char *message) {
    for (int i = 0; i < req->nparams; i++) {
        const char *name = req->params[i].name;
        size_t n = strlen(name);
        char quoted[160];
        snprintf(quoted, sizeof quoted, "'%s'", name);
        if ((strncmp(message, name, n) == 0 && message[n] == ':') || strstr(message, quoted))
            return name;
    }
    return NULL;
}

static int respond_csv(em_http_request *req, const em_analysis *a, const em_table *t,
                       em_lang lang) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc = -1;
    if (f) {
        rc = em_table_write(t, EM_FMT_CSV, lang, f);
        if (fclose(f) != 0)
            rc = -1;
    }
    if (rc < 0) {
        free(text);
        em_error err;
        em_fail(&err, EM_ERR_RUNTIME, "writing %s as CSV failed", a->name);
        return em_http_error_from(req, &err, NULL);
    }
    char extra[160];
    snprintf(extra, sizeof extra, "Content-Disposition: inline; filename=\"%s.csv\"\r\n", a->name);
    em_http_headers h = {"text/csv; charset=utf-8", NULL, extra, 0};
    rc = em_http_respond(req, 200, &h, text, len);
    free(text);
    return rc;
}

int em_api_analysis(em_http_request *req, em_db *db, const char *name) {
    const em_analysis *a = em_analysis_find(name);
    if (!a) {
        char names[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < em_analysis_count() && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                     em_analysis_at(i)->name);
        return em_http_error(req, 404, "not_found", NULL, "no analysis '%s'; the analyses are %s",
                             name, names);
    }
    const char *fmt_text = em_http_param(req, "format");
    em_format fmt = a->has_geometry ? EM_FMT_GEOJSON : EM_FMT_JSON;
    if (fmt_text) {
        if (em_format_parse(fmt_text, &fmt) < 0 || fmt == EM_FMT_TABLE)
            return em_http_error(req, 400, "invalid_parameter", "format",
                                 "format='%s': use json, geojson or csv", fmt_text);
        if (fmt == EM_FMT_GEOJSON && !a->has_geometry)
            return em_http_error(req, 400, "invalid_parameter", "format",
                                 "%s has no geometry; use format=json or csv", a->name);
    }
    const char *lang_text = em_http_param(req, "lang");
    em_lang lang = EM_LANG_EN;
    if (lang_text && em_lang_parse(lang_text, &lang) < 0)
        return em_http_error(req, 400, "invalid_parameter", "lang", "lang='%s': use en or zh",
                             lang_text);

    em_params params = {0};
    for (int i = 0; i < req->nparams; i++) {
        const char *key = req->params[i].name;
        if (strcmp(key, "format") == 0 || strcmp(key, "lang") == 0)
            continue;
        if (em_params_add(&params, key, req->params[i].value) < 0)
            return em_http_error(req, 400, "invalid_parameter", key,
                                 "more than %d analysis parameters", EM_PARAMS_MAX);
    }
    em_error err;
    em_error_clear(&err);
    em_table *t = a->run(db, &params, &err);
    if (!t) {
        if (err.kind == EM_ERR_USAGE || err.kind == EM_ERR_INPUT) {
            const char *param = blamed(req, err.message);
            int unknown = strncmp(err.message, "unknown parameter", 17) == 0;
            return em_http_error(req, 400, unknown ? "unknown_parameter" : "invalid_parameter",
                                 param, "%s", err.message);
        }
        return em_http_error_from(req, &err, NULL);
    }
    int rc;
    if (fmt == EM_FMT_CSV) {
        rc = respond_csv(req, a, t, lang);
    } else {
        json_object *doc = em_table_to_json(t, fmt, lang);
        rc = em_http_respond_json(
            req, 200, fmt == EM_FMT_GEOJSON ? "application/geo+json" : "application/json", doc,
            NULL);
    }
    em_table_free(t);
    return rc;
}

#include "analysis.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char analyze_common_help[] =
    "common options:\n"
    "  --db FILE         database (default: $ESTATEMAP_DB, else estatemap.sqlite)\n"
    "  --format F        table (default), json, csv or geojson\n"
    "  --lang L          en (default) or zh: Chinese headers and labels\n"
    "  -o, --output FILE write to FILE instead of standard output\n"
    "  -h, --help        show this help\n";

static void print_analyze_help(FILE *out) {
    fprintf(out, "usage: estatemap analyze NAME [options]\n\nanalyses:\n");
    for (size_t i = 0; i < em_analysis_count(); i++)
        fprintf(out, "  %-12s %s\n", em_analysis_at(i)->name, em_analysis_at(i)->summary);
    fprintf(out, "\n`estatemap analyze NAME --help` lists NAME's own options.\n\n%s",
            analyze_common_help);
}

static void print_one_help(const em_analysis *a, FILE *out) {
    fprintf(out, "usage: estatemap analyze %s [options]\n\n%s\n\noptions:\n%s\n%s", a->name,
            a->summary, a->help, analyze_common_help);
}

int em_cli_analyze(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_analyze_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EM_EXIT_USAGE : EM_EXIT_OK;
    }
    const em_analysis *a = em_analysis_find(argv[1]);
    if (!a)
        return em_cli_usage("analyze", "unknown analysis '%s'", argv[1]);
    const char *db_opt = NULL, *output = NULL;
    em_format fmt = EM_FMT_TABLE;
    em_lang lang = EM_LANG_EN;
    em_params params = {0};
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_one_help(a, stdout);
            return EM_EXIT_OK;
        }
        if (strcmp(arg, "-o") == 0) {
            if (i + 1 >= argc)
                return em_cli_usage("analyze", "-o needs a file");
            output = argv[++i];
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return em_cli_usage("analyze", "unexpected argument '%s'", arg);
        /* --key=value, --key value, or a bare --flag meaning true */
        char key[64];
        const char *value = NULL;
        char *name = argv[i] + 2;
        const char *eq = strchr(name, '=');
        size_t klen = eq ? (size_t)(eq - name) : strlen(name);
        if (klen == 0 || klen >= sizeof key)
            return em_cli_usage("analyze", "bad option '%s'", arg);
        memcpy(key, name, klen);
        key[klen] = '\0';
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            value = argv[++i];
        if (strcmp(key, "db") == 0 || strcmp(key, "output") == 0 || strcmp(key, "format") == 0 ||
            strcmp(key, "lang") == 0) {
            if (!value)
                return em_cli_usage("analyze", "--%s needs a value", key);
            if (strcmp(key, "db") == 0)
                db_opt = value;
            else if (strcmp(key, "output") == 0)
                output = value;
            else if (strcmp(key, "format") == 0 && em_format_parse(value, &fmt) < 0)
                return em_cli_usage("analyze", "--format must be table, json, csv or geojson");
            else if (strcmp(key, "lang") == 0 && em_lang_parse(value, &lang) < 0)
                return em_cli_usage("analyze", "--lang must be en or zh");
            continue;
        }
        /* Keys point into argv, which outlives params: cut "--key=value" at the '='. */
        char *stored_key = (char *)name;
        stored_key[klen] = '\0';
        if (em_params_add(&params, stored_key, value ? value : "true") < 0)
            return em_cli_usage("analyze", "too many options");
    }
    if (fmt == EM_FMT_GEOJSON && !a->has_geometry)
        return em_cli_usage("analyze", "%s has no geometry; use --format json or csv", a->name);

    params.without_geometry = fmt != EM_FMT_GEOJSON;
    em_error err = {0};
    em_db *db = em_db_open(em_db_default_path(db_opt), EM_DB_OPEN_EXISTING, 0, &err);
    if (!db)
        return em_cli_report("analyze", &err);
    em_table *t = a->run(db, &params, &err);
    em_db_close(db);
    if (!t) {
        if (err.kind == EM_ERR_USAGE)
            return em_cli_usage("analyze", "%s", err.message);
        return em_cli_report("analyze", &err);
    }
    FILE *out = output ? fopen(output, "w") : stdout;
    if (!out) {
        em_table_free(t);
        em_fail(&err, EM_ERR_RUNTIME, "cannot write %s", output);
        return em_cli_report("analyze", &err);
    }
    int rc = em_table_write(t, fmt, lang, out);
    if (output && fclose(out) != 0)
        rc = -1;
    em_table_free(t);
    if (rc < 0) {
        em_fail(&err, EM_ERR_RUNTIME, "writing %s failed", output ? output : "the output");
        return em_cli_report("analyze", &err);
    }
    return EM_EXIT_OK;
}

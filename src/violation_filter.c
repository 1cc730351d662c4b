#include "violation_filter.h"
#include "fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CATEGORIES 64

typedef struct {
    char name[64], group[64], name_en[96];
} category;

static int load_categories(em_db *db, category *out, int *n, em_error *err) {
    sqlite3_stmt *st = em_db_prepare(
        db, "SELECT name, group_name, name_en FROM violation_categories ORDER BY rowid", err);
    if (!st)
        return -1;
    *n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < MAX_CATEGORIES) {
        category *c = &out[(*n)++];
        snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(c->group, sizeof c->group, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(c->name_en, sizeof c->name_en, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "reading violation categories: %s",
                       sqlite3_errmsg(db->sql));
    return 0;
}

static void list_names(const category *cats, int n, int groups, char *out, size_t outlen) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < outlen; i++) {
        const char *v = groups ? cats[i].group : cats[i].name;
        int seen = 0;
        for (int j = 0; j < i && groups; j++)
            seen |= strcmp(cats[j].group, v) == 0;
        if (!seen)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", v);
    }
}

/* Next item of a comma-separated list (ASCII or full-width comma), trimmed. */
static const char *next_item(const char *s, char *item, size_t itemlen) {
    while (*s == ' ')
        s++;
    const char *end = s;
    while (*end && *end != ',' && strncmp(end, "，", 3) != 0)
        end++;
    size_t len = (size_t)(end - s);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len >= itemlen)
        len = itemlen - 1;
    memcpy(item, s, len);
    item[len] = '\0';
    if (*end == ',')
        return end + 1;
    if (*end)
        return end + 3;
    return end;
}

static int add_to_set(char *set, size_t setlen, const char *name) {
    char needle[80];
    /* Names are short category codes; the precision keeps a hostile one from overflowing. */
    snprintf(needle, sizeof needle, "|%.76s|", name);
    if (strstr(set, needle))
        return 0;
    size_t used = strlen(set);
    snprintf(set + used, setlen - used, "%s%s|", used ? "" : "|", name);
    return 1;
}

int em_violation_filter_parse(em_db *db, const em_params *p, em_violation_filter *f,
                              em_error *err) {
    memset(f, 0, sizeof *f);
    const char *status = em_params_get(p, "status");
    if (status && strcmp(status, "open") != 0 && strcmp(status, "resolved") != 0)
        return em_fail(err, EM_ERR_USAGE, "status: '%s' is not open or resolved", status);
    f->status = status;
    if (em_params_date(p, "from", f->from, err) < 0 || em_params_date(p, "to", f->to, err) < 0)
        return -1;
    if (f->from[0] && f->to[0] && strcmp(f->from, f->to) > 0)
        return em_fail(err, EM_ERR_USAGE, "from: %s is after to: %s", f->from, f->to);

    const char *group = em_params_get(p, "group");
    const char *list = em_params_get(p, "category");
    json_object *given = json_object_new_array();
    if (group || list) {
        category cats[MAX_CATEGORIES];
        int n = 0;
        char names[2048];
        if (load_categories(db, cats, &n, err) < 0) {
            json_object_put(given);
            return -1;
        }
        if (group) {
            int known = 0;
            for (int i = 0; i < n; i++)
                known |= strcmp(cats[i].group, group) == 0;
            if (!known) {
                list_names(cats, n, 1, names, sizeof names);
                json_object_put(given);
                return em_fail(err, EM_ERR_USAGE, "group: '%s' is not a group (%s)", group, names);
            }
        }
        size_t setlen = (size_t)MAX_CATEGORIES * 72 + 2;
        f->categories = calloc(1, setlen);
        if (!f->categories) {
            json_object_put(given);
            return em_fail(err, EM_ERR_RUNTIME, "out of memory");
        }
        if (list) {
            const char *s = list;
            do {
                char item[128];
                s = next_item(s, item, sizeof item);
                const char *name = em_category_canonical(item);
                int found = -1;
                for (int i = 0; i < n && found < 0; i++)
                    if (strcmp(cats[i].name, name) == 0 || strcasecmp(cats[i].name_en, name) == 0)
                        found = i;
                if (found < 0) {
                    list_names(cats, n, 0, names, sizeof names);
                    json_object_put(given);
                    em_violation_filter_free(f);
                    return em_fail(err, EM_ERR_USAGE,
                                   "category: '%s' is not a violation category (%s)", item, names);
                }
                if (group && strcmp(cats[found].group, group) != 0) {
                    json_object_put(given);
                    em_violation_filter_free(f);
                    return em_fail(err, EM_ERR_USAGE, "category: '%s' is in group %s, not %s", item,
                                   cats[found].group, group);
                }
                if (add_to_set(f->categories, setlen, cats[found].name))
                    json_object_array_add(given, json_object_new_string(cats[found].name));
            } while (*s);
        } else {
            for (int i = 0; i < n; i++)
                if (strcmp(cats[i].group, group) == 0 &&
                    add_to_set(f->categories, setlen, cats[i].name))
                    json_object_array_add(given, json_object_new_string(cats[i].name));
        }
    }
    f->summary = json_object_new_object();
    json_object_object_add(f->summary, "categories", list || group ? given : NULL);
    if (!list && !group)
        json_object_put(given);
    json_object_object_add(f->summary, "group", group ? json_object_new_string(group) : NULL);
    json_object_object_add(f->summary, "status", status ? json_object_new_string(status) : NULL);
    json_object_object_add(f->summary, "from", f->from[0] ? json_object_new_string(f->from) : NULL);
    json_object_object_add(f->summary, "to", f->to[0] ? json_object_new_string(f->to) : NULL);
    return 0;
}

int em_violation_filter_bind(const em_violation_filter *f, sqlite3_stmt *st) {
    int rc = SQLITE_OK;
    if (f->categories)
        rc |= sqlite3_bind_text(st, 101, f->categories, -1, SQLITE_STATIC);
    if (f->status)
        rc |= sqlite3_bind_text(st, 102, f->status, -1, SQLITE_STATIC);
    if (f->from[0])
        rc |= sqlite3_bind_text(st, 103, f->from, -1, SQLITE_STATIC);
    if (f->to[0])
        rc |= sqlite3_bind_text(st, 104, f->to, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : -1;
}

void em_violation_filter_free(em_violation_filter *f) {
    free(f->categories);
    json_object_put(f->summary);
    f->categories = NULL;
    f->summary = NULL;
}

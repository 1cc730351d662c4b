#include "audit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void shanghai_tm(struct tm *out) {
    time_t now = time(NULL) + 8 * 3600;
    gmtime_r(&now, out);
}

void em_shanghai_now(char out[20]) {
    struct tm tm;
    shanghai_tm(&tm);
    strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
}

void em_shanghai_now_offset(char out[26]) {
    struct tm tm;
    shanghai_tm(&tm);
    strftime(out, 26, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void bind_json(sqlite3_stmt *st, int i, json_object *v) {
    if (!v) {
        sqlite3_bind_null(st, i);
        return;
    }
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    sqlite3_bind_text(st, i, text, (int)len, SQLITE_TRANSIENT);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int em_audit_record(em_db *db, const em_audit_who *who, const char *layer, long long feature_id,
                    const char *feature_code, json_object *before, json_object *after,
                    em_error *err) {
    sqlite3_stmt *st = em_db_prepare(db,
                                     "INSERT INTO audit_log(at, actor, role, client, method, path,"
                                     " layer, feature_id, feature_code, before_json, after_json)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     err);
    if (!st)
        return -1;
    char at[26];
    em_shanghai_now_offset(at);
    sqlite3_bind_text(st, 1, at, -1, SQLITE_TRANSIENT);
    bind_opt(st, 2, who && who->actor ? who->actor : "unknown");
    bind_opt(st, 3, who ? who->role : NULL);
    bind_opt(st, 4, who ? who->client : NULL);
    bind_opt(st, 5, who && who->method ? who->method : "-");
    bind_opt(st, 6, who && who->path ? who->path : "-");
    sqlite3_bind_text(st, 7, layer, -1, SQLITE_TRANSIENT);
    if (feature_id > 0)
        sqlite3_bind_int64(st, 8, feature_id);
    bind_opt(st, 9, feature_code);
    bind_json(st, 10, before);
    bind_json(st, 11, after);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return em_fail(err, EM_ERR_RUNTIME, "writing the audit log: %s", sqlite3_errmsg(db->sql));
    return 0;
}

static json_object *text_or_null(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? json_object_new_string(s) : NULL;
}

static json_object *parsed_or_null(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? json_tokener_parse(s) : NULL;
}

json_object *em_audit_list(em_db *db, const em_audit_query *q, em_error *err) {
    static const char where[] =
        " WHERE (?1 IS NULL OR layer = ?1) AND (?2 IS NULL OR feature_id = ?2)"
        " AND (?3 IS NULL OR actor = ?3)";
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log%s", where);
    sqlite3_stmt *count = em_db_prepare(db, sql, err);
    if (!count)
        return NULL;
    snprintf(sql, sizeof sql,
             "SELECT id, at, actor, role, client, method, path, layer, feature_id, feature_code,"
             " before_json, after_json FROM audit_log%s ORDER BY id DESC LIMIT ?4 OFFSET ?5",
             where);
    sqlite3_stmt *st = em_db_prepare(db, sql, err);
    if (!st) {
        sqlite3_finalize(count);
        return NULL;
    }
    sqlite3_stmt *both[2] = {count, st};
    for (int k = 0; k < 2; k++) {
        bind_opt(both[k], 1, q->layer);
        if (q->feature_id > 0)
            sqlite3_bind_int64(both[k], 2, q->feature_id);
        bind_opt(both[k], 3, q->actor);
    }
    sqlite3_bind_int64(st, 4, q->limit > 0 ? q->limit : 100);
    sqlite3_bind_int64(st, 5, q->offset > 0 ? q->offset : 0);
    long long matched = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : 0;
    sqlite3_finalize(count);
    json_object *entries = json_object_new_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
        static const char *const names[] = {"at",     "actor", "role", "client",
                                            "method", "path",  "layer"};
        for (int i = 0; i < 7; i++)
            json_object_object_add(e, names[i], text_or_null(st, i + 1));
        json_object_object_add(e, "feature_id",
                               sqlite3_column_type(st, 8) == SQLITE_NULL
                                   ? NULL
                                   : json_object_new_int64(sqlite3_column_int64(st, 8)));
        json_object_object_add(e, "feature_code", text_or_null(st, 9));
        json_object_object_add(e, "before", parsed_or_null(st, 10));
        json_object_object_add(e, "after", parsed_or_null(st, 11));
        json_object_array_add(entries, e);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_object_put(entries);
        em_fail(err, EM_ERR_RUNTIME, "reading the audit log: %s", sqlite3_errmsg(db->sql));
        return NULL;
    }
    json_object *root = json_object_new_object();
    json_object_object_add(root, "numberMatched", json_object_new_int64(matched));
    json_object_object_add(root, "numberReturned",
                           json_object_new_int((int)json_object_array_length(entries)));
    json_object_object_add(root, "entries", entries);
    return root;
}

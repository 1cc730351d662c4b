#include "access_log.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct em_access_log {
    FILE *out;
    int owned;
    pthread_mutex_t lock;
};

em_access_log *em_access_log_open(const char *path, em_error *err) {
    em_access_log *log = calloc(1, sizeof *log);
    if (!log) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    if (!path || strcmp(path, "-") == 0) {
        log->out = stderr;
    } else {
        log->out = fopen(path, "a");
        if (!log->out) {
            em_fail(err, EM_ERR_RUNTIME, "cannot open access log %s: %s", path, strerror(errno));
            free(log);
            return NULL;
        }
        log->owned = 1;
    }
    pthread_mutex_init(&log->lock, NULL);
    return log;
}

void em_access_log_close(em_access_log *log) {
    if (!log)
        return;
    if (log->owned)
        fclose(log->out);
    else
        fflush(log->out);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

static void put_escaped(char *out, size_t outlen, size_t *used, const char *s) {
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*used + 5 >= outlen)
            return;
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            out[(*used)++] = '\\';
            out[(*used)++] = 'x';
            out[(*used)++] = hex[*p >> 4];
            out[(*used)++] = hex[*p & 15];
        } else {
            out[(*used)++] = (char)*p;
        }
    }
}

static int hexdigit(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* A parameter name that may carry a credential (checked on its %-decoded, lowered form). */
static int secret_name(const char *name, size_t n) {
    static const char *const words[] = {"token", "key", "secret", "passw", "auth", "session"};
    char low[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof low; i++) {
        int c = (unsigned char)name[i];
        if (c == '%' && i + 2 < n && hexdigit((unsigned char)name[i + 1]) >= 0 &&
            hexdigit((unsigned char)name[i + 2]) >= 0) {
            c = hexdigit((unsigned char)name[i + 1]) * 16 + hexdigit((unsigned char)name[i + 2]);
            i += 2;
        }
        low[k++] = (char)tolower(c);
    }
    low[k] = '\0';
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
        if (strstr(low, words[w]))
            return 1;
    return 0;
}

void em_access_log_target(const char *path, const char *query, char *out, size_t outlen) {
    if (!outlen)
        return;
    size_t used = (size_t)snprintf(out, outlen, "%s", path ? path : "-");
    if (!query || used >= outlen)
        return;
    used += (size_t)snprintf(out + used, outlen - used, "?");
    for (const char *p = query; used < outlen;) {
        size_t n = strcspn(p, "&");
        size_t name = strcspn(p, "=&");
        if (name < n && secret_name(p, name))
            used += (size_t)snprintf(out + used, outlen - used, "%.*s=REDACTED", (int)name, p);
        else
            used += (size_t)snprintf(out + used, outlen - used, "%.*s", (int)n, p);
        if (!p[n] || used >= outlen)
            break;
        used += (size_t)snprintf(out + used, outlen - used, "&");
        p += n + 1;
    }
}

void em_access_log_write(em_access_log *log, const char *remote_addr, const char *user,
                         const char *method, const char *target, const char *http_version,
                         int status, long long bytes) {
    if (!log)
        return;
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S %z", &tm);
    char request[2048];
    size_t used = 0;
    put_escaped(request, sizeof request, &used, method ? method : "-");
    request[used++] = ' ';
    put_escaped(request, sizeof request, &used, target ? target : "-");
    request[used] = '\0';
    char who[128];
    used = 0;
    put_escaped(who, sizeof who, &used, user && *user ? user : "-");
    who[used] = '\0';
    char size[32];
    if (bytes > 0)
        snprintf(size, sizeof size, "%lld", bytes);
    else
        snprintf(size, sizeof size, "-");
    pthread_mutex_lock(&log->lock);
    fprintf(log->out, "%s - %s [%s] \"%s HTTP/%s\" %d %s\n", remote_addr ? remote_addr : "-", who,
            when, request, http_version ? http_version : "1.0", status, size);
    fflush(log->out);
    pthread_mutex_unlock(&log->lock);
}

#include "access_log.h"

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

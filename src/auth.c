#include "auth.h"

#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- roles ------------------------------------------------------------- */

const char *em_role_name(em_role role) {
    switch (role) {
    case EM_ROLE_INSPECTOR:
        return "inspector";
    case EM_ROLE_PLANNER:
        return "planner";
    case EM_ROLE_ADMIN:
        return "admin";
    }
    return "?";
}

int em_role_parse(const char *name, em_role *out) {
    static const em_role roles[] = {EM_ROLE_INSPECTOR, EM_ROLE_PLANNER, EM_ROLE_ADMIN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (name && strcmp(name, em_role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    return -1;
}

int em_role_allows(em_role role, em_access access) {
    switch (access) {
    case EM_ACCESS_READ:
    case EM_ACCESS_WRITE_VIOLATIONS:
        return role == EM_ROLE_INSPECTOR || role == EM_ROLE_PLANNER || role == EM_ROLE_ADMIN;
    case EM_ACCESS_WRITE_ESTATES:
        return role == EM_ROLE_PLANNER || role == EM_ROLE_ADMIN;
    case EM_ACCESS_AUDIT:
        return role == EM_ROLE_ADMIN;
    }
    return 0;
}

/* ---- the tokens file --------------------------------------------------- */

typedef struct {
    char name[EM_AUTH_MAX_NAME + 1];
    em_role role;
    unsigned char hash[EM_SHA256_BYTES];
} token;

struct em_tokens {
    token *items;
    size_t n;
};

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Names end up in the audit table and the server log: printable, no quoting needed;
 * UTF-8 is welcome (Chinese names). */
static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > EM_AUTH_MAX_NAME || !em_http_utf8_valid(s, n))
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(isalnum(*p) || *p == '.' || *p == '_' || *p == '-' || *p == '@' || *p >= 0x80))
            return 0;
    return 1;
}

static em_tokens *fail_parse(em_tokens *t, em_error *err, const char *origin, int line,
                             const char *what) {
    em_fail(err, EM_ERR_INPUT, "%s line %d: %s (expected NAME ROLE SHA256HEX)", origin, line, what);
    em_tokens_free(t);
    return NULL;
}

em_tokens *em_tokens_parse(const char *text, const char *origin, em_error *err) {
    em_tokens *t = calloc(1, sizeof *t);
    if (!t) {
        em_fail(err, EM_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    size_t cap = 0;
    int lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char line[1024];
        if (len >= sizeof line)
            return fail_parse(t, err, origin, lineno, "line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (end ? 1 : 0);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *fields[4] = {NULL};
        int nf = 0;
        char *save = NULL;
        for (char *f = strtok_r(line, " \t\r", &save); f; f = strtok_r(NULL, " \t\r", &save)) {
            if (nf == 4)
                break;
            fields[nf++] = f;
        }
        if (nf == 0)
            continue;
        if (nf != 3)
            return fail_parse(t, err, origin, lineno, "wrong number of fields");
        if (!name_ok(fields[0]))
            return fail_parse(t, err, origin, lineno,
                              "a name is 1-64 letters, digits, '.', '_', '-' or '@'");
        em_role role;
        if (em_role_parse(fields[1], &role) < 0)
            return fail_parse(t, err, origin, lineno,
                              "the role must be inspector, planner or admin");
        unsigned char digest[EM_SHA256_BYTES];
        int ok = strlen(fields[2]) == 2 * EM_SHA256_BYTES;
        for (int i = 0; ok && i < EM_SHA256_BYTES; i++) {
            int hi = hexval((unsigned char)fields[2][2 * i]);
            int lo = hexval((unsigned char)fields[2][2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            digest[i] = (unsigned char)(hi * 16 + lo);
        }
        if (!ok)
            return fail_parse(t, err, origin, lineno,
                              "the hash must be 64 hex digits (sha256sum of the token)");
        for (size_t i = 0; i < t->n; i++) {
            if (strcmp(t->items[i].name, fields[0]) == 0)
                return fail_parse(t, err, origin, lineno, "this name is used twice");
            if (memcmp(t->items[i].hash, digest, sizeof digest) == 0)
                return fail_parse(t, err, origin, lineno, "this hash is used twice");
        }
        if (t->n == cap) {
            cap = cap ? cap * 2 : 8;
            token *grown = realloc(t->items, cap * sizeof *grown);
            if (!grown) {
                em_tokens_free(t);
                em_fail(err, EM_ERR_RUNTIME, "out of memory");
                return NULL;
            }
            t->items = grown;
        }
        token *k = &t->items[t->n++];
        snprintf(k->name, sizeof k->name, "%s", fields[0]);
        k->role = role;
        memcpy(k->hash, digest, sizeof digest);
    }
    if (t->n == 0) {
        em_fail(err, EM_ERR_INPUT, "%s: no tokens (lines of NAME ROLE SHA256HEX)", origin);
        em_tokens_free(t);
        return NULL;
    }
    return t;
}

em_tokens *em_tokens_load(const char *path, em_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        em_fail(err, EM_ERR_INPUT, "--tokens %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + n + 1 > cap) {
            if (len + n > (size_t)1 << 20) {
                fclose(f);
                free(text);
                em_fail(err, EM_ERR_INPUT, "--tokens %s: larger than 1 MiB", path);
                return NULL;
            }
            cap = (len + n + 1) * 2;
            char *grown = realloc(text, cap);
            if (!grown) {
                fclose(f);
                free(text);
                em_fail(err, EM_ERR_RUNTIME, "out of memory");
                return NULL;
            }
            text = grown;
        }
        memcpy(text + len, buf, n);
        len += n;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        em_fail(err, EM_ERR_INPUT, "--tokens %s: read error", path);
        return NULL;
    }
    if (memchr(text ? text : "", '\0', len)) {
        free(text);
        em_fail(err, EM_ERR_INPUT, "--tokens %s: not a text file", path);
        return NULL;
    }
    if (text)
        text[len] = '\0';
    em_tokens *t = em_tokens_parse(text ? text : "", path, err);
    free(text);
    return t;
}

void em_tokens_free(em_tokens *tokens) {
    if (!tokens)
        return;
    free(tokens->items);
    free(tokens);
}

size_t em_tokens_count(const em_tokens *tokens) {
    return tokens ? tokens->n : 0;
}

int em_ct_equal(const void *a, const void *b, size_t n) {
    const volatile unsigned char *x = a, *y = b;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(x[i] ^ y[i]);
    return diff == 0;
}

/* RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="s. */
static int b64token_ok(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i])))
        i++;
    if (i == 0)
        return 0;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

em_auth_result em_tokens_authenticate(const em_tokens *tokens, const char *authorization,
                                      em_principal *who) {
    if (!authorization)
        return EM_AUTH_MISSING;
    const char *p = authorization;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return EM_AUTH_INVALID;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0 || n > EM_AUTH_MAX_TOKEN || !b64token_ok(p, n) || !tokens)
        return EM_AUTH_INVALID;
    unsigned char digest[EM_SHA256_BYTES];
    em_sha256(p, n, digest);
    /* Compare with every token, whichever matches: no early exit to time. */
    size_t found = tokens->n;
    for (size_t i = 0; i < tokens->n; i++) {
        int eq = em_ct_equal(digest, tokens->items[i].hash, sizeof digest);
        found = eq ? i : found;
    }
    if (found == tokens->n)
        return EM_AUTH_INVALID;
    if (who) {
        who->name = tokens->items[found].name;
        who->role = tokens->items[found].role;
    }
    return EM_AUTH_OK;
}

/* ---- rate limiter ------------------------------------------------------ */

typedef struct {
    char client[64];
    time_t start; /* first failure of the current window */
    int failures;
} client_slot;

struct em_ratelimit {
    pthread_mutex_t lock;
    int max_failures, window;
    client_slot slots[EM_AUTH_MAX_CLIENTS];
    int used;
};

em_ratelimit *em_ratelimit_new(int max_failures, int window_seconds) {
    em_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->max_failures = max_failures > 0 ? max_failures : EM_AUTH_MAX_FAILURES;
    rl->window = window_seconds > 0 ? window_seconds : EM_AUTH_WINDOW_SECONDS;
    return rl;
}

void em_ratelimit_free(em_ratelimit *rl) {
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static client_slot *find_slot(em_ratelimit *rl, const char *client) {
    for (int i = 0; i < rl->used; i++)
        if (strcmp(rl->slots[i].client, client) == 0)
            return &rl->slots[i];
    return NULL;
}

int em_ratelimit_blocked(em_ratelimit *rl, const char *client, time_t now) {
    if (!rl || !client)
        return 0;
    pthread_mutex_lock(&rl->lock);
    int wait = 0;
    client_slot *s = find_slot(rl, client);
    if (s && now - s->start < rl->window && s->failures >= rl->max_failures)
        wait = (int)(s->start + rl->window - now);
    pthread_mutex_unlock(&rl->lock);
    return wait > 0 ? wait : 0;
}

void em_ratelimit_failure(em_ratelimit *rl, const char *client, time_t now) {
    if (!rl || !client)
        return;
    pthread_mutex_lock(&rl->lock);
    client_slot *s = find_slot(rl, client);
    if (!s) {
        if (rl->used < EM_AUTH_MAX_CLIENTS) {
            s = &rl->slots[rl->used++];
        } else { /* full: reuse an expired window, else the oldest */
            s = &rl->slots[0];
            for (int i = 1; i < rl->used; i++)
                if (rl->slots[i].start < s->start)
                    s = &rl->slots[i];
        }
        snprintf(s->client, sizeof s->client, "%s", client);
        s->start = now;
        s->failures = 0;
    }
    if (now - s->start >= rl->window) {
        s->start = now;
        s->failures = 0;
    }
    s->failures++;
    pthread_mutex_unlock(&rl->lock);
}

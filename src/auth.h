/* auth.h -- who may write: bearer tokens from the --tokens file, their roles, and a
 * brake on guessing.
 *
 * The file holds one token per line, `NAME ROLE SHA256HEX`, with `#` comments: only
 * the SHA-256 of each token is stored, so the file is no secret and a token never
 * has to be written down on the server. A presented token is hashed and compared
 * with every stored hash in constant time. Roles: inspector (violation reports),
 * planner (estates and violations), admin (everything, and the audit log).
 *
 * Failed attempts are counted per client address; after EM_AUTH_MAX_FAILURES in
 * EM_AUTH_WINDOW_SECONDS the address gets 429 until the window ends, whatever it
 * presents. Requests without any token are not counted (a browser's first request
 * has none). Names and roles may be logged and audited; tokens never are. */
#ifndef ESTATEMAP_AUTH_H
#define ESTATEMAP_AUTH_H

#include "errors.h"
#include "sha256.h"

#include <stddef.h>
#include <time.h>

#define EM_AUTH_MAX_FAILURES 10
#define EM_AUTH_WINDOW_SECONDS 60
#define EM_AUTH_MAX_TOKEN 512    /* bytes of a presented token */
#define EM_AUTH_MAX_NAME 64      /* bytes of a token's name */
#define EM_AUTH_MAX_CLIENTS 4096 /* addresses the rate limiter remembers */

typedef enum { EM_ROLE_INSPECTOR = 1, EM_ROLE_PLANNER, EM_ROLE_ADMIN } em_role;

typedef enum {
    EM_ACCESS_READ,             /* any valid token (only asked for with --read-token) */
    EM_ACCESS_WRITE_VIOLATIONS, /* inspector, planner, admin */
    EM_ACCESS_WRITE_ESTATES,    /* planner, admin */
    EM_ACCESS_AUDIT,            /* admin */
} em_access;

const char *em_role_name(em_role role);
int em_role_parse(const char *name, em_role *out); /* 0 or -1 */
int em_role_allows(em_role role, em_access access);

typedef struct em_tokens em_tokens;

/* Read a tokens file. A bad line (wrong field count, unknown role, a hash that is
 * not 64 hex digits, a name used twice, a hash used twice) fails with EM_ERR_INPUT
 * naming the file and line; so does a file with no tokens. */
em_tokens *em_tokens_load(const char *path, em_error *err);
/* The same from text (`origin` names it in messages). */
em_tokens *em_tokens_parse(const char *text, const char *origin, em_error *err);
void em_tokens_free(em_tokens *tokens);
size_t em_tokens_count(const em_tokens *tokens);

typedef enum {
    EM_AUTH_MISSING, /* no Authorization header */
    EM_AUTH_INVALID, /* not "Bearer TOKEN", or no such token */
    EM_AUTH_OK,
} em_auth_result;

typedef struct {
    const char *name; /* points into the em_tokens */
    em_role role;
} em_principal;

/* Check an Authorization header value ("Bearer TOKEN"; the scheme is
 * case-insensitive). `tokens` may be NULL (no token is valid). */
em_auth_result em_tokens_authenticate(const em_tokens *tokens, const char *authorization,
                                      em_principal *who);

/* 1 when the n bytes are equal; the time taken does not depend on where they differ. */
int em_ct_equal(const void *a, const void *b, size_t n);

/* ---- failed-attempt limiter (thread-safe) ---- */

typedef struct em_ratelimit em_ratelimit;

em_ratelimit *em_ratelimit_new(int max_failures, int window_seconds);
void em_ratelimit_free(em_ratelimit *rl);
/* Seconds until `client` may try again, or 0 when it may now. */
int em_ratelimit_blocked(em_ratelimit *rl, const char *client, time_t now);
/* Count a failed attempt by `client`. */
void em_ratelimit_failure(em_ratelimit *rl, const char *client, time_t now);

#endif

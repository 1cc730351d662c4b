/* server.h -- `estatemap serve`: CivetWeb, routing, worker connections, shutdown.
 *
 * Each CivetWeb worker thread opens its own read-only database connection on its
 * first request and keeps it (SQLite connections must not be shared between
 * threads without locking; WAL lets them all read while a CLI import writes).
 * SIGTERM or SIGINT stops accepting, lets the requests in flight finish, then
 * closes every connection. /healthz answers liveness and /metrics exposes request
 * counts and latencies in Prometheus text (metrics.h), and /tiles vector tiles
 * (tile_http.h) from a cache shared by all workers. /api (api.h) has the analyses,
 * estate cards and the token-guarded writes (POST, PATCH, PUT, on one shared
 * read-write connection); everything else is GET, HEAD and OPTIONS only.
 * Request headers are capped at 16 KiB and bodies at 1 MiB. With --tls-cert the
 * server speaks HTTPS only (CivetWeb with OpenSSL, TLS 1.2 and later). */
#ifndef ESTATEMAP_SERVER_H
#define ESTATEMAP_SERVER_H

#include "errors.h"

#define EM_SERVER_DEFAULT_LISTEN "127.0.0.1:8080"
#define EM_SERVER_DEFAULT_THREADS 16
#define EM_SERVER_MAX_THREADS 256
#define EM_SERVER_MAX_HEADER_BYTES 16384
#define EM_SERVER_MAX_BODY_BYTES (1024 * 1024)

typedef struct {
    const char *db_path;     /* the database, opened read-only by each worker */
    const char *listen;      /* "PORT" or "HOST:PORT" (IPv4); NULL: 127.0.0.1:8080 */
    int threads;             /* worker threads; 0: EM_SERVER_DEFAULT_THREADS */
    const char *cors_origin; /* Access-Control-Allow-Origin value; NULL: no CORS */
    const char *access_log;  /* file to append to; NULL or "-": stderr */
    const char *web_dir;     /* the web app; NULL: em_resource_dir("web") */
    const char *tokens_file; /* --tokens: NAME ROLE SHA256HEX lines (auth.h); NULL: no writes */
    int read_token;          /* --read-token: reads of data need a valid token too */
    /* Tile cache in MiB: 0 is EM_TILE_CACHE_DEFAULT_MB, EM_SERVER_TILE_CACHE_OFF none. */
    int tile_cache_mb;
    /* Geometry cache in MiB (geom_cache.h): 0 is EM_GEOM_CACHE_DEFAULT_MB,
     * EM_SERVER_TILE_CACHE_OFF none. */
    int geom_cache_mb;
    long tile_max_bytes;  /* byte cap per tile; 0: EM_TILE_MAX_BYTES_DEFAULT */
    int read_only;        /* --read-only: never write; every write answers 503 */
    const char *tls_cert; /* --tls-cert: PEM with the certificate and its key; NULL: HTTP */
} em_server_config;

#define EM_SERVER_TILE_CACHE_OFF (-1)

typedef struct em_server em_server;

/* "8080" -> 127.0.0.1:8080; "0.0.0.0:8080" listens on every interface;
 * "localhost" means 127.0.0.1. `host` gets the dotted address. */
int em_server_parse_listen(const char *text, char host[64], int *port, em_error *err);
/* A CORS origin: "*" or scheme://host[:port], no path. */
int em_server_check_origin(const char *origin, em_error *err);
/* A --tls-cert file: readable, PEM, holding a certificate and a private key. */
int em_server_check_tls_cert(const char *path, em_error *err);

/* Start listening and return; the server runs on its own threads. */
em_server *em_server_start(const em_server_config *cfg, em_error *err);
/* The port actually bound (useful with port 0). */
int em_server_port(const em_server *server);
/* Stop accepting, finish the requests in flight, close connections, free. */
void em_server_stop(em_server *server);

/* Start, serve until SIGTERM or SIGINT, then stop. Returns 0, or -1 with `err`
 * when the server could not start. */
int em_server_run(const em_server_config *cfg, em_error *err);

#endif

/* api_export.c -- GET /api/export: `estatemap export` over HTTP.
 *
 * Every query parameter goes through em_export_option_set, the call the CLI makes for
 * its options (the values are the request's own strings, alive until em_export
 * returns), so both front ends accept and refuse the same input; usage errors become
 * 400s naming the parameter at fault. em_export writes into a fresh folder under
 * $TMPDIR (else /tmp). The finished file is opened, and then it and the folder are
 * removed before a byte is sent: the open descriptor is streamed, so nothing is left
 * behind however the request ends (an export error, a client gone mid-download).
 *
 * The export reads through the worker's own read-only connection, like every read,
 * but runs in a thread of its own with an 8 MiB stack while the worker waits for it:
 * CivetWeb's workers have 100 KiB of stack (Debian builds it with USE_STACK_SIZE),
 * too little for GDAL's writers, PROJ and GEOS, which the CLI runs on the main
 * thread's 8 MiB. The connection is still used by one thread at a time (the worker
 * is blocked in pthread_join), which SQLite allows. GDAL keeps its error handlers and
 * PROJ contexts per thread; its drivers are registered once, before the first
 * export, so that two first exports do not race to do it. */
#include "api.h"

#include "export.h"
#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <gdal.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_STACK_BYTES (8u << 20)

static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;

static void gdal_register(void) {
    GDALAllRegister();
}

/* Where `--name` (followed by no more of a name), `'name'` or a leading `name:` first
 * appears in message; -1 if nowhere. */
static long mention(const char *message, const char *name) {
    long best = -1;
    char pattern[160];
    snprintf(pattern, sizeof pattern, "--%s", name);
    size_t n = strlen(pattern);
    for (const char *p = strstr(message, pattern); p; p = strstr(p + 1, pattern)) {
        char next = p[n];
        if (!((next >= 'a' && next <= 'z') || (next >= '0' && next <= '9') || next == '-' ||
              next == '_')) {
            best = p - message;
            break;
        }
    }
    snprintf(pattern, sizeof pattern, "'%s'", name);
    const char *q = strstr(message, pattern);
    if (q && (best < 0 || q - message < best))
        best = q - message;
    n = strlen(name);
    if (strncmp(message, name, n) == 0 && message[n] == ':')
        best = 0;
    return best;
}

/* The query parameter a library message is about: the one it names first. The
 * library speaks the CLI's language (--crs, SOURCE), which names them too. */
static const char *blamed(const em_http_request *req, const char *message) {
    const char *who = NULL;
    long at = -1;
    for (int i = 0; i < req->nparams; i++) {
        const char *name = req->params[i].name;
        long m = mention(message, name);
        if (m < 0 && strcmp(name, "built_before") == 0)
            m = mention(message, "built-before");
        if (m >= 0 && (at < 0 || m < at))
            who = name, at = m;
    }
    /* a required parameter that is missing */
    static const char *const own[] = {"source", "format"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        long m = mention(message, own[i]);
        if (m >= 0 && (at < 0 || m < at))
            who = own[i], at = m;
    }
    const char *s = strstr(message, "SOURCE");
    if (s && (at < 0 || s - message < at))
        who = "source";
    return who;
}

typedef struct {
    em_db *db;
    const em_export_options *opt;
    const char *path;
    em_export_report report;
    em_error err;
    int rc;
} export_job;

static void *export_main(void *arg) {
    export_job *job = arg;
    job->rc = em_export(job->db, job->opt, job->path, &job->report, &job->err);
    return NULL;
}

/* em_export on a thread with a stack that fits it; the caller waits. */
static int run_export(export_job *job) {
    pthread_once(&gdal_once, gdal_register);
    pthread_attr_t attr;
    pthread_t thread;
    int e = pthread_attr_init(&attr);
    if (e == 0) {
        e = pthread_attr_setstacksize(&attr, EXPORT_STACK_BYTES);
        if (e == 0)
            e = pthread_create(&thread, &attr, export_main, job);
        pthread_attr_destroy(&attr);
    }
    if (e != 0)
        return em_fail(&job->err, EM_ERR_RUNTIME, "cannot start the export's thread: %s",
                       strerror(e));
    pthread_join(thread, NULL);
    return job->rc;
}

/* A usage error as a 400. The library's messages name options as the CLI spells
 * them (--crs); here they are query parameters, so the dashes go. */
static int usage_error(em_http_request *req, const em_error *err, const char *parameter) {
    int unknown = strncmp(err->message, "unknown parameter", 17) == 0 ||
                  strstr(err->message, "is not an option") != NULL;
    char message[sizeof err->message];
    size_t o = 0;
    for (const char *p = err->message; *p && o + 1 < sizeof message; p++) {
        if (p[0] == '-' && p[1] == '-' && p[2] >= 'a' && p[2] <= 'z' &&
            (p == err->message || p[-1] == ' ' || p[-1] == '('))
            p++;
        else
            message[o++] = *p;
    }
    message[o] = '\0';
    return em_http_error(req, 400, unknown ? "unknown_parameter" : "invalid_parameter", parameter,
                         "%s", message);
}

int em_api_export(em_http_request *req, em_db *db) {
    em_export_options opt;
    em_export_options_init(&opt);
    em_error err;
    em_error_clear(&err);
    for (int i = 0; i < req->nparams; i++)
        if (em_export_option_set(&opt, req->params[i].name, req->params[i].value, &err) < 0)
            return usage_error(req, &err, req->params[i].name);
    if (!opt.source)
        return em_http_error(req, 400, "invalid_parameter", "source",
                             "source is required: a layer (%s) or an analysis (analysis:NAME)",
                             em_layer_names());
    if (!opt.format_set)
        return em_http_error(req, 400, "invalid_parameter", "format",
                             "format is required: shp, gpkg, geojson, csv, kml or xlsx");

    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], name[128], path[PATH_MAX + 160];
    if (snprintf(dir, sizeof dir, "%s/estatemap-export-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
            (int)sizeof dir ||
        !mkdtemp(dir)) {
        em_fail(&err, EM_ERR_RUNTIME, "cannot make a temporary folder under %s: %s",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return em_http_error_from(req, &err, NULL);
    }
    em_export_filename(&opt, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);

    export_job job = {db, &opt, path, {0}, {0}, -1};
    em_error_clear(&job.err);
    int rc = run_export(&job);
    err = job.err;
    const em_export_report report = job.report;
    int fd = rc == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (rc == 0 && (fd < 0 || fstat(fd, &st) != 0))
        rc = em_fail(&err, EM_ERR_RUNTIME, "cannot read the export %s: %s", path, strerror(errno));
    em_export_remove_tree(dir); /* the open descriptor keeps the file readable */
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        if (err.kind == EM_ERR_USAGE || err.kind == EM_ERR_INPUT)
            return usage_error(req, &err, blamed(req, err.message));
        return em_http_error_from(req, &err, blamed(req, err.message));
    }
    if (report.warnings)
        fprintf(stderr, "estatemap serve: export %s: warning: %s%s\n", opt.source, report.warning,
                report.warnings > 1 ? " (and more like it)" : "");

    char disposition[1024], extra[1100];
    em_http_content_disposition("attachment", name, disposition, sizeof disposition);
    snprintf(extra, sizeof extra, "Content-Disposition: %s\r\n", disposition);
    em_http_headers h = {em_export_content_type(opt.format), "no-store", extra, 0};
    rc = em_http_respond_file(req, 200, &h, fd, (long long)st.st_size);
    close(fd);
    return rc;
}

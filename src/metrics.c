#include "metrics.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#ifndef ESTATEMAP_VERSION
#define ESTATEMAP_VERSION "0"
#endif

#define MAX_ROUTES 64
#define MAX_STATUSES 16
#define MAX_COUNTERS 32

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct {
    const char *route;
    int statuses[MAX_STATUSES];
    unsigned long long by_status[MAX_STATUSES];
    int nstatuses;
    unsigned long long bucket[NBUCKETS]; /* cumulative at render time */
    unsigned long long count;
    double sum;
} route_stats;

typedef struct {
    const char *name;
    const char *help;
    double value;
} counter;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static route_stats routes[MAX_ROUTES];
static int nroutes;
static counter counters[MAX_COUNTERS];
static int ncounters;
static long in_flight;
static time_t started;

static route_stats *route_slot(const char *route) {
    for (int i = 0; i < nroutes; i++)
        if (routes[i].route == route || strcmp(routes[i].route, route) == 0)
            return &routes[i];
    if (nroutes == MAX_ROUTES)
        return NULL;
    route_stats *r = &routes[nroutes++];
    memset(r, 0, sizeof *r);
    r->route = route;
    return r;
}

void em_metrics_observe_request(const char *route, int status, double seconds) {
    if (!route)
        route = "other";
    pthread_mutex_lock(&lock);
    if (!started)
        started = time(NULL);
    route_stats *r = route_slot(route);
    if (r) {
        int i = 0;
        while (i < r->nstatuses && r->statuses[i] != status)
            i++;
        if (i == r->nstatuses && r->nstatuses < MAX_STATUSES)
            r->statuses[r->nstatuses++] = status;
        if (i < r->nstatuses)
            r->by_status[i]++;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (seconds <= buckets[b]) {
                r->bucket[b]++;
                break;
            }
        r->count++;
        r->sum += seconds;
    }
    pthread_mutex_unlock(&lock);
}

void em_metrics_in_flight(int delta) {
    pthread_mutex_lock(&lock);
    if (!started)
        started = time(NULL);
    in_flight += delta;
    pthread_mutex_unlock(&lock);
}

void em_metrics_counter_add(const char *name, const char *help, double delta) {
    pthread_mutex_lock(&lock);
    int i = 0;
    while (i < ncounters && strcmp(counters[i].name, name) != 0)
        i++;
    if (i == ncounters && ncounters < MAX_COUNTERS) {
        counters[ncounters].name = name;
        counters[ncounters].help = help;
        counters[ncounters].value = 0;
        ncounters++;
    }
    if (i < ncounters)
        counters[i].value += delta;
    pthread_mutex_unlock(&lock);
}

static void put_bound(em_strbuf *out, double v) {
    em_strbuf_printf(out, "%g", v);
}

void em_metrics_render(em_strbuf *out) {
    pthread_mutex_lock(&lock);
    if (!started)
        started = time(NULL);
    em_strbuf_puts(out, "# HELP estatemap_build_info The running estatemap version.\n"
                        "# TYPE estatemap_build_info gauge\n");
    em_strbuf_printf(out, "estatemap_build_info{version=\"%s\"} 1\n", ESTATEMAP_VERSION);
    em_strbuf_puts(out, "# HELP estatemap_start_time_seconds When the server started (Unix "
                        "time).\n# TYPE estatemap_start_time_seconds gauge\n");
    em_strbuf_printf(out, "estatemap_start_time_seconds %lld\n", (long long)started);
    em_strbuf_puts(out, "# HELP estatemap_http_requests_in_flight Requests being served.\n"
                        "# TYPE estatemap_http_requests_in_flight gauge\n");
    em_strbuf_printf(out, "estatemap_http_requests_in_flight %ld\n", in_flight);

    em_strbuf_puts(out, "# HELP estatemap_http_requests_total HTTP requests by route and "
                        "status.\n# TYPE estatemap_http_requests_total counter\n");
    for (int i = 0; i < nroutes; i++)
        for (int k = 0; k < routes[i].nstatuses; k++)
            em_strbuf_printf(out,
                             "estatemap_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                             routes[i].route, routes[i].statuses[k], routes[i].by_status[k]);

    em_strbuf_puts(out, "# HELP estatemap_http_request_duration_seconds Time to answer a "
                        "request, by route.\n"
                        "# TYPE estatemap_http_request_duration_seconds histogram\n");
    for (int i = 0; i < nroutes; i++) {
        const route_stats *r = &routes[i];
        unsigned long long cumulative = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cumulative += r->bucket[b];
            em_strbuf_printf(
                out, "estatemap_http_request_duration_seconds_bucket{route=\"%s\",le=\"", r->route);
            put_bound(out, buckets[b]);
            em_strbuf_printf(out, "\"} %llu\n", cumulative);
        }
        em_strbuf_printf(out,
                         "estatemap_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                         "%llu\n",
                         r->route, r->count);
        em_strbuf_printf(out, "estatemap_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                         r->route, r->sum);
        em_strbuf_printf(out, "estatemap_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                         r->route, r->count);
    }
    for (int i = 0; i < ncounters; i++) {
        em_strbuf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %.17g\n", counters[i].name,
                         counters[i].help ? counters[i].help : counters[i].name, counters[i].name,
                         counters[i].name, counters[i].value);
    }
    pthread_mutex_unlock(&lock);
}

void em_metrics_reset(void) {
    pthread_mutex_lock(&lock);
    nroutes = 0;
    ncounters = 0;
    in_flight = 0;
    started = 0;
    pthread_mutex_unlock(&lock);
}

void em_metrics_write(em_strbuf *out, const char *type, const char *name, const char *help,
                      double value) {
    em_strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
                     value);
}

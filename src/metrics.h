/* metrics.h -- counters and latency histograms for /metrics (Prometheus text).
 *
 * Process-wide and thread-safe, so any module can count without a handle: the
 * server records every request by route and status with its latency, and a module
 * such as the tile cache adds its own counters with em_metrics_counter_add().
 * Routes are fixed labels ("/ogc/collections/{collectionId}/items"), never the
 * raw path, so a client cannot grow the label set. Names and labels must be
 * string literals or otherwise outlive the process; they are not copied. */
#ifndef ESTATEMAP_METRICS_H
#define ESTATEMAP_METRICS_H

#include "strbuf.h"

/* One finished HTTP request. */
void em_metrics_observe_request(const char *route, int status, double seconds);
/* Requests being served right now (+1 on entry, -1 on exit). */
void em_metrics_in_flight(int delta);
/* Add to a named counter, created on first use ("estatemap_tile_cache_hits_total"). */
void em_metrics_counter_add(const char *name, const char *help, double delta);

/* One sample with its HELP and TYPE lines ("gauge" or "counter"), for a module that
 * renders its own figures (the geometry cache). */
void em_metrics_write(em_strbuf *out, const char *type, const char *name, const char *help,
                      double value);

/* The whole exposition, text format 0.0.4. */
void em_metrics_render(em_strbuf *out);
/* Forget everything (tests). */
void em_metrics_reset(void);

#endif

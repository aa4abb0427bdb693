/*
 * A minimal HTTP server for Prometheus on an existing libevent loop
 * (libevent's evhttp): GET or HEAD /metrics answers with the text a
 * callback writes (<onramp/metrics.h>); any other path is 404, any other
 * method 405 (Allow: GET, HEAD). Requests are bounded (headers
 * ONR_METRICS_HTTP_HEADERS_MAX bytes, no body) and time out after
 * ONR_METRICS_HTTP_TIMEOUT seconds; nothing blocks the loop.
 *
 * It listens on loopback unless told otherwise: metrics hold no secret
 * and no device id, but say how busy a service is and whom it talks to,
 * and the server has no login. A non-loopback address must be allowed
 * explicitly (a service's metrics_public yes, onrampctl exporter
 * --public); then keep it behind a firewall or a proxy.
 */
#ifndef ONRAMP_METRICS_HTTP_H
#define ONRAMP_METRICS_HTTP_H

#include "onramp/listen.h"
#include "onramp/metrics.h"

#define ONR_METRICS_HTTP_HEADERS_MAX 8192
#define ONR_METRICS_HTTP_TIMEOUT 10 /* seconds */

struct event_base;
struct onr_metrics_server;

/*
 * Called for each scrape: write every family into `m` (initialised and
 * cleaned up by the server). Return ONR_OK; anything else (or an error
 * left in `m`) answers 500 with no metrics.
 */
typedef int (*onr_metrics_collect_cb)(struct onr_metrics *m, void *arg);

/*
 * onr_metrics_server_start: listen on `listen` (<onramp/listen.h>,
 * borrowed) on `base` (borrowed; must outlive the server) and answer
 * scrapes with `collect(m, arg)`. `allow_public`: 0 refuses an address
 * that is not loopback. Returns ONR_OK with *out set, ONR_EINVAL (not an
 * address), ONR_EDENIED (not loopback and not allowed), ONR_EIO (cannot
 * listen there: in use, not ours) or ONR_ENOMEM.
 */
int onr_metrics_server_start(struct event_base *base, const char *listen, int allow_public,
                             onr_metrics_collect_cb collect, void *arg,
                             struct onr_metrics_server **out);

/* onr_metrics_server_url: "http://HOST:PORT/metrics" (borrowed; lives
 * as long as the server). */
const char *onr_metrics_server_url(const struct onr_metrics_server *s);

/* onr_metrics_server_stop: close the listener and every connection, and
 * free. Accepts NULL. */
void onr_metrics_server_stop(struct onr_metrics_server *s);

#endif /* ONRAMP_METRICS_HTTP_H */

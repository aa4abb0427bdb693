/*
 * GET /metrics on libevent's evhttp (see <onramp/metrics_http.h>).
 */
#include "onramp/metrics_http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"

struct onr_metrics_server {
    struct evhttp *http;
    onr_metrics_collect_cb collect;
    void *arg;
    char url[ONR_LISTEN_ADDR_MAX + 32];
};

/* A short text/plain answer. */
static void answer(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
    evhttp_send_reply(req, code, reason, NULL);
}

static void on_scrape(struct onr_metrics_server *s, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct onr_metrics m;
    const char *text;
    size_t len = 0;
    int rc;

    onr_metrics_init(&m);
    rc = s->collect(&m, s->arg);
    if (rc == ONR_OK)
        rc = onr_metrics_status(&m);
    if (rc != ONR_OK) {
        onr_metrics_cleanup(&m);
        answer(req, 500, "Internal Server Error", "metrics not collected\n");
        return;
    }
    text = onr_metrics_text(&m, &len);
    evhttp_add_header(h, "Content-Type", ONR_METRICS_CONTENT_TYPE);
    evhttp_add_header(h, "Cache-Control", "no-store");
    /* HEAD: the headers only (libevent 2.1 would send a body given one) */
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD &&
        evbuffer_add(evhttp_request_get_output_buffer(req), text, len) != 0) {
        onr_metrics_cleanup(&m);
        answer(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    onr_metrics_cleanup(&m);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct onr_metrics_server *s = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    size_t n = uri != NULL ? strcspn(uri, "?#") : 0;

    if (uri == NULL || n != strlen("/metrics") || strncmp(uri, "/metrics", n) != 0) {
        answer(req, 404, "Not Found", "only /metrics is served here\n");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        answer(req, 405, "Method Not Allowed", "/metrics is only read\n");
        return;
    }
    on_scrape(s, req);
}

int onr_metrics_server_start(struct event_base *base, const char *listen, int allow_public,
                             onr_metrics_collect_cb collect, void *arg,
                             struct onr_metrics_server **out)
{
    struct onr_metrics_server *s = NULL;
    struct onr_listen l;
    char host[ONR_LISTEN_ADDR_MAX + 8];
    int rc;

    if (base == NULL || collect == NULL || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    rc = onr_listen_parse(listen, &l);
    if (rc != ONR_OK)
        return rc;
    if (!l.loopback && !allow_public)
        return ONR_EDENIED;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ONR_ENOMEM;
    s->collect = collect;
    s->arg = arg;
    snprintf(s->url, sizeof(s->url), "http://%s/metrics", onr_listen_host(&l, host, sizeof(host)));
    s->http = evhttp_new(base);
    if (s->http == NULL) {
        free(s);
        return ONR_ENOMEM;
    }
    evhttp_set_max_headers_size(s->http, ONR_METRICS_HTTP_HEADERS_MAX);
    evhttp_set_max_body_size(s->http, 0);
    evhttp_set_timeout(s->http, ONR_METRICS_HTTP_TIMEOUT);
    /* every method evhttp parses reaches on_request, which says 405 with
     * Allow (evhttp's own refusal has no Allow header) */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, on_request, s);
    if (evhttp_bind_socket_with_handle(s->http, l.addr, l.port) == NULL) {
        evhttp_free(s->http);
        free(s);
        return ONR_EIO;
    }
    *out = s;
    return ONR_OK;
}

const char *onr_metrics_server_url(const struct onr_metrics_server *s)
{
    return s->url;
}

void onr_metrics_server_stop(struct onr_metrics_server *s)
{
    if (s == NULL)
        return;
    evhttp_free(s->http);
    free(s);
}

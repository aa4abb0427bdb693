/*
 * The provider's pairing page: a small web server (libevent's evhttp) on
 * the service's own loop, off unless http_listen is set.
 *
 *   GET  /               the form (page_pair.c): the label's text, or
 *                        manufacturer + device id + claim code (the label
 *                        is assembled there, its check computed); the
 *                        account; one of our operators (default_operator
 *                        preselected)
 *   POST /pair           the pairing (page_pair.c), pairing.c's own
 *                        (prov_pair_web, asker PROV_ASKER_WEB): 303 to
 *                        /device/ID, or the form again with the reason
 *                        (400; 503 while the broker or the database is
 *                        away; 413 past PAGE_BODY_MAX)
 *   GET  /device/ID      the device's journey, followed live by app.js
 *   GET  /api/device/ID  the journey as JSON (journey.c)
 *   GET  /app.js, /app.css
 *
 * The page has no login: it listens on loopback unless http_public says
 * otherwise. Every answer carries a strict Content-Security-Policy,
 * nosniff and no-store. On loopback a request must name the page's own
 * Host (no DNS rebinding), and a POST sent by a page of another origin is
 * refused (no cross-site request forgery): its origin is http:// or
 * https:// and the Host it names, or one that http_origin names (the
 * page's public origin behind a TLS reverse proxy that rewrites Host).
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "journey.h"
#include "onramp/config.h"
#include "onramp/error.h"
#include "onramp/listen.h"
#include "onramp/label.h"
#include "page.h"
#include "prov.h"

#define CSP                                                                                  \
    "default-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; "           \
    "frame-ancestors 'none'"
#define PATH_MAX_LEN 128
#define HEADERS_MAX 8192
#define TIMEOUT_SECONDS 10

/* ---- answers ----------------------------------------------------------- */

void page_send(struct evhttp_request *req, int code, const char *reason, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Security-Policy", CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "Referrer-Policy", "same-origin");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_send_reply(req, code, reason, NULL); /* the request's output buffer */
}

void page_open(struct evbuffer *out, const char *title, const char *title_code)
{
    evbuffer_add(out, page_top, strlen(page_top));
    page_html(out, title, strlen(title));
    if (title_code != NULL)
        page_html(out, title_code, strlen(title_code));
    evbuffer_add(out, page_middle, strlen(page_middle));
}

/* A short page saying `text` (a constant). */
void page_send_message(struct evhttp_request *req, int code, const char *reason,
                       const char *text)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    page_open(out, reason, NULL);
    evbuffer_add_printf(out, "<h1>%d ", code);
    page_html(out, reason, strlen(reason));
    evbuffer_add(out, "</h1>\n<p id=\"message\">", 22);
    page_html(out, text, strlen(text));
    evbuffer_add_printf(out, "</p>\n<p><a href=\"/\">The pairing form</a></p>\n");
    evbuffer_add(out, page_bottom, strlen(page_bottom));
    page_send(req, code, reason, "text/html; charset=utf-8");
}

const char *page_peer(struct evhttp_request *req, char *out, size_t cap)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;

    if (conn != NULL)
        evhttp_connection_get_peer(conn, &addr, &port);
    snprintf(out, cap, "%s:%u", addr != NULL ? addr : "?", (unsigned)port);
    return out;
}

/* ---- the journey ------------------------------------------------------------ */

static void on_device(struct prov_page *page, struct evhttp_request *req, const char *dev)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    (void)page;
    page_open(out, "Device ", dev);
    evbuffer_add_printf(out, "<h1>Device <code>%s</code></h1>\n"
                             "<section id=\"journey\" data-dev=\"%s\">\n"
                             "<p>State: <strong id=\"state\">…</strong></p>\n"
                             "<p id=\"hint\"></p>\n"
                             "<p>Account <strong id=\"account\"></strong>, "
                             "operator <strong id=\"operator\"></strong></p>\n"
                             "<ol id=\"steps\"></ol>\n"
                             "<noscript><p>This page follows the device with JavaScript; "
                             "its data: <a href=\"/api/device/%s\">/api/device/%s</a>.</p>"
                             "</noscript>\n"
                             "</section>\n<p><a href=\"/\">Pair another device</a></p>\n",
                        dev, dev, dev, dev); /* dev: checked, a-z 2-7 only */
    evbuffer_add(out, page_bottom, strlen(page_bottom));
    page_send(req, 200, "OK", "text/html; charset=utf-8");
}

static void json_member(struct evbuffer *out, const char *key, const char *value)
{
    evbuffer_add_printf(out, ",\"%s\":", key);
    page_json_string(out, value, strlen(value));
}

static void on_api_device(struct prov_page *page, struct evhttp_request *req, const char *dev)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct prov_journey j;
    const char *sep = "";
    int rc = prov_journey_get(onr_service_db(page->svc), dev, &j);

    if (rc != ONR_OK && rc != ONR_ENOENT) {
        onr_log(ONR_LOG_WARNING, "page: journey unreadable dev=%s error=%s", dev,
                onr_db_errmsg(onr_service_db(page->svc)));
        evbuffer_add_printf(out, "{\"dev\":\"%s\",\"error\":\"database busy\"}\n", dev);
        page_send(req, 503, "Service Unavailable", "application/json");
        return;
    }
    evbuffer_add_printf(out, "{\"dev\":\"%s\",\"steps\":[", dev);
    for (int i = PROV_STEP_REGISTERING; i < PROV_STEP_COUNT; i++) {
        if (j.at[i] == 0)
            continue;
        evbuffer_add_printf(out, "%s{\"step\":\"%s\",\"at\":%llu}", sep,
                            prov_step_name((enum prov_step)i), (unsigned long long)j.at[i]);
        sep = ",";
    }
    evbuffer_add_printf(out, "],\"state\":\"%s\"",
                        j.refused && j.state == PROV_STEP_NONE ? "REFUSED"
                                                               : prov_state_name(j.state));
    if (j.state != PROV_STEP_NONE) {
        json_member(out, "manufacturer", j.mfr);
        json_member(out, "operator", j.op);
        json_member(out, "account", j.account);
    } else if (j.refused) {
        json_member(out, "reason", j.reason);
    }
    evbuffer_add_printf(out, "}\n");
    page_send(req, rc == ONR_OK ? 200 : 404, rc == ONR_OK ? "OK" : "Not Found",
              "application/json");
}

/* ---- routes ------------------------------------------------------------------ */

/* A device id as the last path level after `prefix`: into `dev`. */
static int device_path(const char *path, const char *prefix, char dev[ONR_DEVID_LEN + 1])
{
    size_t n = strlen(prefix);

    if (strncmp(path, prefix, n) != 0 || strlen(path + n) != ONR_DEVID_LEN ||
        onr_devid_check(path + n, ONR_DEVID_LEN) != ONR_OK)
        return 0;
    memcpy(dev, path + n, ONR_DEVID_LEN + 1);
    return 1;
}

/* A kit id as the last path level after `prefix`: into `kit`. */
static int kit_path(const char *path, const char *prefix, char kit[ONR_KIT_ID_LEN + 1])
{
    size_t n = strlen(prefix);

    if (strncmp(path, prefix, n) != 0 || onr_kit_id_check(path + n, strlen(path + n)) != ONR_OK)
        return 0;
    memcpy(kit, path + n, ONR_KIT_ID_LEN + 1);
    return 1;
}

/* On loopback, only requests naming the page's own address: a name of
 * another site resolving to 127.0.0.1 (DNS rebinding) gets nothing. */
static int host_ok(const struct prov_page *page, struct evhttp_request *req)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

    if (page->public)
        return 1;
    if (host == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(page->hosts) / sizeof(page->hosts[0]); i++)
        if (page->hosts[i][0] != '\0' && strcasecmp(host, page->hosts[i]) == 0)
            return 1;
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct prov_page *page = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
    char path[PATH_MAX_LEN];
    char dev[ONR_DEVID_LEN + 1];
    size_t n = uri != NULL ? strcspn(uri, "?#") : 0;

    if (!host_ok(page, req)) {
        page_send_message(req, 403, "Forbidden", "This page answers to its own address only.");
        return;
    }
    if (uri == NULL || n == 0 || n >= sizeof(path)) {
        page_send_message(req, 404, "Not Found", "No such page.");
        return;
    }
    memcpy(path, uri, n);
    path[n] = '\0';
    if (strcmp(path, "/pair") == 0) {
        if (cmd == EVHTTP_REQ_POST) {
            page_on_pair(page, req);
            return;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        page_send_message(req, 405, "Method Not Allowed", "Pairing is a POST of the form.");
        return;
    }
    if (!get) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        page_send_message(req, 405, "Method Not Allowed", "This page is only read.");
        return;
    }
    if (strcmp(path, "/") == 0) {
        page_on_form(page, req);
    } else if (strcmp(path, "/app.js") == 0) {
        evbuffer_add(evhttp_request_get_output_buffer(req), page_js, strlen(page_js));
        page_send(req, 200, "OK", "text/javascript; charset=utf-8");
    } else if (strcmp(path, "/app.css") == 0) {
        evbuffer_add(evhttp_request_get_output_buffer(req), page_css, strlen(page_css));
        page_send(req, 200, "OK", "text/css; charset=utf-8");
    } else if (device_path(path, "/device/", dev)) {
        on_device(page, req, dev);
    } else if (device_path(path, "/api/device/", dev)) {
        on_api_device(page, req, dev);
    } else if (kit_path(path, "/kit/", dev)) {
        page_on_kit(page, req, dev);
    } else if (kit_path(path, "/api/kit/", dev)) {
        page_on_api_kit(page, req, dev);
    } else {
        page_send_message(req, 404, "Not Found", "No such page.");
    }
}

/* ---- start and stop ------------------------------------------------------------ */

/* `http_origin ORIGIN` lines: the origins a POST may come from besides
 * the Host's own. */
static int load_origins(const struct onr_config *cfg, struct prov_page *page)
{
    size_t n = onr_config_count(cfg, "http_origin");

    if (n > PAGE_ORIGINS_MAX) {
        fprintf(stderr, "onramp-provider: at most %d http_origin lines\n", PAGE_ORIGINS_MAX);
        return ONR_ECOUNT;
    }
    for (size_t i = 0; i < n; i++) {
        const char *origin = onr_config_at(cfg, "http_origin", i);

        if (!onr_config_origin(origin)) {
            fprintf(stderr, "onramp-provider: http_origin %s: want the page's public origin "
                            "as a browser sends it, e.g. https://pair.example.net (scheme, "
                            "host, optional port; no path)\n", origin);
            return ONR_EFORMAT;
        }
        snprintf(page->origins[i], sizeof(page->origins[i]), "%s", origin);
    }
    page->n_origins = n;
    return ONR_OK;
}

int prov_page_start(struct onr_service *svc, struct prov *p)
{
    const struct onr_config *cfg = onr_service_config(svc);
    const char *listen = onr_config_get(cfg, "http_listen");
    const char *public = onr_config_get(cfg, "http_public");
    struct prov_page *page = NULL;
    struct onr_listen at;

    p->page = NULL;
    if (public != NULL && strcmp(public, "yes") != 0 && strcmp(public, "no") != 0) {
        fprintf(stderr, "onramp-provider: http_public: yes or no\n");
        return ONR_EINVAL;
    }
    if (listen == NULL)
        return ONR_OK; /* no page */
    if (onr_listen_parse(listen, &at) != ONR_OK) {
        fprintf(stderr, "onramp-provider: http_listen: want HOST:PORT (HOST an IP address or "
                        "localhost) or PORT\n");
        return ONR_EINVAL;
    }
    if (!at.loopback && (public == NULL || strcmp(public, "yes") != 0)) {
        fprintf(stderr, "onramp-provider: http_listen %s: not a loopback address. The pairing "
                        "page has no login: it listens on loopback only, unless "
                        "'http_public yes' is set too (then keep it behind your own access "
                        "control)\n", listen);
        return ONR_EDENIED;
    }
    page = calloc(1, sizeof(*page));
    if (page == NULL)
        return ONR_ENOMEM;
    page->svc = svc;
    page->p = p;
    page->public = public != NULL && strcmp(public, "yes") == 0;
    if (load_origins(cfg, page) != ONR_OK) {
        free(page);
        return ONR_EINVAL;
    }
    onr_listen_host(&at, page->hosts[0], sizeof(page->hosts[0]));
    snprintf(page->hosts[1], sizeof(page->hosts[1]), "localhost:%u", (unsigned)at.port);
    page->http = evhttp_new(onr_service_base(svc));
    if (page->http == NULL) {
        free(page);
        return ONR_ENOMEM;
    }
    evhttp_set_max_body_size(page->http, PAGE_BODY_MAX);
    evhttp_set_max_headers_size(page->http, HEADERS_MAX);
    evhttp_set_timeout(page->http, TIMEOUT_SECONDS);
    evhttp_set_allowed_methods(page->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
    evhttp_set_gencb(page->http, on_request, page);
    if (evhttp_bind_socket_with_handle(page->http, at.addr, at.port) == NULL) {
        fprintf(stderr, "onramp-provider: http_listen %s: cannot listen there\n", listen);
        evhttp_free(page->http);
        free(page);
        return ONR_EIO;
    }
    p->page = page;
    onr_log(ONR_LOG_NOTICE, "page listening url=http://%s/ public=%s", page->hosts[0],
            page->public ? "yes" : "no");
    return ONR_OK;
}

void prov_page_stop(struct prov *p)
{
    if (p->page == NULL)
        return;
    evhttp_free(p->page->http);
    free(p->page);
    p->page = NULL;
}

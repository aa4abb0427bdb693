/*
 * onrampctl exporter: the brokers' counters for Prometheus. One libevent
 * loop: a libmosquitto client per broker (<onramp/mqtt_loop.h>, connected
 * without blocking, reconnected with backoff), subscribed to every
 * broker's counters, and GET /metrics (<onramp/metrics_http.h>). What the
 * counters become is exporter_brokers.c's.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "exporter.h"
#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/metrics_http.h"
#include "onramp/mqtt_loop.h"
#include "onramp/text.h"
#include "onramp/topic.h"

#define DEFAULT_LISTEN "127.0.0.1:9469"
#define ENDPOINTS_MAX 16
#define KEEPALIVE 30         /* seconds */
#define CONNECT_TIMEOUT 15   /* seconds from an attempt to its CONNACK */
#define LOGGED_REFUSALS 10   /* refused messages logged; the rest are counted */

static const char usage[] =
    "usage: onrampctl exporter --host HOST --port PORT [--host HOST --port PORT]...\n"
    "                          --cafile CA --cert CERT --key KEY\n"
    "                          [--listen ADDRESS] [--public]\n"
    "       onrampctl exporter --config FILE [OPTIONS]\n"
    "\n"
    "Serve the counters of every broker's onramp plugin to Prometheus. The\n"
    "exporter connects to each broker's services listener with CERT (a\n"
    "monitor's certificate from the services CA: OU=monitor, which may read\n"
    "onr/1/#), subscribes to onr/1/s/broker/+/ev, where each broker's plugin\n"
    "publishes its counters (broker_stats, SPEC type 23) every few seconds,\n"
    "and answers GET /metrics on ADDRESS in the Prometheus text format. A\n"
    "broker's counters are taken only from its own topic and with its own name\n"
    "as the sender (the broker lets no one else publish there); every metric\n"
    "carries the broker's name as the label broker=\"NAME\".\n"
    "\n"
    "Metrics (README, \"Metrics\"): every counter F of broker_stats as\n"
    "onramp_broker_F_total (connects, refused, pop_*, no_credentials,\n"
    "bad_cert, connect_rate, denied_*, rate_limited, kicked, grants,\n"
    "revocations, control_refused, grant_conflicts), the gauges\n"
    "onramp_broker_uptime_seconds, onramp_broker_devices_connected and\n"
    "onramp_broker_services_connected, onramp_broker_epoch_info{epoch=HEX}\n"
    "(1), onramp_broker_last_heard_timestamp_seconds (when the exporter last\n"
    "received the broker's counters: a broker silent for long is down or cut\n"
    "off), onramp_exporter_connected{endpoint=\"HOST:PORT\"} (1 while\n"
    "connected to that listener), onramp_exporter_counters_received_total\n"
    "and onramp_exporter_messages_refused_total. A broker's metrics stay\n"
    "with their last values when it falls silent.\n"
    "\n"
    "  --host, --port     a broker's services listener; repeat both for every\n"
    "                     broker (the Nth --port goes with the Nth --host; at\n"
    "                     most 16)\n"
    "  --cafile           PEM: the CA of the brokers' TLS certificates\n"
    "  --cert, --key      PEM: the exporter's client certificate and key\n"
    "  --listen ADDRESS   where to serve /metrics: IP:PORT, [IPv6]:PORT,\n"
    "                     localhost:PORT or PORT (default " DEFAULT_LISTEN ")\n"
    "  --public           allow a --listen address that is not loopback; the\n"
    "                     server has no login, so keep it behind a firewall\n"
    "  --config FILE      the same settings as a file, one per line:\n"
    "                       broker HOST PORT   (any number of lines)\n"
    "                       cafile PATH, cert PATH, key PATH\n"
    "                       listen ADDRESS, public yes|no\n"
    "                     relative paths are the file's directory's; options\n"
    "                     given as well add brokers and override the rest\n"
    "                     (onramp-admin writes /etc/onramp/ID/exporter.conf)\n"
    "\n"
    "Only GET and HEAD of /metrics are answered (404 elsewhere, 405 for\n"
    "other methods). Connections are made without blocking and made again\n"
    "after a loss (1 s doubling to 30 s); the exporter logs each connection\n"
    "and loss on stderr. It runs until SIGINT or SIGTERM.\n"
    "\n"
    "Exit status: 0 after SIGINT or SIGTERM; 1 it could not start (a\n"
    "certificate unreadable, the address refused or in use); 2 usage error.\n";

struct exporter;

/* One broker's services listener and our connection to it. Each attempt
 * has a client of its own, dropped when it fails or is lost. */
struct endpoint {
    struct exporter *x;
    char host[256];
    int port;
    char label[300]; /* HOST:PORT */
    char client_id[128];
    struct mosquitto *mosq;     /* the attempt's client; NULL between attempts */
    struct onr_mqtt_loop *loop;
    struct event *tcp_ev;   /* the attempt's TCP connect done (or failed) */
    struct event *timer_ev; /* during an attempt its deadline, else the next one */
    unsigned backoff;
    int connected; /* CONNACK received */
    int reported;  /* this run of failures was logged */
};

struct exporter {
    struct ctl_exporter brokers;
    struct endpoint endpoints[ENDPOINTS_MAX];
    size_t n_endpoints;
    struct ctl_broker tls; /* cafile, cert, key */
    char cafile[1024];
    char cert[1024];
    char key[1024];
    char listen[ONR_LISTEN_TEXT_MAX + 1];
    int public;
    struct event_base *base;
    struct onr_metrics_server *server;
};

/* ---- connections ------------------------------------------------------------
 *
 * libmosquitto connects without blocking (mosquitto_connect_bind_async)
 * and the loop drives the TLS handshake, but a TCP connect that fails while
 * pending is never reported by it (its read returns success on a socket in
 * error, for ever). So each attempt also watches its socket until the TCP
 * connect is done, and checks SO_ERROR itself; and gives the attempt
 * CONNECT_TIMEOUT seconds to reach CONNACK.
 */

static void drop(struct endpoint *e)
{
    onr_mqtt_loop_free(e->loop);
    if (e->mosq != NULL)
        mosquitto_destroy(e->mosq);
    if (e->tcp_ev != NULL)
        event_free(e->tcp_ev);
    e->loop = NULL;
    e->mosq = NULL;
    e->tcp_ev = NULL;
    e->connected = 0;
}

static void schedule_retry(struct endpoint *e)
{
    uint32_t jitter = 0;
    double delay = (double)(1u << (e->backoff < 5 ? e->backoff : 5)); /* 1 s .. 30 s */
    struct timeval tv;

    if (delay > 30)
        delay = 30;
    onr_random((uint8_t *)&jitter, sizeof(jitter));
    delay += delay * 0.25 * (double)(jitter % 1000) / 1000.0;
    e->backoff++;
    tv.tv_sec = (time_t)delay;
    tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
    event_add(e->timer_ev, &tv);
}

/* The attempt or the connection is over: say so (once for a run of
 * failed attempts), and try again later. Never from inside a libmosquitto
 * callback (the client is destroyed). */
static void fail(struct endpoint *e, const char *why)
{
    if (e->connected)
        fprintf(stderr, "exporter: connection lost endpoint=%s reason=%s\n", e->label, why);
    else if (!e->reported)
        fprintf(stderr, "exporter: cannot connect endpoint=%s reason=%s (retrying)\n",
                e->label, why);
    e->reported = 1;
    drop(e);
    schedule_retry(e);
}

static void on_lost(void *arg, int reason)
{
    fail(arg, mosquitto_strerror(reason));
}

static void on_tcp(evutil_socket_t fd, short what, void *arg)
{
    struct endpoint *e = arg;
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int err = 0;
    socklen_t len = sizeof(err);

    (void)what;
    event_free(e->tcp_ev); /* done: it fired once */
    e->tcp_ev = NULL;
    /* libmosquitto's read may have taken the error already: then the
     * socket is simply not connected */
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0)
        fail(e, strerror(err));
    else if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0)
        fail(e, "no TCP connection (refused or unreachable)");
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
    struct endpoint *e = arg;
    char filter[ONR_TOPIC_MAX + 1];

    (void)flags;
    (void)props;
    if (rc != 0) {
        fprintf(stderr, "exporter: connection refused endpoint=%s reason=%s\n", e->label,
                mosquitto_reason_string(rc));
        return; /* the broker closes: on_lost */
    }
    event_del(e->timer_ev); /* the attempt's deadline */
    e->connected = 1;
    e->backoff = 0;
    e->reported = 0;
    fprintf(stderr, "exporter: connected endpoint=%s\n", e->label);
    (void)onr_topic_filter_ev(NULL, ONR_ROLE_BROKER, NULL, filter, sizeof(filter)); /* fits */
    mosquitto_subscribe_v5(mosq, NULL, filter, 0, 0, NULL);
    onr_mqtt_loop_kick(e->loop);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct endpoint *e = arg;

    (void)mosq;
    (void)mid;
    (void)props;
    for (int i = 0; i < n; i++)
        if (granted[i] >= 128)
            fprintf(stderr, "exporter: subscription refused endpoint=%s reason=%s (a "
                            "monitor's certificate may read onr/1/#)\n",
                    e->label, mosquitto_reason_string(granted[i]));
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct endpoint *e = arg;
    struct ctl_exporter *b = &e->x->brokers;
    size_t known = b->n_brokers;
    char safe[ONR_TEXT_ESCAPE_CAP(64)];
    int rc;

    (void)mosq;
    (void)props;
    if (m->topic == NULL || m->payloadlen < 0)
        return;
    rc = ctl_exporter_record(b, m->topic, m->payload, (size_t)m->payloadlen,
                             (uint64_t)time(NULL));
    if (rc == ONR_OK && b->n_brokers > known)
        fprintf(stderr, "exporter: counters of broker=%s endpoint=%s\n",
                b->brokers[b->n_brokers - 1].name, e->label);
    if (rc != ONR_OK && b->refused <= LOGGED_REFUSALS)
        fprintf(stderr, "exporter: message refused endpoint=%s topic=%s error=%s%s\n",
                e->label, onr_text_escape(m->topic, strnlen(m->topic, 64), safe, sizeof(safe)),
                onr_error_name(rc),
                b->refused == LOGGED_REFUSALS ? " (further refusals counted, not logged)" : "");
}

/* A new attempt: ONR_OK (under way: on_connect, on_lost or fail say how
 * it ends), ONR_EINVAL (the TLS files unusable), or another error after
 * which a retry is scheduled. */
static int attempt(struct endpoint *e)
{
    const struct timeval deadline = {CONNECT_TIMEOUT, 0};
    struct exporter *x = e->x;
    int rc;

    e->mosq = mosquitto_new(e->client_id, true, e);
    if (e->mosq == NULL) {
        fail(e, "out of memory");
        return ONR_ENOMEM;
    }
    mosquitto_int_option(e->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(e->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(e->mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(e->mosq, on_subscribe);
    mosquitto_message_v5_callback_set(e->mosq, on_message);
    if (mosquitto_tls_set(e->mosq, x->tls.cafile, NULL, x->tls.cert, x->tls.key, NULL) !=
        MOSQ_ERR_SUCCESS) {
        fail(e, "--cafile, --cert or --key unreadable");
        return ONR_EINVAL;
    }
    rc = mosquitto_connect_bind_async(e->mosq, e->host, e->port, KEEPALIVE, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fail(e, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return ONR_EIO;
    }
    if (onr_mqtt_loop_new(x->base, e->mosq, on_lost, e, &e->loop) != ONR_OK ||
        onr_mqtt_loop_bind(e->loop) != ONR_OK) {
        fail(e, "out of memory");
        return ONR_ENOMEM;
    }
    e->tcp_ev = event_new(x->base, mosquitto_socket(e->mosq), EV_WRITE, on_tcp, e);
    if (e->tcp_ev == NULL || event_add(e->tcp_ev, NULL) != 0 ||
        event_add(e->timer_ev, &deadline) != 0) {
        fail(e, "out of memory");
        return ONR_ENOMEM;
    }
    return ONR_OK;
}

/* The timer: the next attempt, or the current one's deadline. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct endpoint *e = arg;

    (void)fd;
    (void)what;
    if (e->mosq != NULL)
        fail(e, "no CONNACK in time");
    else
        (void)attempt(e);
}

static int endpoint_start(struct exporter *x, struct endpoint *e, size_t index)
{
    char suffix[48]; /* "exp", a pid and an index: 3 + 20 + 1 + 20 */
    int rc;

    e->x = x;
    snprintf(suffix, sizeof(suffix), "exp%ld-%zu", (long)getpid(), index);
    rc = ctl_client_id(&x->tls, suffix, e->client_id, sizeof(e->client_id));
    if (rc != ONR_OK)
        return rc;
    e->timer_ev = event_new(x->base, -1, 0, on_timer, e);
    if (e->timer_ev == NULL)
        return ONR_ENOMEM;
    rc = attempt(e);
    if (rc == ONR_EINVAL)
        fprintf(stderr, "onrampctl: --cafile, --cert, --key: unreadable\n");
    return rc == ONR_EINVAL || rc == ONR_ENOMEM ? rc : ONR_OK;
}

static void endpoint_stop(struct endpoint *e)
{
    if (e->mosq != NULL && e->connected) {
        mosquitto_disconnect_v5(e->mosq, 0, NULL);
        mosquitto_loop_write(e->mosq, 1);
    }
    drop(e);
    if (e->timer_ev != NULL)
        event_free(e->timer_ev);
    e->timer_ev = NULL;
}

/* ---- /metrics ------------------------------------------------------------------ */

static int collect(struct onr_metrics *m, void *arg)
{
    struct exporter *x = arg;

    onr_metrics_family(m, "onramp_exporter_connected", ONR_METRIC_GAUGE,
                       "1 while the exporter is connected to this broker's services listener.");
    for (size_t i = 0; i < x->n_endpoints; i++) {
        struct onr_metric_label l = {"endpoint", x->endpoints[i].label};

        onr_metrics_gauge(m, &l, 1, x->endpoints[i].connected ? 1 : 0);
    }
    return ctl_exporter_collect(&x->brokers, m);
}

/* ---- settings --------------------------------------------------------------------- */

static int add_endpoint(struct exporter *x, const char *host, const char *port)
{
    struct endpoint *e;
    char *end = NULL;
    long p = port != NULL ? strtol(port, &end, 10) : 0;

    if (x->n_endpoints == ENDPOINTS_MAX || host == NULL || host[0] == '\0' ||
        strlen(host) >= sizeof(e->host) || end == NULL || *end != '\0' || p <= 0 || p > 65535 ||
        onr_text_check(ONR_TEXT_PRINTABLE,
                       (struct onr_bytes){(const uint8_t *)host, strlen(host)}) != ONR_OK)
        return ONR_EINVAL;
    e = &x->endpoints[x->n_endpoints++];
    snprintf(e->host, sizeof(e->host), "%s", host);
    e->port = (int)p;
    snprintf(e->label, sizeof(e->label), "%s:%d", host, e->port);
    return ONR_OK;
}

static int copy_path(const struct onr_config *cfg, const char *key, char *out, size_t cap)
{
    const char *v = onr_config_get(cfg, key);

    if (v == NULL)
        return ONR_OK;
    return onr_config_path(cfg, v, out, cap);
}

/* The settings of --config FILE (options override them afterwards). */
static int read_config(struct exporter *x, const char *path)
{
    static const char *const keys[] = {"broker", "cafile", "cert", "key", "listen", "public"};
    struct onr_config *cfg = NULL;
    struct onr_config_error err = {0, ""};
    const char *stray = NULL;
    const char *v;
    int rc = onr_config_load(path, &cfg, &err);

    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s:%zu: %s\n", path, err.line,
                err.reason[0] != '\0' ? err.reason : onr_strerror(rc));
        return rc;
    }
    rc = onr_config_check_keys(cfg, keys, sizeof(keys) / sizeof(keys[0]), &stray);
    if (rc != ONR_OK)
        fprintf(stderr, "onrampctl: %s: unknown key '%s'\n", path, stray);
    for (size_t i = 0; rc == ONR_OK && i < onr_config_count(cfg, "broker"); i++) {
        char buf[512];
        const char *f[2];
        size_t n = 0;

        rc = onr_config_split(onr_config_at(cfg, "broker", i), buf, sizeof(buf), f, 2, &n);
        if (rc == ONR_OK)
            rc = n == 2 ? add_endpoint(x, f[0], f[1]) : ONR_EINVAL;
        if (rc != ONR_OK)
            fprintf(stderr, "onrampctl: %s: broker: want HOST PORT (at most %d)\n", path,
                    ENDPOINTS_MAX);
    }
    if (rc == ONR_OK)
        rc = copy_path(cfg, "cafile", x->cafile, sizeof(x->cafile));
    if (rc == ONR_OK)
        rc = copy_path(cfg, "cert", x->cert, sizeof(x->cert));
    if (rc == ONR_OK)
        rc = copy_path(cfg, "key", x->key, sizeof(x->key));
    v = onr_config_get(cfg, "listen");
    if (rc == ONR_OK && v != NULL)
        snprintf(x->listen, sizeof(x->listen), "%s", v);
    v = onr_config_get(cfg, "public");
    if (rc == ONR_OK && v != NULL) {
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
            fprintf(stderr, "onrampctl: %s: public: yes or no\n", path);
            rc = ONR_EINVAL;
        }
        x->public = strcmp(v, "yes") == 0;
    }
    onr_config_free(cfg);
    return rc;
}

/* Options: ONR_OK, or CTL_EXIT_OK / CTL_EXIT_USAGE as a positive value to
 * exit with at once. */
static int parse_options(struct exporter *x, int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"cafile", required_argument, NULL, 'c'}, {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'k'},    {"listen", required_argument, NULL, 'l'},
        {"public", no_argument, NULL, 'P'},       {"config", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *hosts[ENDPOINTS_MAX + 1];
    const char *ports[ENDPOINTS_MAX + 1];
    size_t n_hosts = 0;
    size_t n_ports = 0;
    int opt;

    snprintf(x->listen, sizeof(x->listen), "%s", DEFAULT_LISTEN);
    /* --config first, wherever it is: the options override it */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return 0x100 | CTL_EXIT_OK;
        }
        if (opt == '?')
            return 0x100 | CTL_EXIT_USAGE;
        if (opt == 'f' && read_config(x, optarg) != ONR_OK)
            return 0x100 | CTL_EXIT_FAIL;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            if (n_hosts <= ENDPOINTS_MAX)
                hosts[n_hosts] = optarg;
            n_hosts++;
            break;
        case 'p':
            if (n_ports <= ENDPOINTS_MAX)
                ports[n_ports] = optarg;
            n_ports++;
            break;
        case 'c': snprintf(x->cafile, sizeof(x->cafile), "%s", optarg); break;
        case 'C': snprintf(x->cert, sizeof(x->cert), "%s", optarg); break;
        case 'k': snprintf(x->key, sizeof(x->key), "%s", optarg); break;
        case 'l': snprintf(x->listen, sizeof(x->listen), "%s", optarg); break;
        case 'P': x->public = 1; break;
        default: break;
        }
    }
    if (optind != argc || n_hosts != n_ports || n_hosts > ENDPOINTS_MAX)
        return 0x100 | CTL_EXIT_USAGE;
    for (size_t i = 0; i < n_hosts; i++)
        if (add_endpoint(x, hosts[i], ports[i]) != ONR_OK)
            return 0x100 | CTL_EXIT_USAGE;
    if (x->n_endpoints == 0 || x->cafile[0] == '\0' || x->cert[0] == '\0' || x->key[0] == '\0')
        return 0x100 | CTL_EXIT_USAGE;
    x->tls = (struct ctl_broker){.cafile = x->cafile, .cert = x->cert, .key = x->key};
    return ONR_OK;
}

/* ---- the command ---------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct exporter *x = arg;

    (void)what;
    fprintf(stderr, "exporter: stopping signal=%d\n", (int)sig);
    event_base_loopbreak(x->base);
}

int ctl_exporter(int argc, char **argv)
{
    struct exporter *x = calloc(1, sizeof(*x));
    struct event *signals[2] = {NULL, NULL};
    int rc;
    int status = CTL_EXIT_FAIL;

    if (x == NULL)
        return CTL_EXIT_FAIL;
    rc = parse_options(x, argc, argv);
    if (rc != ONR_OK) {
        status = rc & 0xff;
        if (status == CTL_EXIT_USAGE)
            fputs(usage, stderr);
        free(x);
        return status;
    }
    signal(SIGPIPE, SIG_IGN);
    x->base = event_base_new();
    if (x->base == NULL)
        goto out;
    rc = onr_metrics_server_start(x->base, x->listen, x->public, collect, x, &x->server);
    if (rc == ONR_EDENIED) {
        fprintf(stderr, "onrampctl: --listen %s: not a loopback address; the exporter has no "
                        "login: add --public (public yes) to serve there anyway\n", x->listen);
        goto out;
    }
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: --listen %s: %s\n", x->listen,
                rc == ONR_EINVAL ? "want IP:PORT, [IPv6]:PORT, localhost:PORT or PORT"
                                 : "cannot listen there");
        goto out;
    }
    for (size_t i = 0; i < x->n_endpoints; i++)
        if (endpoint_start(x, &x->endpoints[i], i) != ONR_OK)
            goto out;
    signals[0] = evsignal_new(x->base, SIGTERM, on_signal, x);
    signals[1] = evsignal_new(x->base, SIGINT, on_signal, x);
    if (signals[0] == NULL || signals[1] == NULL || event_add(signals[0], NULL) != 0 ||
        event_add(signals[1], NULL) != 0)
        goto out;
    fprintf(stderr, "exporter: serving url=%s brokers=%zu\n",
            onr_metrics_server_url(x->server), x->n_endpoints);
    event_base_dispatch(x->base);
    status = CTL_EXIT_OK;
out:
    for (size_t i = 0; i < 2; i++)
        if (signals[i] != NULL)
            event_free(signals[i]);
    for (size_t i = 0; i < x->n_endpoints; i++)
        endpoint_stop(&x->endpoints[i]);
    onr_metrics_server_stop(x->server);
    if (x->base != NULL)
        event_base_free(x->base);
    free(x);
    return status;
}

/*
 * onramp-plugin-bench: what the onramp plugin costs the broker.
 *
 * Two mosquitto processes run side by side on loopback, one with the plugin
 * and one without. On each, in the same run: small QoS 1 messages from
 * devices on the bootstrap listener to one service, for a fixed time; then
 * sequential connects of fresh devices. Figures: messages per second and
 * broker CPU per message, connect latency and broker CPU per connect, and
 * the ratios. A benchmark, not a test: it asserts nothing about durations.
 *
 * All clients run in this one thread: poll() on their sockets, then
 * libmosquitto's loop_read/loop_write/loop_misc, so the benchmark does not
 * spin on a core the broker needs.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "onramp/connect.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"

#define WINDOW 20 /* QoS 1 messages in flight per publisher */
#define MAX_CLIENTS 65

static const char usage[] =
    "usage: onramp-plugin-bench [--publishers N] [--seconds S] [--connects M]\n"
    "                           [--payload BYTES] [--plugin PATH]\n"
    "\n"
    "Measure what the onramp plugin costs Mosquitto. Starts two brokers on\n"
    "loopback, with and without the plugin, and on each:\n"
    "  throughput  N devices (default 8) publish PAYLOAD-byte (default 64) QoS 1\n"
    "              messages to their up topic on the bootstrap listener, one\n"
    "              service receives them on the services listener, for S\n"
    "              seconds (default 5): messages/s delivered, and broker CPU\n"
    "              (user+system from /proc) per message\n"
    "  connects    M (default 1000) fresh devices connect one after the other:\n"
    "              with a proof of possession on the plugin broker, anonymous\n"
    "              TLS on the other; latency to CONNACK, broker CPU per connect\n"
    "and prints the ratios. The benchmark and the brokers share this machine's\n"
    "cores; broker CPU per message is the steadier figure. /proc counts CPU in\n"
    "10 ms ticks: use enough connects (1000 resolve 10 us per connect).\n"
    "\n"
    "  --plugin PATH   onramp_plugin.so (default: next to this program's build)\n"
    "\n"
    "Exit status: 0 measured, 1 something failed (see the message), 2 usage.\n";

struct client {
    struct mosquitto *mosq;
    int connack;            /* -1 until the CONNACK */
    int inflight;
    unsigned long acked;
    unsigned long delivered; /* the subscriber's count */
    char topic[128];
};

struct options {
    int publishers;
    int seconds;
    int connects;
    int payload;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *p)
{
    (void)m;
    (void)flags;
    (void)p;
    ((struct client *)obj)->connack = rc;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
                       const mosquitto_property *p)
{
    struct client *c = obj;

    (void)m;
    (void)mid;
    (void)reason;
    (void)p;
    c->inflight--;
    c->acked++;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
    (void)m;
    (void)msg;
    (void)p;
    ((struct client *)obj)->delivered++;
}

/* Drive every client for `seconds` (or until all CONNACKs are in, if
 * `until_connected`); publishers keep WINDOW messages in flight. */
static int pump(struct client *c, int n, double seconds, int until_connected,
                const uint8_t *payload, int payload_len)
{
    struct pollfd fds[MAX_CLIENTS];
    double end = now_s() + seconds;
    double next_misc = 0;

    while (now_s() < end) {
        int all_connected = 1;

        for (int i = 0; i < n; i++) {
            all_connected &= c[i].connack == 0;
            if (c[i].connack >= 1)
                return -1;
            if (payload != NULL && c[i].connack == 0 && c[i].topic[0] != '\0') {
                while (c[i].inflight < WINDOW &&
                       mosquitto_publish_v5(c[i].mosq, NULL, c[i].topic, payload_len, payload, 1,
                                            false, NULL) == MOSQ_ERR_SUCCESS)
                    c[i].inflight++;
            }
            fds[i].fd = mosquitto_socket(c[i].mosq);
            fds[i].events = POLLIN | (mosquitto_want_write(c[i].mosq) ? POLLOUT : 0);
            fds[i].revents = 0;
        }
        if (until_connected && all_connected)
            return 0;
        if (poll(fds, (nfds_t)n, 50) < 0)
            return -1;
        for (int i = 0; i < n; i++) {
            if (fds[i].revents & (POLLIN | POLLERR | POLLHUP))
                mosquitto_loop_read(c[i].mosq, 1);
            if (fds[i].revents & POLLOUT)
                mosquitto_loop_write(c[i].mosq, 1);
        }
        if (now_s() >= next_misc) {
            for (int i = 0; i < n; i++)
                mosquitto_loop_misc(c[i].mosq);
            next_misc = now_s() + 0.1;
        }
    }
    return until_connected ? -1 : 0;
}

/* A device client: with a proof on the plugin broker, anonymous otherwise. */
static int device_connect(struct bench_fixture *f, struct bench_broker *b,
                          const struct onr_p256_key *key, struct client *c)
{
    struct onr_bootstrap boot = {"127.0.0.1", b->bootstrap_port, f->ca, "bench-1", 60};
    uint8_t pub[ONR_P256_PUB_LEN];
    char id[ONR_DEVID_LEN + 1];

    memset(c, 0, sizeof(*c));
    c->connack = -1;
    if (onr_connect_client_new(key, c, &c->mosq) != ONR_OK)
        return -1;
    mosquitto_connect_v5_callback_set(c->mosq, on_connect);
    mosquitto_publish_v5_callback_set(c->mosq, on_publish);
    if (onr_p256_public(key, pub) != ONR_OK || onr_devid_from_public(pub, id) != ONR_OK)
        return -1;
    snprintf(c->topic, sizeof(c->topic), "onr/1/d/%s/up/op/op-1", id);
    if (b->with_plugin)
        return onr_connect_pop(c->mosq, key, &boot, (uint64_t)time(NULL)) == ONR_OK ? 0 : -1;
    if (mosquitto_tls_set(c->mosq, f->ca, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS)
        return -1;
    return mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", b->bootstrap_port, 60, NULL, NULL) ==
                   MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

static void client_close(struct client *c)
{
    if (c->mosq == NULL)
        return;
    mosquitto_disconnect(c->mosq);
    mosquitto_loop_write(c->mosq, 1);
    mosquitto_destroy(c->mosq);
    c->mosq = NULL;
}

struct figures {
    double msgs_per_s;
    double cpu_us_per_msg;
    double connect_ms_mean;
    double connect_ms_p50;
    double connect_ms_p99;
    double cpu_us_per_connect;
};

static int throughput(struct bench_fixture *f, struct bench_broker *b, const struct options *o,
                      struct onr_p256_key **keys, struct figures *out)
{
    struct client c[MAX_CLIENTS];
    uint8_t *payload = calloc(1, (size_t)o->payload);
    int n = o->publishers + 1;
    struct client *sub = &c[o->publishers];
    double cpu0, wall0;
    unsigned long delivered0;
    int rc = -1;

    memset(c, 0, sizeof(c));
    if (payload == NULL)
        return -1;
    for (int i = 0; i < o->publishers; i++)
        if (device_connect(f, b, keys[i], &c[i]) != 0)
            goto out;
    /* the service that receives everything */
    sub->connack = -1;
    sub->mosq = mosquitto_new("op.op-1", true, sub);
    if (sub->mosq == NULL)
        goto out;
    mosquitto_int_option(sub->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(sub->mosq, on_connect);
    mosquitto_message_v5_callback_set(sub->mosq, on_message);
    if (mosquitto_tls_set(sub->mosq, f->ca, NULL, f->operator_cert, f->operator_key, NULL) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_connect_bind_v5(sub->mosq, "127.0.0.1", b->services_port, 60, NULL, NULL) !=
            MOSQ_ERR_SUCCESS)
        goto out;
    if (pump(c, n, 10, 1, NULL, 0) != 0) {
        fprintf(stderr, "onramp-plugin-bench: %s: clients not admitted\n", b->name);
        goto out;
    }
    mosquitto_subscribe_v5(sub->mosq, NULL, "onr/1/d/+/up/op/op-1", 1, 0, NULL);
    pump(c, n, 0.5, 0, payload, o->payload); /* warm up */
    cpu0 = bench_cpu_seconds(b->pid);
    wall0 = now_s();
    delivered0 = sub->delivered;
    pump(c, n, o->seconds, 0, payload, o->payload);
    out->msgs_per_s = (double)(sub->delivered - delivered0) / (now_s() - wall0);
    out->cpu_us_per_msg = (bench_cpu_seconds(b->pid) - cpu0) * 1e6 /
                          (double)(sub->delivered - delivered0 ? sub->delivered - delivered0 : 1);
    rc = sub->delivered > delivered0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "onramp-plugin-bench: %s: nothing delivered\n", b->name);
out:
    for (int i = 0; i < n; i++)
        client_close(&c[i]);
    free(payload);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static int connects(struct bench_fixture *f, struct bench_broker *b, const struct options *o,
                    struct onr_p256_key **keys, struct figures *out)
{
    double *ms = calloc((size_t)o->connects, sizeof(double));
    double cpu0 = bench_cpu_seconds(b->pid);
    double sum = 0;
    int rc = 0;

    if (ms == NULL)
        return -1;
    for (int i = 0; i < o->connects && rc == 0; i++) {
        struct client c;
        double t0 = now_s();

        rc = device_connect(f, b, keys[i], &c);
        if (rc == 0)
            rc = pump(&c, 1, 10, 1, NULL, 0);
        ms[i] = (now_s() - t0) * 1e3;
        sum += ms[i];
        client_close(&c);
    }
    if (rc == 0) {
        qsort(ms, (size_t)o->connects, sizeof(double), cmp_double);
        out->connect_ms_mean = sum / o->connects;
        out->connect_ms_p50 = ms[o->connects / 2];
        out->connect_ms_p99 = ms[(o->connects * 99) / 100];
        out->cpu_us_per_connect = (bench_cpu_seconds(b->pid) - cpu0) * 1e6 / o->connects;
    } else {
        fprintf(stderr, "onramp-plugin-bench: %s: a connect failed\n", b->name);
    }
    free(ms);
    return rc;
}

static int parse(int argc, char **argv, struct options *o, struct bench_fixture *f)
{
    static const struct option options[] = {
        {"publishers", required_argument, NULL, 'n'}, {"seconds", required_argument, NULL, 's'},
        {"connects", required_argument, NULL, 'c'},   {"payload", required_argument, NULL, 'b'},
        {"plugin", required_argument, NULL, 'p'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *o = (struct options){8, 5, 1000, 64};
    snprintf(f->plugin, sizeof(f->plugin), "%s", ONR_BENCH_PLUGIN);
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'n': o->publishers = atoi(optarg); break;
        case 's': o->seconds = atoi(optarg); break;
        case 'c': o->connects = atoi(optarg); break;
        case 'b': o->payload = atoi(optarg); break;
        case 'p': snprintf(f->plugin, sizeof(f->plugin), "%s", optarg); break;
        case 'h': fputs(usage, stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc || o->publishers < 1 || o->publishers > MAX_CLIENTS - 1 ||
        o->seconds < 1 || o->connects < 1 || o->payload < 1 || o->payload > 16384)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_fixture f;
    struct bench_broker brokers[2] = {
        {.name = "with-plugin", .with_plugin = 1},
        {.name = "without-plugin", .with_plugin = 0},
    };
    struct figures fig[2];
    struct options o;
    struct onr_p256_key **keys = NULL;
    int nkeys;
    int rc = 1;

    memset(&f, 0, sizeof(f));
    memset(fig, 0, sizeof(fig));
    if (parse(argc, argv, &o, &f) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(f.dir, sizeof(f.dir), "/tmp/onramp-bench-XXXXXX");
    if (mkdtemp(f.dir) == NULL || bench_pki(&f) != 0)
        return 1;
    mosquitto_lib_init();
    /* device keys made up front: key generation is not what is measured */
    nkeys = o.connects > o.publishers ? o.connects : o.publishers;
    keys = calloc((size_t)nkeys, sizeof(*keys));
    for (int i = 0; keys != NULL && i < nkeys; i++)
        if (onr_p256_generate(&keys[i]) != ONR_OK)
            goto out;
    if (keys == NULL || bench_broker_start(&f, &brokers[0]) != 0 ||
        bench_broker_start(&f, &brokers[1]) != 0)
        goto out;
    for (int i = 0; i < 2; i++)
        if (throughput(&f, &brokers[i], &o, keys, &fig[i]) != 0 ||
            connects(&f, &brokers[i], &o, keys, &fig[i]) != 0)
            goto out;

    printf("onramp-plugin-bench: mosquitto 2.0.11 on loopback, TLS, %ld cores shared by the "
           "brokers and this program\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("throughput: %d publishers, %d-byte QoS 1 messages, %d s per broker\n",
           o.publishers, o.payload, o.seconds);
    for (int i = 0; i < 2; i++)
        printf("  %-15s %9.0f msg/s  %6.1f us broker CPU/msg\n", brokers[i].name,
               fig[i].msgs_per_s, fig[i].cpu_us_per_msg);
    printf("  ratio           %9.3f throughput (with/without)  %6.3f broker CPU/msg "
           "(with/without)\n", fig[0].msgs_per_s / fig[1].msgs_per_s,
           fig[0].cpu_us_per_msg / fig[1].cpu_us_per_msg);
    printf("connects: %d fresh devices in sequence\n", o.connects);
    printf("  %-15s %6.2f ms mean  %6.2f ms p50  %6.2f ms p99  %6.0f us broker CPU/connect "
           "(proof of possession)\n", brokers[0].name, fig[0].connect_ms_mean,
           fig[0].connect_ms_p50, fig[0].connect_ms_p99, fig[0].cpu_us_per_connect);
    printf("  %-15s %6.2f ms mean  %6.2f ms p50  %6.2f ms p99  %6.0f us broker CPU/connect "
           "(anonymous TLS)\n", brokers[1].name, fig[1].connect_ms_mean, fig[1].connect_ms_p50,
           fig[1].connect_ms_p99, fig[1].cpu_us_per_connect);
    printf("  proof of possession adds %.0f us broker CPU per connect\n",
           fig[0].cpu_us_per_connect - fig[1].cpu_us_per_connect);
    rc = 0;
out:
    bench_broker_stop(&brokers[0]);
    bench_broker_stop(&brokers[1]);
    for (int i = 0; keys != NULL && i < nkeys; i++)
        onr_p256_free(keys[i]);
    free(keys);
    mosquitto_lib_cleanup();
    if (rc != 0)
        fprintf(stderr, "onramp-plugin-bench: failed; broker logs and configs in %s\n", f.dir);
    else
        nftw(f.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

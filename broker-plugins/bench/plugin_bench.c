/*
 * onramp-plugin-bench: what the onramp plugin costs Mosquitto, in one run.
 *
 * Two mosquitto processes run side by side on loopback with TLS, one with
 * the plugin and one without. Idle (with --idle): many devices held
 * connected at once, one broker at a time, for the broker's memory per
 * connection (idle_run.c, idle.c). Throughput: devices publish small QoS 1 messages on
 * the bootstrap listener to one operator service, in rounds of with,
 * without, without, with, so a drift in the machine's load hits both
 * brokers alike. Connects: fresh devices connect one at a time,
 * alternating brokers. Broker CPU comes from /proc/PID/stat.
 *
 * A benchmark, not a test: it prints figures and asserts nothing about
 * them, except that no idle connection was dropped. Exit 0 when it
 * measured, 1 when something failed.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <mosquitto.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "onramp/error.h"
#include "onramp/p256.h"

#define WARMUP_SECONDS 0.5
#define SETTLE_SECONDS 0.2
#define MAX_ROUNDS 5 /* of with, without, without, with: a round per second */

static const char usage[] =
    "usage: onramp-plugin-bench [--publishers N] [--seconds S] [--connects M]\n"
    "                           [--payload BYTES] [--subscribers K] [--idle C]\n"
    "                           [--hold H] [--only PART] [--plugin PATH] [--help]\n"
    "\n"
    "Measures, in one run, what the onramp plugin costs Mosquitto. Starts two\n"
    "mosquitto processes on loopback (127.0.0.1, free ports), both with TLS\n"
    "(P-256 server key, set_tcp_nodelay) on a bootstrap and a services\n"
    "listener, one with the plugin and one without, then on each:\n"
    "\n"
    "  idle        only with --idle C (e.g. 20000), and first, on the fresh\n"
    "              brokers: C devices connected at the same time and held\n"
    "              idle, to the broker with the plugin (each with a fresh\n"
    "              proof of possession), closed, then to the one without\n"
    "              (anonymous TLS). At most 50 connecting at once, keepalive\n"
    "              600 s. Prints the time to open them (connects/s), broker\n"
    "              CPU per connect, the broker's resident memory (VmRSS,\n"
    "              /proc/PID/status) before and with all held and per\n"
    "              connection, its open files, how many were still connected\n"
    "              after H more seconds (--hold, default 5), and the plugin's\n"
    "              memory per connection (with minus without). Fails (exit 1,\n"
    "              after the figures) if any was dropped.\n"
    "  throughput  N devices (default 8) publish BYTES-byte (default 64) QoS 1\n"
    "              messages to their own onr/1/d/{dev}/up/op/op-1 on the\n"
    "              bootstrap listener, each keeping 20 in flight end to end;\n"
    "              one operator service (op-1, client certificate) receives them\n"
    "              on the services listener over K connections (default N)\n"
    "              sharing one QoS 1 subscription. With the plugin devices\n"
    "              connect with a proof of possession, without it anonymously.\n"
    "              S seconds per broker (default 5), in up to 5 rounds of\n"
    "              with, without, without, with. Prints messages/s received,\n"
    "              broker CPU (user + system, /proc/PID/stat) per message, and\n"
    "              the ratios with/without, overall and their spread over the\n"
    "              rounds.\n"
    "  connects    M fresh devices per broker (default 200), one at a time,\n"
    "              alternating brokers: a proof of possession with the plugin,\n"
    "              anonymous TLS without. Prints the time from TCP connect to\n"
    "              CONNACK (mean, p50, p99) and broker CPU per connect.\n"
    "\n"
    "By default throughput and connects run, and idle too with --idle C.\n"
    "  --only PART     run only this part: idle (needs --idle C), throughput or\n"
    "                  connects\n"
    "\n"
    "The brokers and this program's clients share the machine's CPUs, so\n"
    "messages/s moves with load; broker CPU per message and its ratio are\n"
    "the steadier figures. /proc counts CPU in clock ticks (10 ms): the\n"
    "per-connect figure is within 10 ms / M.\n"
    "\n"
    "  --subscribers K the service's connections. Mosquitto 2.0 reads one packet\n"
    "                  per connection per loop: one QoS 1 subscriber cannot\n"
    "                  acknowledge as fast as N publishers send, its queue\n"
    "                  overflows and Mosquitto drops messages (then this fails).\n"
    "  --plugin PATH   onramp_plugin.so (default: the one built with this program)\n"
    "\n"
    "What --idle C needs: open files, 1 per connection in the broker and 3 in\n"
    "the clients (libmosquitto's socket and the socket pair every\n"
    "libmosquitto client makes). Before it starts the brokers, which inherit\n"
    "it, the program raises its RLIMIT_NOFILE, the hard limit too if it may\n"
    "(that needs CAP_SYS_RESOURCE, not only root), and spreads the clients over\n"
    "as many worker processes (each one thread with epoll) as that limit\n"
    "needs. It fails saying how many files it needs when a broker cannot have\n"
    "C + 16. The devices connect from 16 loopback addresses (127.0.0.2 to\n"
    "127.0.0.17) to one port, C / 16 ephemeral ports each\n"
    "(net.ipv4.ip_local_port_range; by default 32768-60999, 28232 ports):\n"
    "from one address, past ~14000 connections Linux spends more CPU finding\n"
    "a free port for connect() than the broker spends on the connect. A\n"
    "worker's clients share one TLS context (a device makes its own).\n"
    "Neither Mosquitto (max_connections -1) nor the plugin (max_connects_per_sec\n"
    "0; it has no per-address limit) limits connections in the brokers'\n"
    "configurations.\n"
    "\n"
    "Exit status: 0 measured, 1 something failed (the reason and the brokers'\n"
    "stderr are printed).\n";

/* The parts, as bits of options.parts. */
enum part {
    PART_THROUGHPUT = 1,
    PART_CONNECTS = 2,
    PART_IDLE = 4,
};

struct options {
    int publishers;
    int subscribers; /* 0: as many as publishers */
    double seconds;
    int connects;
    int payload;
    int idle;        /* idle connections per broker; 0: no idle part */
    double hold;     /* seconds they are held after the last CONNACK */
    unsigned parts;  /* enum part bits */
    const char *plugin;
};

/* One broker's measured throughput slices, summed. */
struct tally {
    double wall;
    double broker_cpu;
    double self_cpu;
    unsigned long msgs;
};

/* One broker's connects. */
struct connect_figures {
    double *ms; /* latency of each, TCP connect to CONNACK */
    double sign_s;
    double broker_cpu;
};

static void on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_part(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned part;
    } names[] = {{"idle", PART_IDLE}, {"throughput", PART_THROUGHPUT}, {"connects", PART_CONNECTS}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].part;
            return 0;
        }
    }
    return -1;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (printed). */
static int parse(int argc, char **argv, struct options *o)
{
    unsigned only = 0;
    char *end;
    int i;

    *o = (struct options){8, 0, 5, 200, 64, 0, 5, 0, ONR_BENCH_PLUGIN};
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (v == NULL) {
            bad = 1;
        } else if (strcmp(a, "--publishers") == 0) {
            bad = parse_int(v, 1, BENCH_MAX_PUBLISHERS, &o->publishers);
        } else if (strcmp(a, "--subscribers") == 0) {
            bad = parse_int(v, 1, BENCH_MAX_SUBSCRIBERS, &o->subscribers);
        } else if (strcmp(a, "--connects") == 0) {
            bad = parse_int(v, 1, 100000, &o->connects);
        } else if (strcmp(a, "--payload") == 0) {
            /* at most the plugin's default max_payload */
            bad = parse_int(v, 1, 16384, &o->payload);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(v, &end);
            bad = end == v || *end != '\0' || !(o->seconds >= 0.2 && o->seconds <= 3600);
        } else if (strcmp(a, "--idle") == 0) {
            /* the ephemeral port range is checked before the run */
            bad = parse_int(v, 1, 1000000, &o->idle);
        } else if (strcmp(a, "--hold") == 0) {
            o->hold = strtod(v, &end);
            bad = end == v || *end != '\0' || !(o->hold >= 0 && o->hold <= 3600);
        } else if (strcmp(a, "--only") == 0) {
            bad = parse_part(v, &only);
        } else if (strcmp(a, "--plugin") == 0) {
            o->plugin = v;
            bad = v[0] == '\0' || strlen(v) >= BENCH_PATH_MAX;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr,
                    "onramp-plugin-bench: bad option %s%s%s (--publishers 1..%d, --subscribers "
                    "1..%d, --seconds 0.2..3600, --connects 1..100000, --payload 1..16384, "
                    "--idle 1..1000000, --hold 0..3600, --only idle|throughput|connects)\n%s",
                    a, v != NULL ? " " : "", v != NULL ? v : "", BENCH_MAX_PUBLISHERS,
                    BENCH_MAX_SUBSCRIBERS, usage);
            return -1;
        }
        i++;
    }
    if (only == PART_IDLE && o->idle == 0) {
        fprintf(stderr, "onramp-plugin-bench: --only idle needs --idle C (how many)\n");
        return -1;
    }
    if (only != 0 && only != PART_IDLE && o->idle > 0) {
        fprintf(stderr, "onramp-plugin-bench: --idle C runs the idle part: drop --only, or "
                        "use --only idle\n");
        return -1;
    }
    o->parts = only != 0 ? only : PART_THROUGHPUT | PART_CONNECTS | (o->idle > 0 ? PART_IDLE : 0);
    if (o->subscribers == 0)
        o->subscribers = o->publishers;
    return 0;
}

/* One measured slice: f's publishers run for `seconds`, then drain. */
static int measure_slice(struct bench_fleet *f, struct bench_broker *b, double seconds,
                         int payload, struct tally *t)
{
    unsigned long delivered0 = f->delivered;
    double cpu0;
    double cpu1;
    double self0 = bench_self_cpu();
    double wall0 = bench_now();

    if (bench_broker_cpu(b, &cpu0) != 0 ||
        bench_fleet_run(f, seconds, payload) != 0 ||
        bench_broker_cpu(b, &cpu1) != 0)
        return -1;
    t->wall += bench_now() - wall0;
    t->self_cpu += bench_self_cpu() - self0;
    t->broker_cpu += cpu1 - cpu0;
    t->msgs += f->delivered - delivered0;
    return 0;
}

static int rounds_for(double seconds)
{
    int r = (int)seconds;

    return r < 1 ? 1 : r > MAX_ROUNDS ? MAX_ROUNDS : r;
}

/* Both fleets stay connected; slices alternate between the brokers, so a
 * change in the machine's load hits both alike. round_ratio[r]: broker CPU
 * per message with/without in round r. */
static int throughput(struct bench_broker *b, const struct bench_pki *p,
                      const struct options *o, struct onr_p256_key *const *keys,
                      struct tally *t, double *round_ratio)
{
    static const int order[4] = {0, 1, 1, 0};
    struct bench_fleet *f = calloc(2, sizeof(*f));
    int rounds = rounds_for(o->seconds);
    double slice = o->seconds / (2.0 * rounds);
    struct tally rt[2];
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "onramp-plugin-bench: out of memory\n");
        return -1;
    }
    /* the same device keys, so the same client ids and topics, on both */
    for (int i = 0; i < 2; i++)
        if (bench_fleet_start(&f[i], &b[i], p, o->publishers, o->subscribers, keys) != 0)
            goto out;
    for (int i = 0; i < 2; i++)
        if (bench_fleet_run(&f[i], WARMUP_SECONDS, o->payload) != 0)
            goto out;
    for (int r = 0; r < rounds; r++) {
        memset(rt, 0, sizeof(rt));
        for (int i = 0; i < 4; i++)
            if (measure_slice(&f[order[i]], &b[order[i]], slice, o->payload, &rt[order[i]]) != 0)
                goto out;
        if (rt[0].msgs == 0 || rt[1].msgs == 0) {
            fprintf(stderr, "onramp-plugin-bench: round %d: no messages delivered\n", r + 1);
            goto out;
        }
        for (int i = 0; i < 2; i++) {
            t[i].wall += rt[i].wall;
            t[i].broker_cpu += rt[i].broker_cpu;
            t[i].self_cpu += rt[i].self_cpu;
            t[i].msgs += rt[i].msgs;
        }
        round_ratio[r] = (rt[0].broker_cpu / (double)rt[0].msgs) /
                         (rt[1].broker_cpu / (double)rt[1].msgs);
    }
    rc = 0;
out:
    bench_fleet_stop(&f[0]);
    bench_fleet_stop(&f[1]);
    free(f);
    return rc;
}

static int connects(struct bench_broker *b, const struct bench_pki *p, const struct options *o,
                    struct onr_p256_key *const *keys, struct connect_figures *c)
{
    double cpu0[2];
    double cpu1[2];
    double sign_s;
    double s;

    bench_sleep(SETTLE_SECONDS); /* the fleets' disconnects */
    if (bench_broker_cpu(&b[0], &cpu0[0]) != 0 || bench_broker_cpu(&b[1], &cpu0[1]) != 0)
        return -1;
    for (int i = 0; i < o->connects; i++) {
        for (int j = 0; j < 2; j++) {
            if (bench_connect_once(&b[j], p, keys[i], &sign_s, &s) != 0)
                return -1;
            c[j].ms[i] = s * 1e3;
            c[j].sign_s += sign_s;
        }
    }
    bench_sleep(SETTLE_SECONDS); /* the last disconnects */
    if (bench_broker_cpu(&b[0], &cpu1[0]) != 0 || bench_broker_cpu(&b[1], &cpu1[1]) != 0)
        return -1;
    for (int j = 0; j < 2; j++)
        c[j].broker_cpu = cpu1[j] - cpu0[j];
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]. */
static double percentile(const double *v, int n, int pct)
{
    int rank = (n * pct + 99) / 100;

    return v[rank < 1 ? 0 : rank - 1];
}

static int cpu_count(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void report_setup(void)
{
    int maj;
    int min;
    int rev;

    mosquitto_lib_version(&maj, &min, &rev);
    printf("onramp-plugin-bench: the onramp plugin's cost to mosquitto, measured in one run\n");
    printf("machine: %d CPUs (nproc), shared by both brokers and this program's clients\n",
           cpu_count());
    printf("setup: mosquitto from PATH, one process per broker; loopback; TLS with a P-256 "
           "server key; set_tcp_nodelay; persistence off; clients libmosquitto %d.%d.%d\n",
           maj, min, rev);
}

static void report_throughput(const struct bench_broker *b, const struct options *o,
                              const struct tally *t, double *round_ratio)
{
    int rounds = rounds_for(o->seconds);
    double per_msg[2];

    printf("throughput setup: %d devices publish %d-byte QoS 1 messages on the bootstrap "
           "listener, at most %d each in flight end to end; one operator service receives "
           "them at QoS 1 on the services listener over %d connection%s%s\n",
           o->publishers, o->payload, BENCH_WINDOW, o->subscribers,
           o->subscribers > 1 ? "s" : "", o->subscribers > 1 ? " (shared subscription)" : "");
    printf("throughput setup: %.1f s per broker, in %d round%s of with, without, without, "
           "with plugin\n", o->seconds, rounds, rounds > 1 ? "s" : "");
    for (int i = 0; i < 2; i++) {
        per_msg[i] = t[i].broker_cpu * 1e6 / (double)t[i].msgs;
        printf("%s: messages received: %lu in %.2f s\n", b[i].name, t[i].msgs, t[i].wall);
        printf("%s: throughput: %.0f msg/s\n", b[i].name, (double)t[i].msgs / t[i].wall);
        printf("%s: broker CPU per message: %.2f us\n", b[i].name, per_msg[i]);
        printf("%s: broker capacity at one full CPU (1 / CPU per message): %.0f msg/s\n",
               b[i].name, 1e6 / per_msg[i]);
        printf("%s: broker CPU use: %.0f%% of one CPU\n", b[i].name,
               100 * t[i].broker_cpu / t[i].wall);
        printf("%s: this program's CPU use: %.0f%% of one CPU\n", b[i].name,
               100 * t[i].self_cpu / t[i].wall);
    }
    printf("ratio with/without plugin: throughput: %.3f\n",
           ((double)t[0].msgs / t[0].wall) / ((double)t[1].msgs / t[1].wall));
    printf("ratio with/without plugin: broker CPU per message: %.3f\n", per_msg[0] / per_msg[1]);
    qsort(round_ratio, (size_t)rounds, sizeof(double), cmp_double);
    printf("ratio with/without plugin: broker CPU per message, over %d round%s: median %.3f, "
           "%.3f to %.3f\n", rounds, rounds > 1 ? "s" : "", percentile(round_ratio, rounds, 50),
           round_ratio[0], round_ratio[rounds - 1]);
    printf("plugin's broker CPU per message: %+.2f us (%+.1f%%)\n", per_msg[0] - per_msg[1],
           100 * (per_msg[0] / per_msg[1] - 1));
    if (t[0].broker_cpu < 0.9 * t[0].wall || t[1].broker_cpu < 0.9 * t[1].wall)
        printf("note: a broker used under 90%% of a CPU: msg/s was limited by the clients or "
               "the shared CPUs, not by the broker; compare broker CPU per message\n");
}

static void report_connects(const struct bench_broker *b, const struct options *o,
                            struct connect_figures *c)
{
    static const char *const how[2] = {"proof of possession", "anonymous TLS"};
    double per_connect[2];

    printf("connect setup: %d fresh devices per broker, one at a time, alternating brokers; "
           "latency from TCP connect to CONNACK\n", o->connects);
    for (int i = 0; i < 2; i++) {
        double sum = 0;

        qsort(c[i].ms, (size_t)o->connects, sizeof(double), cmp_double);
        for (int k = 0; k < o->connects; k++)
            sum += c[i].ms[k];
        per_connect[i] = c[i].broker_cpu * 1e6 / o->connects;
        printf("%s (%s): connect latency mean: %.2f ms\n", b[i].name, how[i],
               sum / o->connects);
        printf("%s (%s): connect latency p50: %.2f ms\n", b[i].name, how[i],
               percentile(c[i].ms, o->connects, 50));
        printf("%s (%s): connect latency p99: %.2f ms\n", b[i].name, how[i],
               percentile(c[i].ms, o->connects, 99));
        printf("%s (%s): broker CPU per connect: %.0f us (+-%.0f us: /proc counts %ld ticks/s)\n",
               b[i].name, how[i], per_connect[i],
               1e6 / (double)sysconf(_SC_CLK_TCK) / o->connects, sysconf(_SC_CLK_TCK));
    }
    printf("%s (%s): the device's proof signing, before the TCP connect: %.2f ms mean "
           "(this program's CPU)\n", b[0].name, how[0], c[0].sign_s * 1e3 / o->connects);
    printf("proof of possession: broker CPU per connect: %+.0f us over anonymous TLS\n",
           per_connect[0] - per_connect[1]);
}

/* The idle part on both brokers, one at a time, with the plugin first. */
static int idle(struct bench_broker *b, const struct bench_pki *p, const struct options *o,
                struct onr_p256_key *const *keys, int workers, struct bench_idle *f)
{
    for (int i = 0; i < 2; i++) {
        bench_sleep(SETTLE_SECONDS);
        if (bench_idle_run(&b[i], p, keys, o->idle, workers, o->hold, &f[i]) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_pki p;
    struct bench_broker b[2] = {
        {.name = "with plugin", .with_plugin = 1},
        {.name = "without plugin", .with_plugin = 0},
    };
    struct tally t[2];
    double round_ratio[MAX_ROUNDS];
    struct connect_figures c[2];
    struct bench_idle f[2];
    struct options o;
    struct onr_p256_key **keys = NULL;
    struct sigaction sa;
    double keys_s;
    int workers = 0;
    int nkeys = 0;
    int rc = 1;
    int r;

    memset(&p, 0, sizeof(p));
    memset(t, 0, sizeof(t));
    memset(c, 0, sizeof(c));
    memset(f, 0, sizeof(f));
    r = parse(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if ((o.parts & PART_IDLE) && bench_idle_reserve(o.idle, &workers) != 0)
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();

    /* Device keys up front: making them is not what is measured. The
     * publishers' keys come after the connects', so every connect is a
     * device the broker has never seen; the idle devices' come last. */
    nkeys = o.connects + o.publishers + o.idle;
    keys = calloc((size_t)nkeys, sizeof(*keys));
    c[0].ms = calloc((size_t)o.connects, sizeof(double));
    c[1].ms = calloc((size_t)o.connects, sizeof(double));
    if (keys == NULL || c[0].ms == NULL || c[1].ms == NULL) {
        fprintf(stderr, "onramp-plugin-bench: out of memory\n");
        goto out;
    }
    keys_s = bench_now();
    for (int i = 0; i < nkeys; i++) {
        r = onr_p256_generate(&keys[i]);
        if (r != ONR_OK) {
            fprintf(stderr, "onramp-plugin-bench: device key: %s\n", onr_strerror(r));
            goto out;
        }
    }
    keys_s = bench_now() - keys_s;
    if (bench_pki_make(&p) != 0 ||
        bench_broker_start(&p, o.plugin, &b[0]) != 0 ||
        bench_broker_start(&p, o.plugin, &b[1]) != 0)
        goto out;
    /* Idle first: the brokers' memory before it is a fresh broker's. */
    if ((o.parts & PART_IDLE) &&
        idle(b, &p, &o, keys + o.connects + o.publishers, workers, f) != 0)
        goto out;
    if ((o.parts & PART_THROUGHPUT) &&
        throughput(b, &p, &o, keys + o.connects, t, round_ratio) != 0)
        goto out;
    if ((o.parts & PART_CONNECTS) && connects(b, &p, &o, keys, c) != 0)
        goto out;
    if (!bench_broker_running(&b[0]) || !bench_broker_running(&b[1]))
        goto out;
    report_setup();
    printf("device keys: %d made in %.1f s before the brokers started (not measured)\n", nkeys,
           keys_s);
    if (o.parts & PART_IDLE)
        bench_idle_report(b, f);
    if (o.parts & PART_THROUGHPUT)
        report_throughput(b, &o, t, round_ratio);
    if (o.parts & PART_CONNECTS)
        report_connects(b, &o, c);
    rc = 0;
    for (int i = 0; (o.parts & PART_IDLE) && i < 2; i++) {
        if (f[i].held < f[i].wanted) {
            fprintf(stderr, "onramp-plugin-bench: %s: %d of %d idle connections were not "
                            "held to the end\n", b[i].name, f[i].wanted - f[i].held,
                    f[i].wanted);
            rc = 1;
        }
    }
out:
    if (rc != 0) {
        fprintf(stderr, "onramp-plugin-bench: failed\n");
        for (int i = 0; i < 2; i++)
            if (b[i].stderr_path[0] != '\0')
                bench_broker_print_tail(&b[i]);
    }
    bench_broker_stop(&b[0]);
    bench_broker_stop(&b[1]);
    bench_pki_remove(&p);
    for (int i = 0; keys != NULL && i < nkeys; i++)
        onr_p256_free(keys[i]);
    free(keys);
    free(c[0].ms);
    free(c[1].ms);
    mosquitto_lib_cleanup();
    return rc;
}

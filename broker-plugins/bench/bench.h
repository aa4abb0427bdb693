/*
 * onramp-plugin-bench: what its files share.
 *
 * fixture.c   the throwaway PKI, mosquitto processes, /proc and clocks
 * clients.c   libmosquitto clients driven from one thread with poll()
 * plugin_bench.c  options, the measurements, the report
 */
#ifndef ONRAMP_PLUGIN_BENCH_H
#define ONRAMP_PLUGIN_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_PATH_MAX 512
#define BENCH_MAX_PUBLISHERS 64
#define BENCH_MAX_SUBSCRIBERS 64
/* QoS 1 messages a publisher has in flight end to end (published, not yet
 * received by the subscriber): libmosquitto's default send maximum. */
#define BENCH_WINDOW 20
#define BENCH_BROKER_NAME "bench-1"
/* The operator service op-1: client ids op.op-1.{k}; with more than one
 * connection they share the subscription. */
#define BENCH_SERVICE_ID "op.op-1"
#define BENCH_SERVICE_FILTER "onr/1/d/+/up/op/op-1"
#define BENCH_SHARED_FILTER "$share/bench/" BENCH_SERVICE_FILTER

struct onr_p256_key;
struct mosquitto;

/* The throwaway PKI, in a temporary directory that also holds the brokers'
 * configurations, stderr and grants file. */
struct bench_pki {
    char dir[BENCH_PATH_MAX];
    char ca[BENCH_PATH_MAX];          /* services CA; also issued the server cert */
    char server_cert[BENCH_PATH_MAX]; /* P-256, SAN localhost and 127.0.0.1 */
    char server_key[BENCH_PATH_MAX];
    char operator_cert[BENCH_PATH_MAX]; /* OU=operator CN=op-1 */
    char operator_key[BENCH_PATH_MAX];
};

/* One mosquitto process. */
struct bench_broker {
    const char *name;   /* "with plugin" or "without plugin" */
    int with_plugin;
    int bootstrap_port; /* TLS, no client certificate: devices */
    int services_port;  /* TLS, client certificate from the services CA */
    pid_t pid;          /* 0 when not running */
    char conf[BENCH_PATH_MAX];
    char stderr_path[BENCH_PATH_MAX];
};

/* --- fixture.c --- */

/* bench_pki_make: a new temporary directory with the CA, the broker's TLS
 * certificate and the operator's client certificate, made with Onramp's
 * X.509 code. Returns 0, or -1 after printing why. */
int bench_pki_make(struct bench_pki *p);

/* bench_pki_remove: delete the directory and everything in it (keys
 * included). Accepts a PKI whose directory was never made. */
void bench_pki_remove(struct bench_pki *p);

/* bench_broker_start: write b's configuration (plugin from `plugin` if
 * b->with_plugin), start `mosquitto -c` on free loopback ports and wait
 * until both listeners accept. Returns 0, or -1 after printing why (b->pid
 * is then 0). */
int bench_broker_start(const struct bench_pki *p, const char *plugin, struct bench_broker *b);

/* bench_broker_running: 1 if b's process is still running; otherwise 0,
 * after printing how it ended. */
int bench_broker_running(struct bench_broker *b);

/* bench_broker_stop: SIGTERM, wait up to 5 s, then SIGKILL; reaps it.
 * Accepts a broker that is not running. */
void bench_broker_stop(struct bench_broker *b);

/* bench_broker_print_tail: the last lines of b's stderr, to stderr. */
void bench_broker_print_tail(const struct bench_broker *b);

/* bench_broker_cpu: CPU seconds (user + system, /proc/PID/stat) b's process
 * has used, into *seconds. Returns 0 or -1. */
int bench_broker_cpu(const struct bench_broker *b, double *seconds);

/* Seconds on the monotonic clock; CPU seconds this process has used. */
double bench_now(void);
double bench_self_cpu(void);
void bench_sleep(double seconds);

/* Set by SIGINT/SIGTERM: stop measuring, clean up, exit 1. */
extern volatile int bench_interrupted;

/* --- clients.c --- */

struct bench_fleet;

/* A client of the benchmark. Counters are updated by libmosquitto's
 * callbacks while bench_pump runs. */
struct bench_client {
    struct mosquitto *mosq;
    struct bench_fleet *fleet; /* NULL for a lone connect */
    const char *what;          /* "publisher", "subscriber", "device" */
    int index;                 /* publisher: payload[0] of its messages */
    int is_subscriber;
    int connack;               /* -1 until the CONNACK, then its reason code */
    int suback;                /* -1 until the SUBACK, then the granted QoS or reason */
    int lost;                  /* -1 while connected; the reason it was disconnected */
    int refusal;               /* the last PUBACK reason code >= 128 */
    unsigned long sent;        /* published */
    unsigned long done;        /* received by the subscriber */
    unsigned long refused;     /* PUBACK with a reason code >= 128 */
    char topic[96];
};

/* N devices publishing to their up topic on a broker's bootstrap listener,
 * and one operator service receiving all of it on the services listener
 * over K connections. */
struct bench_fleet {
    const struct bench_broker *broker;
    int publishers;
    int subscribers;
    struct bench_client pub[BENCH_MAX_PUBLISHERS];
    struct bench_client sub[BENCH_MAX_SUBSCRIBERS];
    unsigned long delivered; /* messages the subscribers received */
    unsigned long strays;    /* of those, ones naming no publisher of this fleet */
};

/* bench_fleet_start: connect `publishers` devices with `keys` (borrowed:
 * with proofs if the broker has the plugin, anonymously otherwise) and
 * `subscribers` connections of the service, and subscribe. Returns 0 or
 * -1 after printing why; on -1, call bench_fleet_stop all the same. */
int bench_fleet_start(struct bench_fleet *f, const struct bench_broker *b,
                      const struct bench_pki *p, int publishers, int subscribers,
                      struct onr_p256_key *const *keys);

/* bench_fleet_run: publishers keep BENCH_WINDOW messages of `payload_len`
 * bytes in flight end to end for `seconds`, then stop and wait until every
 * message has reached the subscriber. Returns 0 or -1 after printing why. */
int bench_fleet_run(struct bench_fleet *f, double seconds, int payload_len);

/* bench_fleet_stop: disconnect and free every client. Accepts a fleet
 * that never started (zeroed). */
void bench_fleet_stop(struct bench_fleet *f);

/* bench_connect_once: connect a new device with `key` (borrowed) to b's
 * bootstrap listener, with a fresh proof of possession if b has the plugin,
 * anonymously otherwise; wait for the CONNACK, then disconnect.
 * *sign_s: seconds spent making the proof (0 without the plugin);
 * *connack_s: from the start of the TCP connect to the CONNACK.
 * Returns 0 or -1 after printing why. */
int bench_connect_once(const struct bench_broker *b, const struct bench_pki *p,
                       const struct onr_p256_key *key, double *sign_s, double *connack_s);

#endif /* ONRAMP_PLUGIN_BENCH_H */

/*
 * onramp-plugin-bench: what its files share.
 *
 * fixture.c   the throwaway PKI, mosquitto processes, /proc and clocks
 * clients.c   libmosquitto clients driven from one thread with poll()
 * idle.c      a worker process holding many idle devices (epoll)
 * idle_run.c  the idle part: workers, the broker's memory, the report
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
/* MQTT keepalive, seconds, of the throughput and connects clients. */
#define BENCH_KEEPALIVE 60
/* The idle part: keepalive long enough that held connections send
 * nothing; connects in progress at once, well under Mosquitto's listen
 * backlog (100); loopback addresses the devices connect from,
 * 127.0.0.2 and up, device i from the (i % BENCH_IDLE_SOURCES)-th (why:
 * idle.c). */
#define BENCH_IDLE_KEEPALIVE 600
#define BENCH_IDLE_WINDOW 50
#define BENCH_IDLE_SOURCES 16
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

/* bench_broker_stop: bench_stop_child with 5 s. Accepts a broker that is
 * not running. */
void bench_broker_stop(struct bench_broker *b);

/* bench_stop_child: end the child process *pid (SIGTERM, then SIGKILL
 * after `seconds`), reap it and set *pid to 0. Nothing when *pid <= 0. */
void bench_stop_child(pid_t *pid, double seconds);

/* bench_broker_print_tail: the last lines of b's stderr, to stderr. */
void bench_broker_print_tail(const struct bench_broker *b);

/* bench_broker_cpu: CPU seconds (user + system, /proc/PID/stat) b's process
 * has used, into *seconds. Returns 0 or -1. */
int bench_broker_cpu(const struct bench_broker *b, double *seconds);

/* bench_rss: VmRSS (/proc/PID/status) of process `pid`, or of this process
 * if pid is 0, into *kib. Returns 0, or -1 after printing why. */
int bench_rss(pid_t pid, long *kib);

/* bench_broker_files: how many files (sockets included) b's process has
 * open, counted in /proc/PID/fd, into *count. Returns 0, or -1 after
 * printing why. */
int bench_broker_files(const struct bench_broker *b, long *count);

/* bench_files_raise: let this process, and the processes it starts
 * afterwards (they inherit it), open `wanted` files if it may: raise the
 * soft RLIMIT_NOFILE, and the hard one when it is lower (that needs
 * CAP_SYS_RESOURCE); when the hard one cannot be raised, raise the soft
 * one to it, and set *refused to the errno of the refusal (else 0).
 * *limit: the soft limit now in effect (LONG_MAX for none). Returns 0, or
 * -1 after printing why the limit could not be read. */
int bench_files_raise(long wanted, long *limit, int *refused);

/* bench_local_ports: how many ephemeral ports the kernel hands out
 * (net.ipv4.ip_local_port_range), into *count, the range into *lo and
 * *hi. Returns 0, or -1 after printing why. */
int bench_local_ports(long *count, long *lo, long *hi);

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

/* bench_client_init: a zeroed client of fleet `f` (may be NULL), with no
 * CONNACK, SUBACK or loss yet; `what` (static) and `index` name it in
 * messages. */
void bench_client_init(struct bench_client *c, struct bench_fleet *f, const char *what,
                       int index);

/* bench_client_close: send DISCONNECT if still connected, then free the
 * libmosquitto client. Accepts a client without one. */
void bench_client_close(struct bench_client *c);

/* How a device connects (bench_device_connect). */
struct bench_device_opts {
    void *tls;          /* NULL: a TLS context of the client's own, made from the
                         * CA file as a device does (mosquitto_tls_set); else
                         * one from bench_tls_new (borrowed; libmosquitto holds
                         * a reference while the client lives) */
    const char *source; /* NULL: the kernel picks (127.0.0.1); else the loopback
                         * address to connect from (copied) */
    int keepalive;      /* MQTT keepalive, seconds */
};

/* bench_device_connect: start connecting c (made by bench_client_init) as
 * the device with `key` (borrowed) to b's bootstrap listener, with a fresh
 * proof of possession in CONNECT if b has the plugin, anonymously
 * otherwise; TLS without a client certificate; as `how` says (borrowed).
 * The TCP connect is done here (libmosquitto's, blocking; on loopback it
 * completes at once while the listen queue has room); the TLS handshake
 * and the CONNACK come through the client's loop (c->connack).
 * *sign_s: seconds spent making the proof (0 without the plugin);
 * *connect_at: bench_now() just before the TCP connect. Returns 0, or -1
 * after printing why (c->mosq may then be set: bench_client_close it). */
int bench_device_connect(struct bench_client *c, const struct bench_broker *b,
                         const struct bench_pki *p, const struct onr_p256_key *key,
                         const struct bench_device_opts *how, double *sign_s,
                         double *connect_at);

/* bench_tls_new: a TLS client context (an OpenSSL SSL_CTX) for many
 * devices to share: it trusts p's CA only, checks that the broker's
 * certificate names 127.0.0.1, and releases idle buffers, as the context
 * libmosquitto makes for mosquitto_tls_set does. NULL after printing why.
 * bench_tls_free: drop this reference (clients may still hold theirs);
 * accepts NULL. */
void *bench_tls_new(const struct bench_pki *p);
void bench_tls_free(void *tls);

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

/* --- idle.c: one worker process's idle devices --- */

/* What a worker tells the idle part, one message per phase, written
 * whole (under PIPE_BUF) to its report pipe. */
enum bench_idle_phase {
    BENCH_IDLE_OPENED = 1, /* all its devices have their CONNACK, or it failed */
    BENCH_IDLE_HELD,       /* after BENCH_IDLE_CMD_CHECK: how many are still connected */
    BENCH_IDLE_CLOSED,     /* after BENCH_IDLE_CMD_CLOSE: all closed */
};

struct bench_idle_msg {
    int phase;      /* enum bench_idle_phase */
    int status;     /* 0, or -1: the worker failed (it printed why) */
    int held;       /* connected now */
    int dropped;    /* lost after their CONNACK */
    double sign_s;  /* OPENED: seconds spent making proofs */
    double cpu;     /* OPENED: the worker's CPU seconds since it started */
    long rss_start; /* the worker's VmRSS, KiB, when it started */
    long rss;       /* its VmRSS now */
};

/* Commands to a worker, one byte each on its command pipe. End of file
 * there, or SIGTERM, closes as BENCH_IDLE_CMD_CLOSE does, unreported. */
#define BENCH_IDLE_CMD_CHECK 'v'
#define BENCH_IDLE_CMD_CLOSE 'c'

/* bench_idle_worker: in a child process: connect the devices of
 * keys[first .. first + n - 1] (borrowed, distinct) to b's bootstrap
 * listener (bench_device_connect, keepalive BENCH_IDLE_KEEPALIVE, device i
 * from source address BENCH_IDLE_SOURCES), at most `window` connecting at once,
 * all from one thread with epoll; report BENCH_IDLE_OPENED on report_fd
 * once all have their CONNACK (status -1 and exit if one cannot be made:
 * refused, failed, no CONNACK for 10 s); then keep them, answering
 * commands from cmd_fd. Exits 0 after closing them on
 * BENCH_IDLE_CMD_CLOSE, 1 otherwise. */
void bench_idle_worker(const struct bench_broker *b, const struct bench_pki *p,
                       struct onr_p256_key *const *keys, int first, int n, int window,
                       int cmd_fd, int report_fd) __attribute__((noreturn));

/* --- idle_run.c: the idle part --- */

/* One broker's idle part: what was opened, held and measured. */
struct bench_idle {
    int wanted;          /* connections asked for */
    int workers;         /* client processes they were spread over */
    int held;            /* connected at the end of the hold */
    int dropped;         /* connections lost after their CONNACK */
    double open_s;       /* start to the last CONNACK */
    double sign_s;       /* the workers making proofs, summed */
    double clients_cpu;  /* the workers' CPU seconds during open_s, summed */
    double broker_cpu;   /* the broker's CPU seconds during open_s */
    double hold_s;       /* how long all were held after the last CONNACK */
    double hold_cpu;     /* the broker's CPU seconds during hold_s */
    double close_s;      /* closing all until the broker's files were back */
    long rss_before;     /* broker VmRSS, KiB, before the first connect */
    long rss_held;       /* broker VmRSS, KiB, with all held */
    long files_before;   /* broker's open files before the first connect */
    long files_held;     /* and with all held */
    long files_after;    /* and after closing them (close_s) */
    long clients_rss;    /* the workers' VmRSS growth, KiB, summed */
};

/*
 * bench_idle_reserve: before the brokers start (they inherit the file
 * limit): can `n` idle connections be had? n ephemeral ports from
 * 127.0.0.1 to one port; n + BENCH_IDLE_BROKER_FILES files in a broker;
 * 3 files per connection in the client workers (libmosquitto's socket
 * and its socket pair). Raises RLIMIT_NOFILE (bench_files_raise) and sets
 * *workers to how many worker processes the connections need under it.
 * Returns 0, or -1 after printing what is needed.
 */
#define BENCH_IDLE_BROKER_FILES 16 /* a broker's own files and a margin */
int bench_idle_reserve(int n, int *workers);

/*
 * bench_idle_run: `n` devices with keys[0..n-1] (borrowed, distinct)
 * connected to b's bootstrap listener at the same time, spread over
 * `workers` child processes (bench_idle_worker) with BENCH_IDLE_WINDOW
 * connecting at once in all; held `hold` seconds more, counted, then
 * closed, waiting until the broker has closed its sockets. Fills *out.
 * Returns 0 when it measured (connections lost while held are counted in
 * out->dropped, not an error); -1 after printing why when a connection
 * could not be made, a worker failed, or on an interruption. Every worker
 * has ended when it returns.
 */
int bench_idle_run(const struct bench_broker *b, const struct bench_pki *p,
                   struct onr_p256_key *const *keys, int n, int workers, double hold,
                   struct bench_idle *out);

/* bench_idle_report: the idle part's lines for both brokers (b[0] with
 * the plugin, b[1] without), to stdout. */
void bench_idle_report(const struct bench_broker *b, const struct bench_idle *f);

#endif /* ONRAMP_PLUGIN_BENCH_H */

/*
 * An idle part's worker: a child process that connects its share of the
 * idle devices to one broker, keeps them connected while the part
 * measures the broker, and closes them when told (idle_run.c).
 *
 * Each is a real device: its own key and client id, TLS without a client
 * certificate, a fresh proof of possession in CONNECT on the plugin's
 * broker, anonymous TLS on the other (bench_device_connect, as in the
 * connects part). One difference, invisible to the broker: the worker's
 * clients share one TLS context (bench_tls_new), where a device makes its
 * own from the CA file (mosquitto_tls_set); with OpenSSL 3 each of those
 * costs ~0.3 ms of CPU, close to a third of the broker's CPU per connect,
 * on the CPUs the broker needs.
 *
 * The devices connect from BENCH_IDLE_SOURCES loopback addresses, not
 * all from 127.0.0.1. 20,000 connections from one address to one port
 * fit in the ephemeral port range (28,232 ports by default), but Linux
 * looks for a free port for connect() by walking the ports of one parity
 * and then of the other, checking each against the established
 * connections: past ~14,000 connections every connect() walked thousands
 * of taken ports, and half this program's CPU went there. Bound to an
 * address of its own (bind() picks the port), a client finds a free port
 * at once. The broker sees the same connections.
 *
 * The keepalive (BENCH_IDLE_KEEPALIVE) is longer than a usual hold, so a
 * held connection sends nothing; mosquitto_loop_misc still runs every
 * MISC_SECONDS, so a longer hold sends PINGREQs and reads the answers.
 *
 * One thread and one epoll set rather than poll(): a poll() over
 * thousands of sockets per loop would cost more than the work. Each
 * socket is watched for EPOLLIN (a drop shows as EOF), plus EPOLLOUT while
 * libmosquitto has something to write. Connects in progress are capped
 * (`window`): Mosquitto listens with a backlog of 100 and libmosquitto's
 * TCP connect blocks, so a full accept queue would stall the loop for a
 * SYN retransmission.
 *
 * While its TLS handshake is in progress, a client has its CONNECT queued
 * (mosquitto_want_write is true) but libmosquitto will not write it
 * before the handshake is done, which takes a read. Watching EPOLLOUT
 * then would spin on a CPU the broker needs, so a client whose write left
 * it still wanting to write is "parked": EPOLLOUT is watched again after
 * its next read. On loopback, a few hundred bytes never wait for socket
 * buffer space.
 */
#include "bench.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define STALL_SECONDS 10.0 /* no CONNACK for this long while connecting: fail */
#define MISC_SECONDS 10.0  /* mosquitto_loop_misc for every held client */
#define MAX_EVENTS 256
#define DROPS_LOGGED 5

/* A device of the worker. Its bench_client is what libmosquitto's
 * callbacks get; data.ptr of its epoll registration is this. */
struct idle_client {
    struct bench_client c;
    uint32_t events; /* what its socket is registered for; 0: not registered */
    bool parked;     /* EPOLLOUT not watched until its next read */
};

struct worker {
    const struct bench_broker *b;
    struct idle_client *cl;
    int epfd;
    int cmd_fd;
    void *tls;        /* the TLS context its clients share */
    int first;        /* its devices are first .. first + n - 1 */
    int n;
    int started;
    int connecting;   /* started, no CONNACK yet */
    int held;         /* CONNACK 0, not lost since */
    int dropped;      /* lost after their CONNACK */
    bool check_asked; /* BENCH_IDLE_CMD_CHECK came */
    bool close_asked; /* BENCH_IDLE_CMD_CLOSE, or the end of the command pipe */
    double progress;  /* bench_now() of the last CONNACK */
};

static void idle_fail(const struct worker *w, const struct idle_client *ic, const char *what,
                      const char *why)
{
    fprintf(stderr, "onramp-plugin-bench: %s: idle device %d: %s: %s\n", w->b->name,
            ic->c.index, what, why);
}

/* Register or update what ic's socket is watched for. */
static int watch(struct worker *w, struct idle_client *ic)
{
    struct epoll_event ev;
    int fd = mosquitto_socket(ic->c.mosq);

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP;
    if (!ic->parked && mosquitto_want_write(ic->c.mosq))
        ev.events |= EPOLLOUT;
    if (ev.events == ic->events)
        return 0;
    ev.data.ptr = ic;
    if (epoll_ctl(w->epfd, ic->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0) {
        idle_fail(w, ic, "epoll_ctl", strerror(errno));
        return -1;
    }
    ic->events = ev.events;
    return 0;
}

/* Start connecting the next device. */
static int start(struct worker *w, const struct bench_pki *p, const struct onr_p256_key *key,
                 double *sign_s)
{
    struct idle_client *ic = &w->cl[w->started];
    int device = w->first + w->started;
    char source[16];
    struct bench_device_opts how = {w->tls, source, BENCH_IDLE_KEEPALIVE};
    double sign;
    double at;

    snprintf(source, sizeof(source), "127.0.0.%d", 2 + device % BENCH_IDLE_SOURCES);
    bench_client_init(&ic->c, NULL, "idle device", device);
    w->started++;
    if (bench_device_connect(&ic->c, w->b, p, key, &how, &sign, &at) != 0)
        return -1;
    *sign_s += sign;
    w->connecting++;
    return watch(w, ic);
}

/*
 * After I/O on ic (rc: what libmosquitto returned; admitted: it had its
 * CONNACK before): count its CONNACK or its loss, and watch what it needs
 * next. -1 after printing why if it failed before it was admitted.
 */
static int settle(struct worker *w, struct idle_client *ic, int rc, bool admitted)
{
    struct bench_client *c = &ic->c;
    int fd = mosquitto_socket(c->mosq);
    int why = rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_CONN_LOST;

    if (c->connack > 0) {
        idle_fail(w, ic, "CONNACK", mosquitto_reason_string(c->connack));
        return -1;
    }
    if (rc == MOSQ_ERR_SUCCESS && c->lost < 0 && fd >= 0) {
        if (!admitted && c->connack == 0) {
            w->connecting--;
            w->held++;
            w->progress = bench_now();
        }
        return watch(w, ic);
    }
    if (!admitted) {
        idle_fail(w, ic, "connection", mosquitto_strerror(why));
        return -1;
    }
    /* c->lost: an MQTT reason code (128 and up) when the broker sent
     * DISCONNECT, else a MOSQ_ERR_* code */
    if (c->lost >= 128)
        why = -1;
    else if (c->lost > 0)
        why = c->lost;
    if (w->dropped < DROPS_LOGGED)
        idle_fail(w, ic, "disconnected while held",
                  why < 0 ? mosquitto_reason_string(c->lost) : mosquitto_strerror(why));
    if (fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
    ic->events = 0;
    w->held--;
    w->dropped++;
    return 0;
}

/* A command byte, or the end of the command pipe. */
static void on_command(struct worker *w)
{
    char cmd;
    ssize_t r = read(w->cmd_fd, &cmd, 1);

    if (r < 0 && errno == EINTR)
        return;
    if (r == 1 && cmd == BENCH_IDLE_CMD_CHECK)
        w->check_asked = true;
    else
        w->close_asked = true;
}

/* Wait up to timeout_ms for ready sockets and serve them. */
static int serve(struct worker *w, int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int k = epoll_wait(w->epfd, ev, MAX_EVENTS, timeout_ms);

    if (k < 0 && errno != EINTR) {
        fprintf(stderr, "onramp-plugin-bench: epoll_wait: %s\n", strerror(errno));
        return -1;
    }
    for (int i = 0; i < k; i++) {
        struct idle_client *ic = ev[i].data.ptr;
        bool admitted;
        int rc = MOSQ_ERR_SUCCESS;

        if (ic == NULL) {
            on_command(w);
            continue;
        }
        if (ic->events == 0)
            continue; /* dropped earlier in this batch */
        admitted = ic->c.connack == 0;
        if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            rc = mosquitto_loop_read(ic->c.mosq, 1);
            ic->parked = false;
        }
        if (rc == MOSQ_ERR_SUCCESS && ic->c.lost < 0 && (ev[i].events & EPOLLOUT)) {
            rc = mosquitto_loop_write(ic->c.mosq, 1);
            ic->parked = mosquitto_want_write(ic->c.mosq);
        }
        if (settle(w, ic, rc, admitted) != 0)
            return -1;
    }
    return 0;
}

/* Open all, at most `window` connecting at once. */
static int open_all(struct worker *w, const struct bench_pki *p,
                    struct onr_p256_key *const *keys, int window, double *sign_s)
{
    w->progress = bench_now();
    while (w->held + w->dropped < w->n) {
        while (w->started < w->n && w->connecting < window)
            if (start(w, p, keys[w->started], sign_s) != 0)
                return -1;
        if (serve(w, 100) != 0)
            return -1;
        if (bench_interrupted || w->close_asked)
            return -1; /* the idle part is ending: it says why */
        if (bench_now() - w->progress > STALL_SECONDS) {
            fprintf(stderr,
                    "onramp-plugin-bench: %s: no CONNACK for %.0f s with %d connecting and %d "
                    "held (is the broker out of files? see its stderr)\n",
                    w->b->name, STALL_SECONDS, w->connecting, w->held);
            return -1;
        }
    }
    return 0;
}

/* Keep the devices until told to close; answer BENCH_IDLE_CMD_CHECK. */
static int keep(struct worker *w, int report_fd, struct bench_idle_msg *m)
{
    double next_misc = bench_now() + MISC_SECONDS;

    while (!w->close_asked) {
        if (bench_interrupted)
            return -1;
        if (serve(w, 100) != 0)
            return -1;
        if (w->check_asked) {
            w->check_asked = false;
            if (serve(w, 0) != 0)
                return -1;
            m->phase = BENCH_IDLE_HELD;
            m->held = w->held;
            m->dropped = w->dropped;
            if (bench_rss(0, &m->rss) != 0 || write(report_fd, m, sizeof(*m)) != sizeof(*m))
                return -1;
        }
        if (bench_now() >= next_misc) {
            for (int i = 0; i < w->started; i++)
                if (w->cl[i].events != 0)
                    mosquitto_loop_misc(w->cl[i].c.mosq);
            next_misc = bench_now() + MISC_SECONDS;
        }
    }
    return 0;
}

void bench_idle_worker(const struct bench_broker *b, const struct bench_pki *p,
                       struct onr_p256_key *const *keys, int first, int n, int window,
                       int cmd_fd, int report_fd)
{
    struct bench_idle_msg m;
    struct epoll_event ev;
    struct worker w;
    double cpu0 = bench_self_cpu();
    int status = 1;

    memset(&m, 0, sizeof(m));
    memset(&w, 0, sizeof(w));
    memset(&ev, 0, sizeof(ev));
    w.b = b;
    w.first = first;
    w.n = n;
    w.cmd_fd = cmd_fd;
    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    w.tls = bench_tls_new(p);
    w.cl = calloc((size_t)n, sizeof(*w.cl));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the command pipe */
    if (w.tls == NULL) {
        m.status = -1; /* bench_tls_new said why */
    } else if (w.epfd < 0 || w.cl == NULL ||
               epoll_ctl(w.epfd, EPOLL_CTL_ADD, cmd_fd, &ev) != 0) {
        fprintf(stderr, "onramp-plugin-bench: idle worker: %s\n",
                w.cl == NULL ? "out of memory" : strerror(errno));
        m.status = -1;
    }
    m.phase = BENCH_IDLE_OPENED;
    if (m.status == 0 &&
        (bench_rss(0, &m.rss_start) != 0 ||
         open_all(&w, p, keys + first, window, &m.sign_s) != 0 ||
         bench_rss(0, &m.rss) != 0))
        m.status = -1;
    m.held = w.held;
    m.cpu = bench_self_cpu() - cpu0;
    if (write(report_fd, &m, sizeof(m)) == sizeof(m) && m.status == 0 &&
        keep(&w, report_fd, &m) == 0)
        status = 0;
    for (int i = 0; w.cl != NULL && i < w.started; i++)
        bench_client_close(&w.cl[i].c);
    if (status == 0) {
        m.phase = BENCH_IDLE_CLOSED;
        if (write(report_fd, &m, sizeof(m)) != sizeof(m))
            status = 1;
    }
    free(w.cl);
    bench_tls_free(w.tls);
    if (w.epfd >= 0)
        close(w.epfd);
    fflush(NULL);
    _exit(status);
}

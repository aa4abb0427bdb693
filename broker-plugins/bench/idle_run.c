/*
 * The idle part: many devices connected to one broker at the same time
 * and held idle, for the broker's memory per connection; with the plugin
 * (a proof of possession each) and without (anonymous TLS).
 *
 * The devices are spread over worker processes (idle.c), each one thread
 * with an epoll loop, because one process may not hold them all: every
 * libmosquitto client holds 3 files (its socket and a socket pair it
 * makes to wake its own loop), and RLIMIT_NOFILE is a per-process limit
 * whose hard value only CAP_SYS_RESOURCE can raise. With enough files,
 * one worker holds them all.
 *
 * This process only coordinates and measures the broker: VmRSS
 * (/proc/PID/status) and open files (/proc/PID/fd) before the first
 * connect and with all held, CPU (/proc/PID/stat) over the opening and
 * the hold. Workers are stopped by PID.
 */
#define _GNU_SOURCE /* prctl's PR_SET_PDEATHSIG with _POSIX_C_SOURCE */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPARE_PORTS 1000         /* ephemeral ports left to everything else */
#define WORKER_SPARE_FILES 64    /* a worker's files besides its connections */
#define FILES_PER_CLIENT 3       /* libmosquitto's socket and its socket pair */
#define REPLY_SECONDS 60.0       /* for a worker to answer a command */
#define CLOSE_WAIT_SECONDS 30.0  /* for the broker to close its sockets */
#define STOP_SECONDS 5.0         /* for a worker to end after SIGTERM */

struct worker {
    pid_t pid;  /* 0 once reaped */
    int cmd;    /* write end of its command pipe; -1 when closed */
    int report; /* read end of its report pipe; -1 when closed */
    int first;  /* its devices: keys[first .. first + n - 1] */
    int n;
    struct bench_idle_msg msg; /* its last report */
};

int bench_idle_reserve(int n, int *workers)
{
    long wanted = (long)FILES_PER_CLIENT * n + WORKER_SPARE_FILES;
    long per_worker;
    long ports;
    long limit;
    long lo;
    long hi;
    int refused;

    if (bench_local_ports(&ports, &lo, &hi) != 0)
        return -1;
    if ((n + BENCH_IDLE_SOURCES - 1) / BENCH_IDLE_SOURCES > ports - SPARE_PORTS) {
        fprintf(stderr,
                "onramp-plugin-bench: --idle %d needs %d ephemeral ports on each of %d source "
                "addresses to one port; the range is %ld-%ld (%ld ports, %d kept spare): "
                "lower --idle or widen net.ipv4.ip_local_port_range\n",
                n, (n + BENCH_IDLE_SOURCES - 1) / BENCH_IDLE_SOURCES, BENCH_IDLE_SOURCES, lo,
                hi, ports, SPARE_PORTS);
        return -1;
    }
    if (bench_files_raise(wanted, &limit, &refused) != 0)
        return -1;
    if (limit < (long)n + BENCH_IDLE_BROKER_FILES) {
        fprintf(stderr,
                "onramp-plugin-bench: --idle %d needs %ld open files in the broker (one per "
                "connection, %d of its own and spare), but RLIMIT_NOFILE is %ld%s%s%s: at "
                "most --idle %ld here. Raise the hard limit (ulimit -Hn; needs "
                "CAP_SYS_RESOURCE) or ask for fewer.\n",
                n, (long)n + BENCH_IDLE_BROKER_FILES, BENCH_IDLE_BROKER_FILES, limit,
                refused != 0 ? " and raising it was refused (" : "",
                refused != 0 ? strerror(refused) : "", refused != 0 ? ")" : "",
                limit - BENCH_IDLE_BROKER_FILES);
        return -1;
    }
    per_worker = (limit - WORKER_SPARE_FILES) / FILES_PER_CLIENT;
    *workers = (int)((n + per_worker - 1) / per_worker);
    return 0;
}

/* Close a worker's pipes; end it (SIGTERM, then SIGKILL) and reap it. */
static void worker_stop(struct worker *w)
{
    if (w->cmd >= 0)
        close(w->cmd);
    if (w->report >= 0)
        close(w->report);
    w->cmd = w->report = -1;
    bench_stop_child(&w->pid, STOP_SECONDS);
}

/* Fork worker i; the child closes every other worker's pipes. */
static int worker_start(struct worker *w, int i, const struct bench_broker *b,
                        const struct bench_pki *p, struct onr_p256_key *const *keys,
                        int window)
{
    int cmd[2];
    int report[2];
    pid_t pid;

    if (pipe(cmd) != 0) {
        fprintf(stderr, "onramp-plugin-bench: pipe: %s\n", strerror(errno));
        return -1;
    }
    if (pipe(report) != 0) {
        fprintf(stderr, "onramp-plugin-bench: pipe: %s\n", strerror(errno));
        close(cmd[0]);
        close(cmd[1]);
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(cmd[1]);
        close(report[0]);
        for (int k = 0; k < i; k++) {
            close(w[k].cmd);
            close(w[k].report);
        }
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        bench_idle_worker(b, p, keys, w[i].first, w[i].n, window, cmd[0], report[1]);
    }
    close(cmd[0]);
    close(report[1]);
    if (pid < 0) {
        fprintf(stderr, "onramp-plugin-bench: fork: %s\n", strerror(errno));
        close(cmd[1]);
        close(report[0]);
        return -1;
    }
    w[i].pid = pid;
    w[i].cmd = cmd[1];
    w[i].report = report[0];
    return 0;
}

/* Send `cmd` to every worker. */
static int command(struct worker *w, int count, char cmd)
{
    for (int i = 0; i < count; i++) {
        if (write(w[i].cmd, &cmd, 1) != 1) {
            fprintf(stderr, "onramp-plugin-bench: idle worker %d: %s\n", i, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/*
 * Read one report of `phase` from every worker, waiting up to `seconds`
 * (0: as long as it takes; the workers time out themselves). With
 * `phase` 0, expect none: return 0 after `seconds`, -1 if a worker
 * reports or ends meanwhile.
 */
static int collect(const struct bench_broker *b, struct worker *w, int count, int phase,
                   double seconds)
{
    struct pollfd fds[64];
    double deadline = bench_now() + seconds;
    int left = phase != 0 ? count : -1;
    char got[64] = {0};
    ssize_t r;

    if (phase == 0 && seconds <= 0)
        return 0;
    while (left != 0) {
        double now = bench_now();
        int ms = seconds > 0 ? (int)((deadline - now) * 1000) + 1 : 100;

        if (bench_interrupted) {
            fprintf(stderr, "onramp-plugin-bench: interrupted\n");
            return -1;
        }
        if (seconds > 0 && now >= deadline) {
            if (phase == 0)
                return 0;
            fprintf(stderr, "onramp-plugin-bench: %s: %d idle workers did not answer in %.0f "
                            "s\n", b->name, left, seconds);
            return -1;
        }
        for (int i = 0; i < count; i++) {
            fds[i].fd = got[i] ? -1 : w[i].report;
            fds[i].events = POLLIN;
            fds[i].revents = 0;
        }
        if (poll(fds, (nfds_t)count, ms < 100 ? ms : 100) < 0 && errno != EINTR) {
            fprintf(stderr, "onramp-plugin-bench: poll: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < count; i++) {
            if (fds[i].revents == 0)
                continue;
            r = read(w[i].report, &w[i].msg, sizeof(w[i].msg));
            if (r != sizeof(w[i].msg) || w[i].msg.status != 0 || w[i].msg.phase != phase) {
                if (r == sizeof(w[i].msg) && w[i].msg.status == 0)
                    fprintf(stderr, "onramp-plugin-bench: %s: idle worker %d: unexpected "
                                    "report\n", b->name, i);
                else if (r >= 0 && r != sizeof(w[i].msg))
                    fprintf(stderr, "onramp-plugin-bench: %s: idle worker %d ended\n",
                            b->name, i);
                return -1; /* a worker that failed printed why */
            }
            got[i] = 1;
            left--;
        }
    }
    return 0;
}

/* The broker's VmRSS, open files and CPU, in one go. */
static int broker_state(const struct bench_broker *b, long *rss, long *files, double *cpu)
{
    return bench_rss(b->pid, rss) != 0 || bench_broker_files(b, files) != 0 ||
                   bench_broker_cpu(b, cpu) != 0
               ? -1
               : 0;
}

int bench_idle_run(const struct bench_broker *b, const struct bench_pki *p,
                   struct onr_p256_key *const *keys, int n, int workers, double hold,
                   struct bench_idle *out)
{
    struct worker w[64];
    int window = BENCH_IDLE_WINDOW / workers > 0 ? BENCH_IDLE_WINDOW / workers : 1;
    double cpu0;
    double cpu1;
    double cpu2;
    double t0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->wanted = n;
    out->workers = workers;
    if (workers < 1 || workers > 64) {
        fprintf(stderr, "onramp-plugin-bench: --idle %d would need %d worker processes (at "
                        "most 64): raise RLIMIT_NOFILE\n", n, workers);
        return -1;
    }
    for (int i = 0; i < workers; i++) {
        w[i] = (struct worker){.pid = 0, .cmd = -1, .report = -1};
        w[i].first = (int)((long)n * i / workers);
        w[i].n = (int)((long)n * (i + 1) / workers) - w[i].first;
    }
    if (broker_state(b, &out->rss_before, &out->files_before, &cpu0) != 0)
        return -1;
    t0 = bench_now();
    for (int i = 0; i < workers; i++)
        if (worker_start(w, i, b, p, keys, window) != 0)
            goto out;
    if (collect(b, w, workers, BENCH_IDLE_OPENED, 0) != 0)
        goto out;
    out->open_s = bench_now() - t0;
    if (bench_broker_cpu(b, &cpu1) != 0)
        goto out;
    out->broker_cpu = cpu1 - cpu0;
    for (int i = 0; i < workers; i++) {
        out->sign_s += w[i].msg.sign_s;
        out->clients_cpu += w[i].msg.cpu;
    }
    t0 = bench_now();
    if (collect(b, w, workers, 0, hold) != 0 || command(w, workers, BENCH_IDLE_CMD_CHECK) != 0 ||
        collect(b, w, workers, BENCH_IDLE_HELD, REPLY_SECONDS) != 0)
        goto out;
    out->hold_s = bench_now() - t0;
    if (broker_state(b, &out->rss_held, &out->files_held, &cpu2) != 0)
        goto out;
    out->hold_cpu = cpu2 - cpu1;
    for (int i = 0; i < workers; i++) {
        out->held += w[i].msg.held;
        out->dropped += w[i].msg.dropped;
        out->clients_rss += w[i].msg.rss - w[i].msg.rss_start;
    }
    t0 = bench_now();
    if (command(w, workers, BENCH_IDLE_CMD_CLOSE) != 0 ||
        collect(b, w, workers, BENCH_IDLE_CLOSED, REPLY_SECONDS) != 0)
        goto out;
    while (bench_broker_files(b, &out->files_after) == 0 &&
           out->files_after > out->files_before && bench_now() - t0 < CLOSE_WAIT_SECONDS)
        bench_sleep(0.05);
    out->close_s = bench_now() - t0;
    rc = 0;
out:
    for (int i = 0; i < workers; i++)
        worker_stop(&w[i]);
    return rc;
}

void bench_idle_report(const struct bench_broker *b, const struct bench_idle *f)
{
    static const char *const how[2] = {"proof of possession", "anonymous TLS"};
    double per_conn[2] = {0, 0};

    printf("idle setup: %d devices per broker connected at the same time and held idle, one "
           "broker at a time (with plugin first, before the other parts); at most %d "
           "connecting at once; keepalive %d s; clients in %d worker process%s (one epoll "
           "thread each; a libmosquitto client holds 3 files)\n",
           f[0].wanted, BENCH_IDLE_WINDOW, BENCH_IDLE_KEEPALIVE, f[0].workers,
           f[0].workers > 1 ? "es" : "");
    for (int i = 0; i < 2; i++) {
        const struct bench_idle *x = &f[i];
        const char *name = b[i].name;
        int held = x->held > 0 ? x->held : 1;

        per_conn[i] = (double)(x->rss_held - x->rss_before) / held;
        printf("%s (%s): idle connections held: %d of %d (%d dropped)\n", name, how[i],
               x->held, x->wanted, x->dropped);
        printf("%s (%s): time to open %d: %.1f s (%.0f connects/s)\n", name, how[i],
               x->wanted, x->open_s, x->wanted / x->open_s);
        printf("%s (%s): broker CPU for the connects: %.1f s (%.0f us per connect, %.0f%% of "
               "one CPU)\n", name, how[i], x->broker_cpu, x->broker_cpu * 1e6 / x->wanted,
               100 * x->broker_cpu / x->open_s);
        printf("%s (%s): clients' CPU for the connects: %.1f s (%.0f%% of one CPU; proof "
               "signing %.1f s of it)\n", name, how[i], x->clients_cpu,
               100 * x->clients_cpu / x->open_s, x->sign_s);
        printf("%s (%s): broker RSS before: %.1f MiB\n", name, how[i], x->rss_before / 1024.0);
        printf("%s (%s): broker RSS with %d held: %.1f MiB\n", name, how[i], x->held,
               x->rss_held / 1024.0);
        printf("%s (%s): broker RSS per connection: %.1f KiB\n", name, how[i], per_conn[i]);
        printf("%s (%s): broker open files: %ld before, %ld with %d held (%+ld)\n", name,
               how[i], x->files_before, x->files_held, x->held,
               x->files_held - x->files_before);
        printf("%s (%s): broker CPU while held: %.1f%% of one CPU over %.1f s\n", name, how[i],
               100 * x->hold_cpu / x->hold_s, x->hold_s);
        printf("%s (%s): clients' RSS per connection: %.1f KiB\n", name, how[i],
               (double)x->clients_rss / held);
        if (x->files_after <= x->files_before)
            printf("%s (%s): closed in %.1f s (the broker's open files back to %ld)\n", name,
                   how[i], x->close_s, x->files_after);
        else
            printf("%s (%s): closed; after %.1f s the broker still had %ld more open files\n",
                   name, how[i], x->close_s, x->files_after - x->files_before);
    }
    printf("plugin's broker memory per idle connection: %+.1f KiB (%+.0f%%)\n",
           per_conn[0] - per_conn[1],
           per_conn[1] > 0 ? 100 * (per_conn[0] / per_conn[1] - 1) : 0.0);
}

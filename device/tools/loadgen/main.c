/*
 * onramp-loadgen: many devices through the whole journey at once, from one
 * process, against a running fabric; prints onboardings per second,
 * latency per step and the servers' CPU per onboarding.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "measure.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/version.h"
#include "report.h"

#define EXIT_ALL_DONE 0
#define EXIT_SOME_FAILED 1
#define EXIT_USAGE 2
#define MAX_DEVICES 1000000
#define FDS_PER_DEVICE 3 /* bootstrap, service broker, and slack for the closes */

static const char usage[] =
    "usage: onramp-loadgen --fleet DIR [--count N] [--rate R] [--concurrency C]\n"
    "                      [--duration SECONDS] [--timeout SECONDS]\n"
    "                      [--max-attempts N] [--answer-timeout SECONDS]\n"
    "                      [--server NAME=PID ...] [--floor-us US]\n"
    "       onramp-loadgen --help | --version\n";

static const char help[] =
    "NAME\n"
    "  onramp-loadgen - onboard a fleet of devices at once and measure it\n"
    "\n"
    "SYNOPSIS\n"
    "  onramp-loadgen --fleet DIR [--count N] [--rate R] [--concurrency C]\n"
    "                 [--duration SECONDS] [--timeout SECONDS]\n"
    "                 [--max-attempts N] [--answer-timeout SECONDS]\n"
    "                 [--server NAME=PID ...] [--floor-us US]\n"
    "\n"
    "DESCRIPTION\n"
    "  Runs many devices through their journey, as onramp-device runs one,\n"
    "  in this one process: one libevent loop multiplexes every device's\n"
    "  connections through libonramp-device (no thread per device). Each\n"
    "  device is a real one: the state directory onramp-factory minted, its\n"
    "  own TLS connections, proofs of possession, signatures, HPKE, Milenage\n"
    "  and certificate, to OPERATIONAL on its provider's service broker.\n"
    "  The devices are the subdirectories of DIR that hold a device.conf, in\n"
    "  name order; pair them first (onrampctl pair), or they wait, pending,\n"
    "  until they are. What each device stores stays stored, as with\n"
    "  onramp-device: a second run resumes where the first left them (a\n"
    "  device already OPERATIONAL just reconnects to its service broker).\n"
    "\n"
    "  At the end it prints one table: onboardings completed, failed (by\n"
    "  error) and unfinished, retries and pending answers, onboardings per\n"
    "  second, latency p50/p90/p99/max of every step and of the whole\n"
    "  journey, the CPU each --server process spent (user + system, from\n"
    "  /proc/PID/stat, in 10 ms clock ticks) in all and per onboarding, the\n"
    "  servers' capacity with this program's CPU excluded (the machine's\n"
    "  cores divided by the servers' CPU per onboarding), the ratio to the\n"
    "  --floor-us figure, and this process's heap per running device (the\n"
    "  devices share wolfCrypt's P-256 point tables here, which one device\n"
    "  alone frees after each event: scripts/bench measures one device's\n"
    "  own heap under valgrind massif).\n"
    "  It asserts nothing about durations: scripts/bench runs it after the\n"
    "  floor and prints the figures.\n"
    "\n"
    "OPTIONS\n"
    "  --fleet DIR             the devices' state directories are in DIR\n"
    "                          (required)\n"
    "  --count N               the first N of them (default: all)\n"
    "  --rate R                power devices on at R per second (decimals\n"
    "                          allowed); default 0: all at once\n"
    "  --concurrency C         at most C devices running at once; a device\n"
    "                          that ends makes room for the next (default 0:\n"
    "                          no cap)\n"
    "  --duration SECONDS      power no more devices on after SECONDS (for a\n"
    "                          sustained --rate); those powered on still run\n"
    "                          to their end (default 0: until all are on)\n"
    "  --timeout SECONDS       stop every device still running after SECONDS\n"
    "                          from the start; they count as unfinished\n"
    "                          (default 600)\n"
    "  --max-attempts N        each device's failed attempts in a row before\n"
    "                          it gives up (default 20, as onramp-device)\n"
    "  --answer-timeout SECONDS\n"
    "                          how long a device waits for the broker and for\n"
    "                          each answer (default 15)\n"
    "  --server NAME=PID       count the CPU of process PID as NAME (e.g.\n"
    "                          broker=1234); repeatable, up to 16\n"
    "  --floor-us US           the server-side floor per onboarding in\n"
    "                          microseconds (onramp-floor-bench's 'floor per\n"
    "                          onboarding'), for the servers / floor ratio\n"
    "  --help                  this text\n"
    "  --version               the version\n"
    "\n"
    "OUTPUT\n"
    "  The table on stdout, then one line for scripts:\n"
    "    result planned=N powered=N completed=N failed=N unfinished=N\n"
    "           retries=N wall_s=S rate=R server_us=US capacity=R floor_us=US\n"
    "           floor_ratio=X heap_per_device_kib=K\n"
    "  (server_us, capacity and floor_ratio are 0 when not measured).\n"
    "  Diagnostics go to stderr. The devices print nothing; nothing secret\n"
    "  is ever printed. The file descriptor limit is raised to what the\n"
    "  fleet needs (3 per device), up to the hard limit.\n"
    "\n"
    "EXIT STATUS\n"
    "  0  every device powered on reached OPERATIONAL\n"
    "  1  some failed or were unfinished, or a server's CPU was unreadable\n"
    "  2  usage error, or the fleet directory could not be read\n";

struct args {
    const char *fleet_dir;
    size_t count;
    struct fleet_options fleet;
    struct report_server servers[REPORT_MAX_SERVERS];
    size_t n_servers;
    double floor_us;
};

static int bad_usage(const char *why, const char *arg)
{
    fprintf(stderr, "onramp-loadgen: %s%s%s\n%s", why, arg != NULL ? ": " : "",
            arg != NULL ? arg : "", usage);
    return EXIT_USAGE;
}

/* A decimal number in [min, max]; -1 when not one. */
static double number(const char *s, double min, double max)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        return -1;
    return v;
}

static int parse_server(struct args *a, const char *spec)
{
    const char *eq = strchr(spec, '=');
    struct report_server *s;
    double pid;

    if (a->n_servers == REPORT_MAX_SERVERS || eq == NULL || eq == spec ||
        (size_t)(eq - spec) >= sizeof(s->name))
        return -1;
    pid = number(eq + 1, 1, INT_MAX);
    if (pid < 0 || pid != (double)(long)pid)
        return -1;
    s = &a->servers[a->n_servers++];
    memcpy(s->name, spec, (size_t)(eq - spec));
    s->name[eq - spec] = '\0';
    s->pid = (pid_t)pid;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"fleet", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"max-attempts", required_argument, NULL, 'm'},
        {"answer-timeout", required_argument, NULL, 'a'},
        {"server", required_argument, NULL, 's'},
        {"floor-us", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    double v;
    int c;

    memset(a, 0, sizeof(*a));
    a->fleet.timeout = 600;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            a->fleet_dir = optarg;
            break;
        case 'n':
            if ((v = number(optarg, 1, MAX_DEVICES)) < 0)
                return bad_usage("--count: 1 to 1000000", optarg);
            a->count = (size_t)v;
            break;
        case 'r':
            if ((v = number(optarg, 0, 1e6)) < 0)
                return bad_usage("--rate: 0 to 1000000 per second", optarg);
            a->fleet.rate = v;
            break;
        case 'c':
            if ((v = number(optarg, 0, MAX_DEVICES)) < 0)
                return bad_usage("--concurrency: 0 to 1000000", optarg);
            a->fleet.concurrency = (size_t)v;
            break;
        case 'd':
            if ((v = number(optarg, 0, 86400)) < 0)
                return bad_usage("--duration: 0 to 86400 seconds", optarg);
            a->fleet.duration = v;
            break;
        case 't':
            if ((v = number(optarg, 1, 86400)) < 0)
                return bad_usage("--timeout: 1 to 86400 seconds", optarg);
            a->fleet.timeout = v;
            break;
        case 'm':
            if ((v = number(optarg, 1, 1000)) < 0)
                return bad_usage("--max-attempts: 1 to 1000", optarg);
            a->fleet.max_attempts = (unsigned)v;
            break;
        case 'a':
            if ((v = number(optarg, 1, 3600)) < 0)
                return bad_usage("--answer-timeout: 1 to 3600 seconds", optarg);
            a->fleet.answer_timeout = (unsigned)v;
            break;
        case 's':
            if (parse_server(a, optarg) != 0)
                return bad_usage("--server: NAME=PID, at most 16", optarg);
            break;
        case 'F':
            if ((v = number(optarg, 1, 1e9)) < 0)
                return bad_usage("--floor-us: a positive number of microseconds", optarg);
            a->floor_us = v;
            break;
        case 'h':
            fputs(help, stdout);
            exit(EXIT_ALL_DONE);
        case 'V':
            printf("onramp-loadgen %s\n", ONR_VERSION_STRING);
            exit(EXIT_ALL_DONE);
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return bad_usage("unexpected argument", argv[optind]);
    if (a->fleet_dir == NULL)
        return bad_usage("--fleet is required", NULL);
    return 0;
}

static int is_device_dir(const char *fleet_dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    if (name[0] == '.' ||
        snprintf(path, sizeof(path), "%s/%s/device.conf", fleet_dir, name) >= (int)sizeof(path))
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* The device directories of the fleet, at most `limit` (0: all); their
 * number, or -1 with the reason on stderr. */
static long list_fleet(const char *fleet_dir, size_t limit, char ***out)
{
    struct dirent **entries = NULL;
    char **dirs = NULL;
    long n, found = 0;

    n = scandir(fleet_dir, &entries, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "onramp-loadgen: cannot read %s: %s\n", fleet_dir, strerror(errno));
        return -1;
    }
    dirs = calloc((size_t)n + 1, sizeof(*dirs));
    for (long i = 0; i < n; i++) {
        if (dirs != NULL && (limit == 0 || (size_t)found < limit) &&
            is_device_dir(fleet_dir, entries[i]->d_name)) {
            size_t len = strlen(fleet_dir) + strlen(entries[i]->d_name) + 2;

            dirs[found] = malloc(len);
            if (dirs[found] != NULL)
                snprintf(dirs[found++], len, "%s/%s", fleet_dir, entries[i]->d_name);
        }
        free(entries[i]);
    }
    free(entries);
    if (dirs == NULL) {
        fprintf(stderr, "onramp-loadgen: out of memory\n");
        return -1;
    }
    if (found == 0) {
        fprintf(stderr, "onramp-loadgen: no device state directories (with a device.conf) "
                        "in %s\n", fleet_dir);
        free(dirs);
        return -1;
    }
    if (limit > 0 && (size_t)found < limit)
        fprintf(stderr, "onramp-loadgen: --count %zu, but %s holds only %ld devices\n", limit,
                fleet_dir, found);
    *out = dirs;
    return found;
}

static void free_fleet_list(char **dirs, long n)
{
    for (long i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

/* Enough file descriptors for the fleet: the soft limit raised towards
 * the hard one. A warning when that is not enough. */
static void raise_fd_limit(size_t devices)
{
    struct rlimit lim;
    rlim_t want = (rlim_t)devices * FDS_PER_DEVICE + 64;

    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= want)
        return;
    lim.rlim_cur = lim.rlim_max < want ? lim.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
        fprintf(stderr,
                "onramp-loadgen: warning: %llu file descriptors, the fleet may need %llu; "
                "use --concurrency or raise the hard limit (ulimit -Hn)\n",
                (unsigned long long)lim.rlim_cur, (unsigned long long)want);
}

static void describe(const struct args *a, size_t n)
{
    printf("onramp-loadgen: %zu devices from %s, ", n, a->fleet_dir);
    if (a->fleet.rate > 0)
        printf("powered on at %.1f/s", a->fleet.rate);
    else
        printf("powered on all at once");
    if (a->fleet.concurrency > 0)
        printf(", at most %zu running", a->fleet.concurrency);
    if (a->fleet.duration > 0)
        printf(", for %.0f s", a->fleet.duration);
    printf("; %ld cores\n", sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct args a;
    struct fleet fleet;
    struct report_input in;
    char **dirs = NULL;
    long n;
    double self_start;
    int rc, status;

    rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    n = list_fleet(a.fleet_dir, a.count, &dirs);
    if (n < 0)
        return EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(a.fleet.concurrency > 0 && a.fleet.concurrency < (size_t)n
                       ? a.fleet.concurrency
                       : (size_t)n);
    if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onramp-loadgen: cannot initialise libmosquitto\n");
        free_fleet_list(dirs, n);
        return EXIT_SOME_FAILED;
    }
    rc = fleet_init(&fleet, dirs, (size_t)n, &a.fleet);
    free_fleet_list(dirs, n);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-loadgen: %s\n", onr_strerror(rc));
        return EXIT_SOME_FAILED;
    }
    describe(&a, (size_t)n);
    for (size_t i = 0; i < a.n_servers; i++)
        a.servers[i].cpu_start = measure_process_cpu(a.servers[i].pid);
    self_start = measure_self_cpu();
    rc = fleet_run(&fleet);
    for (size_t i = 0; i < a.n_servers; i++)
        a.servers[i].cpu_end = measure_process_cpu(a.servers[i].pid);
    status = EXIT_ALL_DONE;
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-loadgen: %s\n", onr_strerror(rc));
        status = EXIT_SOME_FAILED;
    } else {
        in = (struct report_input){&fleet, (size_t)n, a.servers, a.n_servers,
                                   measure_self_cpu() - self_start, a.floor_us,
                                   sysconf(_SC_NPROCESSORS_ONLN)};
        if (report_print(stdout, &in) != ONR_OK)
            status = EXIT_SOME_FAILED;
        if (fleet.completed != fleet.next || (a.fleet.duration == 0 && fleet.next != (size_t)n))
            status = EXIT_SOME_FAILED;
        for (size_t i = 0; i < a.n_servers; i++)
            if (a.servers[i].cpu_start < 0 || a.servers[i].cpu_end < 0)
                status = EXIT_SOME_FAILED;
    }
    fleet_cleanup(&fleet);
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return status;
}

/*
 * The benchmark's throwaway fabric: a PKI made with Onramp's own X.509
 * code in a temporary directory, and mosquitto processes on free loopback
 * ports, started with fork/exec and always stopped by PID.
 */
#define _GNU_SOURCE /* close_range; nftw */
#include "bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/x509.h"

#define TAIL_BYTES 4096
#define TAIL_LINES 15

volatile int bench_interrupted;

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_self_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void bench_sleep(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* dir/name into out; -1 if it does not fit. */
static int path_in(char out[BENCH_PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, BENCH_PATH_MAX, "%s/%s", dir, name);

    return n > 0 && n < BENCH_PATH_MAX ? 0 : -1;
}

/* A certificate for a new key, issued by the CA; PEM files cert and key. */
static int issue(const struct onr_p256_key *ca_key, const uint8_t *ca, size_t ca_len,
                 const struct onr_x509_profile *profile, const char *cert, const char *key_path)
{
    struct onr_p256_key *key = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    struct onr_bytes b;
    int rc;

    rc = onr_p256_generate(&key);
    if (rc == ONR_OK)
        rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_x509_issue(ca_key, ca, ca_len, pub, profile, der, &der_len);
    if (rc == ONR_OK) {
        b = (struct onr_bytes){der, der_len};
        rc = onr_x509_save(cert, &b, 1);
    }
    if (rc == ONR_OK)
        rc = onr_p256_save(key, key_path);
    onr_p256_free(key);
    return rc;
}

int bench_pki_make(struct bench_pki *p)
{
    static const struct onr_x509_san server_san[] = {
        {ONR_X509_SAN_DNS, "localhost"},
        {ONR_X509_SAN_IP, "127.0.0.1"},
        {ONR_X509_SAN_DNS, BENCH_BROKER_NAME}, /* the plugin's broker_name */
    };
    const struct onr_x509_profile ca_profile = {
        .subject = {.common_name = "onramp bench services CA"},
        .days = 2, .is_ca = 1, .path_len = 0};
    const struct onr_x509_profile server_profile = {
        .subject = {.common_name = "localhost"}, .days = 2, .path_len = -1,
        .eku = ONR_X509_EKU_SERVER, .san = server_san, .n_san = 3};
    const struct onr_x509_profile operator_profile = {
        .subject = {.common_name = "op-1", .org_unit = "operator"}, .days = 2,
        .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    struct onr_p256_key *ca_key = NULL;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len = sizeof(ca);
    const char *tmp = getenv("TMPDIR");
    struct onr_bytes b;
    int rc = ONR_EINVAL;
    int n;

    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    n = snprintf(p->dir, sizeof(p->dir), "%s/onramp-bench-XXXXXX", tmp);
    if (n <= 0 || (size_t)n >= sizeof(p->dir) / 2) {
        fprintf(stderr, "onramp-plugin-bench: TMPDIR too long\n");
        p->dir[0] = '\0';
        return -1;
    }
    if (mkdtemp(p->dir) == NULL) {
        fprintf(stderr, "onramp-plugin-bench: mkdtemp %s: %s\n", p->dir, strerror(errno));
        p->dir[0] = '\0';
        return -1;
    }
    if (path_in(p->ca, p->dir, "ca.pem") != 0 ||
        path_in(p->server_cert, p->dir, "server.pem") != 0 ||
        path_in(p->server_key, p->dir, "server.key") != 0 ||
        path_in(p->operator_cert, p->dir, "operator.pem") != 0 ||
        path_in(p->operator_key, p->dir, "operator.key") != 0)
        goto out;
    rc = onr_p256_generate(&ca_key);
    if (rc == ONR_OK)
        rc = onr_x509_self_signed(ca_key, &ca_profile, ca, &ca_len);
    if (rc == ONR_OK) {
        b = (struct onr_bytes){ca, ca_len};
        rc = onr_x509_save(p->ca, &b, 1);
    }
    if (rc == ONR_OK)
        rc = issue(ca_key, ca, ca_len, &server_profile, p->server_cert, p->server_key);
    if (rc == ONR_OK)
        rc = issue(ca_key, ca, ca_len, &operator_profile, p->operator_cert, p->operator_key);
out:
    onr_p256_free(ca_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-plugin-bench: making the PKI: %s\n", onr_strerror(rc));
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_pki_remove(struct bench_pki *p)
{
    if (p->dir[0] == '\0')
        return;
    if (nftw(p->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "onramp-plugin-bench: could not remove %s\n", p->dir);
    p->dir[0] = '\0';
}

/* A loopback port nobody listens on now (the broker binds it a moment
 * later; another process could take it in between, then the start fails). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int write_conf(const struct bench_pki *p, const char *plugin,
                      const struct bench_broker *b)
{
    struct passwd *pw = getpwuid(getuid());
    char grants[BENCH_PATH_MAX];
    FILE *conf = NULL;
    int rc = -1;

    if (pw == NULL || path_in(grants, p->dir, "grants") != 0)
        goto out;
    conf = fopen(b->conf, "w");
    if (conf == NULL)
        goto out;
    /* Only errors and warnings are logged: per-connection notices would
     * add log writes to the CPU measured. Mosquitto's queue and in-flight
     * limits are left at their defaults. Connections: no per-listener
     * limit (max_connections -1, the default, written out), and the plugin
     * limits no connect rate (max_connects_per_sec 0, its default): every
     * client here comes from 127.0.0.1. The plugin has no per-address
     * limit. Its replay cache (replay_capacity, default 100000 proofs per
     * pop_window) holds more proofs than there are ephemeral ports. */
    fprintf(conf,
            "# onramp-plugin-bench: %s\n"
            "user %s\npersistence false\nper_listener_settings false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n",
            b->name, pw->pw_name);
    if (b->with_plugin)
        fprintf(conf,
                "allow_anonymous false\nplugin %s\n"
                "plugin_opt_broker_name %s\nplugin_opt_broker_cert %s\n"
                "plugin_opt_services_ca %s\nplugin_opt_grants_file %s\n"
                "plugin_opt_device_rate 100000\nplugin_opt_device_burst 100000\n"
                "plugin_opt_max_connects_per_sec 0\nplugin_opt_stats_interval 0\n",
                plugin, BENCH_BROKER_NAME, p->server_cert, p->ca, grants);
    else
        fprintf(conf, "allow_anonymous true\n");
    fprintf(conf,
            "\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
            "require_certificate false\nset_tcp_nodelay true\nmax_connections -1\n"
            "\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\n"
            "require_certificate true\nset_tcp_nodelay true\nmax_connections -1\n",
            b->bootstrap_port, p->server_cert, p->server_key, b->services_port,
            p->server_cert, p->server_key, p->ca);
    rc = ferror(conf) ? -1 : 0;
out:
    if (conf != NULL && fclose(conf) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "onramp-plugin-bench: writing %s failed\n", b->conf);
    return rc;
}

static int port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* In the child: stderr and stdout to the file, no other file of ours or
 * of whoever started us (the broker's files are counted), die with the
 * benchmark, exec mosquitto. Never returns. */
static void exec_broker(const struct bench_broker *b)
{
    int fd = open(b->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    long max = sysconf(_SC_OPEN_MAX);

    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(126);
    if (close_range(3, ~0u, 0) != 0)
        for (long i = 3; i < max; i++)
            close((int)i);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execlp("mosquitto", "mosquitto", "-c", b->conf, (char *)NULL);
    fprintf(stderr, "exec mosquitto: %s\n", strerror(errno));
    _exit(127);
}

int bench_broker_start(const struct bench_pki *p, const char *plugin, struct bench_broker *b)
{
    char name[64];
    double deadline;
    pid_t pid;

    b->pid = 0;
    b->bootstrap_port = free_port();
    b->services_port = free_port();
    if (b->bootstrap_port < 0 || b->services_port < 0 ||
        b->bootstrap_port == b->services_port) {
        fprintf(stderr, "onramp-plugin-bench: no free loopback ports\n");
        return -1;
    }
    snprintf(name, sizeof(name), "%s.conf", b->with_plugin ? "with-plugin" : "without-plugin");
    if (path_in(b->conf, p->dir, name) != 0)
        return -1;
    snprintf(name, sizeof(name), "%s.stderr", b->with_plugin ? "with-plugin" : "without-plugin");
    if (path_in(b->stderr_path, p->dir, name) != 0 || write_conf(p, plugin, b) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "onramp-plugin-bench: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_broker(b);
    b->pid = pid;
    deadline = bench_now() + 10;
    while (!(port_open(b->bootstrap_port) && port_open(b->services_port))) {
        if (!bench_broker_running(b) || bench_now() > deadline || bench_interrupted) {
            fprintf(stderr, "onramp-plugin-bench: mosquitto (%s) did not start\n", b->name);
            bench_broker_stop(b);
            return -1;
        }
        bench_sleep(0.02);
    }
    /* The plugin refuses proofs of possession made in the second it
     * started (or before): the devices' first proofs must be later. */
    for (time_t ready = time(NULL); b->with_plugin && time(NULL) <= ready;)
        bench_sleep(0.02);
    return 0;
}

int bench_broker_running(struct bench_broker *b)
{
    int status;
    pid_t r;

    if (b->pid <= 0)
        return 0;
    r = waitpid(b->pid, &status, WNOHANG);
    if (r == 0)
        return 1;
    if (r == b->pid && WIFEXITED(status))
        fprintf(stderr, "onramp-plugin-bench: mosquitto (%s) exited with status %d\n", b->name,
                WEXITSTATUS(status));
    else if (r == b->pid && WIFSIGNALED(status))
        fprintf(stderr, "onramp-plugin-bench: mosquitto (%s) killed by signal %d\n", b->name,
                WTERMSIG(status));
    b->pid = 0;
    return 0;
}

void bench_stop_child(pid_t *pid, double seconds)
{
    double deadline = bench_now() + seconds;

    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    while (waitpid(*pid, NULL, WNOHANG) == 0) {
        if (bench_now() > deadline) {
            kill(*pid, SIGKILL);
            waitpid(*pid, NULL, 0);
            break;
        }
        bench_sleep(0.01);
    }
    *pid = 0;
}

void bench_broker_stop(struct bench_broker *b)
{
    bench_stop_child(&b->pid, 5);
}

void bench_broker_print_tail(const struct bench_broker *b)
{
    char buf[TAIL_BYTES + 1];
    FILE *f = fopen(b->stderr_path, "r");
    const char *start;
    const char *end;
    long size = -1;
    size_t n = 0;
    int lines = 0;

    if (f == NULL) {
        fprintf(stderr, "  mosquitto (%s): no stderr file\n", b->name);
        return;
    }
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size >= 0 && fseek(f, size > TAIL_BYTES ? size - TAIL_BYTES : 0, SEEK_SET) == 0)
        n = fread(buf, 1, TAIL_BYTES, f);
    fclose(f);
    buf[n] = '\0';
    end = buf + n;
    if (end > buf && end[-1] == '\n')
        end--;
    /* back from the end to the start of the TAIL_LINES-th last line; a
     * line cut by the TAIL_BYTES window is left out */
    for (start = end; start > buf; start--) {
        if (start[-1] == '\n')
            lines++;
        if (lines == TAIL_LINES)
            break;
    }
    if (start == buf && size > TAIL_BYTES && memchr(buf, '\n', n) != NULL)
        start = (const char *)memchr(buf, '\n', n) + 1;
    fprintf(stderr, "  mosquitto (%s) stderr, last lines:%s\n", b->name,
            start >= end ? " (none)" : "");
    while (start < end) {
        const char *nl = memchr(start, '\n', (size_t)(end - start));
        const char *stop = nl != NULL ? nl : end;

        fprintf(stderr, "  | %.*s\n", (int)(stop - start), start);
        start = stop + 1;
    }
}

int bench_broker_cpu(const struct bench_broker *b, double *seconds)
{
    char path[64];
    char buf[2048];
    unsigned long utime;
    unsigned long stime;
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)b->pid);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "onramp-plugin-bench: mosquitto (%s): %s: %s\n", b->name, path,
                strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count
     * from the last ')'. Then state is field 3; utime, stime 14 and 15. */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) != 2) {
        fprintf(stderr, "onramp-plugin-bench: %s: unexpected format\n", path);
        return -1;
    }
    *seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int bench_rss(pid_t pid, long *kib)
{
    char path[64];
    char line[256];
    FILE *f;
    int found = 0;

    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "onramp-plugin-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = sscanf(line, "VmRSS: %ld kB", kib) == 1;
    fclose(f);
    if (!found) {
        fprintf(stderr, "onramp-plugin-bench: %s: no VmRSS line\n", path);
        return -1;
    }
    return 0;
}

int bench_broker_files(const struct bench_broker *b, long *count)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    long n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)b->pid);
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "onramp-plugin-bench: mosquitto (%s): %s: %s\n", b->name, path,
                strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    *count = n;
    return 0;
}

int bench_files_raise(long wanted, long *limit, int *refused)
{
    struct rlimit rl;
    struct rlimit want;

    *refused = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "onramp-plugin-bench: getrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)wanted) {
        want.rlim_cur = (rlim_t)wanted;
        want.rlim_max = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)wanted
                            ? (rlim_t)wanted : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl = want;
        } else {
            /* raising the hard limit needs CAP_SYS_RESOURCE: take what there is */
            *refused = errno;
            want = (struct rlimit){rl.rlim_max, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &want) == 0)
                rl = want;
        }
    }
    *limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX
                                                                            : (long)rl.rlim_cur;
    return 0;
}

int bench_local_ports(long *count, long *lo, long *hi)
{
    static const char path[] = "/proc/sys/net/ipv4/ip_local_port_range";
    FILE *f = fopen(path, "r");
    int n;

    if (f == NULL) {
        fprintf(stderr, "onramp-plugin-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fscanf(f, "%ld %ld", lo, hi);
    fclose(f);
    if (n != 2 || *hi < *lo) {
        fprintf(stderr, "onramp-plugin-bench: %s: unexpected format\n", path);
        return -1;
    }
    *count = *hi - *lo + 1;
    return 0;
}

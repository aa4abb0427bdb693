/*
 * The benchmark's throwaway fabric: a PKI made with Onramp's own X.509
 * code, and two mosquitto processes on free loopback ports, one with the
 * onramp plugin and one without, stopped by PID.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/x509.h"

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

static int save_cert(const char *path, const uint8_t *der, size_t len)
{
    const struct onr_bytes cert = {der, len};

    return onr_x509_save(path, &cert, 1);
}

/* A leaf for a new key, saved as name.pem / name.key in the fixture dir. */
static int issue_leaf(struct bench_fixture *f, const struct onr_p256_key *ca_key,
                      const uint8_t *ca, size_t ca_len, const char *name,
                      const struct onr_x509_profile *profile)
{
    struct onr_p256_key *key = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len = sizeof(der);
    char path[BENCH_PATH_MAX];
    int rc;

    if (strlen(name) > 64)
        return ONR_EINVAL;
    rc = onr_p256_generate(&key);
    if (rc == ONR_OK)
        rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_x509_issue(ca_key, ca, ca_len, pub, profile, der, &der_len);
    if (rc == ONR_OK) {
        snprintf(path, sizeof(path), "%s/%.64s.pem", f->dir, name);
        rc = save_cert(path, der, der_len);
    }
    if (rc == ONR_OK) {
        snprintf(path, sizeof(path), "%s/%.64s.key", f->dir, name);
        rc = onr_p256_save(key, path);
    }
    onr_p256_free(key);
    return rc;
}

int bench_pki(struct bench_fixture *f)
{
    static const struct onr_x509_san server_san[] = {
        {ONR_X509_SAN_DNS, "localhost"},
        {ONR_X509_SAN_IP, "127.0.0.1"},
    };
    const struct onr_x509_profile ca_profile = {
        .subject = {.common_name = "bench services CA"}, .days = 2, .is_ca = 1, .path_len = 0};
    const struct onr_x509_profile server = {
        .subject = {.common_name = "localhost"}, .days = 2, .path_len = -1,
        .eku = ONR_X509_EKU_SERVER, .san = server_san, .n_san = 2};
    const struct onr_x509_profile operator_cert = {
        .subject = {.common_name = "op-1", .org_unit = "operator"}, .days = 2, .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT};
    struct onr_p256_key *ca_key = NULL;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len = sizeof(ca);
    int rc;

    rc = onr_p256_generate(&ca_key);
    if (rc == ONR_OK)
        rc = onr_x509_self_signed(ca_key, &ca_profile, ca, &ca_len);
    if (rc == ONR_OK) {
        snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
        rc = save_cert(f->ca, ca, ca_len);
    }
    if (rc == ONR_OK)
        rc = issue_leaf(f, ca_key, ca, ca_len, "server", &server);
    if (rc == ONR_OK)
        rc = issue_leaf(f, ca_key, ca, ca_len, "operator", &operator_cert);
    onr_p256_free(ca_key);
    if (rc != ONR_OK)
        fprintf(stderr, "onramp-plugin-bench: PKI: %s\n", onr_strerror(rc));
    snprintf(f->operator_cert, sizeof(f->operator_cert), "%s/operator.pem", f->dir);
    snprintf(f->operator_key, sizeof(f->operator_key), "%s/operator.key", f->dir);
    return rc == ONR_OK ? 0 : -1;
}

static int write_conf(struct bench_fixture *f, struct bench_broker *b)
{
    struct passwd *pw = getpwuid(getuid());
    FILE *conf;

    snprintf(b->conf, sizeof(b->conf), "%s/%.32s.conf", f->dir, b->name);
    snprintf(b->log, sizeof(b->log), "%s/%.32s.log", f->dir, b->name);
    conf = fopen(b->conf, "w");
    if (conf == NULL || pw == NULL)
        return -1;
    fprintf(conf, "user %s\nlog_dest file %s\nlog_type error\nlog_type warning\n"
                  "persistence false\nmax_inflight_messages 100\nmax_queued_messages 100000\n",
            pw->pw_name, b->log);
    if (b->with_plugin)
        fprintf(conf,
                "allow_anonymous false\nplugin %s\nplugin_opt_broker_name bench-1\n"
                "plugin_opt_services_ca %s\nplugin_opt_grants_file %s/grants\n"
                "plugin_opt_device_rate 100000\nplugin_opt_device_burst 100000\n",
                f->plugin, f->ca, f->dir);
    else
        fprintf(conf, "allow_anonymous true\n");
    fprintf(conf,
            "listener %d 127.0.0.1\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
            "require_certificate false\nset_tcp_nodelay true\n"
            "listener %d 127.0.0.1\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
            "cafile %s\nrequire_certificate true\nset_tcp_nodelay true\n",
            b->bootstrap_port, f->dir, f->dir, b->services_port, f->dir, f->dir, f->ca);
    return fclose(conf) == 0 ? 0 : -1;
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

int bench_broker_start(struct bench_fixture *f, struct bench_broker *b)
{
    struct timespec pause = {0, 50 * 1000 * 1000};
    int waited = 0;

    b->bootstrap_port = free_port();
    b->services_port = free_port();
    if (b->bootstrap_port < 0 || b->services_port < 0 || write_conf(f, b) != 0)
        return -1;
    b->pid = fork();
    if (b->pid < 0)
        return -1;
    if (b->pid == 0) {
        /* mosquitto's own startup warnings go to stderr: keep them in the log */
        if (freopen(b->log, "a", stderr) == NULL)
            _exit(126);
        execlp("mosquitto", "mosquitto", "-c", b->conf, (char *)NULL);
        _exit(127);
    }
    while (!(port_open(b->bootstrap_port) && port_open(b->services_port))) {
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid || ++waited > 200) {
            fprintf(stderr, "onramp-plugin-bench: mosquitto (%s) did not start; log %s\n",
                    b->name, b->log);
            b->pid = 0;
            return -1;
        }
        nanosleep(&pause, NULL);
    }
    return 0;
}

void bench_broker_stop(struct bench_broker *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGTERM);
    for (int i = 0; i < 100 && waitpid(b->pid, NULL, WNOHANG) != b->pid; i++) {
        struct timespec pause = {0, 50 * 1000 * 1000};

        nanosleep(&pause, NULL);
        if (i == 99) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, NULL, 0);
        }
    }
    b->pid = 0;
}

double bench_cpu_seconds(pid_t pid)
{
    char path[64];
    char buf[2048];
    FILE *stat;
    size_t n;
    char *p;
    unsigned long utime = 0;
    unsigned long stime = 0;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    stat = fopen(path, "r");
    if (stat == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, stat);
    fclose(stat);
    buf[n] = '\0';
    /* Fields after the command name (which may contain spaces): state is
     * field 3; utime and stime are fields 14 and 15. */
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
            2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

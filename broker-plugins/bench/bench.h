/* onramp-plugin-bench: shared between its files. */
#ifndef ONRAMP_PLUGIN_BENCH_H
#define ONRAMP_PLUGIN_BENCH_H

#include <sys/types.h>

#define BENCH_PATH_MAX 512

struct bench_fixture {
    char dir[BENCH_PATH_MAX / 2];
    char plugin[BENCH_PATH_MAX];
    char ca[BENCH_PATH_MAX];
    char operator_cert[BENCH_PATH_MAX];
    char operator_key[BENCH_PATH_MAX];
};

struct bench_broker {
    const char *name;   /* "with-plugin" or "without-plugin" */
    int with_plugin;
    int bootstrap_port;
    int services_port;
    pid_t pid;
    char conf[BENCH_PATH_MAX];
    char log[BENCH_PATH_MAX];
};

/* fixture.c */
int bench_pki(struct bench_fixture *f);
int bench_broker_start(struct bench_fixture *f, struct bench_broker *b);
void bench_broker_stop(struct bench_broker *b);
/* CPU seconds (user + system) a process has used, from /proc; -1 on error. */
double bench_cpu_seconds(pid_t pid);

#endif /* ONRAMP_PLUGIN_BENCH_H */

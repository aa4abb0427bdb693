/*
 * onramp-loadgen's report: what the fleet did, its latency step by step,
 * and the CPU the servers spent per onboarding against the floor.
 */
#ifndef ONRAMP_LOADGEN_REPORT_H
#define ONRAMP_LOADGEN_REPORT_H

#include <stdio.h>
#include <sys/types.h>

#include "fleet.h"

#define REPORT_MAX_SERVERS 16

/* A server-side process whose CPU is counted: its name, PID and CPU
 * seconds at the start and at the end of the run (-1: unreadable). */
struct report_server {
    char name[32];
    pid_t pid;
    double cpu_start, cpu_end;
};

struct report_input {
    const struct fleet *fleet;
    size_t planned;               /* devices asked for */
    const struct report_server *servers;
    size_t n_servers;
    double self_cpu;              /* this process's CPU seconds over the run */
    double floor_us;              /* 0: not given */
    long cores;                   /* the machine's online CPUs */
};

/* report_print: the table, then one "result key=value ..." line that
 * scripts and tests read. Returns ONR_OK or ONR_ENOMEM. */
int report_print(FILE *out, const struct report_input *in);

#endif

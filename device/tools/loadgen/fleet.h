/*
 * A fleet: many devices of libonramp-device run on one libevent loop,
 * powered on at a set rate (or all at once) under a cap on how many run at
 * the same time, each timed step by step. One process, one thread: the
 * devices' connections are multiplexed by the loop.
 */
#ifndef ONRAMP_LOADGEN_FLEET_H
#define ONRAMP_LOADGEN_FLEET_H

#include <stddef.h>

#include "onramp/device.h"

#define FLEET_STATES (ONR_DEVICE_OPERATIONAL + 1)
#define FLEET_MAX_CODES 16

struct fleet_options {
    double rate;           /* devices powered on per second; 0: all at once */
    size_t concurrency;    /* devices running at once at most; 0: no cap */
    double duration;       /* seconds after which no more are powered on; 0: none */
    double timeout;        /* seconds after which running devices are stopped */
    unsigned max_attempts; /* the devices' options (0: the library's default) */
    unsigned answer_timeout;
};

/* One device of the fleet. at[s] is when state s was reached (seconds from
 * its power-on; -1 if not). */
struct fleet_device {
    char dir[4096];
    struct onr_device *dev;
    struct fleet *fleet;
    double powered_on;
    double at[FLEET_STATES];
    enum onr_device_state resumed; /* the state it started in */
    int result;                     /* its run's result once ended */
    int ended;
    unsigned retries;
    unsigned pendings;
};

/* A failure code and how many devices ended with it. */
struct fleet_code_count {
    int code;
    size_t count;
};

struct fleet {
    struct fleet_options opt;
    struct event_base *base;
    struct fleet_device *devices; /* `count` of them */
    size_t count;
    size_t next;                  /* the next to power on */
    size_t running, peak_running;
    size_t completed, failed, unfinished;
    struct fleet_code_count codes[FLEET_MAX_CODES];
    size_t other_codes;          /* failures past FLEET_MAX_CODES distinct codes */
    unsigned retries, pendings, refusals;
    double started, last_done;   /* measure_now() of the first power-on, the last end */
    size_t heap_before, heap_peak;
    unsigned ticks;              /* of the pacer */
    struct event *pacer;
    struct event *deadline;
    int stopping;
};

/*
 * fleet_init: a fleet of the devices whose state directories are in
 * `dirs` (`count` of them; copied). ONR_OK, ONR_EINVAL (a path too long,
 * count 0), ONR_ENOMEM.
 */
int fleet_init(struct fleet *f, char **dirs, size_t count, const struct fleet_options *opt);

/* fleet_run: power the devices on and run the loop until each has ended
 * (or the timeout stopped it). ONR_OK once run, ONR_ENOMEM. */
int fleet_run(struct fleet *f);

/* fleet_cleanup: close every device and free the fleet's storage. */
void fleet_cleanup(struct fleet *f);

#endif

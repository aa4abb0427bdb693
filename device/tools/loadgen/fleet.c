#include "fleet.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"
#include "onramp/error.h"

#define PACER_SECONDS 0.005  /* how often devices are powered on */
#define MAX_PER_TICK 32      /* at most this many per tick, so the loop
                                keeps serving the connections already open */
#define HEAP_EVERY_TICKS 20  /* heap sampled every 100 ms */

static struct timeval seconds_tv(double s)
{
    struct timeval tv;

    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    return tv;
}

int fleet_init(struct fleet *f, char **dirs, size_t count, const struct fleet_options *opt)
{
    memset(f, 0, sizeof(*f));
    if (count == 0)
        return ONR_EINVAL;
    f->devices = calloc(count, sizeof(*f->devices));
    if (f->devices == NULL)
        return ONR_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        struct fleet_device *d = &f->devices[i];

        if (strlen(dirs[i]) >= sizeof(d->dir)) {
            free(f->devices);
            f->devices = NULL;
            return ONR_EINVAL;
        }
        strcpy(d->dir, dirs[i]);
        d->fleet = f;
        for (int s = 0; s < FLEET_STATES; s++)
            d->at[s] = -1;
    }
    f->count = count;
    f->opt = *opt;
    return ONR_OK;
}

static void count_failure(struct fleet *f, int code)
{
    for (size_t i = 0; i < FLEET_MAX_CODES; i++) {
        if (f->codes[i].count == 0)
            f->codes[i].code = code;
        if (f->codes[i].code == code) {
            f->codes[i].count++;
            return;
        }
    }
    f->other_codes++;
}

static void on_progress(void *arg, const struct onr_device *dev, const char *event,
                        const char *detail)
{
    struct fleet_device *d = arg;
    struct fleet *f = d->fleet;
    enum onr_device_state state;

    (void)detail;
    if (strcmp(event, "state") == 0) {
        state = onr_device_state(dev);
        if (d->at[state] < 0)
            d->at[state] = measure_now() - d->powered_on;
    } else if (strcmp(event, "retry") == 0) {
        d->retries++;
        f->retries++;
    } else if (strcmp(event, "pending") == 0) {
        d->pendings++;
        f->pendings++;
    } else if (strcmp(event, "refused") == 0) {
        f->refusals++;
    }
}

/* Closed outside the device's own callbacks. */
static void close_later(evutil_socket_t fd, short what, void *arg)
{
    struct fleet_device *d = arg;

    (void)fd;
    (void)what;
    onr_device_close(d->dev);
    d->dev = NULL;
}

static int all_ended(const struct fleet *f)
{
    return f->running == 0 && (f->next == f->count || f->stopping);
}

static void on_done(void *arg, const struct onr_device *dev, int result)
{
    struct fleet_device *d = arg;
    struct fleet *f = d->fleet;
    struct timeval now = {0, 0};

    (void)dev;
    d->ended = 1;
    d->result = result;
    f->running--;
    f->last_done = measure_now();
    if (result == ONR_OK) {
        f->completed++;
    } else if (result == ONR_EBUSY && f->stopping) {
        f->unfinished++;
    } else {
        f->failed++;
        count_failure(f, result);
    }
    event_base_once(f->base, -1, EV_TIMEOUT, close_later, d, &now);
    if (all_ended(f))
        event_base_loopexit(f->base, &now);
}

/* Open and start one device; a device that cannot open or start is counted
 * as failed with its error. */
static void power_on(struct fleet *f, struct fleet_device *d)
{
    struct onr_device_callbacks cb = {on_progress, on_done, d};
    struct onr_device_options dopt = {0};
    int rc;

    dopt.max_attempts = f->opt.max_attempts;
    dopt.answer_timeout = f->opt.answer_timeout;
    /* every device verifies the same few service keys on this one thread:
     * their tables are built once, as each real device builds its own */
    dopt.keep_point_tables = 1;
    d->powered_on = measure_now();
    f->running++;
    if (f->running > f->peak_running)
        f->peak_running = f->running;
    rc = onr_device_open(d->dir, &cb, &dopt, &d->dev);
    if (rc == ONR_OK) {
        d->resumed = onr_device_state(d->dev);
        rc = onr_device_start(d->dev, f->base);
        if (rc == ONR_OK)
            return; /* the done callback ends it, maybe already from inside start */
    }
    on_done(d, d->dev, rc);
}

static size_t due(const struct fleet *f, double now)
{
    size_t target = f->count;

    if (f->opt.rate > 0) {
        double n = (now - f->started) * f->opt.rate + 1;

        if (n < (double)f->count)
            target = (size_t)n;
    }
    if (target <= f->next)
        return 0;
    target -= f->next;
    if (f->opt.concurrency > 0) {
        size_t room = f->running < f->opt.concurrency ? f->opt.concurrency - f->running : 0;

        if (target > room)
            target = room;
    }
    return target < MAX_PER_TICK ? target : MAX_PER_TICK;
}

static void sample_heap(struct fleet *f)
{
    size_t heap = measure_heap_in_use();

    if (heap > f->heap_peak)
        f->heap_peak = heap;
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    double now = measure_now();
    size_t n;

    (void)fd;
    (void)what;
    if (++f->ticks % HEAP_EVERY_TICKS == 0)
        sample_heap(f);
    if (f->opt.duration > 0 && now - f->started >= f->opt.duration && f->next < f->count) {
        f->count = f->next; /* the rest stay off: the run is over for them */
    }
    for (n = due(f, now); n > 0 && f->next < f->count; n--)
        power_on(f, &f->devices[f->next++]);
    if (all_ended(f)) {
        struct timeval zero = {0, 0};

        event_base_loopexit(f->base, &zero);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    struct timeval zero = {0, 0};

    (void)fd;
    (void)what;
    f->stopping = 1;
    f->count = f->next; /* none more */
    for (size_t i = 0; i < f->next; i++)
        if (!f->devices[i].ended && f->devices[i].dev != NULL)
            onr_device_stop(f->devices[i].dev);
    if (all_ended(f))
        event_base_loopexit(f->base, &zero);
}

int fleet_run(struct fleet *f)
{
    struct timeval pace = seconds_tv(PACER_SECONDS);
    struct timeval limit;
    int rc = ONR_OK;

    f->base = event_base_new();
    if (f->base == NULL)
        return ONR_ENOMEM;
    f->pacer = event_new(f->base, -1, EV_PERSIST, on_pace, f);
    f->deadline = event_new(f->base, -1, 0, on_deadline, f);
    if (f->pacer == NULL || f->deadline == NULL) {
        rc = ONR_ENOMEM;
        goto out;
    }
    f->heap_before = measure_heap_in_use();
    f->heap_peak = f->heap_before;
    f->started = measure_now();
    f->last_done = f->started;
    event_add(f->pacer, &pace);
    if (f->opt.timeout > 0) {
        limit = seconds_tv(f->opt.timeout);
        event_add(f->deadline, &limit);
    }
    on_pace(-1, 0, f); /* the first ones now */
    event_base_dispatch(f->base);
    sample_heap(f);
    /* the devices' last DISCONNECTs and closes */
    event_del(f->pacer);
    event_del(f->deadline);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
out:
    return rc;
}

void fleet_cleanup(struct fleet *f)
{
    if (f->devices != NULL)
        for (size_t i = 0; i < f->next; i++)
            onr_device_close(f->devices[i].dev);
    if (f->pacer != NULL)
        event_free(f->pacer);
    if (f->deadline != NULL)
        event_free(f->deadline);
    if (f->base != NULL)
        event_base_free(f->base);
    free(f->devices);
    memset(f, 0, sizeof(*f));
}

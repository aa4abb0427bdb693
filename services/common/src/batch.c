#include "batch.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/error.h"
#include "onramp/svc_log.h"

#define BATCH_MAX_MESSAGES 256 /* bounds what one failed commit drops */
#define BATCH_WAIT_MS 50 /* a burst of confirmations waits for the next at most this long */

struct held {
    uint32_t brokers;
    int qos;
    char *topic;
    uint8_t *payload;
    size_t len;
};

struct onr_batch {
    struct onr_db *db;
    struct event *commit_ev;
    onr_batch_publish_cb publish;
    onr_batch_commit_cb commit;
    void *arg;
    int open;
    size_t messages;
    size_t may_wait;       /* of the messages, those whose commit may wait */
    struct timespec begun; /* when the transaction was opened */
    int waiting;           /* its commit waits for the next burst (a timer) */
    struct held *held;
    size_t n_held, cap_held;
#ifdef ONR_TEST_HOOKS
    int die;
#endif
};

/* Milliseconds the commit may still wait for the next burst's, or 0: now. */
static long wait_left(const struct onr_batch *b)
{
    struct timespec now;
    long waited;

    if (b->may_wait < b->messages || b->n_held > 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    waited = (long)(now.tv_sec - b->begun.tv_sec) * 1000 +
             (now.tv_nsec - b->begun.tv_nsec) / 1000000;
    return waited < BATCH_WAIT_MS ? BATCH_WAIT_MS - waited : 0;
}

static void on_commit_due(evutil_socket_t fd, short what, void *arg)
{
    struct onr_batch *b = arg;
    long left = wait_left(b);

    (void)fd;
    (void)what;
    if (left > 0 && b->open) {
        const struct timeval tv = {0, left * 1000};

        b->waiting = event_add(b->commit_ev, &tv) == 0;
        if (b->waiting)
            return;
    }
    batch_flush(b);
}

int batch_new(struct event_base *base, struct onr_db *db, onr_batch_publish_cb publish,
              onr_batch_commit_cb commit, void *arg, struct onr_batch **out)
{
    struct onr_batch *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return ONR_ENOMEM;
    b->commit_ev = event_new(base, -1, 0, on_commit_due, b);
    if (b->commit_ev == NULL) {
        free(b);
        return ONR_ENOMEM;
    }
    b->db = db;
    b->publish = publish;
    b->commit = commit;
    b->arg = arg;
    *out = b;
    return ONR_OK;
}

static void drop_held(struct onr_batch *b)
{
    for (size_t i = 0; i < b->n_held; i++) {
        free(b->held[i].topic);
        free(b->held[i].payload);
    }
    b->n_held = 0;
}

void batch_free(struct onr_batch *b)
{
    if (b == NULL)
        return;
    batch_flush(b);
    event_free(b->commit_ev);
    free(b->held);
    free(b);
}

int batch_join(struct onr_batch *b)
{
    int rc;

    if (b->open && b->messages >= BATCH_MAX_MESSAGES)
        batch_flush(b);
    if (!b->open) {
        rc = onr_db_begin(b->db);
        if (rc != ONR_OK)
            return rc;
        b->open = 1;
        b->messages = 0;
        b->may_wait = 0;
        clock_gettime(CLOCK_MONOTONIC, &b->begun);
        /* active now, run once the loop has dealt with this read */
        event_active(b->commit_ev, EV_TIMEOUT, 0);
    } else if (b->waiting) {
        /* the commit waited for this burst: it is due after it */
        b->waiting = 0;
        event_del(b->commit_ev);
        event_active(b->commit_ev, EV_TIMEOUT, 0);
    }
    b->messages++;
    return ONR_OK;
}

void batch_may_wait(struct onr_batch *b)
{
    if (b != NULL && b->open && b->may_wait < b->messages)
        b->may_wait++;
}

int batch_is_open(const struct onr_batch *b)
{
    return b != NULL && b->open;
}

int batch_hold(struct onr_batch *b, uint32_t brokers, int qos, const char *topic,
               const uint8_t *payload, size_t len)
{
    struct held *h;

    if (b->n_held == b->cap_held) {
        size_t cap = b->cap_held ? 2 * b->cap_held : 16;
        struct held *grown = realloc(b->held, cap * sizeof(*grown));

        if (grown == NULL)
            return ONR_ENOMEM;
        b->held = grown;
        b->cap_held = cap;
    }
    h = &b->held[b->n_held];
    h->topic = strdup(topic);
    h->payload = malloc(len > 0 ? len : 1);
    if (h->topic == NULL || h->payload == NULL) {
        free(h->topic);
        free(h->payload);
        return ONR_ENOMEM;
    }
    memcpy(h->payload, payload, len);
    h->len = len;
    h->brokers = brokers;
    h->qos = qos;
    b->n_held++;
    return ONR_OK;
}

size_t batch_held(const struct onr_batch *b)
{
    return b != NULL ? b->n_held : 0;
}

void batch_unhold(struct onr_batch *b, size_t mark)
{
    if (b == NULL)
        return;
    for (size_t i = mark; i < b->n_held; i++) {
        free(b->held[i].topic);
        free(b->held[i].payload);
    }
    if (mark < b->n_held)
        b->n_held = mark;
}

#ifdef ONR_TEST_HOOKS
void batch_die_after_commit(struct onr_batch *b)
{
    b->die = 1;
}
#endif

void batch_flush(struct onr_batch *b)
{
    int rc;

    if (!b->open)
        return;
    b->open = 0;
    b->waiting = 0;
    event_del(b->commit_ev);
    rc = b->commit(b->arg);
    if (rc != ONR_OK) {
        onr_log(ONR_LOG_ERROR,
                "database error=%s: %zu messages not stored, %zu answers dropped; the peers "
                "retry",
                onr_db_errmsg(b->db), b->messages, b->n_held);
        onr_db_rollback(b->db);
        drop_held(b);
        return;
    }
#ifdef ONR_TEST_HOOKS
    if (b->die) {
        /* a crash between storing and answering, on purpose */
        onr_log(ONR_LOG_WARNING, "dying after commit (ONR_TEST_DIE_AFTER_COMMIT)");
        raise(SIGKILL);
    }
#endif
    for (size_t i = 0; i < b->n_held; i++) {
        const struct held *h = &b->held[i];

        b->publish(b->arg, h->brokers, h->qos, h->topic, h->payload, h->len);
    }
    drop_held(b);
}

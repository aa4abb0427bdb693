#include "batch.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/svc_log.h"

#define BATCH_MAX_MESSAGES 256 /* bounds what one failed commit drops */

struct held {
    uint32_t brokers;
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
    struct held *held;
    size_t n_held, cap_held;
#ifdef ONR_TEST_HOOKS
    int die;
#endif
};

static void on_commit_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    batch_flush(arg);
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
        /* active now, run once the loop has dealt with this read */
        event_active(b->commit_ev, EV_TIMEOUT, 0);
    }
    b->messages++;
    return ONR_OK;
}

int batch_is_open(const struct onr_batch *b)
{
    return b != NULL && b->open;
}

int batch_hold(struct onr_batch *b, uint32_t brokers, const char *topic, const uint8_t *payload,
               size_t len)
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
    for (size_t i = 0; i < b->n_held; i++)
        b->publish(b->arg, b->held[i].brokers, b->held[i].topic, b->held[i].payload, b->held[i].len);
    drop_held(b);
}

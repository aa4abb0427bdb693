/*
 * onrampctl pair --labels FILE: a labels file (labels.h) paired line by
 * line on one connection, at most --parallel pairings in flight, each
 * answered as onrampctl pair's one (paired, or refused with the
 * provider's code and reason) or timed out. A refusal `EBUSY` (the
 * manufacturer's claim rate) is asked again after a short backoff while
 * the line's time lasts. The report is printed in line order as lines
 * finish; progress goes to stderr (<onramp/progress.h>).
 *
 * A re-run skips nothing by itself: the provider answers a pairing of a
 * device its account already paired with `paired` at once, from its own
 * records, without asking the manufacturer again (SPEC type 15), so a
 * re-run costs one round trip per line already paired and no client-side
 * query can race with another pairing.
 */
#include <mosquitto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "labels.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/progress.h"
#include "onramp/text.h"

#define BUSY_BACKOFF_MAX 8 /* seconds between tries of a line refused EBUSY */
#define REASON_MAX 160

enum result { R_TODO, R_PAIRED, R_REFUSED, R_TIMEOUT, R_MALFORMED, R_COUNT };

static const char *const result_names[R_COUNT] = {"todo", "paired", "refused", "timeout",
                                                  "malformed"};

/* How a line ended. */
struct outcome {
    enum result result;
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char op[ONR_SERVICE_ID_MAX + 1];
    uint64_t code;
    char reason[REASON_MAX];
    char *devs; /* a kit's devices (heap), ids concatenated */
};

/* A pairing in flight. */
struct slot {
    int used;
    size_t entry;                /* its line in `lines` */
    uint8_t id[ONR_MSG_ID_LEN];  /* the request's id, while waiting */
    time_t deadline;             /* the line's end */
    time_t retry_at;             /* 0: waiting for its answer; else send then */
    unsigned busy;               /* EBUSY answers so far */
};

struct bulk {
    const struct ctl_broker *b;
    const struct ctl_request *r;
    struct onr_p256_key *key;
    char id[33];
    char topic[ONR_TOPIC_MAX + 1];
    char inbox[ONR_TOPIC_MAX + 1];
    struct ctl_labels_line *lines;
    size_t n;
    struct outcome *out;
    struct slot *slots;
    size_t parallel;
    size_t next;    /* the next line to start */
    size_t printed; /* lines reported, in order */
    size_t done;
    size_t count[R_COUNT];
    struct onr_progress *progress;
    struct ctl_answer *answer; /* scratch for on_message */
    struct mosquitto *mosq;
    int connected;
    uint8_t buf[ONR_ENVELOPE_MAX];
};

static void print_line(const struct bulk *k, size_t i)
{
    const struct ctl_labels_line *l = &k->lines[i];
    const struct outcome *o = &k->out[i];
    char reason[ONR_TEXT_ESCAPE_CAP(REASON_MAX)];

    printf("line=%u %s", l->line, result_names[o->result]);
    if (l->dev[0] != '\0')
        printf(" dev=%s", l->dev);
    if (l->kit[0] != '\0')
        printf(" kit=%s", l->kit);
    switch (o->result) {
    case R_PAIRED:
        printf(" manufacturer=%s operator=%s", o->mfr, o->op);
        if (o->devs != NULL) {
            printf(" devs=");
            ctl_print_devs((struct onr_bytes){(const uint8_t *)o->devs, strlen(o->devs)});
        }
        putchar('\n');
        break;
    case R_REFUSED:
        printf(" code=%s reason=%s\n", onr_error_name(-(int)o->code),
               onr_text_escape(o->reason, strlen(o->reason), reason, sizeof(reason)));
        break;
    case R_MALFORMED:
        printf(" reason=%s\n", onr_text_escape(o->reason, strlen(o->reason), reason,
                                               sizeof(reason)));
        break;
    default: printf("\n"); break;
    }
}

/* Line `i` ended: counted, and every finished line before the first
 * unfinished one printed. */
static void finish(struct bulk *k, size_t i, enum result result)
{
    k->out[i].result = result;
    k->count[result]++;
    k->done++;
    onr_progress_add(k->progress, 1);
    while (k->printed < k->n && k->out[k->printed].result != R_TODO)
        print_line(k, k->printed++);
    fflush(stdout);
}

static void free_slot(struct slot *s)
{
    memset(s, 0, sizeof(*s));
}

/* Send (again) the pairing of slot `s`, as a new request. */
static void send_pairing(struct bulk *k, struct slot *s)
{
    const struct ctl_labels_line *l = &k->lines[s->entry];
    struct onr_msg msg = {.type = ONR_MSG_PAIRING};
    size_t len = 0;
    int rc;

    msg.body.pairing = (struct onr_msg_pairing){
        .label = {(const uint8_t *)l->label, strlen(l->label)},
        .account = {(const uint8_t *)l->account, strlen(l->account)},
        .op = {l->op[0] != '\0' ? (const uint8_t *)l->op : NULL, strlen(l->op)},
    };
    s->retry_at = time(NULL) + 1; /* unless it leaves now */
    if (!k->connected)
        return;
    rc = ctl_request_sign(k->r, k->key, &msg, k->id, k->topic, k->buf, sizeof(k->buf), &len,
                          s->id);
    if (rc == CTL_EXIT_OK &&
        mosquitto_publish_v5(k->mosq, NULL, k->topic, (int)len, k->buf, 1, false, NULL) ==
            MOSQ_ERR_SUCCESS)
        s->retry_at = 0;
    onr_wipe(k->buf, len); /* it holds the label's claim */
}

/* The slot waiting for the answer to request `re`. */
static struct slot *waiting_for(struct bulk *k, const uint8_t re[ONR_MSG_ID_LEN])
{
    for (size_t i = 0; i < k->parallel; i++)
        if (k->slots[i].used && k->slots[i].retry_at == 0 &&
            memcmp(k->slots[i].id, re, ONR_MSG_ID_LEN) == 0)
            return &k->slots[i];
    return NULL;
}

static void copy_text(char *dst, size_t cap, struct onr_bytes src)
{
    size_t n = src.len < cap - 1 ? src.len : cap - 1;

    memcpy(dst, src.ptr, n);
    dst[n] = '\0';
}

static void on_answer(struct bulk *k, struct slot *s, const struct onr_envelope *env)
{
    struct outcome *o = &k->out[s->entry];
    size_t entry = s->entry;

    if (env->msg.type == ONR_MSG_PAIRED) {
        const struct onr_msg_paired *a = &env->msg.body.paired;

        if (a->dev.len != ONR_DEVID_LEN || memcmp(a->dev.ptr, k->lines[entry].dev, a->dev.len))
            return; /* not this line's device: no answer to it */
        copy_text(o->mfr, sizeof(o->mfr), a->mfr);
        copy_text(o->op, sizeof(o->op), a->op);
        free_slot(s);
        finish(k, entry, R_PAIRED);
        return;
    }
    if (env->msg.type == ONR_MSG_KIT_PAIRED) {
        const struct onr_msg_kit_paired *a = &env->msg.body.kit_paired;

        if (a->kit.len != ONR_KIT_ID_LEN || memcmp(a->kit.ptr, k->lines[entry].kit, a->kit.len))
            return; /* not this line's kit */
        copy_text(o->mfr, sizeof(o->mfr), a->mfr);
        copy_text(o->op, sizeof(o->op), a->op);
        o->devs = malloc(a->devs.len + 1);
        if (o->devs != NULL)
            copy_text(o->devs, a->devs.len + 1, a->devs);
        free_slot(s);
        finish(k, entry, R_PAIRED);
        return;
    }
    o->code = env->msg.body.error.code;
    copy_text(o->reason, sizeof(o->reason), env->msg.body.error.reason);
    if (o->code == (uint64_t)-ONR_EBUSY) {
        /* the manufacturer's claim rate: again soon, while the line lasts */
        unsigned wait = 1u << (s->busy < 3 ? s->busy : 3);
        uint8_t jitter = 0;

        s->busy++;
        onr_random(&jitter, 1);
        wait = wait > BUSY_BACKOFF_MAX ? BUSY_BACKOFF_MAX : wait;
        if (time(NULL) + (time_t)wait < s->deadline) {
            s->retry_at = time(NULL) + (time_t)wait + (jitter & 1);
            return;
        }
    }
    free_slot(s);
    finish(k, entry, R_REFUSED);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct bulk *k = obj;
    uint8_t re[ONR_MSG_ID_LEN];
    struct slot *s;

    (void)mosq;
    (void)props;
    if (!ctl_answer_check(k->r, k->inbox, m, k->answer) ||
        !ctl_answer_re(&k->answer->env.msg, re))
        return;
    s = waiting_for(k, re);
    if (s != NULL)
        on_answer(k, s, &k->answer->env);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct bulk *k = obj;

    (void)flags;
    (void)props;
    if (rc != 0)
        return;
    /* a new session: subscribe again, and send again what was in flight */
    if (mosquitto_subscribe_v5(mosq, NULL, k->inbox, 1, 0, NULL) != MOSQ_ERR_SUCCESS)
        return;
    k->connected = 1;
    fprintf(stderr, "onrampctl: connected again to %s:%d\n", k->b->host, k->b->port);
    for (size_t i = 0; i < k->parallel; i++)
        if (k->slots[i].used)
            k->slots[i].retry_at = time(NULL);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    (void)mosq;
    (void)rc;
    (void)props;
    ((struct bulk *)obj)->connected = 0;
}

/* Start lines while slots are free; malformed ones end at once. */
static void start_lines(struct bulk *k, time_t now)
{
    for (size_t i = 0; i < k->parallel && k->next < k->n; i++) {
        struct slot *s = &k->slots[i];

        while (k->next < k->n && k->lines[k->next].error != NULL) {
            const struct ctl_labels_line *l = &k->lines[k->next];

            if (l->dup_of != 0)
                snprintf(k->out[k->next].reason, REASON_MAX, "the same device as line %u",
                         l->dup_of);
            else
                snprintf(k->out[k->next].reason, REASON_MAX, "%s", l->error);
            finish(k, k->next++, R_MALFORMED);
        }
        if (s->used || k->next == k->n)
            continue;
        s->used = 1;
        s->entry = k->next++;
        s->deadline = now + k->b->timeout;
        send_pairing(k, s);
    }
}

/* Lines past their time end; those due are sent again. */
static void tick(struct bulk *k, time_t now)
{
    for (size_t i = 0; i < k->parallel; i++) {
        struct slot *s = &k->slots[i];
        size_t entry = s->entry;

        if (!s->used)
            continue;
        if (now >= s->deadline) {
            /* still refused EBUSY at its end: that is its answer */
            enum result r = s->busy > 0 && s->retry_at != 0 ? R_REFUSED : R_TIMEOUT;

            free_slot(s);
            finish(k, entry, r);
        } else if (s->retry_at != 0 && now >= s->retry_at) {
            send_pairing(k, s);
        }
    }
}

static int run(struct bulk *k)
{
    time_t reconnect_at = 0;

    k->mosq = ctl_connect(k->b, k);
    if (k->mosq == NULL)
        return CTL_EXIT_FAIL;
    mosquitto_message_v5_callback_set(k->mosq, on_message);
    mosquitto_connect_v5_callback_set(k->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(k->mosq, on_disconnect);
    /* QoS 1, and every publish follows the SUBSCRIBE on the connection:
     * the broker has the subscription when the first answer comes */
    if (mosquitto_subscribe_v5(k->mosq, NULL, k->inbox, 1, 0, NULL) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: cannot subscribe to %s\n", k->inbox);
        return CTL_EXIT_FAIL;
    }
    k->connected = 1;
    k->progress = onr_progress_new(stderr, "onrampctl: pairing", k->n, NULL);
    while (k->done < k->n) {
        time_t now = time(NULL);

        start_lines(k, now);
        tick(k, now);
        if (k->done == k->n)
            break;
        if (mosquitto_loop(k->mosq, 100, 1) != MOSQ_ERR_SUCCESS) {
            k->connected = 0;
            if (now >= reconnect_at) {
                reconnect_at = now + 1;
                mosquitto_reconnect(k->mosq); /* CONNACK: on_connect */
            } else {
                struct timespec pause = {0, 100 * 1000 * 1000};

                nanosleep(&pause, NULL);
            }
        }
    }
    onr_progress_free(k->progress);
    k->progress = NULL;
    return CTL_EXIT_OK;
}

int ctl_pair_labels(const struct ctl_broker *b, const struct ctl_request *r, const char *file,
                    const char *account, const char *op, long parallel)
{
    const struct ctl_labels_defaults def = {account, op};
    struct bulk *k = calloc(1, sizeof(*k));
    uint8_t *data = NULL;
    size_t len = 0;
    const char *why = NULL;
    int status = CTL_EXIT_FAIL;
    int rc;

    if (k == NULL)
        return CTL_EXIT_FAIL;
    k->b = b;
    k->r = r;
    k->parallel = (size_t)parallel;
    rc = ctl_request_topics(b, r, k->id, k->topic, k->inbox);
    if (rc != CTL_EXIT_OK) {
        status = rc;
        goto out;
    }
    rc = onr_file_read(file, CTL_LABELS_FILE_MAX, 0, &data, &len);
    if (rc == ONR_OK)
        rc = ctl_labels_parse((const char *)data, len, &def, &k->lines, &k->n, &why);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", file, why != NULL ? why : onr_strerror(rc));
        goto out;
    }
    rc = onr_p256_load(r->signing_key, &k->key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", r->signing_key, onr_strerror(rc));
        goto out;
    }
    k->out = calloc(k->n + 1, sizeof(*k->out));
    k->slots = calloc(k->parallel, sizeof(*k->slots));
    k->answer = calloc(1, sizeof(*k->answer));
    if (k->out == NULL || k->slots == NULL || k->answer == NULL)
        goto out;
    status = k->n == 0 ? CTL_EXIT_OK : run(k);
    if (status == CTL_EXIT_OK) {
        printf("pairs lines=%zu paired=%zu refused=%zu timeout=%zu malformed=%zu\n", k->n,
               k->count[R_PAIRED], k->count[R_REFUSED], k->count[R_TIMEOUT],
               k->count[R_MALFORMED]);
        status = k->count[R_PAIRED] == k->n ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }
out:
    ctl_disconnect(k->mosq);
    onr_progress_free(k->progress);
    onr_p256_free(k->key);
    if (k->lines != NULL)
        onr_wipe(k->lines, k->n * sizeof(*k->lines)); /* labels: claim secrets */
    free(k->lines);
    if (data != NULL)
        onr_wipe(data, len);
    free(data);
    for (size_t i = 0; k->out != NULL && i < k->n; i++)
        free(k->out[i].devs);
    free(k->out);
    free(k->slots);
    free(k->answer);
    onr_wipe(k->buf, sizeof(k->buf));
    free(k);
    return status;
}

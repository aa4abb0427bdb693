/*
 * onrampctl pair: step 1 of the journey. Sends the label a user scanned
 * and the user's account to a provider as a signed pairing, and waits for
 * the provider's signed verdict (which carries the manufacturer's).
 */
#include <getopt.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "onramp/crypto.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/label.h"
#include "onramp/p256.h"

static const char usage[] =
    "usage: onrampctl pair --provider ID --provider-key PUB\n"
    "                      (--label TEXT | --label-file FILE) --account ACCOUNT\n"
    "                      [--operator OP] [--signing-key KEY]\n"
    "                      --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                      [--timeout SECONDS]\n"
    "\n"
    "Pair a device with a user's account at a provider (step 1): the provider\n"
    "checks the label, records the claim and registers the device with its\n"
    "manufacturer, which checks the claim secret. The device then gets its\n"
    "voucher at its next hello, or at once if it is waiting.\n"
    "\n"
    "  --provider ID        the provider's id\n"
    "  --provider-key PUB   PEM: the provider's signing public key (its answer\n"
    "                       must verify with it)\n"
    "  --label TEXT         the device label as printed (ONR1:...); from a QR\n"
    "                       code image: --label \"$(zbarimg -q --raw label.png)\"\n"
    "  --label-file FILE    the label from a file (label.txt of the factory)\n"
    "  --account ACCOUNT    the user's account at the provider (1..64 characters)\n"
    "  --operator OP        the user's preferred operator; the provider uses its\n"
    "                       default unless it has a contract with OP\n"
    "  --signing-key KEY    P-256 key signing the pairing (default: --key); the\n"
    "                       provider lists its public key as a controller\n"
    "  --host, --port       the broker's services listener\n"
    "  --cafile             PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key        PEM: onrampctl's certificate (OU=control) and key\n"
    "  --timeout SECONDS    how long to wait for the answer (default 30)\n"
    "\n"
    "Output: one line, 'paired dev=ID manufacturer=ID operator=ID' or\n"
    "'refused code=NAME reason=\"...\"'. The claim secret is never printed.\n"
    "Exit status: 0 paired (also when it was paired before with the same\n"
    "account), 1 refused or no answer in time, 2 usage error.\n";

struct pairing {
    const char *provider;
    uint8_t provider_key[ONR_P256_PUB_LEN];
    char inbox[ONR_TOPIC_MAX + 1];
    uint8_t id[ONR_MSG_ID_LEN];
    int done;   /* 1 paired, -1 refused */
    uint8_t payload[ONR_ENVELOPE_MAX];
    struct onr_envelope answer;
};

/* The provider's answer to our pairing: signed by it for our inbox. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    struct pairing *p = obj;
    struct onr_envelope *env = &p->answer;
    const struct onr_bytes *re;

    (void)mosq;
    (void)props;
    if (p->done || m->payloadlen <= 0 || (size_t)m->payloadlen > sizeof(p->payload) ||
        strcmp(m->topic, p->inbox) != 0)
        return;
    memcpy(p->payload, m->payload, (size_t)m->payloadlen);
    if (onr_envelope_decode(p->payload, (size_t)m->payloadlen, env) != ONR_OK ||
        env->sender_role != ONR_ROLE_PROVIDER || env->sender.len != strlen(p->provider) ||
        memcmp(env->sender.ptr, p->provider, env->sender.len) != 0 ||
        onr_envelope_verify(env, (struct onr_bytes){(const uint8_t *)m->topic, strlen(m->topic)},
                            p->provider_key, (uint64_t)time(NULL), 300, NULL) != ONR_OK)
        return;
    if (env->msg.type == ONR_MSG_PAIRED)
        re = &env->msg.body.paired.re;
    else if (env->msg.type == ONR_MSG_ERROR)
        re = &env->msg.body.error.re;
    else
        return;
    if (re->len != ONR_MSG_ID_LEN || memcmp(re->ptr, p->id, ONR_MSG_ID_LEN) != 0)
        return;
    p->done = env->msg.type == ONR_MSG_PAIRED ? 1 : -1;
}

static int read_label(const char *file, char *out, size_t cap)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = onr_file_read(file, ONR_LABEL_MAX + 2, 0, &data, &len);

    if (rc != ONR_OK)
        return rc;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= cap) {
        onr_wipe(data, len);
        free(data);
        return ONR_ELENGTH;
    }
    memcpy(out, data, len);
    out[len] = '\0';
    onr_wipe(data, len);
    free(data);
    return ONR_OK;
}

static void print_answer(const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_PAIRED) {
        const struct onr_msg_paired *a = &env->msg.body.paired;

        printf("paired dev=%.*s manufacturer=%.*s operator=%.*s\n", (int)a->dev.len,
               (const char *)a->dev.ptr, (int)a->mfr.len, (const char *)a->mfr.ptr,
               (int)a->op.len, (const char *)a->op.ptr);
        return;
    }
    printf("refused code=%s reason=\"%.*s\"\n", onr_error_name(-(int)env->msg.body.error.code),
           (int)env->msg.body.error.reason.len, (const char *)env->msg.body.error.reason.ptr);
}

/* Sign and send the pairing, then wait for its answer. */
static int run(struct ctl_broker *b, struct pairing *p, const char *signing_key,
               const char *label, const char *account, const char *op)
{
    struct onr_p256_key *key = NULL;
    struct mosquitto *mosq = NULL;
    struct onr_msg msg = {.type = ONR_MSG_PAIRING};
    uint8_t buf[ONR_ENVELOPE_MAX];
    size_t len = 0;
    char id[33];
    char topic[ONR_TOPIC_MAX + 1];
    time_t deadline;
    int rc;

    rc = ctl_identity(b, id);
    if (rc == ONR_OK)
        rc = onr_p256_load(signing_key, &key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", rc == ONR_ECERT ? b->cert : signing_key,
                onr_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    snprintf(p->inbox, sizeof(p->inbox), "onr/1/s/ctl/%s/in", id);
    snprintf(topic, sizeof(topic), "onr/1/s/prov/%s/in", p->provider);
    msg.body.pairing = (struct onr_msg_pairing){
        .label = {(const uint8_t *)label, strlen(label)},
        .account = {(const uint8_t *)account, strlen(account)},
        .op = {(const uint8_t *)op, op != NULL ? strlen(op) : 0},
    };
    rc = onr_envelope_encode(&msg, &(struct onr_envelope_signer){
                                 .role = ONR_ROLE_CONTROL,
                                 .sender = {(const uint8_t *)id, strlen(id)},
                                 .key = key},
                             (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                             (uint64_t)time(NULL), buf, sizeof(buf), &len, p->id);
    onr_p256_free(key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: pairing: %s\n", onr_strerror(rc));
        return rc == ONR_EINVAL || rc == ONR_ELENGTH || rc == ONR_ECHARSET ? CTL_EXIT_USAGE
                                                                           : CTL_EXIT_FAIL;
    }
    mosq = ctl_connect(b, p);
    if (mosq == NULL)
        return CTL_EXIT_FAIL;
    mosquitto_message_v5_callback_set(mosq, on_message);
    /* Subscribe first: the answer may come at once. QoS 1, and the
     * publish follows the SUBSCRIBE on the same connection, so the broker
     * has the subscription when the provider answers. */
    rc = mosquitto_subscribe_v5(mosq, NULL, p->inbox, 1, 0, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_publish_v5(mosq, NULL, topic, (int)len, buf, 1, false, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "onrampctl: %s\n", mosquitto_strerror(rc));
        ctl_disconnect(mosq);
        return CTL_EXIT_FAIL;
    }
    deadline = time(NULL) + b->timeout;
    while (p->done == 0 && time(NULL) < deadline)
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (p->done != 0)
        print_answer(&p->answer);
    else
        fprintf(stderr, "onrampctl: no answer from provider %s within %d s\n", p->provider,
                b->timeout);
    ctl_disconnect(mosq);
    return p->done == 1 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

int ctl_pair(int argc, char **argv)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"provider", required_argument, NULL, 'P'},
        {"provider-key", required_argument, NULL, 'K'},
        {"label", required_argument, NULL, 'l'},
        {"label-file", required_argument, NULL, 'L'},
        {"account", required_argument, NULL, 'a'},
        {"operator", required_argument, NULL, 'o'},
        {"signing-key", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.timeout = 30};
    struct pairing *p = calloc(1, sizeof(*p));
    const char *provider_key = NULL, *label_file = NULL, *account = NULL, *op = NULL;
    const char *signing_key = NULL;
    char label[ONR_LABEL_MAX + 1] = "";
    int opt;
    int rc;

    if (p == NULL)
        return CTL_EXIT_FAIL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'P': p->provider = optarg; break;
        case 'K': provider_key = optarg; break;
        case 'l': snprintf(label, sizeof(label), "%s", optarg); break;
        case 'L': label_file = optarg; break;
        case 'a': account = optarg; break;
        case 'o': op = optarg; break;
        case 's': signing_key = optarg; break;
        case 'h': fputs(usage, stdout); free(p); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(usage, stderr);
            free(p);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(&b) || p->provider == NULL ||
        provider_key == NULL || account == NULL || (label[0] == '\0') == (label_file == NULL)) {
        fputs(usage, stderr);
        free(p);
        return CTL_EXIT_USAGE;
    }
    rc = onr_p256_public_load(provider_key, p->provider_key);
    if (rc == ONR_OK && label_file != NULL)
        rc = read_label(label_file, label, sizeof(label));
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n",
                label_file != NULL && rc != ONR_EBADKEY ? label_file : provider_key,
                onr_strerror(rc));
        free(p);
        return CTL_EXIT_FAIL;
    }
    rc = run(&b, p, signing_key != NULL ? signing_key : b.key, label, account, op);
    onr_wipe(label, sizeof(label));
    free(p);
    return rc;
}

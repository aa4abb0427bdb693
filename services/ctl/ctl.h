/*
 * onrampctl: operating Onramp from a shell. One file per subcommand;
 * this header is what they share.
 */
#ifndef ONRAMP_CTL_H
#define ONRAMP_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "onramp/envelope.h"
#include "onramp/topic.h"

struct mosquitto;

/* Exit codes, documented in every --help. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,  /* the operation failed (refused, timed out, broker unreachable) */
    CTL_EXIT_USAGE = 2, /* bad arguments */
};

/* How onrampctl reaches the services listener of a broker. */
struct ctl_broker {
    const char *host;
    int port;
    const char *cafile;
    const char *cert;
    const char *key;
    int timeout; /* seconds to wait for an answer */
};

/*
 * ctl_connect: connect to the services listener with the client
 * certificate, as client id "{role}.{CN}.ctl{pid}" taken from the
 * certificate (the form the broker plugin requires), MQTT v5, and wait for
 * the CONNACK. `userdata` goes to the client's callbacks. Prints the reason
 * on failure. Returns the connected client, or NULL.
 */
struct mosquitto *ctl_connect(const struct ctl_broker *b, void *userdata);

/* ctl_client_id: "{role}.{CN}.{suffix}" from b->cert (the form the broker
 * plugin requires of a tool's client id) into `out` (`cap` bytes). Prints
 * the reason on failure: ONR_ECERT (an OU that is no role) or the
 * certificate's load and parse errors, ONR_ESPACE. */
int ctl_client_id(const struct ctl_broker *b, const char *suffix, char *out, size_t cap);

/* ctl_identity: the service id (CN) in b->cert, into `id` (33 bytes). */
int ctl_identity(const struct ctl_broker *b, char id[33]);

/* The options every connecting subcommand takes (getopt_long entries and
 * their handling), so they read the same everywhere. */
#define CTL_BROKER_OPTIONS                                                          \
    {"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'}, \
        {"cafile", required_argument, NULL, 'c'},                                   \
        {"cert", required_argument, NULL, 'C'}, {"key", required_argument, NULL, 'k'}, \
        {"timeout", required_argument, NULL, 't'}
/* ctl_broker_option: take option `opt` if it is one of those (true). */
bool ctl_broker_option(struct ctl_broker *b, int opt, const char *arg);
/* ctl_broker_complete: every option given and sane. */
bool ctl_broker_complete(const struct ctl_broker *b);

/* ctl_disconnect: disconnect and destroy. Accepts NULL. */
void ctl_disconnect(struct mosquitto *mosq);

/*
 * One signed request to a service and its signed answer (request.c), for
 * the subcommands that ask a service to do something (pair, release).
 * Everything is borrowed for the call.
 */
struct ctl_request {
    const char *what;          /* the request in diagnostics: "pairing" */
    enum onr_role peer_role;   /* who answers: manufacturer, operator or provider */
    const char *peer;          /* its id: the request goes to onr/1/s/{level}/{peer}/in */
    const uint8_t *peer_key;   /* ONR_P256_PUB_LEN bytes: its answers must verify */
    const char *signing_key;   /* PEM file: the P-256 key signing the request */
    enum onr_msg_type answer_type; /* the answer besides an error (ONR_MSG_PAIRED) */
    enum onr_msg_type also_type;   /* another answer it may be, or 0 (KIT_PAIRED) */
};

/* The answer: `env` points into `payload`. Large: allocate it. */
struct ctl_answer {
    uint8_t payload[ONR_ENVELOPE_MAX];
    struct onr_envelope env;
};

/*
 * ctl_request: sign `msg` as role control, sender our service id (the CN of
 * b->cert), for the peer's inbox; connect (ctl_connect), subscribe to our
 * inbox onr/1/s/ctl/{id}/in, publish the request (QoS 1), and wait up to
 * b->timeout seconds for its answer: an envelope on our inbox from
 * r->peer_role r->peer, signed with r->peer_key for that topic, fresh
 * (ONR_ENVELOPE_DEFAULT_WINDOW), of type r->answer_type or error, whose
 * `re` is the request's id. Anything else arriving there is ignored.
 * Disconnects before returning; the encoded request is wiped (it may carry
 * a secret). Returns CTL_EXIT_OK with the answer (either type) in
 * *answer, CTL_EXIT_USAGE if `msg` breaks the schema's bounds, or
 * CTL_EXIT_FAIL (a key or certificate unusable, the broker unreachable, no
 * answer in time); every failure is explained on stderr.
 */
int ctl_request(const struct ctl_broker *b, const struct ctl_request *r,
                const struct onr_msg *msg, struct ctl_answer *answer);

/*
 * The parts of ctl_request, for a subcommand that has many requests in
 * flight on one connection (pair --labels):
 * ctl_request_topics: our service id (the CN of b->cert, 33 bytes), the
 * peer's inbox `topic` and our `inbox`; an exit code, the reason on stderr.
 * ctl_request_sign: `msg` signed with `key` (borrowed) as control `id` for
 * `topic` into `buf` (`cap` bytes, *len used), its id into `msg_id`; an
 * exit code (CTL_EXIT_USAGE: `msg` breaks the schema), the reason on
 * stderr.
 * ctl_answer_check: `m` (borrowed) is an answer from r->peer on `inbox`:
 * copied into `answer` and decoded, from the peer's role and id, signed by
 * r->peer_key for the topic, fresh, of type r->answer_type or error.
 * ctl_answer_re: the `re` of an answer's body into `re`; false if none.
 */
struct mosquitto_message;
struct onr_p256_key;
int ctl_request_topics(const struct ctl_broker *b, const struct ctl_request *r, char id[33],
                       char topic[ONR_TOPIC_MAX + 1], char inbox[ONR_TOPIC_MAX + 1]);
int ctl_request_sign(const struct ctl_request *r, struct onr_p256_key *key,
                     const struct onr_msg *msg, const char *id, const char *topic, uint8_t *buf,
                     size_t cap, size_t *len, uint8_t msg_id[ONR_MSG_ID_LEN]);
bool ctl_answer_check(const struct ctl_request *r, const char *inbox,
                      const struct mosquitto_message *m, struct ctl_answer *answer);
bool ctl_answer_re(const struct onr_msg *msg, uint8_t re[ONR_MSG_ID_LEN]);

/* ctl_print_devs: device ids concatenated (a kit's, checked by the
 * decoder) as ID,ID,... on stdout. */
void ctl_print_devs(struct onr_bytes devs);

/* ctl_print_refusal: the line 'refused code=NAME reason=TEXT' for an
 * error answer, on stdout; TEXT is the answer's reason escaped by
 * onr_text_escape (no space, quote or '=' but as \xNN). */
void ctl_print_refusal(const struct onr_msg_error *e);

/* Subcommands: argc/argv start at the subcommand's own name. */
int ctl_stats(int argc, char **argv);
int ctl_pair(int argc, char **argv);
int ctl_release(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_monitor(int argc, char **argv);
int ctl_label(int argc, char **argv);
/* ctl_pair_labels: pair --labels (pair_labels.c): every line of `file`
 * with `account` and `op` (NULL: none) for lines without their own, at
 * most `parallel` at a time; the report on stdout. An exit code. */
int ctl_pair_labels(const struct ctl_broker *b, const struct ctl_request *r, const char *file,
                    const char *account, const char *op, long parallel);
int ctl_revoke(int argc, char **argv);
int ctl_exporter(int argc, char **argv);
/* ctl_label_read: a label from a file (label.txt), its line end dropped,
 * into `out` (`cap` bytes, NUL-terminated); ONR_OK, ONR_ELENGTH or the
 * file errors. The caller wipes `out` (it holds the claim secret). */
int ctl_label_read(const char *file, char *out, size_t cap);
/* ctl_label_ndef_read: the text of the one Text record of the NDEF
 * message in `file` (label.ndef), into `out` as ctl_label_read; on a
 * refusal *why (static) says what is wrong with the message, else NULL.
 * ONR_OK, the file errors, onr_ndef_text_decode's or ONR_ELENGTH. */
int ctl_label_ndef_read(const char *file, char *out, size_t cap, const char **why);

#endif /* ONRAMP_CTL_H */

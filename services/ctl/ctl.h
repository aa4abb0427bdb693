/*
 * onrampctl: operating Onramp from a shell. One file per subcommand;
 * this header is what they share.
 */
#ifndef ONRAMP_CTL_H
#define ONRAMP_CTL_H

#include <stdbool.h>

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

/* Subcommands: argc/argv start at the subcommand's own name. */
int ctl_stats(int argc, char **argv);
int ctl_pair(int argc, char **argv);

#endif /* ONRAMP_CTL_H */

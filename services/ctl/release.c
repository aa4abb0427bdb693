/*
 * onrampctl release and revoke: a control tool asks a provider about one
 * device, signed, and waits for the provider's signed verdict.
 *   release (proto/SPEC.md type 28): the provider gives up the device, so
 *           that it can be claimed again; answered once the manufacturer
 *           released it too.
 *   revoke  (type 33): the provider revokes the device's service
 *           certificate at the broker; the claim stays.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"

static const char release_usage[] =
    "usage: onrampctl release --provider ID --provider-key PUB --dev DEVICE_ID\n"
    "                         [--signing-key KEY]\n"
    "                         --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                         [--timeout SECONDS]\n"
    "\n"
    "Release a device at a provider, so that it can be claimed again: the\n"
    "provider forgets its claim, application key and alignment, revokes its\n"
    "service certificate, and passes the release on to the device's\n"
    "manufacturer (which clears the assignment: any provider may register\n"
    "the device again) and operator (which suspends the subscription and\n"
    "revokes the device's grant at the broker). The provider answers once\n"
    "the manufacturer has. The device itself is not told: to onboard it\n"
    "again, reset it (onramp-device --factory-reset) and pair it anew.\n"
    "\n"
    "  --provider ID        the provider's id\n"
    "  --provider-key PUB   PEM: the provider's signing public key (its answer\n"
    "                       must verify with it)\n"
    "  --dev DEVICE_ID      the device (32 characters, as 'paired dev=' printed)\n"
    "  --signing-key KEY    P-256 key signing the release (default: --key); the\n"
    "                       provider lists its public key as a controller\n"
    "  --host, --port       the broker's services listener\n"
    "  --cafile             PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key        PEM: onrampctl's certificate (OU=control) and key\n"
    "  --timeout SECONDS    how long to wait for the answer (default 30)\n"
    "\n"
    "Output: one line, 'released dev=ID' or 'refused code=NAME reason=TEXT'\n"
    "(ENOENT: the provider does not hold the device; TEXT is the provider's\n"
    "reason with every byte but visible ASCII, = \\\" and \\\\ as \\xNN).\n"
    "Exit status: 0 released, 1 refused or no answer in time, 2 usage error.\n";

static const char revoke_usage[] =
    "usage: onrampctl revoke --provider ID --provider-key PUB --dev DEVICE_ID\n"
    "                        [--signing-key KEY]\n"
    "                        --host HOST --port PORT --cafile CA --cert CERT --key KEY\n"
    "                        [--timeout SECONDS]\n"
    "\n"
    "Revoke a device's service certificate at its provider (a device lost or\n"
    "compromised): the provider revokes it at the broker, which disconnects a\n"
    "client using it and refuses it from then on. The claim stays with the\n"
    "account; the device gets a new certificate only by enrolling a new key\n"
    "(onramp-device --factory-reset, then pairing again with the same account).\n"
    "\n"
    "  Options as for onrampctl release.\n"
    "\n"
    "Output: one line, 'revoked dev=ID serial=HEX' or 'refused code=NAME\n"
    "reason=TEXT' (ENOENT: the provider holds no certificate in force for it).\n"
    "Exit status: 0 revoked, 1 refused or no answer in time, 2 usage error.\n";

/* What differs between the two commands. */
struct device_command {
    const char *name;
    const char *usage;
    enum onr_msg_type request;
    enum onr_msg_type answer;
};

static const struct device_command release_command = {
    "release", release_usage, ONR_MSG_RELEASE, ONR_MSG_RELEASED,
};
static const struct device_command revoke_command = {
    "revoke", revoke_usage, ONR_MSG_REVOKE_REQUEST, ONR_MSG_REVOKED,
};

/* The answer's device, which must be ours. */
static struct onr_bytes answer_dev(const struct onr_msg *m)
{
    return m->type == ONR_MSG_REVOKED ? m->body.revoked.dev : m->body.released.dev;
}

/* Send the request about `dev` and print its answer. */
static int run(const struct ctl_broker *b, const struct ctl_request *r,
               const struct device_command *cmd, const char *dev)
{
    struct ctl_answer *answer = calloc(1, sizeof(*answer));
    struct onr_msg msg = {.type = cmd->request};
    struct onr_bytes said;
    int rc;

    if (answer == NULL)
        return CTL_EXIT_FAIL;
    /* both bodies are just {dev} */
    msg.body.release.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
    rc = ctl_request(b, r, &msg, answer);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (answer->env.msg.type == ONR_MSG_ERROR) {
        ctl_print_refusal(&answer->env.msg.body.error);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    said = answer_dev(&answer->env.msg);
    if (said.len != strlen(dev) || memcmp(said.ptr, dev, said.len) != 0) {
        /* the answer to our request, signed by the provider, for another
         * device: the provider's mistake, not a verdict */
        fprintf(stderr, "onrampctl: provider %s answered the %s of %s for %.*s\n", r->peer,
                cmd->name, dev, (int)said.len, (const char *)said.ptr);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    if (answer->env.msg.type == ONR_MSG_REVOKED) {
        const struct onr_bytes serial = answer->env.msg.body.revoked.serial;

        printf("revoked dev=%s serial=", dev);
        for (size_t i = 0; i < serial.len; i++)
            printf("%02x", serial.ptr[i]);
        putchar('\n');
    } else {
        printf("released dev=%s\n", dev);
    }
out:
    free(answer);
    return rc;
}

static int device_command(int argc, char **argv, const struct device_command *cmd)
{
    static const struct option options[] = {
        CTL_BROKER_OPTIONS,
        {"provider", required_argument, NULL, 'P'},
        {"provider-key", required_argument, NULL, 'K'},
        {"dev", required_argument, NULL, 'd'},
        {"signing-key", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.timeout = 30};
    uint8_t peer_key[ONR_P256_PUB_LEN];
    struct ctl_request r = {.what = cmd->name, .peer_role = ONR_ROLE_PROVIDER,
                            .peer_key = peer_key, .answer_type = cmd->answer};
    const char *provider_key = NULL, *dev = NULL;
    int opt;
    int rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'P': r.peer = optarg; break;
        case 'K': provider_key = optarg; break;
        case 'd': dev = optarg; break;
        case 's': r.signing_key = optarg; break;
        case 'h': fputs(cmd->usage, stdout); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(cmd->usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(&b) || r.peer == NULL || provider_key == NULL ||
        dev == NULL) {
        fputs(cmd->usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (onr_devid_check(dev, strlen(dev)) != ONR_OK) {
        fprintf(stderr, "onrampctl: --dev: not a device id: %s\n", dev);
        fputs(cmd->usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (r.signing_key == NULL)
        r.signing_key = b.key;
    rc = onr_p256_public_load(provider_key, peer_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", provider_key, onr_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return run(&b, &r, cmd, dev);
}

int ctl_release(int argc, char **argv)
{
    return device_command(argc, argv, &release_command);
}

int ctl_revoke(int argc, char **argv)
{
    return device_command(argc, argv, &revoke_command);
}

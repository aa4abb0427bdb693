/*
 * onrampctl release: a provider gives up a device (proto/SPEC.md type 28),
 * so that it can be claimed again. Sends a signed release to the provider
 * and waits for its signed verdict, given once the manufacturer released
 * the device too.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"

static const char usage[] =
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
    "Output: one line, 'released dev=ID' or 'refused code=NAME reason=\"...\"'\n"
    "(ENOENT: the provider does not hold the device).\n"
    "Exit status: 0 released, 1 refused or no answer in time, 2 usage error.\n";

/* Send the release of `dev` and print its answer. */
static int run(const struct ctl_broker *b, const struct ctl_request *r, const char *dev)
{
    struct ctl_answer *answer = calloc(1, sizeof(*answer));
    struct onr_msg msg = {.type = ONR_MSG_RELEASE};
    const struct onr_msg_released *a;
    int rc;

    if (answer == NULL)
        return CTL_EXIT_FAIL;
    msg.body.release.dev = (struct onr_bytes){(const uint8_t *)dev, strlen(dev)};
    rc = ctl_request(b, r, &msg, answer);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (answer->env.msg.type == ONR_MSG_ERROR) {
        ctl_print_refusal(&answer->env.msg.body.error);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    a = &answer->env.msg.body.released;
    if (a->dev.len != strlen(dev) || memcmp(a->dev.ptr, dev, a->dev.len) != 0) {
        /* the answer to our request, signed by the provider, for another
         * device: the provider's mistake, not a release */
        fprintf(stderr, "onrampctl: provider %s answered the release of %s for %.*s\n", r->peer,
                dev, (int)a->dev.len, (const char *)a->dev.ptr);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    printf("released dev=%s\n", dev);
out:
    free(answer);
    return rc;
}

int ctl_release(int argc, char **argv)
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
    struct ctl_request r = {.what = "release", .peer_role = ONR_ROLE_PROVIDER,
                            .peer_key = peer_key, .answer_type = ONR_MSG_RELEASED};
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
        case 'h': fputs(usage, stdout); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(&b) || r.peer == NULL || provider_key == NULL ||
        dev == NULL) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (onr_devid_check(dev, strlen(dev)) != ONR_OK) {
        fprintf(stderr, "onrampctl: --dev: not a device id: %s\n", dev);
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (r.signing_key == NULL)
        r.signing_key = b.key;
    rc = onr_p256_public_load(provider_key, peer_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", provider_key, onr_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return run(&b, &r, dev);
}

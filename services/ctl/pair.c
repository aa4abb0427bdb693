/*
 * onrampctl pair: step 1 of the journey. Sends the label a user scanned
 * and the user's account to a provider as a signed pairing, and waits for
 * the provider's signed verdict (which carries the manufacturer's).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "'refused code=NAME reason=TEXT' (TEXT: the provider's reason, every byte\n"
    "but visible ASCII, = \\\" and \\\\ as \\xNN). The claim secret is never printed.\n"
    "Exit status: 0 paired (also when it was paired before with the same\n"
    "account), 1 refused or no answer in time, 2 usage error.\n";

static void print_answer(const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_PAIRED) {
        const struct onr_msg_paired *a = &env->msg.body.paired;

        printf("paired dev=%.*s manufacturer=%.*s operator=%.*s\n", (int)a->dev.len,
               (const char *)a->dev.ptr, (int)a->mfr.len, (const char *)a->mfr.ptr,
               (int)a->op.len, (const char *)a->op.ptr);
        return;
    }
    ctl_print_refusal(&env->msg.body.error);
}

/* Send the pairing and print its answer. */
static int run(const struct ctl_broker *b, const struct ctl_request *r, const char *label,
               const char *account, const char *op)
{
    struct ctl_answer *answer = calloc(1, sizeof(*answer));
    struct onr_msg msg = {.type = ONR_MSG_PAIRING};
    int rc;

    if (answer == NULL)
        return CTL_EXIT_FAIL;
    msg.body.pairing = (struct onr_msg_pairing){
        .label = {(const uint8_t *)label, strlen(label)},
        .account = {(const uint8_t *)account, strlen(account)},
        .op = {(const uint8_t *)op, op != NULL ? strlen(op) : 0},
    };
    rc = ctl_request(b, r, &msg, answer);
    if (rc == CTL_EXIT_OK) {
        print_answer(&answer->env);
        rc = answer->env.msg.type == ONR_MSG_PAIRED ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }
    free(answer);
    return rc;
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
    uint8_t peer_key[ONR_P256_PUB_LEN];
    struct ctl_request r = {.what = "pairing", .peer_role = ONR_ROLE_PROVIDER,
                            .peer_key = peer_key, .answer_type = ONR_MSG_PAIRED};
    const char *provider_key = NULL, *label_file = NULL, *account = NULL, *op = NULL;
    char label[ONR_LABEL_MAX + 1] = "";
    int opt;
    int rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'P': r.peer = optarg; break;
        case 'K': provider_key = optarg; break;
        case 'l': snprintf(label, sizeof(label), "%s", optarg); break;
        case 'L': label_file = optarg; break;
        case 'a': account = optarg; break;
        case 'o': op = optarg; break;
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
        account == NULL || (label[0] == '\0') == (label_file == NULL)) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (r.signing_key == NULL)
        r.signing_key = b.key;
    rc = onr_p256_public_load(provider_key, peer_key);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", provider_key, onr_strerror(rc));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    if (label_file != NULL)
        rc = ctl_label_read(label_file, label, sizeof(label));
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl: %s: %s\n", label_file, onr_strerror(rc));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = run(&b, &r, label, account, op);
out:
    onr_wipe(label, sizeof(label)); /* the claim secret */
    return rc;
}

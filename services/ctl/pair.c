/*
 * onrampctl pair: step 1 of the journey. Sends the label a user scanned
 * and the user's account to a provider as a signed pairing, and waits for
 * the provider's signed verdict (which carries the manufacturer's); or
 * many, from a labels file (pair_labels.c).
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
    "       onrampctl pair --provider ID --provider-key PUB --labels FILE\n"
    "                      [--account ACCOUNT] [--operator OP] [--parallel N] ...\n"
    "\n"
    "Pair a device with a user's account at a provider (step 1): the provider\n"
    "checks the label, records the claim and registers the device with its\n"
    "manufacturer, which checks the claim secret. The device then gets its\n"
    "voucher at its next hello, or at once if it is waiting.\n"
    "\n"
    "  --provider ID        the provider's id\n"
    "  --provider-key PUB   PEM: the provider's signing public key (its answer\n"
    "                       must verify with it)\n"
    "  --label TEXT         the device label as printed (ONR1:...), or a kit's\n"
    "                       (ONK1:...: every device of the kit in one step); from\n"
    "                       a QR code image: --label \"$(zbarimg -q --raw label.png)\"\n"
    "  --label-file FILE    the label from a file (label.txt of the factory)\n"
    "  --labels FILE        many labels (below)\n"
    "  --account ACCOUNT    the user's account at the provider (1..64 bytes)\n"
    "  --operator OP        the user's preferred operator; the provider uses its\n"
    "                       default unless it has a contract with OP\n"
    "  --parallel N         --labels: pairings in flight at once, 1..64 (default 8)\n"
    "  --signing-key KEY    P-256 key signing the pairing (default: --key); the\n"
    "                       provider lists its public key as a controller\n"
    "  --host, --port       the broker's services listener\n"
    "  --cafile             PEM: the CA of the broker's TLS certificate\n"
    "  --cert, --key        PEM: onrampctl's certificate (OU=control) and key\n"
    "  --timeout SECONDS    how long to wait for the answer (default 30); with\n"
    "                       --labels, for each line from its first sending\n"
    "\n"
    "Output: one line, 'paired dev=ID manufacturer=ID operator=ID' (for a kit\n"
    "'paired kit=ID manufacturer=ID operator=ID devs=ID,ID,...': the\n"
    "manufacturer claimed them all for the provider, or none) or\n"
    "'refused code=NAME reason=TEXT' (TEXT: the provider's reason, every byte\n"
    "but visible ASCII, = \\\" and \\\\ as \\xNN). The claim secret is never printed.\n"
    "Exit status: 0 paired (also when it was paired before with the same\n"
    "account), 1 refused or no answer in time, 2 usage error.\n"
    "\n"
    "--labels FILE pairs every label of FILE (at most 16 MiB, 100000 labels),\n"
    "one per line, or CSV: a first line naming the columns, from label,\n"
    "account and operator (label required; any order), then one device per\n"
    "line; a field in double quotes may hold commas (\"\" is a quote in it).\n"
    "An empty or missing account or operator takes --account, --operator;\n"
    "blank lines and lines starting with # are skipped. Lines go on one\n"
    "connection, at most --parallel at a time; a line refused EBUSY (the\n"
    "manufacturer's claim rate) is sent again after a short wait while its\n"
    "time lasts. A malformed line (a label that does not check, a field that\n"
    "is not text, a wrong count of fields, the same device as an earlier\n"
    "line) is reported and the others go on. Progress (a count and a rate)\n"
    "goes to stderr; stdout gets one line per line of the file, in its order:\n"
    "  line=N paired dev=ID manufacturer=ID operator=ID\n"
    "  line=N paired kit=ID manufacturer=ID operator=ID devs=ID,ID,...\n"
    "  line=N refused [dev=ID|kit=ID] code=NAME reason=TEXT\n"
    "  line=N timeout dev=ID|kit=ID\n"
    "  line=N malformed [dev=ID|kit=ID] reason=TEXT\n"
    "and at the end 'pairs lines=N paired=N refused=N timeout=N malformed=N'.\n"
    "Running it again is safe: a device already paired with the same account\n"
    "is answered paired by the provider at once, from its own records. Exit\n"
    "status: 0 every line paired, 1 one was not (or the file could not be\n"
    "read), 2 usage error.\n";

void ctl_print_devs(struct onr_bytes devs)
{
    /* checked by the decoder: whole device ids, base32 */
    for (size_t i = 0; i + ONR_DEVID_LEN <= devs.len; i += ONR_DEVID_LEN)
        printf("%s%.*s", i == 0 ? "" : ",", ONR_DEVID_LEN, (const char *)devs.ptr + i);
}

static void print_answer(const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_KIT_PAIRED) {
        const struct onr_msg_kit_paired *k = &env->msg.body.kit_paired;

        printf("paired kit=%.*s manufacturer=%.*s operator=%.*s devs=", (int)k->kit.len,
               (const char *)k->kit.ptr, (int)k->mfr.len, (const char *)k->mfr.ptr,
               (int)k->op.len, (const char *)k->op.ptr);
        ctl_print_devs(k->devs);
        putchar('\n');
        return;
    }
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
        rc = answer->env.msg.type != ONR_MSG_ERROR ? CTL_EXIT_OK : CTL_EXIT_FAIL;
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
        {"labels", required_argument, NULL, 'F'},
        {"parallel", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_broker b = {.timeout = 30};
    uint8_t peer_key[ONR_P256_PUB_LEN];
    struct ctl_request r = {.what = "pairing", .peer_role = ONR_ROLE_PROVIDER,
                            .peer_key = peer_key, .answer_type = ONR_MSG_PAIRED,
                            .also_type = ONR_MSG_KIT_PAIRED};
    const char *provider_key = NULL, *label_file = NULL, *account = NULL, *op = NULL;
    const char *labels = NULL;
    char label[ONR_LABEL_MAX + 1] = "";
    char *end = NULL;
    long parallel = 8;
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
        case 'F': labels = optarg; break;
        case 'j':
            parallel = strtol(optarg, &end, 10);
            if (*end != '\0' || parallel < 1 || parallel > 64) {
                fputs("onrampctl pair: --parallel: 1..64\n", stderr);
                return CTL_EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return CTL_EXIT_OK;
        default:
            if (ctl_broker_option(&b, opt, optarg))
                break;
            fputs(usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || !ctl_broker_complete(&b) || r.peer == NULL || provider_key == NULL ||
        (label[0] != '\0') + (label_file != NULL) + (labels != NULL) != 1 ||
        (labels == NULL && account == NULL)) {
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
    if (labels != NULL) {
        rc = ctl_pair_labels(&b, &r, labels, account, op, parallel);
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

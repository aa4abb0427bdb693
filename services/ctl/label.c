/*
 * onrampctl label: check a device label (proto/SPEC.md section 12) and
 * render it as a QR code, in the terminal or as a PNG file: to print a
 * label again, or to pair from a phone; the label may come from its NFC
 * tag's NDEF message. Also the label-file readers that pair shares.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/label.h"
#include "onramp/ndef.h"
#include "qr.h"

static const char usage[] =
    "usage: onrampctl label (--label TEXT | --label-file FILE | --ndef FILE)\n"
    "                       [--png FILE [--scale N]]\n"
    "\n"
    "Check a device label (ONR1:MANUFACTURER:DEVICE:CLAIM:CHECK, as printed on\n"
    "the device and in the factory's label.txt) or a kit's\n"
    "(ONK1:MANUFACTURER:KIT:CLAIM:CHECK): its layout, characters and check\n"
    "characters; then show it as a QR code in the terminal, or write it as a\n"
    "PNG file. The label holds the claim secret: whoever has it can claim the\n"
    "device (or the kit's devices), so treat the output like the label itself.\n"
    "\n"
    "  --label TEXT        the label text\n"
    "  --label-file FILE   the label from a file (label.txt of the factory)\n"
    "  --ndef FILE         the label from an NDEF message (label.ndef of the\n"
    "                      factory, or a tag's NDEF message read out): its one\n"
    "                      Text record (proto/SPEC.md section 12)\n"
    "  --png FILE          write a PNG (mode 0644) instead of printing\n"
    "  --scale N           PNG pixels per QR module, 1..32 (default 8)\n"
    "\n"
    "Output: the QR code (or nothing with --png), then on stderr\n"
    "'label manufacturer=ID dev=ID' (a kit's: 'label manufacturer=ID kit=ID').\n"
    "Exit status: 0 done, 1 the label does not\n"
    "check (or the NDEF message holds no label: the reason on stderr) or the\n"
    "file cannot be written, 2 usage error.\n";

int ctl_label_read(const char *file, char *out, size_t cap)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = onr_file_read(file, ONR_LABEL_MAX + 2, 0, &data, &len);

    if (rc != ONR_OK)
        return rc;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= cap)
        rc = ONR_ELENGTH;
    if (rc == ONR_OK) {
        memcpy(out, data, len);
        out[len] = '\0';
    }
    onr_wipe(data, len);
    free(data);
    return rc;
}

int ctl_label_ndef_read(const char *file, char *out, size_t cap, const char **why)
{
    uint8_t *data = NULL;
    size_t len = 0;
    struct onr_ndef_text t;
    int rc = onr_file_read(file, ONR_NDEF_MAX, 0, &data, &len);

    *why = NULL;
    if (rc == ONR_ETOOBIG)
        *why = "larger than any NDEF message of a label";
    if (rc != ONR_OK)
        return rc;
    rc = onr_ndef_text_decode(data, len, &t);
    if (rc == ONR_ENOENT)
        *why = "the NDEF message holds no Text record";
    else if (rc != ONR_OK)
        *why = "not a well-formed NDEF message with one Text record";
    if (rc == ONR_OK && t.text.len >= cap) {
        rc = ONR_ELENGTH;
        *why = "its text is longer than a label";
    }
    if (rc == ONR_OK) {
        memcpy(out, t.text.ptr, t.text.len);
        out[t.text.len] = '\0';
    }
    onr_wipe(data, len);
    free(data);
    return rc;
}

int ctl_label(int argc, char **argv)
{
    static const struct option options[] = {
        {"label", required_argument, NULL, 'l'}, {"label-file", required_argument, NULL, 'L'},
        {"png", required_argument, NULL, 'p'},   {"scale", required_argument, NULL, 's'},
        {"ndef", required_argument, NULL, 'n'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char label[ONR_LABEL_MAX + 2] = "";
    const char *file = NULL, *ndef = NULL, *png = NULL, *why = NULL;
    struct onr_label parsed;
    struct onr_kit_label kit;
    char *end = NULL;
    long scale = 8;
    int status = CTL_EXIT_FAIL;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'l':
            if (strlen(optarg) >= sizeof(label)) {
                fputs("onrampctl label: --label: too long for a label\n", stderr);
                return CTL_EXIT_USAGE;
            }
            memcpy(label, optarg, strlen(optarg) + 1);
            break;
        case 'L': file = optarg; break;
        case 'n': ndef = optarg; break;
        case 'p': png = optarg; break;
        case 's':
            scale = strtol(optarg, &end, 10);
            if (*end != '\0' || scale < 1 || scale > 32) {
                fputs("onrampctl label: --scale: 1..32\n", stderr);
                return CTL_EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return CTL_EXIT_OK;
        default: fputs(usage, stderr); return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc || (label[0] != '\0') + (file != NULL) + (ndef != NULL) != 1) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    rc = file != NULL ? ctl_label_read(file, label, sizeof(label)) : ONR_OK;
    if (rc == ONR_OK && ndef != NULL)
        rc = ctl_label_ndef_read(ndef, label, sizeof(label), &why);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl label: %s: %s\n", file != NULL ? file : ndef,
                why != NULL ? why : onr_strerror(rc));
        goto out;
    }
    memset(&kit, 0, sizeof(kit));
    if (onr_label_is_kit(label, strlen(label)))
        rc = onr_kit_label_decode(label, strlen(label), &kit);
    else
        rc = onr_label_decode(label, strlen(label), &parsed);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl label: not a valid label: %s\n",
                rc == ONR_EBADMAC ? "the check characters do not match (a typo?)"
                                  : onr_strerror(rc));
        goto out;
    }
    rc = png != NULL ? onr_qr_write_png(label, png, (int)scale) : onr_qr_print(label, stdout);
    if (rc != ONR_OK) {
        fprintf(stderr, "onrampctl label: %s: %s\n", png != NULL ? png : "stdout",
                onr_strerror(rc));
        goto out;
    }
    if (kit.kit[0] != '\0')
        fprintf(stderr, "label manufacturer=%s kit=%s\n", kit.mfr, kit.kit);
    else
        fprintf(stderr, "label manufacturer=%s dev=%s\n", parsed.mfr, parsed.dev);
    status = CTL_EXIT_OK;
out:
    onr_wipe(label, sizeof(label));
    onr_wipe(&parsed, sizeof(parsed));
    onr_wipe(&kit, sizeof(kit));
    return status;
}

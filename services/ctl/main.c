/*
 * onrampctl: operate an Onramp fabric from a shell.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "onramp/crypto.h"
#include "onramp/version.h"

static const char usage[] =
    "usage: onrampctl COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  pair       pair a device (or a file of labels) with a user's account at a\n"
    "             provider\n"
    "  release    release a device at a provider, so it can be claimed again\n"
    "  revoke     revoke a device's service certificate at its provider\n"
    "  status     a device's journey as its manufacturer, provider, operator know it\n"
    "  monitor    print every message of the fabric as it passes, nothing secret\n"
    "  label      check a device label and show it as a QR code (or a PNG)\n"
    "  stats      print a broker plugin's counters\n"
    "  exporter   serve every broker's counters to Prometheus (/metrics)\n"
    "\n"
    "onrampctl COMMAND --help describes each command.\n"
    "\n"
    "  --help       this help\n"
    "  --version    print the version\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 usage error.\n";

int main(int argc, char **argv)
{
    int rc;

    if (argc < 2) {
        fputs(usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("onrampctl %s\n", ONR_VERSION_STRING);
        return CTL_EXIT_OK;
    }
    mosquitto_lib_init();
    if (strcmp(argv[1], "stats") == 0) {
        rc = ctl_stats(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "pair") == 0) {
        rc = ctl_pair(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "release") == 0) {
        rc = ctl_release(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "status") == 0) {
        rc = ctl_status(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "revoke") == 0) {
        rc = ctl_revoke(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "label") == 0) {
        rc = ctl_label(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "monitor") == 0) {
        rc = ctl_monitor(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "exporter") == 0) {
        rc = ctl_exporter(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "onrampctl: unknown command '%s'\n", argv[1]);
        fputs(usage, stderr);
        rc = CTL_EXIT_USAGE;
    }
    mosquitto_lib_cleanup();
    onr_crypto_thread_cleanup();
    return rc;
}

/*
 * onramp-factory's parts: factory.c (new-manufacturer, mint, and what
 * they share) and factory_kit.c (kit).
 */
#ifndef ONRAMP_FACTORY_H
#define ONRAMP_FACTORY_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/msg.h"
#include "onramp/p256.h"
#include "onramp/svc_db.h"
#include "onramp/x509.h"

#define PATH_CAP 1024

/* What the factory needs from the manufacturer's directory. */
struct maker {
    char dir[PATH_CAP];
    char id[ONR_SERVICE_ID_MAX + 1];
    struct onr_p256_key *ca_key;
    uint8_t ca[ONR_X509_MAX_DER];
    size_t ca_len;
    struct onr_db *db;
};

/* factory_fail: print "onramp-factory: WHAT: reason" for `rc`; returns 1. */
int factory_fail(const char *what, int rc);
/* factory_path_in: DIR/NAME into `out` (PATH_CAP bytes); ONR_ESPACE. */
int factory_path_in(char *out, const char *dir, const char *name);
/* factory_load_maker: the manufacturer in `dir` (its id, device CA and
 * registry, open); 0, or 1 with the reason printed. */
int factory_load_maker(const char *dir, struct maker *m);
/* factory_save_label: a label's text into `dir`: label.txt and
 * label.ndef (0600: they hold the claim secret) and label.png. */
int factory_save_label(const char *dir, const char *text);

/* factory_kit.c: `onramp-factory kit ...` (argv[0] is "kit"); the exit
 * status. */
int factory_kit(int argc, char **argv);

#endif

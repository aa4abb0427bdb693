/*
 * onramp-factory kit: devices a manufacturer ships together grouped under
 * one kit label (proto/SPEC.md sections 12 and 18). The devices must be
 * the manufacturer's, unclaimed, in no other kit and named once; the kit
 * gets a new id and claim secret, its label is written to OUT/KIT-ID/, and
 * the registry keeps the kit, its devices and the claim's hash, never the
 * secret. One transaction: a kit is known whole or not at all.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "factory.h"
#include "kits.h"
#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/label.h"
#include "qr.h"
#include "registry.h"

/* Why device `dev` cannot go into a kit (NULL: it can); *rc an error of
 * the registry. */
static const char *unfit(struct onr_db *db, const char *dev, int *rc)
{
    struct onr_registry_device d;
    struct onr_registry_assignment a;
    char kit[ONR_KIT_ID_LEN + 1];

    const char *why = NULL;

    *rc = onr_registry_device(db, dev, strlen(dev), &d);
    if (*rc == ONR_ENOENT)
        why = "not a device of this manufacturer";
    if (*rc == ONR_OK) {
        *rc = onr_registry_assignment(db, dev, &a);
        if (*rc == ONR_OK)
            why = "claimed by a provider already";
    }
    if (*rc == ONR_ENOENT && why == NULL) {
        *rc = onr_registry_kit_of(db, dev, kit);
        if (*rc == ONR_OK)
            why = "in another kit already";
    }
    if (*rc == ONR_ENOENT)
        *rc = ONR_OK;
    return why;
}

/* devices.txt: the kit's devices, one a line, in its order. */
static int save_devices(const char *dir, const struct onr_registry_kit *k)
{
    char text[ONR_KIT_DEVICES_MAX * (ONR_DEVID_LEN + 1)];
    char path[PATH_CAP];
    size_t len = 0;
    int rc = factory_path_in(path, dir, "devices.txt");

    for (size_t i = 0; i < k->n_devs; i++) {
        memcpy(text + len, k->devs[i], ONR_DEVID_LEN);
        len += ONR_DEVID_LEN;
        text[len++] = '\n';
    }
    return rc == ONR_OK ? onr_file_write_atomic(path, text, len, ONR_FILE_PUBLIC) : rc;
}

/* The kit of `k`'s devices: checked, its label written, recorded; in the
 * caller's transaction. */
static int make_kit(struct maker *m, const char *out, struct onr_registry_kit *k, int qr)
{
    struct onr_kit_label label;
    char text[ONR_KIT_LABEL_MAX + 1];
    char dir[PATH_CAP];
    const char *why;
    int rc = ONR_OK;

    for (size_t i = 0; i < k->n_devs; i++) {
        why = unfit(m->db, k->devs[i], &rc);
        if (rc != ONR_OK)
            return rc;
        if (why != NULL) {
            fprintf(stderr, "onramp-factory: kit: device %s: %s\n", k->devs[i], why);
            return ONR_EDENIED;
        }
    }
    memset(&label, 0, sizeof(label));
    rc = onr_kit_new_id(k->kit);
    if (rc == ONR_OK)
        rc = onr_label_new_claim(label.claim);
    if (rc == ONR_OK)
        rc = onr_label_claim_hash(label.claim, k->claim_hash);
    if (rc == ONR_OK) {
        snprintf(label.mfr, sizeof(label.mfr), "%s", m->id);
        memcpy(label.kit, k->kit, sizeof(label.kit));
        rc = onr_kit_label_encode(&label, text, sizeof(text));
    }
    if (rc == ONR_OK && (snprintf(dir, sizeof(dir), "%s/%s", out, k->kit) >= (int)sizeof(dir) ||
                         mkdir(dir, 0700) != 0))
        rc = ONR_EIO;
    if (rc == ONR_OK)
        rc = factory_save_label(dir, text);
    if (rc == ONR_OK)
        rc = save_devices(dir, k);
    /* last: the registry, so a kit is only known once its label exists */
    if (rc == ONR_OK)
        rc = onr_registry_add_kit(m->db, k, (uint64_t)time(NULL));
    if (rc == ONR_OK) {
        printf("%s %s\n", k->kit, text);
        if (qr)
            onr_qr_print(text, stdout);
    }
    onr_wipe(&label, sizeof(label));
    onr_wipe(text, sizeof(text));
    return rc;
}

/* The device ids of the command line into `k` (lowercase, each once). */
static int take_devices(int argc, char **argv, struct onr_registry_kit *k)
{
    memset(k, 0, sizeof(*k));
    if (argc < 2 || argc > ONR_KIT_DEVICES_MAX) {
        fprintf(stderr, "onramp-factory: kit: 2 to %d devices\n", ONR_KIT_DEVICES_MAX);
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        if (strlen(argv[i]) != ONR_DEVID_LEN ||
            onr_devid_check(argv[i], ONR_DEVID_LEN) != ONR_OK) {
            fprintf(stderr, "onramp-factory: kit: %s is not a device id\n", argv[i]);
            return 2;
        }
        for (size_t j = 0; j < k->n_devs; j++) {
            if (strcmp(k->devs[j], argv[i]) == 0) {
                fprintf(stderr, "onramp-factory: kit: device %s named twice\n", argv[i]);
                return 2;
            }
        }
        memcpy(k->devs[k->n_devs++], argv[i], ONR_DEVID_LEN + 1);
    }
    return 0;
}

int factory_kit(int argc, char **argv)
{
    static const struct option options[] = {
        {"manufacturer", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},
        {"qr", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    static struct onr_registry_kit k;
    const char *mfr_dir = NULL;
    const char *out = NULL;
    struct maker m;
    int qr = 0;
    int opt;
    int rc;

    memset(&m, 0, sizeof(m));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mfr_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'q': qr = 1; break;
        default:
            fprintf(stderr, "usage: onramp-factory kit --manufacturer DIR --out DIR [--qr] "
                            "DEVICE-ID...\n");
            return 2;
        }
    }
    if (mfr_dir == NULL || out == NULL) {
        fprintf(stderr, "usage: onramp-factory kit --manufacturer DIR --out DIR [--qr] "
                        "DEVICE-ID...\n");
        return 2;
    }
    rc = take_devices(argc - optind, argv + optind, &k);
    if (rc != 0)
        return rc;
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "onramp-factory: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (factory_load_maker(mfr_dir, &m) != 0) {
        rc = 1;
        goto done;
    }
    rc = onr_db_begin(m.db);
    if (rc == ONR_OK)
        rc = make_kit(&m, out, &k, qr);
    if (rc == ONR_OK)
        rc = onr_db_commit(m.db);
    if (rc != ONR_OK) {
        onr_db_rollback(m.db);
        rc = rc == ONR_EDENIED ? 1 : factory_fail("kit", rc);
    }
done:
    onr_db_close(m.db);
    onr_p256_free(m.ca_key);
    return rc;
}

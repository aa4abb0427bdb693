/*
 * onramp-factory: creates manufacturers and mints their devices.
 *
 *   onramp-factory new-manufacturer --id ID --dir DIR
 *   onramp-factory mint --manufacturer DIR --out DIR --count N
 *                       --broker NAME HOST PORT [--broker ...] --broker-ca FILE [--qr]
 *   onramp-factory kit --manufacturer DIR --out DIR [--qr] DEVICE-ID... (factory_kit.c)
 *
 * A device leaves the factory with its identity key (P-256) and sealing key
 * (X25519), an identity certificate from the manufacturer's device CA, the
 * manufacturer's public keys, the bootstrap brokers and their TLS CA, and
 * its label. The registry keeps its public keys and the hash of its claim
 * secret, never the secret.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/label.h"
#include "onramp/ndef.h"
#include "onramp/p256.h"
#include "onramp/progress.h"
#include "onramp/text.h"
#include "onramp/version.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"
#include "material.h"
#include "qr.h"
#include "factory.h"
#include "registry.h"

#define MAX_BROKERS 8

static const char usage[] =
    "usage: onramp-factory new-manufacturer --id ID --dir DIR\n"
    "       onramp-factory mint --manufacturer DIR --out DIR [--count N]\n"
    "                           --broker NAME HOST PORT [--broker ...] --broker-ca FILE\n"
    "                           [--qr]\n"
    "       onramp-factory kit --manufacturer DIR --out DIR [--qr] DEVICE-ID...\n"
    "\n"
    "new-manufacturer  create a manufacturer in DIR (which must not exist):\n"
    "                  its device CA (device-ca.pem, device-ca.key), its service,\n"
    "                  voucher and sealing keys (*.key mode 0600, *.pub), its\n"
    "                  registry database (manufacturer.db) and manufacturer.conf\n"
    "                  for onramp-manufacturer.\n"
    "mint              mint N devices (default 1) of the manufacturer in DIR:\n"
    "                  each gets a state directory OUT/DEVICE-ID/ with its keys\n"
    "                  (0600), identity certificate, the manufacturer's public\n"
    "                  keys, device.conf naming the bootstrap brokers (NAME is\n"
    "                  the broker's plugin_opt_broker_name), their TLS CA, and\n"
    "                  its label as text (label.txt) and QR code (label.png).\n"
    "                  Each device is recorded in the registry (public keys and\n"
    "                  the hash of the claim secret): the database DIR/\n"
    "                  manufacturer.conf names (its `database`, with\n"
    "                  `database_password_file` for PostgreSQL; by default\n"
    "                  DIR/manufacturer.db). Prints one line per device:\n"
    "                  DEVICE-ID LABEL; with --qr also the label's QR code.\n"
    "                  Progress (a count and a rate) goes to stderr: redrawn in\n"
    "                  place on a terminal, a line every few seconds otherwise.\n"
    "kit               group 2 to 16 devices of the manufacturer in DIR (made by\n"
    "                  it, none claimed by a provider yet, none in another kit,\n"
    "                  none twice) under a new kit: its id and claim secret, the\n"
    "                  registry keeping the kit, its devices and the hash of the\n"
    "                  claim (all of it or nothing), and its kit label (ONK1:...)\n"
    "                  in OUT/KIT-ID/ as label.txt, label.ndef (both 0600) and\n"
    "                  label.png, with devices.txt listing its devices. A user\n"
    "                  pairing the kit label claims every device of the kit in\n"
    "                  one step (onrampctl pair, the provider's page). Prints\n"
    "                  KIT-ID LABEL; with --qr also the label's QR code.\n"
    "\n"
    "Exit status: 0 done, 1 failed (what was made before the failure stays),\n"
    "2 usage error.\n";

int factory_fail(const char *what, int rc)
{
    fprintf(stderr, "onramp-factory: %s: %s\n", what, onr_strerror(rc));
    return 1;
}

int factory_path_in(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);

    return n < 0 || n >= PATH_CAP ? ONR_ESPACE : ONR_OK;
}

static int new_manufacturer(const char *id, const char *dir)
{
    char why[256];
    int rc;

    if (onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, strlen(id)}) !=
            ONR_OK ||
        strlen(id) == 0 || strlen(id) > ONR_SERVICE_ID_MAX) {
        fprintf(stderr, "onramp-factory: --id must be a service id (a-z 0-9 . _ -, 1..32)\n");
        return 2;
    }
    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, "onramp-factory: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    rc = onr_mfr_material_ensure(id, dir, 1, NULL, NULL, NULL, why, sizeof(why));
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-factory: %s\n", why);
        return 1;
    }
    printf("manufacturer %s created in %s\n", id, dir);
    return 0;
}


struct broker {
    const char *name;
    const char *host;
    const char *port;
};

int factory_load_maker(const char *dir, struct maker *m)
{
    char path[PATH_CAP];
    char why[256];
    uint8_t buf[ONR_X509_MAX_DER];
    size_t buf_len = sizeof(buf);
    struct onr_bytes cert;
    struct onr_config *cfg = NULL;
    struct onr_config_error err;
    size_t n = 0;
    int rc;

    snprintf(m->dir, sizeof(m->dir), "%s", dir);
    rc = factory_path_in(path, dir, "manufacturer.conf");
    if (rc == ONR_OK)
        rc = onr_config_load(path, &cfg, &err);
    if (rc != ONR_OK || onr_config_get(cfg, "id") == NULL ||
        strlen(onr_config_get(cfg, "id")) > ONR_SERVICE_ID_MAX) {
        onr_config_free(cfg);
        return factory_fail("manufacturer.conf", rc == ONR_OK ? ONR_EFORMAT : rc);
    }
    snprintf(m->id, sizeof(m->id), "%s", onr_config_get(cfg, "id"));
    /* the registry the configuration names (a SQLite file by default, or
     * the manufacturer's PostgreSQL database) */
    rc = onr_db_open_config(cfg, "manufacturer.db", &onr_registry_schema, NULL, &m->db, NULL,
                            path, sizeof(path), why, sizeof(why));
    onr_config_free(cfg);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-factory: registry: %s\n", why);
        return 1;
    }
    rc = factory_path_in(path, dir, "device-ca.key");
    if (rc == ONR_OK)
        rc = onr_p256_load(path, &m->ca_key);
    if (rc != ONR_OK)
        return factory_fail("device-ca.key", rc);
    rc = factory_path_in(path, dir, "device-ca.pem");
    if (rc == ONR_OK)
        rc = onr_x509_load(path, buf, &buf_len, &cert, 1, &n);
    if (rc != ONR_OK)
        return factory_fail("device-ca.pem", rc);
    memcpy(m->ca, cert.ptr, cert.len);
    m->ca_len = cert.len;
    return 0;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = onr_file_read(from, 1024 * 1024, 0, &data, &len);

    if (rc == ONR_OK)
        rc = onr_file_write_atomic(to, data, len, mode);
    free(data);
    return rc;
}

/* Copy the file `from` to to_dir/to_name (public material). */
static int copy_to(const char *from, const char *to_dir, const char *to_name)
{
    char to[PATH_CAP];
    int rc = factory_path_in(to, to_dir, to_name);

    if (rc == ONR_OK)
        rc = copy_file(from, to, ONR_FILE_PUBLIC);
    return rc;
}

/* Copy from_dir/from_name to to_dir/to_name. */
static int copy_into(const char *from_dir, const char *from_name, const char *to_dir,
                     const char *to_name)
{
    char from[PATH_CAP];
    int rc = factory_path_in(from, from_dir, from_name);

    if (rc == ONR_OK)
        rc = copy_to(from, to_dir, to_name);
    return rc;
}

/* The device's secrets and certificate into its state directory. */
static int save_device_keys(const char *dir, const struct onr_p256_key *identity,
                            const uint8_t seal_sk[ONR_X25519_KEY_LEN], struct onr_bytes cert)
{
    char path[PATH_CAP];
    int rc = factory_path_in(path, dir, "identity.key");

    if (rc == ONR_OK)
        rc = onr_p256_save(identity, path);
    if (rc == ONR_OK)
        rc = factory_path_in(path, dir, "identity.pem");
    if (rc == ONR_OK)
        rc = onr_x509_save(path, &cert, 1);
    if (rc == ONR_OK)
        rc = factory_path_in(path, dir, "sealing.key");
    if (rc == ONR_OK)
        rc = onr_x25519_save(seal_sk, path);
    return rc;
}

/* The label as an NDEF message for an NFC tag: one that does not fit an
 * NTAG213 with its TLV is refused (ONR_ETOOBIG). */
static int label_ndef(const char *text, uint8_t out[ONR_NDEF_ENCODED_MAX], size_t *len)
{
    int rc = onr_ndef_text_encode(text, strlen(text), out, ONR_NDEF_ENCODED_MAX, len);

    if (rc == ONR_OK && onr_ndef_tag_bytes(*len) > ONR_NDEF_NTAG213)
        rc = ONR_ETOOBIG;
    return rc;
}

int factory_save_label(const char *dir, const char *text)
{
    char path[PATH_CAP];
    char line[ONR_LABEL_MAX + 2];
    uint8_t ndef[ONR_NDEF_ENCODED_MAX];
    size_t ndef_len = 0;
    int rc = factory_path_in(path, dir, "label.txt");

    snprintf(line, sizeof(line), "%s\n", text);
    if (rc == ONR_OK)
        rc = onr_file_write_atomic(path, line, strlen(line), 0600);
    if (rc == ONR_OK)
        rc = label_ndef(text, ndef, &ndef_len);
    if (rc == ONR_OK)
        rc = factory_path_in(path, dir, "label.ndef");
    if (rc == ONR_OK)
        rc = onr_file_write_atomic(path, ndef, ndef_len, 0600);
    if (rc == ONR_OK)
        rc = factory_path_in(path, dir, "label.png");
    if (rc == ONR_OK)
        rc = onr_qr_write_png(text, path, 6);
    onr_wipe(line, sizeof(line));
    onr_wipe(ndef, sizeof(ndef));
    return rc;
}

/* device.conf: what the device reads at every start. */
static int write_device_conf(const char *dir, const char *dev, const struct maker *m,
                             const struct broker *brokers, size_t n_brokers)
{
    char text[2048];
    char path[PATH_CAP];
    size_t len;

    len = (size_t)snprintf(text, sizeof(text),
                           "# Factory material of device %s. Do not edit.\n"
                           "id %s\n"
                           "manufacturer %s\n"
                           "manufacturer_key manufacturer.pub\n"
                           "voucher_key voucher.pub\n"
                           "broker_ca broker-ca.pem\n",
                           dev, dev, m->id);
    for (size_t i = 0; i < n_brokers && len < sizeof(text); i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "broker %s %s %s\n",
                                brokers[i].name, brokers[i].host, brokers[i].port);
    if (len >= sizeof(text) || factory_path_in(path, dir, "device.conf") != ONR_OK)
        return ONR_ESPACE;
    return onr_file_write_atomic(path, text, len, ONR_FILE_PUBLIC);
}

/* One device: keys, certificate, claim, label, state directory, registry. */
static int mint_one(struct maker *m, const char *out, const struct broker *brokers,
                    size_t n_brokers, const char *broker_ca, int qr)
{
    struct onr_p256_key *identity = NULL;
    struct onr_registry_device rec;
    struct onr_label label;
    char text[ONR_LABEL_MAX + 1];
    char dir[PATH_CAP];
    char uri[64];
    uint8_t seal_sk[ONR_X25519_KEY_LEN];
    uint8_t cert[ONR_X509_MAX_DER];
    size_t cert_len = sizeof(cert);
    struct onr_x509_san san;
    struct onr_x509_profile leaf = {.days = 36500, .path_len = -1, .eku = ONR_X509_EKU_CLIENT};
    struct onr_bytes cert_bytes;
    int rc;

    memset(&rec, 0, sizeof(rec));
    memset(&label, 0, sizeof(label));
    rc = onr_p256_generate(&identity);
    if (rc == ONR_OK)
        rc = onr_p256_public(identity, rec.identity_key);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(rec.identity_key, rec.dev);
    if (rc == ONR_OK)
        rc = onr_x25519_generate(seal_sk, rec.sealing_key);
    if (rc == ONR_OK)
        rc = onr_label_new_claim(label.claim);
    if (rc == ONR_OK)
        rc = onr_label_claim_hash(label.claim, rec.claim_hash);
    if (rc != ONR_OK)
        goto out;
    snprintf(label.mfr, sizeof(label.mfr), "%s", m->id);
    memcpy(label.dev, rec.dev, sizeof(label.dev));
    rc = onr_label_encode(&label, text, sizeof(text));
    if (rc != ONR_OK)
        goto out;

    /* identity certificate: CN and SAN name the device */
    snprintf(uri, sizeof(uri), "urn:onramp:dev:%s", rec.dev);
    san = (struct onr_x509_san){ONR_X509_SAN_URI, uri};
    leaf.subject = (struct onr_x509_name){.common_name = rec.dev, .organization = m->id};
    leaf.san = &san;
    leaf.n_san = 1;
    rc = onr_x509_issue(m->ca_key, m->ca, m->ca_len, rec.identity_key, &leaf, cert, &cert_len);
    if (rc != ONR_OK)
        goto out;

    /* the state directory */
    if (snprintf(dir, sizeof(dir), "%s/%s", out, rec.dev) >= (int)sizeof(dir) ||
        mkdir(dir, 0700) != 0) {
        rc = ONR_EIO;
        goto out;
    }
    cert_bytes = (struct onr_bytes){cert, cert_len};
    rc = save_device_keys(dir, identity, seal_sk, cert_bytes);
    if (rc == ONR_OK)
        rc = copy_into(m->dir, "service.pub", dir, "manufacturer.pub");
    if (rc == ONR_OK)
        rc = copy_into(m->dir, "voucher.pub", dir, "voucher.pub");
    if (rc == ONR_OK)
        rc = copy_to(broker_ca, dir, "broker-ca.pem");
    if (rc == ONR_OK)
        rc = write_device_conf(dir, rec.dev, m, brokers, n_brokers);
    if (rc == ONR_OK)
        rc = factory_save_label(dir, text);
    if (rc != ONR_OK)
        goto out;

    /* last: the registry, so a device is only known once it exists */
    rc = onr_registry_add_device(m->db, &rec, (uint64_t)time(NULL));
    if (rc != ONR_OK)
        goto out;
    printf("%s %s\n", rec.dev, text);
    if (qr)
        onr_qr_print(text, stdout);
out:
    memset(seal_sk, 0, sizeof(seal_sk));
    memset(&label, 0, sizeof(label));
    memset(text, 0, sizeof(text));
    onr_p256_free(identity);
    return rc;
}

static int mint(int argc, char **argv)
{
    static const struct option options[] = {
        {"manufacturer", required_argument, NULL, 'm'}, {"out", required_argument, NULL, 'o'},
        {"count", required_argument, NULL, 'n'},        {"broker", required_argument, NULL, 'b'},
        {"broker-ca", required_argument, NULL, 'c'},    {"qr", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    struct broker brokers[MAX_BROKERS];
    struct onr_progress *progress = NULL;
    struct maker m;
    const char *mfr_dir = NULL;
    const char *out = NULL;
    const char *broker_ca = NULL;
    size_t n_brokers = 0;
    long count = 1;
    int qr = 0;
    int opt;
    int r = ONR_OK;
    int rc = 0;

    memset(&m, 0, sizeof(m));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mfr_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'c': broker_ca = optarg; break;
        case 'q': qr = 1; break;
        case 'b':
            /* --broker NAME HOST PORT: two more words follow */
            if (n_brokers == MAX_BROKERS || optind + 1 >= argc) {
                fputs(usage, stderr);
                return 2;
            }
            brokers[n_brokers++] = (struct broker){optarg, argv[optind], argv[optind + 1]};
            optind += 2;
            break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (mfr_dir == NULL || out == NULL || broker_ca == NULL || n_brokers == 0 || count < 1 ||
        count > 100000 || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    for (size_t i = 0; i < n_brokers; i++) {
        long port = strtol(brokers[i].port, NULL, 10);

        if (port < 1 || port > 65535 || strchr(brokers[i].host, ' ') != NULL ||
            onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)brokers[i].name,
                                                           strlen(brokers[i].name)}) != ONR_OK) {
            fprintf(stderr, "onramp-factory: --broker NAME HOST PORT: NAME a service id, PORT "
                            "1..65535\n");
            return 2;
        }
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "onramp-factory: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (factory_load_maker(mfr_dir, &m) != 0) {
        rc = 1;
        goto done;
    }
    progress = onr_progress_new(stderr, "onramp-factory: minting", (uint64_t)count, NULL);
    for (long i = 0; i < count && r == ONR_OK; i++) {
        r = mint_one(&m, out, brokers, n_brokers, broker_ca, qr);
        if (r == ONR_OK)
            onr_progress_add(progress, 1);
    }
    onr_progress_free(progress); /* ends its line before any error */
    if (r != ONR_OK)
        rc = factory_fail("mint", r);
done:
    onr_db_close(m.db);
    onr_p256_free(m.ca_key);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("onramp-factory %s\n", ONR_VERSION_STRING);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "new-manufacturer") == 0 && strcmp(argv[2], "--id") == 0 &&
        strcmp(argv[4], "--dir") == 0)
        return new_manufacturer(argv[3], argv[5]);
    if (argc >= 2 && strcmp(argv[1], "mint") == 0)
        return mint(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "kit") == 0)
        return factory_kit(argc - 1, argv + 1);
    fputs(usage, stderr);
    return 2;
}

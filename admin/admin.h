/*
 * onramp-admin's parts (internal): the output directory and its per-file
 * report (files.c), the keys and certificates (pki.c), each host's files
 * (hosts.c), the services' configurations (render.c), the broker's
 * (broker.c), the PostgreSQL SQL (sql.c), Prometheus (prometheus.c), each
 * host's setup script (setup.c) and rendered text (text.c).
 *
 * OUT/admin/        the services CA: its key never leaves this directory
 * OUT/keys/KIND/ID/ every key and certificate, made once (the identities)
 * OUT/hosts/HOST/   what HOST gets, laid out as its root directory
 * OUT/setup/HOST.sh what to run on HOST once its files are there
 * OUT/prometheus/   the fabric's scrape configuration (metrics lines)
 */
#ifndef ONRAMP_ADMIN_H
#define ONRAMP_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/progress.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"
#include "topology.h"

#define ADM_PATH 4096
#define ADM_TEXT_MAX (1024 * 1024)

/* Text being rendered: grows on the heap up to ADM_TEXT_MAX. */
struct adm_text {
    char *buf;
    size_t len;
    size_t cap;
    int failed; /* out of memory or too long: nothing more is added */
};

void adm_text_add(struct adm_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void adm_text_free(struct adm_text *t);

/* What the PKI step learnt of each party, for its peers' files. */
struct adm_party_keys {
    uint8_t signing[ONR_P256_PUB_LEN]; /* services' signing key; a control tool's TLS key */
    uint8_t voucher[ONR_P256_PUB_LEN]; /* manufacturers */
    uint8_t sealing[ONR_X25519_KEY_LEN]; /* manufacturers and providers */
    uint8_t provider_ca[ONR_X509_MAX_DER]; /* providers */
    size_t provider_ca_len;
};

struct adm_ctx {
    const struct adm_topology *t;
    char out[ADM_PATH]; /* OUT, absolute */
    int local;          /* configurations name files under OUT/hosts/HOST */
    int quiet;          /* report only what changed */
    const char *plugin; /* the installed plugin, for brokers without plugin= */
    size_t counts[3];   /* by enum onr_file_change */
    char why[1024];     /* what failed */
    struct onr_progress *progress;
    uint8_t ca[ONR_X509_MAX_DER]; /* the services CA's certificate */
    size_t ca_len;
    struct adm_party_keys keys[ADM_MAX_PARTIES];
};

/* ---- files.c: the output directory ----------------------------------- */

/* adm_failed: remember "PATH: REASON" for `rc` in c->why; returns `rc`. */
int adm_failed(struct adm_ctx *c, const char *path, int rc);

/* adm_path: OUT/`rel...` (printf-style) into `buf` (ADM_PATH bytes). */
int adm_path(struct adm_ctx *c, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* adm_join: `dir`/`name` into `buf` (ADM_PATH bytes). */
int adm_join(struct adm_ctx *c, char *buf, const char *dir, const char *name);

/* adm_host_path: where onramp-admin writes host `h`'s file `path...` (an
 * absolute path on that host): OUT/hosts/HOST/path. adm_conf_path: how the
 * host's configurations name it: `path`, or with --local the former. */
int adm_host_path(struct adm_ctx *c, size_t h, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int adm_conf_path(struct adm_ctx *c, size_t h, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* adm_dir: make the directory `dir` (and its missing parents, 0755) with
 * `mode`. */
int adm_dir(struct adm_ctx *c, const char *dir, mode_t mode);

/* adm_report: one line of the report: what was done to `path`. */
void adm_report(struct adm_ctx *c, const char *path, enum onr_file_change change);

/* adm_put: `path` holds `len` bytes of `data` with `mode` (onr_file_put),
 * its directory made first; reported. */
int adm_put(struct adm_ctx *c, const char *path, const void *data, size_t len, mode_t mode);

/* adm_put_public: `path` holds the public key `pub` (PEM, 0644): a P-256
 * point (ONR_P256_PUB_LEN bytes) or an X25519 key (ONR_X25519_KEY_LEN),
 * compared by value (<onramp/keyfile.h>); reported. */
int adm_put_public(struct adm_ctx *c, const char *path, const uint8_t *pub, size_t len);

/* adm_put_text: adm_put of rendered text (refused if rendering failed). */
int adm_put_text(struct adm_ctx *c, const char *path, const struct adm_text *text, mode_t mode);

/* adm_copy: `to` holds what `from` holds, with `mode`; reported. */
int adm_copy(struct adm_ctx *c, const char *from, const char *to, mode_t mode);

/* adm_summary: the report's last line. */
void adm_summary(struct adm_ctx *c);

/* ---- the steps ------------------------------------------------------- */

/* pki.c: OUT/admin and OUT/keys; fills c->ca and c->keys. */
int adm_pki(struct adm_ctx *c);

/* hosts.c: every party's files on its host. */
int adm_hosts(struct adm_ctx *c);

/* render.c: the configuration of party `i` (a service) into `text`. */
int adm_render_service(struct adm_ctx *c, size_t i, struct adm_text *text);

/* render.c: a control tool's or monitor's peers/: every service's signing
 * key (for onrampctl's --provider-key, --peer, ...). */
int adm_tool_peers(struct adm_ctx *c, size_t i);

/* broker.c: the broker's files on its host. */
int adm_broker_files(struct adm_ctx *c, size_t b);

/* prometheus.c: a metrics line's listener for instance `k` (1..; the one
 * process of a party without instances: 1) as a configuration writes it
 * ("ADDR:PORT", "[ADDR]:PORT", instance K's port the line's plus K - 1)
 * into `out`; whether it is not loopback (the configuration must then
 * allow it). */
char *adm_metrics_listen(const struct adm_metrics *m, unsigned k, char *out, size_t cap);
int adm_metrics_public(const struct adm_metrics *m);

/* prometheus.c: monitor `i`'s /etc/onramp/ID/exporter.conf, if it has a
 * metrics line; OUT/prometheus/onramp.yml, if any party has one. */
int adm_exporter_conf(struct adm_ctx *c, size_t i);
int adm_prometheus_files(struct adm_ctx *c);

/* sql.c: with storage postgres, each party's SQL on the database host and
 * its role's password (made once) on its own host. */
int adm_storage_files(struct adm_ctx *c);

/* sql.c: with storage postgres, party `i`'s `database` and
 * `database_password_file` lines into `out`. */
int adm_database_lines(struct adm_ctx *c, size_t i, struct adm_text *out);

/* setup.c: with instances=N (N > 1), service `i`'s systemd drop-ins
 * onramp-ROLE@ID:K.service.d/onramp.conf (K = 1..N): its one
 * configuration, `-o instance=K`, and its own metrics and pairing page
 * ports (the configuration's plus K - 1). */
int adm_instance_units(struct adm_ctx *c, size_t i);

/* setup.c: OUT/setup/HOST.sh for every host. */
int adm_setup_scripts(struct adm_ctx *c);

/* pki.c: `path` (0600) holds `bytes` random bytes (at most ADM_SECRET_MAX)
 * as hex, made once from the DRBG and never again (kept, as checked hex);
 * the hex into `out` (2 * bytes + 1), unless NULL. */
#define ADM_SECRET_MAX 32
int adm_secret_hex(struct adm_ctx *c, const char *path, size_t bytes, char *out);

/* The keystore directory of party `i`: "keys/ROLE/ID". */
int adm_key_dir(struct adm_ctx *c, size_t i, char *buf);
/* adm_ship: party `i`'s keys/ROLE/ID/NAME to DIR/ID/NAME on its host, public
 * (.pem, .pub) or secret (0600) by its name (hosts.c). */
int adm_ship(struct adm_ctx *c, size_t i, const char *name, const char *dir);

/* The broker's and the plugin's files shipped with Onramp (generated from
 * broker-plugins/ at build time). */
extern const char adm_asset_mosquitto_conf[];
extern const char adm_asset_openssl_broker_cnf[];

#endif /* ONRAMP_ADMIN_H */

/*
 * The onramp plugin's state and the interfaces between its files. One
 * instance per broker; every callback runs on the broker's single thread.
 *
 *   plugin.c    options, registration, tick, cleanup
 *   auth.c      who a client is: proof of possession, or a certificate
 *   cert.c      the services and provider CAs; judging a client certificate
 *               (OpenSSL object from Mosquitto)
 *   conns.c     the live connections and what each may do
 *   acl.c       the confinement table
 *   limits.c    token buckets, queued kicks (floods, revoked certificates)
 *   control.c   grants, revocations and certificate revocations on
 *               $CONTROL/onramp/v1
 *   counters.c  counting, logging refusals, publishing the counters
 *   grants.c, sessions.c, topic.c, map.c: no Mosquitto inside
 *               (unit-tested alone); sessions.c keeps the persistent
 *               sessions vouched for across restarts
 */
#ifndef ONRAMP_PLUGIN_H
#define ONRAMP_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "onramp/devid.h"
#include "onramp/msg.h"
#include "onramp/x509.h"

struct grants;
struct map;
struct onr_replay;
struct sessions;

/* ---- configuration (plugin_opt_*) ---- */

struct plugin_config {
    char broker_name[ONR_SERVICE_ID_MAX + 1];
    char broker_cert_path[512];        /* the bootstrap listener's certfile */
    char services_ca_path[512];
    char grants_path[512];
    char sessions_path[512];
    uint32_t pop_window;
    uint32_t replay_capacity;
    uint32_t max_payload;
    uint32_t device_rate;
    uint32_t device_burst;
    uint32_t flood_kick;
    uint32_t max_connects_per_sec;
    uint32_t stats_interval_ms;
};

/* A provider CA (plugin_opt_provider_ca_<id>): its certificates make
 * operational devices of that provider. At most PROVIDER_CAS_MAX. */
#define PROVIDER_CAS_MAX 256

struct provider_ca {
    char id[ONR_SERVICE_ID_MAX + 1];   /* the provider's service id */
    char path[512];
    uint8_t der[ONR_X509_MAX_DER];
    size_t der_len;
    void *x509;                        /* OpenSSL X509 of der: a cheap issuer pre-check */
};

/* ---- token buckets ---- */

struct bucket {
    double tokens;
    uint64_t last_ns;
};

/* bucket_take: refill at `rate`/s up to `burst`, then take one token if
 * there is one. true if taken. */
bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now_ns);
/* now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* ---- connections ---- */

enum principal {
    PRINCIPAL_DEVICE = 1,   /* bootstrap device: proof of possession */
    PRINCIPAL_SERVICE,      /* services CA certificate, a role other than monitor */
    PRINCIPAL_MONITOR,      /* services CA certificate, OU monitor */
    PRINCIPAL_OPERATIONAL,  /* provider CA certificate, CN = device id */
};

/* Who a client proved to be, as auth.c admits it. */
struct identity {
    enum principal kind;
    char role[8];                      /* service: "mfr", "op", "prov", "ctl", "monitor" */
    char id[ONR_SERVICE_ID_MAX + 1];   /* device id or service id (a device id is 32) */
    char prov[ONR_SERVICE_ID_MAX + 1]; /* operational: the provider whose CA issued it */
    uint8_t serial[20];                /* operational: certificate serial, trimmed */
    size_t serial_len;
};

/* Topic patterns are built once, when the client is admitted. */
#define PATTERN_MAX 96

struct conn {
    enum principal kind;
    const struct mosquitto *handle;    /* Mosquitto's client, the table key */
    bool online;                       /* false once Mosquitto reported it gone */
    char client_id[2 * ONR_SERVICE_ID_MAX + 16]; /* services: to replace a stale record */
    char id[ONR_DEVID_LEN + 1];        /* device id or service id */
    char role[8];                      /* service: "mfr", "op", "prov", "ctl" */
    char prov[ONR_SERVICE_ID_MAX + 1]; /* operational: its provider */
    uint8_t serial[20];                /* operational: its certificate's serial */
    size_t serial_len;
    bool revoked;                      /* operational: its certificate was revoked */
    bool may_control;                  /* service: may publish to $CONTROL/onramp/v1 */
    char down[PATTERN_MAX];            /* device: its down topic */
    char up_prefix[PATTERN_MAX];       /* device: "onr/1/d/{dev}/up/" */
    char own_prefix[PATTERN_MAX];      /* operational: "onr/1/p/{prov}/dev/{dev}/" */
    char own_filter[PATTERN_MAX];      /* operational: "onr/1/p/{prov}/dev/{dev}/#" */
    char service_up[PATTERN_MAX];      /* service: "onr/1/d/+/up/{role}/{svc}" */
    char service_in[PATTERN_MAX];      /* service: "onr/1/s/{role}/{svc}/in" */
    char service_ev[PATTERN_MAX];      /* service: "onr/1/s/{role}/{svc}/ev" */
    char service_devs[PATTERN_MAX];    /* provider service: "onr/1/p/{svc}/dev/#" */
    struct bucket rate;                /* device messages */
    uint32_t rate_denials;
    uint32_t denials_logged;
    bool kick_queued;
};

/* ---- the plugin ---- */

struct plugin {
    mosquitto_plugin_id_t *id;
    struct plugin_config cfg;
    uint8_t services_ca[ONR_X509_MAX_DER];
    size_t services_ca_len;
    struct provider_ca *provider_cas;  /* in option order */
    size_t n_provider_cas;
    struct onr_replay *replay;
    struct map *conns;                 /* client handle -> struct conn */
    struct map *services;              /* service client id -> struct conn */
    struct grants *grants;
    struct sessions *sessions;         /* persistent sessions vouched for */
    struct onr_msg_broker_stats stats; /* the counters, as published */
    struct bucket connects;
    struct bucket refusal_log;         /* log lines for refusals of unknown clients */
    uint64_t refusals_not_logged;
    struct kick *kicks;                /* devices to disconnect on tick */
    struct reply *replies;             /* control answers waiting for a sync */
    time_t started;                    /* wall clock at init */
    uint64_t started_ns;               /* now_ns() at init */
    uint64_t next_stats_ns;
    time_t next_prune;                 /* when expired revocations are looked for */
};

/* auth.c: MOSQ_EVT_EXT_AUTH_START and MOSQ_EVT_BASIC_AUTH. */
int auth_on_ext_start(int event, void *event_data, void *userdata);
int auth_on_basic(int event, void *event_data, void *userdata);
/*
 * auth.c: at start, vouch again for the persistent sessions recorded in
 * the sessions file (sessions.h): each certificate judged against the CAs
 * configured now, its client id against its role and id; those that pass
 * get an offline record (conns_restore), the others are dropped from the
 * file and logged. ONR_OK or why the file could not be rewritten.
 */
int auth_restore_sessions(struct plugin *p);

/*
 * cert.c: load the services CA and every provider CA named in the options
 * (p->cfg, p->provider_cas[i].id and .path). 0, or -1 after logging why: a
 * file that is not a CA, or two CAs with the same key.
 */
int cert_load_cas(struct plugin *p);
/*
 * cert.c: the broker's own certificate (p->cfg.broker_cert_path, PEM, its
 * first certificate) is a TLS server certificate valid now that lists
 * p->cfg.broker_name as a DNS subjectAltName (onr_x509_check_server): the
 * name device proofs are bound to is the certificate's, so two brokers can
 * share a name only by sharing a certificate. 0, or -1 after logging why.
 */
int cert_check_broker(const struct plugin *p);
/* cert.c: free what cert_load_cas loaded (the CAs' OpenSSL objects). */
void cert_free(struct plugin *p);
/* cert.c: is there a provider CA for provider `prov` here? */
bool cert_provider_known(const struct plugin *p, const char *prov);

/* cert.c: the client certificate `x509` (an OpenSSL X509 from
 * mosquitto_client_certificate, borrowed) as DER into `der`. ONR_OK or
 * ONR_ECERT (unencodable or longer than ONR_X509_MAX_DER). */
int cert_der(void *x509, uint8_t der[ONR_X509_MAX_DER], size_t *der_len);

/*
 * cert.c: who the client certificate `der` (borrowed) says the client is,
 * judged with the plugin's own copies of the CAs, whatever the listener
 * trusts, and against the clock now. The services CA first: a certificate
 * that verifies against it is a service or monitor (*who: kind, role, id)
 * or nothing (a bad role or id), never an operational device. Then each
 * provider CA: kind OPERATIONAL, id = the CN (a device id), prov = that
 * provider, the serial. ONR_OK; ONR_ECERT for a certificate from a known
 * CA that names no known role or no valid id (or unreadable); ONR_ECHAIN
 * if it verifies against none of the CAs.
 */
int cert_identify(const struct plugin *p, const uint8_t *der, size_t der_len,
                  struct identity *who);

/* conns.c */
struct conn *conns_get(const struct plugin *p, const struct mosquitto *client);
/*
 * Admit a client as `who` (copied): a new record, replacing any left for
 * the same handle or, for a service, for the same client id. A device's
 * record (bootstrap or operational) goes when it disconnects. A service's
 * stays, offline, while Mosquitto may still queue messages for its
 * persistent session (it checks READ for them).
 */
struct conn *conns_add(struct plugin *p, const struct mosquitto *client,
                       const struct identity *who);
/*
 * A service's or monitor's record for its persistent session restored
 * from the sessions file at start (offline, no handle), replacing any for
 * the same client id (copied, as `who`). It answers READ checks for that
 * session until its client is admitted again (conns_add replaces it).
 */
struct conn *conns_restore(struct plugin *p, const char *client_id, const struct identity *who);
/* The restored record (conns_restore) of the session of `client`, a
 * handle with no record of its own: Mosquitto's session restored from its
 * persistence file. NULL if none. */
struct conn *conns_restored(const struct plugin *p, const struct mosquitto *client);
/* Is `kind` a device, bootstrap or operational (limits, no persistence)? */
bool conns_is_device(enum principal kind);
int conns_on_disconnect(int event, void *event_data, void *userdata);
void conns_count(const struct plugin *p, uint64_t *devices, uint64_t *services);
void conns_free_all(struct plugin *p);

/* acl.c: MOSQ_EVT_ACL_CHECK. */
int acl_on_check(int event, void *event_data, void *userdata);

/* limits.c */
bool limits_connect_allowed(struct plugin *p);
/* Take a token for one device message; false if over the device rate. */
bool limits_device_message(struct plugin *p, struct conn *c);
/* Count a rate-limited device message; queue a kick past flood_kick. */
void limits_rate_denied(struct plugin *p, struct conn *c);
/*
 * Queue a kick of device connection `c` for the next tick, once; `why`
 * (static) is logged. The kick happens only if that very connection is
 * still there then: a device that reconnected meanwhile is not kicked.
 */
void limits_kick_queue(struct plugin *p, struct conn *c, const char *why);
void limits_kick_pending(struct plugin *p);
void limits_free(struct plugin *p);

/* control.c */
int control_on_message(int event, void *event_data, void *userdata);
/*
 * control.c: revocations of certificates past their notAfter (and the
 * grace) dropped from memory and the journal (grants_cert_prune): at
 * start whatever expired; then, at most every PRUNE_INTERVAL seconds, once
 * they are an eighth of the journal's records (64 at least), so the
 * journal stays bounded without being rewritten for every one.
 */
#define PRUNE_INTERVAL 3600
void control_prune(struct plugin *p, bool at_start);

/* On tick: make grants durable, then send the answers that waited. */
void control_flush(struct plugin *p);
void control_free(struct plugin *p);

/* counters.c */
/* Refusals logged per connection before the rest are only counted. */
#define ONR_LOG_BUDGET 10
/* Refusals of clients without a connection (at CONNECT, wills) logged per
 * second across the broker, and in a burst: a connect flood must not
 * become a log flood. */
#define ONR_REFUSAL_LOG_RATE 20
#define ONR_REFUSAL_LOG_BURST 100

void plugin_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A refusal: counted in *counter, logged with its reason unless this
 * connection already used its log budget. `c` may be NULL. */
void counters_deny(struct plugin *p, struct conn *c, const struct mosquitto *client,
                   uint64_t *counter, const char *what, const char *topic, const char *why);
void counters_publish(struct plugin *p);

#endif /* ONRAMP_PLUGIN_H */

/*
 * The topology file onramp-admin reads: one declaration per line (hosts,
 * brokers, manufacturers, providers, operators, contracts, plans, control
 * tools, monitors, storage), parsed within bounds and checked as a whole.
 * The format is documented in onramp-admin --help (main.c); every refusal
 * names the line and the reason.
 */
#ifndef ONRAMP_ADMIN_TOPOLOGY_H
#define ONRAMP_ADMIN_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/config.h"
#include "onramp/msg.h"

#define ADM_ID_MAX ONR_SERVICE_ID_MAX
#define ADM_MAX_TEXT (1024 * 1024) /* bytes of topology */
#define ADM_LINE_MAX 1024          /* bytes per line */
#define ADM_MAX_WORDS 16           /* words per line */
#define ADM_MAX_HOSTS 64
#define ADM_MAX_BROKERS 8          /* a device lists at most 8 bootstrap brokers */
#define ADM_MAX_PARTIES 256        /* manufacturers, providers, ... together */
#define ADM_MAX_PER_ROLE 64        /* a service lists at most 64 peers of a kind */
#define ADM_MAX_PLANS 32           /* per provider (onramp-provider's bound) */
#define ADM_MAX_ALL_PLANS 1024
#define ADM_MAX_CONTRACTS 1024
#define ADM_DNS_MAX 253
#define ADM_PATH_MAX 512
#define ADM_ACCOUNT_MAX 64
#define ADM_POLICY_MAX 512 /* a roaming policy's text (<onramp/policy.h>) */
#define ADM_MAX_MCCS 64    /* countries an operator serves */
#define ADM_APN_MAX 100
#define ADM_MAX_INSTANCES 8 /* processes of one service (instances=) */

/* What a party is; its certificate's OU is adm_role_name(). */
enum adm_role {
    ADM_MANUFACTURER = 0,
    ADM_PROVIDER,
    ADM_OPERATOR,
    ADM_CONTROL,
    ADM_MONITOR,
    ADM_ROLES
};

struct adm_host {
    char name[ADM_ID_MAX + 1];
    char address[64];          /* IPv4 or IPv6, "" if none */
    char dns[ADM_DNS_MAX + 1]; /* "" if none */
    size_t line;
};

struct adm_broker {
    char name[ADM_ID_MAX + 1];
    size_t host; /* index into hosts */
    uint16_t bootstrap_port;
    uint16_t services_port;
    uint16_t service_port;
    char bind[64];                 /* listeners' address, "" for all */
    char region[4];                /* the country it serves: an MCC, "" for none */
    char plugin[ADM_PATH_MAX + 1]; /* "" for the installed plugin */
    uint32_t nofile;
    size_t line;
};

struct adm_party {
    enum adm_role role;
    char id[ADM_ID_MAX + 1];
    size_t host;
    size_t line;
    unsigned instances; /* processes sharing its database (1: no `instance`) */
    /* providers */
    size_t default_operator; /* index into parties */
    size_t endpoint_broker;  /* index into brokers */
    uint16_t pairing_port;   /* 0: no pairing page */
    char pairing_origin[ONR_ORIGIN_MAX + 1]; /* its public origin; "" none */
    /* operators */
    char plmn[7];
    char apn[ADM_APN_MAX + 1];
    char amf[5]; /* "" for the service's default */
    char imsi_first[16];
    char imsi_last[16];
    char iccid_first[20];
    char iccid_last[20];
    char serves[ADM_MAX_MCCS][4]; /* the countries it serves (MCCs); none: any */
    size_t n_serves;
};

struct adm_contract {
    size_t provider; /* indexes into parties */
    size_t op;
    size_t line;
};

/* A `roaming` line: the roaming policy of a provider's account (SPEC
 * section 15's text form; ACCOUNT * for every other). */
struct adm_roaming {
    size_t provider;
    char account[ADM_ACCOUNT_MAX + 1];
    char policy[ADM_POLICY_MAX + 1];
    size_t line;
};

struct adm_plan {
    size_t provider;
    char account[ADM_ACCOUNT_MAX + 1];
    unsigned qos;
    char charging[ADM_ID_MAX + 1];
    uint64_t cap;
    size_t line;
};

/* A `metrics` line: a service's metrics_listen, or a monitor's exporter. */
struct adm_metrics {
    size_t party; /* index into parties: a service or a monitor */
    uint16_t port;
    char bind[64]; /* the listener's address, "" for 127.0.0.1 */
    size_t line;
};

struct adm_storage {
    int postgres; /* 0: SQLite (the default) */
    size_t host;
    uint16_t port;
    size_t line; /* 0 when not declared */
};

struct adm_topology {
    struct adm_host hosts[ADM_MAX_HOSTS];
    size_t n_hosts;
    struct adm_broker brokers[ADM_MAX_BROKERS];
    size_t n_brokers;
    struct adm_party parties[ADM_MAX_PARTIES];
    size_t n_parties;
    struct adm_contract contracts[ADM_MAX_CONTRACTS];
    size_t n_contracts;
    struct adm_plan plans[ADM_MAX_ALL_PLANS];
    size_t n_plans;
    struct adm_roaming roaming[ADM_MAX_ALL_PLANS];
    size_t n_roaming;
    struct adm_metrics metrics[ADM_MAX_PARTIES];
    size_t n_metrics;
    struct adm_storage storage;
};

/* Where and why a topology was refused. */
struct adm_error {
    size_t line; /* 1-based; 0 when about the whole file */
    char reason[256];
};

/*
 * adm_topology_parse: parse and check `len` bytes of `text` (borrowed)
 * into a new topology (*out, free with adm_topology_free). On ONR_EFORMAT
 * `err` says which line and why.
 * Returns ONR_OK, ONR_EINVAL, ONR_ETOOBIG (more than ADM_MAX_TEXT bytes),
 * ONR_EFORMAT or ONR_ENOMEM.
 */
int adm_topology_parse(const char *text, size_t len, struct adm_topology **out,
                       struct adm_error *err);

/* adm_topology_load: the same for the file at `path`; also ONR_ENOENT,
 * ONR_EIO. */
int adm_topology_load(const char *path, struct adm_topology **out, struct adm_error *err);

/* adm_topology_free: accepts NULL. */
void adm_topology_free(struct adm_topology *t);

/* "manufacturer", "provider", "operator", "control", "monitor". */
const char *adm_role_name(enum adm_role role);

/* adm_has_contract: 1 if provider `prov` and operator `op` (indexes into
 * parties) have a contract. */
int adm_has_contract(const struct adm_topology *t, size_t prov, size_t op);

/* adm_metrics_of: party `i`'s metrics line (borrowed from `t`), or NULL. */
const struct adm_metrics *adm_metrics_of(const struct adm_topology *t, size_t i);

#endif /* ONRAMP_ADMIN_TOPOLOGY_H */

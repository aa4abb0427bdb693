/*
 * The messages of the onboarding journey: types, senders, bodies.
 *
 * A body is a msgpack map with short string keys; proto/SPEC.md lists every
 * field with its type and bounds. Decoded bodies borrow: every struct
 * onr_bytes points into the buffer that was decoded and lives as long as it.
 * An optional string or binary that is absent has ptr == NULL; an optional
 * uint that is absent reads as 0 (and a 0 is left out when encoding).
 */
#ifndef ONRAMP_MSG_H
#define ONRAMP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/bytes.h"

#define ONR_PROTOCOL_VERSION 1
#define ONR_MSG_ID_LEN 16
#define ONR_NONCE_LEN 16
#define ONR_SERVICE_ID_MAX 32

/* Who sends: the envelope's sender role. */
enum onr_role {
    ONR_ROLE_DEVICE = 1,
    ONR_ROLE_MANUFACTURER = 2,
    ONR_ROLE_OPERATOR = 3,
    ONR_ROLE_PROVIDER = 4,
    ONR_ROLE_CONTROL = 5, /* onrampctl and other operator tools */
    ONR_ROLE_BROKER = 6,  /* the broker plugin: control answers, counters */
};

/* How an envelope of a given type is authenticated. */
enum onr_auth_kind {
    ONR_AUTH_NONE = 0, /* bound to its sender by the broker; see SPEC.md */
    ONR_AUTH_SIG = 1,  /* ECDSA P-256, 64 bytes */
    ONR_AUTH_MAC = 2,  /* HMAC-SHA256, 32 bytes */
};

enum onr_msg_type {
    ONR_MSG_HELLO = 1,
    ONR_MSG_VOUCHER = 2,
    ONR_MSG_PENDING = 3,
    ONR_MSG_ERROR = 4,
    ONR_MSG_PROFILE_REQUEST = 5,
    ONR_MSG_PROFILE = 6,
    ONR_MSG_ATTACH_REQUEST = 7,
    ONR_MSG_ATTACH_CHALLENGE = 8,
    ONR_MSG_ATTACH_RESPONSE = 9,
    ONR_MSG_ATTACH_RESULT = 10,
    ONR_MSG_ENROLL_REQUEST = 11,
    ONR_MSG_ENROLL_RESPONSE = 12,
    ONR_MSG_REGISTRATION = 13,
    ONR_MSG_REGISTERED = 14,
    ONR_MSG_PAIRING = 15,
    ONR_MSG_PAIRED = 16,
    ONR_MSG_ALIGNMENT = 17,
    ONR_MSG_ALIGNED = 18,
    ONR_MSG_VOUCHER_TOKEN = 19,
    ONR_MSG_GRANT = 20,
    ONR_MSG_REVOKE = 21,
    ONR_MSG_CONTROL_RESULT = 22,
    ONR_MSG_BROKER_STATS = 23,
    ONR_MSG_APP_KEY = 24,
    ONR_MSG_APP_KEY_STORED = 25,
    ONR_MSG_EVENT = 26,
    ONR_MSG_CERT_REVOKE = 27,
    ONR_MSG_RELEASE = 28,
    ONR_MSG_RELEASED = 29,
    ONR_MSG_STATUS_REQUEST = 30,
    ONR_MSG_STATUS = 31,
    ONR_MSG_SERVICE_STATS = 32,
    ONR_MSG_REVOKE_REQUEST = 33,
    ONR_MSG_REVOKED = 34,
    ONR_MSG_NO_OPERATOR = 35,
    ONR_MSG_RELOCATION_REQUEST = 36,
    ONR_MSG_RELOCATE = 37,
    ONR_MSG_RENEW_REQUEST = 38,
    ONR_MSG_RENEWED = 39,
    ONR_MSG_KIT_REGISTRATION = 40,
    ONR_MSG_KIT_REGISTERED = 41,
    ONR_MSG_KIT_PAIRED = 42,
    /* Bodies that only travel sealed inside another message, never as an
     * envelope of their own. */
    ONR_MSG_PROFILE_CONTENT = 100,
};

/* Outcome a device reports in an attach response (TS 33.102 6.3.3). */
enum onr_attach_result {
    ONR_ATTACH_RES = 0,          /* res present */
    ONR_ATTACH_SYNC_FAILURE = 1, /* auts present */
    ONR_ATTACH_MAC_FAILURE = 2,  /* neither */
};

struct onr_msg_hello {
    struct onr_bytes nonce; /* 16 random bytes, echoed in the voucher */
    struct onr_bytes cert;  /* optional: DER identity certificate */
    struct onr_bytes plmn;  /* optional: the visited PLMN, MCC || MNC (5..6 digits) */
};

struct onr_msg_voucher {
    struct onr_bytes re;      /* id of the hello answered */
    struct onr_bytes voucher; /* an encoded VOUCHER_TOKEN envelope */
};

struct onr_msg_pending {
    struct onr_bytes re;
    uint64_t retry_after; /* seconds, 1..86400 */
    struct onr_bytes reason; /* optional text */
};

struct onr_msg_error {
    struct onr_bytes re;
    uint64_t code;           /* positive ONR_E number (<onramp/error.h>) */
    struct onr_bytes reason; /* optional text */
};

struct onr_msg_profile_request {
    struct onr_bytes voucher; /* the VOUCHER_TOKEN the device holds */
    struct onr_bytes nonce;   /* fresh; the answer's HPKE aad */
};

struct onr_msg_profile {
    struct onr_bytes re;
    struct onr_bytes sealed; /* enc (32) || ct of a PROFILE_CONTENT body */
    struct onr_bytes rand;   /* optional, 16: the first attach challenge's */
    struct onr_bytes autn;   /* 16 with rand, else absent */
};

struct onr_msg_attach_request {
    struct onr_bytes imsi;
};

struct onr_msg_attach_challenge {
    struct onr_bytes re;
    struct onr_bytes rand; /* 16 */
    struct onr_bytes autn; /* 16: SQN xor AK || AMF || MAC-A */
};

struct onr_msg_attach_response {
    struct onr_bytes rand;  /* the challenge answered */
    uint64_t result;        /* enum onr_attach_result */
    struct onr_bytes res;   /* 8, iff result == ONR_ATTACH_RES */
    struct onr_bytes auts;  /* 14, iff result == ONR_ATTACH_SYNC_FAILURE */
};

struct onr_msg_attach_result {
    struct onr_bytes re;
    struct onr_bytes kid; /* 16: the AKMA-style key identifier */
};

struct onr_msg_enroll_request {
    struct onr_bytes kid; /* 16 */
    struct onr_bytes csr; /* DER PKCS#10 */
};

struct onr_msg_enroll_response {
    struct onr_bytes re;
    struct onr_bytes chain;    /* DER certificates, leaf first, concatenated */
    struct onr_bytes ca;       /* DER CA of the service broker */
    struct onr_bytes endpoint; /* e.g. mqtts://host:8883 */
};

struct onr_msg_registration {
    struct onr_bytes dev;
    struct onr_bytes claim;   /* enc || ct: the claim secret sealed to the manufacturer */
    struct onr_bytes op;      /* operator chosen for the device */
    struct onr_bytes op_key;  /* its P-256 signing key, 65 bytes */
    uint64_t user;            /* optional: 1 if `op` is the end user's own choice */
    struct onr_bytes policy;  /* optional: roaming policy text (<onramp/policy.h>) */
    struct onr_bytes op_keys; /* with `policy`: its operators' keys (<onramp/op_keys.h>) */
};

struct onr_msg_registered {
    struct onr_bytes re;
    struct onr_bytes dev;
};

struct onr_msg_pairing {
    struct onr_bytes label;   /* the label payload as printed */
    struct onr_bytes account; /* text */
    struct onr_bytes op;      /* optional: the user's operator */
};

struct onr_msg_paired {
    struct onr_bytes re;
    struct onr_bytes dev;
    struct onr_bytes mfr;
    struct onr_bytes op;
};

struct onr_msg_alignment {
    struct onr_bytes dev;
    struct onr_bytes imsi;
    struct onr_bytes iccid;
    uint64_t qos;              /* QoS class, 0..255 */
    struct onr_bytes charging; /* charging group id */
    uint64_t cap;              /* data cap, bytes per month; 0 = none */
};

struct onr_msg_aligned {
    struct onr_bytes re;
    struct onr_bytes dev;
};

struct onr_msg_voucher_token {
    struct onr_bytes dev;
    struct onr_bytes seal_key; /* the device's X25519 key, 32 */
    struct onr_bytes nonce;    /* the hello's nonce */
    struct onr_bytes prov;
    struct onr_bytes prov_key; /* 65 */
    struct onr_bytes op;
    struct onr_bytes op_key;   /* 65 */
    uint64_t expires;          /* seconds since the epoch */
    struct onr_bytes plmn;     /* optional: the visited PLMN `op` was chosen for */
    struct onr_bytes why;      /* optional: "user", "policy" or "fallback" */
};

struct onr_msg_grant {
    struct onr_bytes dev;
    struct onr_bytes prov; /* the provider whose topic the device may reach */
};

struct onr_msg_revoke {
    struct onr_bytes dev;
};

struct onr_msg_control_result {
    struct onr_bytes re;
    uint64_t code;           /* 0, or a positive ONR_E number */
    struct onr_bytes reason; /* optional text */
    struct onr_bytes epoch;  /* 16: the broker's grants journal's epoch */
};

/* The broker plugin's counters (proto/SPEC.md, type 23). */
struct onr_msg_broker_stats {
    struct onr_bytes epoch;     /* 16: its grants journal's identity (SPEC type 23) */
    uint64_t uptime;            /* seconds since the plugin started */
    uint64_t connects;          /* clients admitted */
    uint64_t refused;           /* connections refused, all reasons */
    uint64_t pop_malformed;     /* proof of the wrong length or version */
    uint64_t pop_wrong_id;      /* client id is not the key's device id */
    uint64_t pop_bad_sig;
    uint64_t pop_stale;
    uint64_t pop_replayed;
    uint64_t no_credentials;    /* neither a proof nor a services certificate */
    uint64_t bad_cert;          /* certificate not from the services CA, or no role */
    uint64_t connect_rate;      /* refused by the connection rate limit */
    uint64_t denied_publish;
    uint64_t denied_subscribe;
    uint64_t denied_read;
    uint64_t denied_retain;
    uint64_t denied_will;
    uint64_t denied_size;
    uint64_t rate_limited;      /* device messages over the per-device rate */
    uint64_t kicked;            /* devices disconnected: flooding, a revoked certificate */
    uint64_t grants;
    uint64_t revocations;
    uint64_t control_refused;   /* control requests refused, but for grant_conflicts */
    uint64_t grant_conflicts;   /* grants and revokes of a grant another operator holds */
    uint64_t devices;           /* devices connected now */
    uint64_t services;          /* services and monitors connected now */
};

struct onr_msg_app_key {
    struct onr_bytes dev;
    struct onr_bytes kid;    /* 16: the AKMA-style key identifier */
    struct onr_bytes sealed; /* K_AF sealed to the provider (<onramp/sealed.h>) */
    struct onr_bytes imsi;   /* the device's subscription, for alignment */
    struct onr_bytes iccid;
};

/* A provider gives up a device (asked by a control tool; passed on to the
 * manufacturer and the operator), and the answer. */
struct onr_msg_release {
    struct onr_bytes dev;
};

struct onr_msg_released {
    struct onr_bytes re;
    struct onr_bytes dev;
};

/* A control tool asks a provider to revoke a device's service certificate
 * (the claim stays), and the answer. */
struct onr_msg_revoke_request {
    struct onr_bytes dev;
};

struct onr_msg_revoked {
    struct onr_bytes re;
    struct onr_bytes dev;
    struct onr_bytes serial;
};

/* A control tool asks a service what it knows of a device. */
struct onr_msg_status_request {
    struct onr_bytes dev;
};

/* What a service knows of a device: when each step it sees happened, in
 * seconds since the epoch, 0 for "not (yet) here". */
struct onr_msg_status {
    struct onr_bytes re;
    struct onr_bytes dev;
    struct onr_bytes state;     /* the service's own word for it, e.g. "claimed" */
    uint64_t claimed;           /* provider: paired */
    uint64_t registered;        /* manufacturer: assigned */
    uint64_t vouched;           /* manufacturer: last voucher */
    uint64_t profiled;          /* operator: subscription allocated */
    uint64_t attached;          /* operator, provider: attach, key received */
    uint64_t enrolled;          /* provider: certificate issued */
    uint64_t aligned;           /* operator, provider: policy agreed */
    uint64_t operational;       /* provider: first telemetry */
    struct onr_bytes plmn;      /* optional: the visited PLMN last reported */
    struct onr_bytes op;        /* optional: the device's operator now */
    struct onr_bytes why;       /* optional: why that operator ("user", ...) */
    uint64_t relocations;       /* optional: relocations completed */
    uint64_t relocated;         /* optional: when the last one completed */
    struct onr_bytes prev_op;   /* optional: the operator before it */
    uint64_t cert_expires;      /* optional: the provider: its certificate's notAfter */
};

/* A service's counters since it started (type 32, on its ev topic). */
struct onr_msg_service_stats {
    uint64_t uptime;            /* seconds */
    uint64_t handled;           /* messages that changed state or were answered */
    uint64_t duplicates;        /* answered from the outbox */
    uint64_t refused;           /* all refusals */
    uint64_t refused_auth;      /* signature, MAC, RES, unknown sender */
    uint64_t refused_stale;     /* outside the freshness window, replays */
    uint64_t refused_input;     /* malformed, out of bounds, unexpected */
    uint64_t refused_policy;    /* not allowed, not found, exhausted */
    uint64_t busy;              /* left for the peer to retry */
    uint64_t latency_avg_us;    /* handling time, mean and maximum */
    uint64_t latency_max_us;
    uint64_t pending;           /* messages to peers awaiting confirmation */
    uint64_t pending_age;       /* seconds the oldest of them has waited */
    uint64_t pending_refused;   /* refusals of such messages by their peers */
    uint64_t renewals;          /* optional: the provider: certificates renewed */
    uint64_t certs_expiring;    /* optional: the provider: certificates in force
                                 * expiring within a week */
};

/* A provider revokes a device's service certificate at the broker. */
struct onr_msg_cert_revoke {
    struct onr_bytes dev;
    struct onr_bytes serial; /* 1..20 bytes, as in the certificate */
    uint64_t not_after;      /* optional: the certificate's notAfter */
};

struct onr_msg_app_key_stored {
    struct onr_bytes re;
    struct onr_bytes dev;
};

/* A step a service completed for a device, for monitors (on its ev topic). */
struct onr_msg_event {
    struct onr_bytes dev;
    struct onr_bytes step; /* "voucher", "profile", "attached", ... */
};

/* A hello answered ENOOPERATOR, told to the device's provider. */
struct onr_msg_no_operator {
    struct onr_bytes re;   /* the hello's id */
    struct onr_bytes dev;
    struct onr_bytes plmn; /* optional: the PLMN the hello reported */
};

/* A provider asks the manufacturer for a voucher for the operator its
 * policy names where its device now is. */
struct onr_msg_relocation_request {
    struct onr_bytes dev;
    struct onr_bytes plmn;  /* the PLMN the device reported */
    struct onr_bytes nonce; /* the nonce of that report (16) */
};

/* A provider hands its operational device that voucher. */
struct onr_msg_relocate {
    struct onr_bytes voucher; /* an encoded VOUCHER_TOKEN envelope */
};

/* An operational device asks its provider for a certificate for a new
 * service key, signed with the key of the certificate it has. */
struct onr_msg_renew_request {
    struct onr_bytes serial; /* of the certificate in force, signing this */
    struct onr_bytes csr;    /* PKCS#10 for the new key, DER */
};

/* The device connected with the renewed certificate (signed with its key). */
struct onr_msg_renewed {
    struct onr_bytes serial; /* of the renewed certificate */
};

/* A provider claims a kit's devices in one step (its kit label's claim). */
struct onr_msg_kit_registration {
    struct onr_bytes kit;     /* the kit id (20 characters) */
    struct onr_bytes claim;   /* the kit's claim secret sealed to the manufacturer */
    struct onr_bytes op;      /* the operator for every device of the kit */
    struct onr_bytes op_key;  /* 65 bytes */
    uint64_t user;            /* optional, as a registration's */
    struct onr_bytes policy;  /* optional, as a registration's */
    struct onr_bytes op_keys; /* with `policy`, as a registration's */
};

/* The manufacturer assigned the kit's devices to the provider. */
struct onr_msg_kit_registered {
    struct onr_bytes re;
    struct onr_bytes kit;
    struct onr_bytes devs; /* the kit's device ids, concatenated */
    struct onr_bytes assigned; /* optional: those this registration assigned */
};

/* The provider's answer to a pairing of a kit label. */
struct onr_msg_kit_paired {
    struct onr_bytes re;
    struct onr_bytes kit;
    struct onr_bytes mfr;
    struct onr_bytes op;
    struct onr_bytes devs; /* the kit's device ids, concatenated */
};

struct onr_msg_profile_content {
    struct onr_bytes iccid; /* 19..20 digits */
    struct onr_bytes imsi;  /* 6..15 digits */
    struct onr_bytes ki;    /* 16 */
    struct onr_bytes opc;   /* 16 */
    struct onr_bytes amf;   /* 2 */
    struct onr_bytes plmn;  /* MCC || MNC, 5..6 digits */
    struct onr_bytes apn;
};

struct onr_msg {
    enum onr_msg_type type;
    union {
        struct onr_msg_hello hello;
        struct onr_msg_voucher voucher;
        struct onr_msg_pending pending;
        struct onr_msg_error error;
        struct onr_msg_profile_request profile_request;
        struct onr_msg_profile profile;
        struct onr_msg_attach_request attach_request;
        struct onr_msg_attach_challenge attach_challenge;
        struct onr_msg_attach_response attach_response;
        struct onr_msg_attach_result attach_result;
        struct onr_msg_enroll_request enroll_request;
        struct onr_msg_enroll_response enroll_response;
        struct onr_msg_registration registration;
        struct onr_msg_registered registered;
        struct onr_msg_pairing pairing;
        struct onr_msg_paired paired;
        struct onr_msg_alignment alignment;
        struct onr_msg_aligned aligned;
        struct onr_msg_voucher_token voucher_token;
        struct onr_msg_grant grant;
        struct onr_msg_revoke revoke;
        struct onr_msg_control_result control_result;
        struct onr_msg_broker_stats broker_stats;
        struct onr_msg_app_key app_key;
        struct onr_msg_app_key_stored app_key_stored;
        struct onr_msg_event event;
        struct onr_msg_cert_revoke cert_revoke;
        struct onr_msg_release release;
        struct onr_msg_released released;
        struct onr_msg_revoke_request revoke_request;
        struct onr_msg_revoked revoked;
        struct onr_msg_status_request status_request;
        struct onr_msg_status status;
        struct onr_msg_service_stats service_stats;
        struct onr_msg_no_operator no_operator;
        struct onr_msg_relocation_request relocation_request;
        struct onr_msg_relocate relocate;
        struct onr_msg_renew_request renew_request;
        struct onr_msg_renewed renewed;
        struct onr_msg_kit_registration kit_registration;
        struct onr_msg_kit_registered kit_registered;
        struct onr_msg_kit_paired kit_paired;
        struct onr_msg_profile_content profile_content;
    } body;
};

/* One field of a body, for tools that print messages (onrampctl). */
enum onr_field_value {
    ONR_VALUE_UINT = 1,
    ONR_VALUE_BYTES, /* binary */
    ONR_VALUE_TEXT,  /* a string of one of the text classes */
};

struct onr_msg_field {
    const char *key;          /* static storage */
    enum onr_field_value kind;
    int present;              /* optional fields may be absent */
    uint64_t uint_value;
    struct onr_bytes bytes;   /* borrowed from the message */
};

/*
 * onr_msg_field_at: the `index`-th field (in proto/SPEC.md order) of the
 * body of `msg`. Returns ONR_OK, ONR_ENOENT past the last field,
 * ONR_EMSGTYPE or ONR_EINVAL.
 */
int onr_msg_field_at(const struct onr_msg *msg, size_t index, struct onr_msg_field *out);

/* onr_service_id_check: ONR_OK if `len` bytes at `id` (borrowed, need not
 * be NUL-terminated) are a service id (proto/SPEC.md section 1: 1 to
 * ONR_SERVICE_ID_MAX characters of a-z 0-9 . _ -, not starting with . _
 * or -); ONR_EINVAL otherwise. */
int onr_service_id_check(const char *id, size_t len);

/* onr_msg_type_name: "hello", "voucher", ...; NULL for an unknown type.
 * Static storage. */
const char *onr_msg_type_name(int type);

/* onr_role_name: "device", "manufacturer", ...; NULL if unknown. */
const char *onr_role_name(int role);

/*
 * onr_msg_type_rules: how envelopes of `type` are authenticated and which
 * roles may send them (bit (1 << role) set in *roles).
 * Returns ONR_OK, or ONR_EMSGTYPE for an unknown type or an inner-only one.
 */
int onr_msg_type_rules(int type, enum onr_auth_kind *auth, unsigned *roles);

/*
 * onr_msg_body_encode: `msg`'s body as a msgpack map into `out` (caller's
 * buffer of `cap` bytes); *out_len gets its length. Used on its own for
 * bodies that travel sealed (PROFILE_CONTENT); envelopes embed it.
 * Returns ONR_OK, ONR_EINVAL, ONR_EMSGTYPE, ONR_ESPACE, or the bound
 * violations of decoding (ONR_EMISSING, ONR_ELENGTH, ONR_ERANGE,
 * ONR_ECHARSET, ONR_ESCHEMA): Onramp never sends what it would refuse.
 */
int onr_msg_body_encode(const struct onr_msg *msg, uint8_t *out, size_t cap, size_t *out_len);

/*
 * onr_msg_body_decode: decode untrusted `buf` (borrowed; must outlive `msg`)
 * as the body of `type`. Returns ONR_OK or the errors of onr_codec_check and
 * ONR_ETYPE, ONR_EUNKNOWNKEY, ONR_EDUPKEY, ONR_EMISSING, ONR_ELENGTH,
 * ONR_ERANGE, ONR_ECHARSET, ONR_ESCHEMA (fields inconsistent with each
 * other, or a `why` that is not one of <onramp/policy.h>'s reasons),
 * ONR_EMSGTYPE; for a registration with a policy also the policy's and
 * the operator keys' own errors (ONR_EFORMAT, ONR_ECOUNT, ONR_EEXIST).
 */
int onr_msg_body_decode(int type, const uint8_t *buf, size_t len, struct onr_msg *msg);

#endif /* ONRAMP_MSG_H */

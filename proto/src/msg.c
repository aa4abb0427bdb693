#include "msg_internal.h"

#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/op_keys.h"
#include "onramp/p256.h"
#include "onramp/policy.h"
#include "onramp/text.h"
#include "onramp/x25519.h"
#include "schema.h"

/*
 * The catalogue: one table per body, one row per type. proto/SPEC.md is
 * written from these tables; change both together.
 */

#define BODY(m) struct onr_msg_##m
/* F(body, member, kind, required, min, max); min and max may come from one
 * of the size macros below, hence the variadic tail. */
#define F(m, member, kind, req, ...)                                              \
    {#member, ONR_FIELD_##kind, req, (uint16_t)offsetof(BODY(m), member), __VA_ARGS__}
#define REQ 1
#define OPT 0

/* Sizes shared by many fields. */
#define ID16 ONR_MSG_ID_LEN, ONR_MSG_ID_LEN
#define DEVID ONR_DEVID_LEN, ONR_DEVID_LEN
#define SVCID 1, ONR_SERVICE_ID_MAX
#define P256 ONR_P256_PUB_LEN, ONR_P256_PUB_LEN
/* A sealed secret: enc (32) || ciphertext || tag (16). */
#define SEALED(max) (32 + 16), (max)
#define REASON 0, 128
/* A PLMN, MCC || MNC (SPEC section 15); a reason an operator was chosen. */
#define PLMN 5, ONR_PLMN_MAX
#define WHY 1, 8

static const struct onr_field hello_fields[] = {
    F(hello, nonce, BIN, REQ, ONR_NONCE_LEN, ONR_NONCE_LEN),
    F(hello, cert, BIN, OPT, 64, 2048),
    F(hello, plmn, DIGITS, OPT, PLMN),
};
static const struct onr_field voucher_fields[] = {
    F(voucher, re, BIN, REQ, ID16),
    F(voucher, voucher, BIN, REQ, 1, 2048),
};
static const struct onr_field pending_fields[] = {
    F(pending, re, BIN, REQ, ID16),
    F(pending, retry_after, UINT, REQ, 1, 86400),
    F(pending, reason, TEXT, OPT, REASON),
};
static const struct onr_field error_fields[] = {
    F(error, re, BIN, REQ, ID16),
    F(error, code, UINT, REQ, 1, 65535),
    F(error, reason, TEXT, OPT, REASON),
};
static const struct onr_field profile_request_fields[] = {
    F(profile_request, voucher, BIN, REQ, 1, 2048),
    F(profile_request, nonce, BIN, REQ, ONR_NONCE_LEN, ONR_NONCE_LEN),
};
static const struct onr_field profile_fields[] = {
    F(profile, re, BIN, REQ, ID16),
    F(profile, sealed, BIN, REQ, SEALED(1024)),
    F(profile, rand, BIN, OPT, 16, 16),
    F(profile, autn, BIN, OPT, 16, 16),
};
static const struct onr_field attach_request_fields[] = {
    F(attach_request, imsi, DIGITS, REQ, 6, 15),
};
static const struct onr_field attach_challenge_fields[] = {
    F(attach_challenge, re, BIN, REQ, ID16),
    F(attach_challenge, rand, BIN, REQ, 16, 16),
    F(attach_challenge, autn, BIN, REQ, 16, 16),
};
static const struct onr_field attach_response_fields[] = {
    F(attach_response, rand, BIN, REQ, 16, 16),
    F(attach_response, result, UINT, REQ, 0, ONR_ATTACH_MAC_FAILURE),
    F(attach_response, res, BIN, OPT, 8, 8),
    F(attach_response, auts, BIN, OPT, 14, 14),
};
static const struct onr_field attach_result_fields[] = {
    F(attach_result, re, BIN, REQ, ID16),
    F(attach_result, kid, BIN, REQ, 16, 16),
};
static const struct onr_field enroll_request_fields[] = {
    F(enroll_request, kid, BIN, REQ, 16, 16),
    F(enroll_request, csr, BIN, REQ, 64, 2048),
};
static const struct onr_field enroll_response_fields[] = {
    F(enroll_response, re, BIN, REQ, ID16),
    F(enroll_response, chain, BIN, REQ, 64, 8192),
    F(enroll_response, ca, BIN, REQ, 64, 2048),
    F(enroll_response, endpoint, PRINTABLE, REQ, 1, 256),
};
static const struct onr_field registration_fields[] = {
    F(registration, dev, DEVID, REQ, DEVID),
    F(registration, claim, BIN, REQ, SEALED(128)),
    F(registration, op, ID, REQ, SVCID),
    F(registration, op_key, BIN, REQ, P256),
    F(registration, user, UINT, OPT, 0, 1),
    F(registration, policy, PRINTABLE, OPT, 1, ONR_POLICY_TEXT_MAX),
    F(registration, op_keys, BIN, OPT, ONR_OP_KEYS_BIN_MIN, ONR_OP_KEYS_BIN_MAX),
};
static const struct onr_field registered_fields[] = {
    F(registered, re, BIN, REQ, ID16),
    F(registered, dev, DEVID, REQ, DEVID),
};
static const struct onr_field pairing_fields[] = {
    F(pairing, label, PRINTABLE, REQ, 1, 256),
    F(pairing, account, TEXT, REQ, 1, 64),
    F(pairing, op, ID, OPT, SVCID),
};
static const struct onr_field paired_fields[] = {
    F(paired, re, BIN, REQ, ID16),
    F(paired, dev, DEVID, REQ, DEVID),
    F(paired, mfr, ID, REQ, SVCID),
    F(paired, op, ID, REQ, SVCID),
};
static const struct onr_field alignment_fields[] = {
    F(alignment, dev, DEVID, REQ, DEVID),
    F(alignment, imsi, DIGITS, REQ, 6, 15),
    F(alignment, iccid, DIGITS, REQ, 19, 20),
    F(alignment, qos, UINT, REQ, 0, 255),
    F(alignment, charging, ID, REQ, SVCID),
    F(alignment, cap, UINT, REQ, 0, INT64_MAX),
};
static const struct onr_field aligned_fields[] = {
    F(aligned, re, BIN, REQ, ID16),
    F(aligned, dev, DEVID, REQ, DEVID),
};
static const struct onr_field voucher_token_fields[] = {
    F(voucher_token, dev, DEVID, REQ, DEVID),
    F(voucher_token, seal_key, BIN, REQ, ONR_X25519_KEY_LEN, ONR_X25519_KEY_LEN),
    F(voucher_token, nonce, BIN, REQ, ONR_NONCE_LEN, ONR_NONCE_LEN),
    F(voucher_token, prov, ID, REQ, SVCID),
    F(voucher_token, prov_key, BIN, REQ, P256),
    F(voucher_token, op, ID, REQ, SVCID),
    F(voucher_token, op_key, BIN, REQ, P256),
    F(voucher_token, expires, UINT, REQ, 1, INT64_MAX),
    F(voucher_token, plmn, DIGITS, OPT, PLMN),
    F(voucher_token, why, ID, OPT, WHY),
};
static const struct onr_field grant_fields[] = {
    F(grant, dev, DEVID, REQ, DEVID),
    F(grant, prov, ID, REQ, SVCID),
};
static const struct onr_field revoke_fields[] = {
    F(revoke, dev, DEVID, REQ, DEVID),
};
static const struct onr_field control_result_fields[] = {
    F(control_result, re, BIN, REQ, ID16),
    F(control_result, code, UINT, REQ, 0, 65535),
    F(control_result, reason, TEXT, OPT, REASON),
    F(control_result, epoch, BIN, REQ, ID16),
};
#define COUNTER(name) F(broker_stats, name, UINT, REQ, 0, UINT64_MAX)
static const struct onr_field broker_stats_fields[] = {
    F(broker_stats, epoch, BIN, REQ, ID16),
    COUNTER(uptime),        COUNTER(connects),         COUNTER(refused),
    COUNTER(pop_malformed), COUNTER(pop_wrong_id),     COUNTER(pop_bad_sig),
    COUNTER(pop_stale),     COUNTER(pop_replayed),     COUNTER(no_credentials),
    COUNTER(bad_cert),      COUNTER(connect_rate),     COUNTER(denied_publish),
    COUNTER(denied_subscribe), COUNTER(denied_read),   COUNTER(denied_retain),
    COUNTER(denied_will),   COUNTER(denied_size),      COUNTER(rate_limited),
    COUNTER(kicked),        COUNTER(grants),           COUNTER(revocations),
    COUNTER(control_refused), COUNTER(grant_conflicts), COUNTER(devices),
    COUNTER(services),
};
static const struct onr_field app_key_fields[] = {
    F(app_key, dev, DEVID, REQ, DEVID),
    F(app_key, kid, BIN, REQ, ID16),
    F(app_key, sealed, BIN, REQ, 32 + 48, 32 + 48), /* enc || K_AF || tag */
    F(app_key, imsi, DIGITS, REQ, 6, 15),
    F(app_key, iccid, DIGITS, REQ, 19, 20),
};
static const struct onr_field release_fields[] = {
    F(release, dev, DEVID, REQ, DEVID),
};
static const struct onr_field released_fields[] = {
    F(released, re, BIN, REQ, ID16),
    F(released, dev, DEVID, REQ, DEVID),
};
static const struct onr_field revoke_request_fields[] = {
    F(revoke_request, dev, DEVID, REQ, DEVID),
};
static const struct onr_field revoked_fields[] = {
    F(revoked, re, BIN, REQ, ID16),
    F(revoked, dev, DEVID, REQ, DEVID),
    F(revoked, serial, BIN, REQ, 1, 20),
};
static const struct onr_field status_request_fields[] = {
    F(status_request, dev, DEVID, REQ, DEVID),
};
#define WHEN(name) F(status, name, UINT, REQ, 0, INT64_MAX)
static const struct onr_field status_fields[] = {
    F(status, re, BIN, REQ, ID16),    F(status, dev, DEVID, REQ, DEVID),
    F(status, state, ID, REQ, SVCID), WHEN(claimed),  WHEN(registered), WHEN(vouched),
    WHEN(profiled),                   WHEN(attached), WHEN(enrolled),   WHEN(aligned),
    WHEN(operational),
    F(status, plmn, DIGITS, OPT, PLMN),
    F(status, op, ID, OPT, SVCID),
    F(status, why, ID, OPT, WHY),
    F(status, relocations, UINT, OPT, 0, INT64_MAX),
    F(status, relocated, UINT, OPT, 0, INT64_MAX),
    F(status, prev_op, ID, OPT, SVCID),
    F(status, cert_expires, UINT, OPT, 0, INT64_MAX),
};
#define SERVICE_COUNTER(name) F(service_stats, name, UINT, REQ, 0, UINT64_MAX)
static const struct onr_field service_stats_fields[] = {
    SERVICE_COUNTER(uptime),         SERVICE_COUNTER(handled),
    SERVICE_COUNTER(duplicates),     SERVICE_COUNTER(refused),
    SERVICE_COUNTER(refused_auth),   SERVICE_COUNTER(refused_stale),
    SERVICE_COUNTER(refused_input),  SERVICE_COUNTER(refused_policy),
    SERVICE_COUNTER(busy),           SERVICE_COUNTER(latency_avg_us),
    SERVICE_COUNTER(latency_max_us), SERVICE_COUNTER(pending),
    SERVICE_COUNTER(pending_age),    SERVICE_COUNTER(pending_refused),
    F(service_stats, renewals, UINT, OPT, 0, UINT64_MAX),
    F(service_stats, certs_expiring, UINT, OPT, 0, UINT64_MAX),
};
static const struct onr_field cert_revoke_fields[] = {
    F(cert_revoke, dev, DEVID, REQ, DEVID),
    F(cert_revoke, serial, BIN, REQ, 1, 20),
    F(cert_revoke, not_after, UINT, OPT, 0, INT64_MAX),
};
static const struct onr_field app_key_stored_fields[] = {
    F(app_key_stored, re, BIN, REQ, ID16),
    F(app_key_stored, dev, DEVID, REQ, DEVID),
};
static const struct onr_field event_fields[] = {
    F(event, dev, DEVID, REQ, DEVID),
    F(event, step, ID, REQ, SVCID),
};
static const struct onr_field no_operator_fields[] = {
    F(no_operator, re, BIN, REQ, ID16),
    F(no_operator, dev, DEVID, REQ, DEVID),
    F(no_operator, plmn, DIGITS, OPT, PLMN),
};
static const struct onr_field relocation_request_fields[] = {
    F(relocation_request, dev, DEVID, REQ, DEVID),
    F(relocation_request, plmn, DIGITS, REQ, PLMN),
    F(relocation_request, nonce, BIN, REQ, ONR_NONCE_LEN, ONR_NONCE_LEN),
};
static const struct onr_field relocate_fields[] = {
    F(relocate, voucher, BIN, REQ, 1, 2048),
};
static const struct onr_field renew_request_fields[] = {
    F(renew_request, serial, BIN, REQ, 1, 20),
    F(renew_request, csr, BIN, REQ, 64, 2048),
};
static const struct onr_field renewed_fields[] = {
    F(renewed, serial, BIN, REQ, 1, 20),
};
/* A kit id; a kit's devices, their ids concatenated (2 to 16). */
#define KITID ONR_KIT_ID_LEN, ONR_KIT_ID_LEN
#define KITDEVS (2 * ONR_DEVID_LEN), (ONR_KIT_DEVICES_MAX * ONR_DEVID_LEN)
static const struct onr_field kit_registration_fields[] = {
    F(kit_registration, kit, DEVID, REQ, KITID),
    F(kit_registration, claim, BIN, REQ, SEALED(128)),
    F(kit_registration, op, ID, REQ, SVCID),
    F(kit_registration, op_key, BIN, REQ, P256),
    F(kit_registration, user, UINT, OPT, 0, 1),
    F(kit_registration, policy, PRINTABLE, OPT, 1, ONR_POLICY_TEXT_MAX),
    F(kit_registration, op_keys, BIN, OPT, ONR_OP_KEYS_BIN_MIN, ONR_OP_KEYS_BIN_MAX),
};
static const struct onr_field kit_registered_fields[] = {
    F(kit_registered, re, BIN, REQ, ID16),
    F(kit_registered, kit, DEVID, REQ, KITID),
    F(kit_registered, devs, DEVID, REQ, KITDEVS),
    F(kit_registered, assigned, DEVID, OPT, ONR_DEVID_LEN, ONR_KIT_DEVICES_MAX * ONR_DEVID_LEN),
};
static const struct onr_field kit_paired_fields[] = {
    F(kit_paired, re, BIN, REQ, ID16),
    F(kit_paired, kit, DEVID, REQ, KITID),
    F(kit_paired, mfr, ID, REQ, SVCID),
    F(kit_paired, op, ID, REQ, SVCID),
    F(kit_paired, devs, DEVID, REQ, KITDEVS),
};
static const struct onr_field profile_content_fields[] = {
    F(profile_content, iccid, DIGITS, REQ, 19, 20),
    F(profile_content, imsi, DIGITS, REQ, 6, 15),
    F(profile_content, ki, BIN, REQ, 16, 16),
    F(profile_content, opc, BIN, REQ, 16, 16),
    F(profile_content, amf, BIN, REQ, 2, 2),
    F(profile_content, plmn, DIGITS, REQ, 5, 6),
    F(profile_content, apn, PRINTABLE, REQ, 1, 100),
};

/* Fields that must agree with each other, beyond each one's own bounds. */

/* A profile's first attach challenge comes whole or not at all. */
static int profile_consistent(const struct onr_msg *m)
{
    return (m->body.profile.rand.ptr == NULL) == (m->body.profile.autn.ptr == NULL)
               ? ONR_OK
               : ONR_ESCHEMA;
}

static int attach_response_consistent(const struct onr_msg *m)
{
    const struct onr_msg_attach_response *r = &m->body.attach_response;
    int has_res = r->res.ptr != NULL;
    int has_auts = r->auts.ptr != NULL;

    switch (r->result) {
    case ONR_ATTACH_RES:
        return has_res && !has_auts ? ONR_OK : ONR_ESCHEMA;
    case ONR_ATTACH_SYNC_FAILURE:
        return has_auts && !has_res ? ONR_OK : ONR_ESCHEMA;
    default:
        return !has_res && !has_auts ? ONR_OK : ONR_ESCHEMA;
    }
}

/* A reason, where a body has one, is one of <onramp/policy.h>'s. */
static int why_known(struct onr_bytes why)
{
    enum onr_choice c;

    return why.ptr == NULL || onr_choice_parse((const char *)why.ptr, why.len, &c) == ONR_OK
               ? ONR_OK
               : ONR_ESCHEMA;
}

static int voucher_token_consistent(const struct onr_msg *m)
{
    return why_known(m->body.voucher_token.why);
}

static int status_consistent(const struct onr_msg *m)
{
    return why_known(m->body.status.why);
}

/* A policy comes with the keys of exactly the operators it names (and
 * `op`'s, which is `op_key`); without one, neither. A registration's and a
 * kit registration's alike. */
static int policy_consistent(struct onr_bytes op_id, struct onr_bytes op_key,
                             struct onr_bytes policy_text, struct onr_bytes op_keys)
{
    struct onr_policy policy;
    struct onr_op_keys keys;
    char op[ONR_SERVICE_ID_MAX + 1];
    int rc;

    if ((policy_text.ptr == NULL) != (op_keys.ptr == NULL))
        return ONR_ESCHEMA;
    if (policy_text.ptr == NULL)
        return ONR_OK;
    if (op_id.len >= sizeof(op) || op_key.len != ONR_P256_PUB_LEN)
        return ONR_ESCHEMA; /* the schema's bounds, for an encoder's sake */
    memcpy(op, op_id.ptr, op_id.len);
    op[op_id.len] = '\0';
    rc = onr_policy_parse((const char *)policy_text.ptr, policy_text.len, &policy);
    if (rc == ONR_OK)
        rc = onr_op_keys_decode(op_keys.ptr, op_keys.len, &keys);
    if (rc == ONR_OK)
        rc = onr_op_keys_match(&keys, &policy, op, op_key.ptr);
    return rc;
}

static int registration_consistent(const struct onr_msg *m)
{
    const struct onr_msg_registration *r = &m->body.registration;

    return policy_consistent(r->op, r->op_key, r->policy, r->op_keys);
}

static int kit_registration_consistent(const struct onr_msg *m)
{
    const struct onr_msg_kit_registration *r = &m->body.kit_registration;

    return policy_consistent(r->op, r->op_key, r->policy, r->op_keys);
}

/* Device ids concatenated: a whole number of them, none twice; and every
 * one of `sub` (may be absent) among them. */
static int devs_consistent(struct onr_bytes devs, struct onr_bytes sub)
{
    if (devs.len % ONR_DEVID_LEN != 0 || (sub.ptr != NULL && sub.len % ONR_DEVID_LEN != 0))
        return ONR_ESCHEMA;
    for (size_t i = 0; i < devs.len; i += ONR_DEVID_LEN)
        for (size_t k = i + ONR_DEVID_LEN; k < devs.len; k += ONR_DEVID_LEN)
            if (memcmp(devs.ptr + i, devs.ptr + k, ONR_DEVID_LEN) == 0)
                return ONR_ESCHEMA;
    for (size_t i = 0; sub.ptr != NULL && i < sub.len; i += ONR_DEVID_LEN) {
        size_t k = 0;

        while (k < devs.len && memcmp(sub.ptr + i, devs.ptr + k, ONR_DEVID_LEN) != 0)
            k += ONR_DEVID_LEN;
        if (k == devs.len)
            return ONR_ESCHEMA;
    }
    return ONR_OK;
}

static int kit_registered_consistent(const struct onr_msg *m)
{
    return devs_consistent(m->body.kit_registered.devs, m->body.kit_registered.assigned);
}

static int kit_paired_consistent(const struct onr_msg *m)
{
    return devs_consistent(m->body.kit_paired.devs, (struct onr_bytes){NULL, 0});
}

#define ROLE(r) (1u << ONR_ROLE_##r)
#define SERVICES (ROLE(MANUFACTURER) | ROLE(OPERATOR) | ROLE(PROVIDER))

struct msg_rule {
    int type;
    const char *name;
    enum onr_auth_kind auth;
    unsigned roles; /* 0: travels sealed only, never as an envelope */
    const struct onr_field *fields;
    size_t n_fields;
    int (*consistent)(const struct onr_msg *m);
};

#define RULE(t, name, auth, roles, consistent)                                   \
    {ONR_MSG_##t, #name, ONR_AUTH_##auth, roles, name##_fields,                  \
     ONR_ARRAY_LEN(name##_fields), consistent}

static const struct msg_rule rules[] = {
    RULE(HELLO, hello, SIG, ROLE(DEVICE), NULL),
    RULE(VOUCHER, voucher, SIG, ROLE(MANUFACTURER), NULL),
    RULE(PENDING, pending, SIG, SERVICES, NULL),
    RULE(ERROR, error, SIG, SERVICES, NULL),
    RULE(PROFILE_REQUEST, profile_request, NONE, ROLE(DEVICE), NULL),
    RULE(PROFILE, profile, SIG, ROLE(OPERATOR), profile_consistent),
    RULE(ATTACH_REQUEST, attach_request, NONE, ROLE(DEVICE), NULL),
    RULE(ATTACH_CHALLENGE, attach_challenge, SIG, ROLE(OPERATOR), NULL),
    RULE(ATTACH_RESPONSE, attach_response, NONE, ROLE(DEVICE), attach_response_consistent),
    RULE(ATTACH_RESULT, attach_result, SIG, ROLE(OPERATOR), NULL),
    RULE(ENROLL_REQUEST, enroll_request, MAC, ROLE(DEVICE), NULL),
    RULE(ENROLL_RESPONSE, enroll_response, SIG, ROLE(PROVIDER), NULL),
    RULE(REGISTRATION, registration, SIG, ROLE(PROVIDER), registration_consistent),
    RULE(REGISTERED, registered, SIG, ROLE(MANUFACTURER), NULL),
    RULE(PAIRING, pairing, SIG, ROLE(CONTROL), NULL),
    RULE(PAIRED, paired, SIG, ROLE(PROVIDER), NULL),
    RULE(ALIGNMENT, alignment, SIG, ROLE(PROVIDER), NULL),
    RULE(ALIGNED, aligned, SIG, ROLE(OPERATOR), NULL),
    RULE(VOUCHER_TOKEN, voucher_token, SIG, ROLE(MANUFACTURER), voucher_token_consistent),
    RULE(GRANT, grant, NONE, ROLE(OPERATOR), NULL),
    RULE(REVOKE, revoke, NONE, ROLE(OPERATOR), NULL),
    RULE(CONTROL_RESULT, control_result, NONE, ROLE(BROKER), NULL),
    RULE(BROKER_STATS, broker_stats, NONE, ROLE(BROKER), NULL),
    RULE(APP_KEY, app_key, SIG, ROLE(OPERATOR), NULL),
    RULE(APP_KEY_STORED, app_key_stored, SIG, ROLE(PROVIDER), NULL),
    RULE(EVENT, event, SIG, SERVICES, NULL),
    RULE(CERT_REVOKE, cert_revoke, NONE, ROLE(PROVIDER), NULL),
    RULE(RELEASE, release, SIG, ROLE(CONTROL) | ROLE(PROVIDER), NULL),
    RULE(RELEASED, released, SIG, SERVICES, NULL),
    RULE(STATUS_REQUEST, status_request, SIG, ROLE(CONTROL), NULL),
    RULE(STATUS, status, SIG, SERVICES, status_consistent),
    RULE(SERVICE_STATS, service_stats, SIG, SERVICES, NULL),
    RULE(REVOKE_REQUEST, revoke_request, SIG, ROLE(CONTROL), NULL),
    RULE(REVOKED, revoked, SIG, ROLE(PROVIDER), NULL),
    RULE(NO_OPERATOR, no_operator, SIG, ROLE(MANUFACTURER), NULL),
    RULE(RELOCATION_REQUEST, relocation_request, SIG, ROLE(PROVIDER), NULL),
    RULE(RELOCATE, relocate, SIG, ROLE(PROVIDER), NULL),
    RULE(RENEW_REQUEST, renew_request, SIG, ROLE(DEVICE), NULL),
    RULE(RENEWED, renewed, SIG, ROLE(DEVICE), NULL),
    RULE(KIT_REGISTRATION, kit_registration, SIG, ROLE(PROVIDER), kit_registration_consistent),
    RULE(KIT_REGISTERED, kit_registered, SIG, ROLE(MANUFACTURER), kit_registered_consistent),
    RULE(KIT_PAIRED, kit_paired, SIG, ROLE(PROVIDER), kit_paired_consistent),
    RULE(PROFILE_CONTENT, profile_content, NONE, 0, NULL),
};

static const struct msg_rule *rule_for(int type)
{
    for (size_t i = 0; i < ONR_ARRAY_LEN(rules); i++)
        if (rules[i].type == type)
            return &rules[i];
    return NULL;
}

int onr_service_id_check(const char *id, size_t len)
{
    return id != NULL && len >= 1 && len <= ONR_SERVICE_ID_MAX &&
                   onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)id, len}) ==
                       ONR_OK
               ? ONR_OK
               : ONR_EINVAL;
}

const char *onr_msg_type_name(int type)
{
    const struct msg_rule *r = rule_for(type);

    return r ? r->name : NULL;
}

const char *onr_role_name(int role)
{
    switch (role) {
    case ONR_ROLE_DEVICE: return "device";
    case ONR_ROLE_MANUFACTURER: return "manufacturer";
    case ONR_ROLE_OPERATOR: return "operator";
    case ONR_ROLE_PROVIDER: return "provider";
    case ONR_ROLE_CONTROL: return "control";
    case ONR_ROLE_BROKER: return "broker";
    default: return NULL;
    }
}

int onr_msg_type_rules(int type, enum onr_auth_kind *auth, unsigned *roles)
{
    const struct msg_rule *r = rule_for(type);

    if (r == NULL || r->roles == 0)
        return ONR_EMSGTYPE;
    if (auth != NULL)
        *auth = r->auth;
    if (roles != NULL)
        *roles = r->roles;
    return ONR_OK;
}

int onr_msg_fields(int type, const struct onr_field **fields, size_t *n)
{
    const struct msg_rule *r = rule_for(type);

    if (r == NULL || fields == NULL || n == NULL)
        return r == NULL ? ONR_EMSGTYPE : ONR_EINVAL;
    *fields = r->fields;
    *n = r->n_fields;
    return ONR_OK;
}

int onr_msg_field_at(const struct onr_msg *msg, size_t index, struct onr_msg_field *out)
{
    const struct msg_rule *r;
    const struct onr_field *f;
    const uint8_t *at;

    if (msg == NULL || out == NULL)
        return ONR_EINVAL;
    r = rule_for((int)msg->type);
    if (r == NULL)
        return ONR_EMSGTYPE;
    if (index >= r->n_fields)
        return ONR_ENOENT;
    f = &r->fields[index];
    at = (const uint8_t *)&msg->body + f->offset;
    memset(out, 0, sizeof(*out));
    out->key = f->key;
    if (f->kind == ONR_FIELD_UINT) {
        out->kind = ONR_VALUE_UINT;
        memcpy(&out->uint_value, at, sizeof(out->uint_value));
        out->present = f->required || out->uint_value != 0; /* an optional 0 is absent */
        return ONR_OK;
    }
    out->kind = f->kind == ONR_FIELD_BIN ? ONR_VALUE_BYTES : ONR_VALUE_TEXT;
    memcpy(&out->bytes, at, sizeof(out->bytes));
    out->present = out->bytes.ptr != NULL;
    return ONR_OK;
}

int onr_msg_body_write(const struct onr_msg *msg, struct onr_writer *w)
{
    const struct msg_rule *r;
    int rc;

    if (msg == NULL || w == NULL)
        return ONR_EINVAL;
    r = rule_for((int)msg->type);
    if (r == NULL)
        return ONR_EMSGTYPE;
    /* each field's bounds first, then how they agree, as decoding checks
     * them (a refused body leaves the writer to be discarded) */
    rc = onr_schema_encode(r->fields, r->n_fields, &msg->body, w);
    if (rc == ONR_OK && r->consistent != NULL)
        rc = r->consistent(msg);
    return rc;
}

int onr_msg_body_read(int type, const msgpack_object *obj, struct onr_msg *msg)
{
    const struct msg_rule *r = rule_for(type);
    int rc;

    if (obj == NULL || msg == NULL)
        return ONR_EINVAL;
    memset(msg, 0, sizeof(*msg));
    if (r == NULL)
        return ONR_EMSGTYPE;
    msg->type = (enum onr_msg_type)type;
    rc = onr_schema_decode(r->fields, r->n_fields, obj, &msg->body);
    if (rc == ONR_OK && r->consistent != NULL)
        rc = r->consistent(msg);
    if (rc != ONR_OK)
        memset(msg, 0, sizeof(*msg));
    return rc;
}

int onr_msg_body_encode(const struct onr_msg *msg, uint8_t *out, size_t cap, size_t *out_len)
{
    struct onr_writer w;
    int rc;

    if (out == NULL || out_len == NULL)
        return ONR_EINVAL;
    onr_writer_init(&w, out, cap);
    rc = onr_msg_body_write(msg, &w);
    if (rc == ONR_OK)
        rc = onr_writer_finish(&w);
    *out_len = rc == ONR_OK ? w.len : 0;
    return rc;
}

int onr_msg_body_decode(int type, const uint8_t *buf, size_t len, struct onr_msg *msg)
{
    struct onr_codec_limits lim = onr_codec_default_limits;
    msgpack_unpacked obj;
    int rc;

    if (buf == NULL || msg == NULL)
        return ONR_EINVAL;
    memset(msg, 0, sizeof(*msg));
    if (rule_for(type) == NULL)
        return ONR_EMSGTYPE;
    lim.max_depth = 1; /* a body is one map of scalars */
    rc = onr_codec_unpack(buf, len, &lim, &obj, NULL, 0, NULL);
    if (rc != ONR_OK)
        return rc;
    rc = onr_msg_body_read(type, &obj.data, msg);
    msgpack_unpacked_destroy(&obj);
    return rc;
}

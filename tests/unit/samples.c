#include "samples.h"

#include "testutil.h"

#include <string.h>

static const uint8_t id16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t key32[32] = {0x20};
static const uint8_t key65[65] = {0x04, 1, 2, 3};
static const uint8_t blob[200] = {0x30, 0x82};
static const uint8_t sealed[80] = {0xaa};

#define B(x) ((struct onr_bytes){(const uint8_t *)(x), sizeof(x)})
#define S(x) ONR_BYTES_STR(x)
#define BN(x, n) ((struct onr_bytes){(const uint8_t *)(x), (n)})

const int onr_sample_types[] = {
    ONR_MSG_HELLO, ONR_MSG_VOUCHER, ONR_MSG_PENDING, ONR_MSG_ERROR,
    ONR_MSG_PROFILE_REQUEST, ONR_MSG_PROFILE, ONR_MSG_ATTACH_REQUEST,
    ONR_MSG_ATTACH_CHALLENGE, ONR_MSG_ATTACH_RESPONSE, ONR_MSG_ATTACH_RESULT,
    ONR_MSG_ENROLL_REQUEST, ONR_MSG_ENROLL_RESPONSE, ONR_MSG_REGISTRATION,
    ONR_MSG_REGISTERED, ONR_MSG_PAIRING, ONR_MSG_PAIRED, ONR_MSG_ALIGNMENT,
    ONR_MSG_ALIGNED, ONR_MSG_VOUCHER_TOKEN, ONR_MSG_GRANT, ONR_MSG_REVOKE,
    ONR_MSG_CONTROL_RESULT, ONR_MSG_BROKER_STATS, ONR_MSG_APP_KEY, ONR_MSG_APP_KEY_STORED,
    ONR_MSG_EVENT, ONR_MSG_CERT_REVOKE, ONR_MSG_RELEASE, ONR_MSG_RELEASED,
    ONR_MSG_STATUS_REQUEST, ONR_MSG_STATUS, ONR_MSG_SERVICE_STATS, ONR_MSG_REVOKE_REQUEST,
    ONR_MSG_REVOKED, ONR_MSG_NO_OPERATOR, ONR_MSG_RELOCATION_REQUEST, ONR_MSG_RELOCATE,
    ONR_MSG_RENEW_REQUEST, ONR_MSG_RENEWED, ONR_MSG_KIT_REGISTRATION, ONR_MSG_KIT_REGISTERED,
    ONR_MSG_KIT_PAIRED, ONR_MSG_PROFILE_CONTENT, 0,
};

/* The operator keys of the sample registration's policy: op-1 and op-2,
 * both key65 (<onramp/op_keys.h> records). */
static struct onr_bytes sample_op_keys(void)
{
    static uint8_t keys[2 * (1 + 4 + sizeof(key65))];
    size_t at = 0;

    for (int i = 1; i <= 2; i++) {
        keys[at++] = 4;
        memcpy(keys + at, i == 1 ? "op-1" : "op-2", 4);
        at += 4;
        memcpy(keys + at, key65, sizeof(key65));
        at += sizeof(key65);
    }
    return BN(keys, at);
}

void onr_sample_msg(int type, struct onr_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = (enum onr_msg_type)type;
    switch (type) {
    case ONR_MSG_HELLO:
        m->body.hello.nonce = B(id16);
        m->body.hello.cert = B(blob);
        m->body.hello.plmn = S("26201");
        break;
    case ONR_MSG_VOUCHER:
        m->body.voucher.re = B(id16);
        m->body.voucher.voucher = B(blob);
        break;
    case ONR_MSG_PENDING:
        m->body.pending.re = B(id16);
        m->body.pending.retry_after = 30;
        m->body.pending.reason = S("not registered yet");
        break;
    case ONR_MSG_ERROR:
        m->body.error.re = B(id16);
        m->body.error.code = 40;
        m->body.error.reason = S("signature does not verify");
        break;
    case ONR_MSG_PROFILE_REQUEST:
        m->body.profile_request.voucher = B(blob);
        m->body.profile_request.nonce = B(id16);
        break;
    case ONR_MSG_PROFILE:
        m->body.profile.re = B(id16);
        m->body.profile.sealed = B(sealed);
        m->body.profile.rand = B(id16); /* the first attach challenge */
        m->body.profile.autn = B(id16);
        break;
    case ONR_MSG_ATTACH_REQUEST:
        m->body.attach_request.imsi = S("001010000000001");
        break;
    case ONR_MSG_ATTACH_CHALLENGE:
        m->body.attach_challenge.re = B(id16);
        m->body.attach_challenge.rand = B(id16);
        m->body.attach_challenge.autn = B(id16);
        break;
    case ONR_MSG_ATTACH_RESPONSE:
        m->body.attach_response.rand = B(id16);
        m->body.attach_response.result = ONR_ATTACH_RES;
        m->body.attach_response.res = BN(id16, 8);
        break;
    case ONR_MSG_ATTACH_RESULT:
        m->body.attach_result.re = B(id16);
        m->body.attach_result.kid = B(id16);
        break;
    case ONR_MSG_ENROLL_REQUEST:
        m->body.enroll_request.kid = B(id16);
        m->body.enroll_request.csr = B(blob);
        break;
    case ONR_MSG_ENROLL_RESPONSE:
        m->body.enroll_response.re = B(id16);
        m->body.enroll_response.chain = B(blob);
        m->body.enroll_response.ca = B(blob);
        m->body.enroll_response.endpoint = S("mqtts://provider.example:8883");
        break;
    case ONR_MSG_REGISTRATION:
        m->body.registration.dev = S(ONR_SAMPLE_DEVID);
        m->body.registration.claim = B(sealed);
        m->body.registration.op = S("op-1");
        m->body.registration.op_key = B(key65);
        m->body.registration.user = 1;
        m->body.registration.policy = S("262:op-2,op-1;*:op-1");
        m->body.registration.op_keys = sample_op_keys();
        break;
    case ONR_MSG_REGISTERED:
        m->body.registered.re = B(id16);
        m->body.registered.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_PAIRING:
        m->body.pairing.label = S("ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:K7:Q");
        m->body.pairing.account = S("Zoë's garden");
        m->body.pairing.op = S("op-1");
        break;
    case ONR_MSG_PAIRED:
        m->body.paired.re = B(id16);
        m->body.paired.dev = S(ONR_SAMPLE_DEVID);
        m->body.paired.mfr = S("acme");
        m->body.paired.op = S("op-1");
        break;
    case ONR_MSG_ALIGNMENT:
        m->body.alignment.dev = S(ONR_SAMPLE_DEVID);
        m->body.alignment.imsi = S("001010000000001");
        m->body.alignment.iccid = S("8901010000000000019");
        m->body.alignment.qos = 9;
        m->body.alignment.charging = S("iot-basic");
        m->body.alignment.cap = 1000000;
        break;
    case ONR_MSG_ALIGNED:
        m->body.aligned.re = B(id16);
        m->body.aligned.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_VOUCHER_TOKEN:
        m->body.voucher_token.dev = S(ONR_SAMPLE_DEVID);
        m->body.voucher_token.seal_key = B(key32);
        m->body.voucher_token.nonce = B(id16);
        m->body.voucher_token.prov = S("prov-1");
        m->body.voucher_token.prov_key = B(key65);
        m->body.voucher_token.op = S("op-1");
        m->body.voucher_token.op_key = B(key65);
        m->body.voucher_token.expires = 1900000000;
        m->body.voucher_token.plmn = S("72405");
        m->body.voucher_token.why = S("policy");
        break;
    case ONR_MSG_GRANT:
        m->body.grant.dev = S(ONR_SAMPLE_DEVID);
        m->body.grant.prov = S("prov-1");
        break;
    case ONR_MSG_REVOKE:
        m->body.revoke.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_CONTROL_RESULT:
        m->body.control_result.re = B(id16);
        m->body.control_result.code = 0;
        m->body.control_result.epoch = B(id16);
        break;
    case ONR_MSG_BROKER_STATS:
        m->body.broker_stats.epoch = B(id16);
        m->body.broker_stats.uptime = 60;
        m->body.broker_stats.connects = UINT64_MAX;
        m->body.broker_stats.devices = 3;
        break;
    case ONR_MSG_APP_KEY:
        m->body.app_key.dev = S(ONR_SAMPLE_DEVID);
        m->body.app_key.kid = B(id16);
        m->body.app_key.sealed = B(sealed);
        m->body.app_key.imsi = S("001010000000001");
        m->body.app_key.iccid = S("8949001000000000017");
        break;
    case ONR_MSG_APP_KEY_STORED:
        m->body.app_key_stored.re = B(id16);
        m->body.app_key_stored.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_EVENT:
        m->body.event.dev = S(ONR_SAMPLE_DEVID);
        m->body.event.step = S("attached");
        break;
    case ONR_MSG_CERT_REVOKE:
        m->body.cert_revoke.dev = S(ONR_SAMPLE_DEVID);
        m->body.cert_revoke.serial = B(id16);
        m->body.cert_revoke.not_after = 1931536000;
        break;
    case ONR_MSG_RELEASE:
        m->body.release.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_RELEASED:
        m->body.released.re = B(id16);
        m->body.released.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_REVOKE_REQUEST:
        m->body.revoke_request.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_REVOKED:
        m->body.revoked.re = B(id16);
        m->body.revoked.dev = S(ONR_SAMPLE_DEVID);
        m->body.revoked.serial = B(id16);
        break;
    case ONR_MSG_STATUS_REQUEST:
        m->body.status_request.dev = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_STATUS:
        m->body.status.re = B(id16);
        m->body.status.dev = S(ONR_SAMPLE_DEVID);
        m->body.status.state = S("claimed");
        m->body.status.claimed = 1900000000;
        m->body.status.plmn = S("724005");
        m->body.status.op = S("op-2");
        m->body.status.why = S("fallback");
        m->body.status.relocations = 2;
        m->body.status.relocated = 1900000100;
        m->body.status.prev_op = S("op-1");
        m->body.status.cert_expires = 1931536000;
        break;
    case ONR_MSG_NO_OPERATOR:
        m->body.no_operator.re = B(id16);
        m->body.no_operator.dev = S(ONR_SAMPLE_DEVID);
        m->body.no_operator.plmn = S("28601");
        break;
    case ONR_MSG_RELOCATION_REQUEST:
        m->body.relocation_request.dev = S(ONR_SAMPLE_DEVID);
        m->body.relocation_request.plmn = S("72405");
        m->body.relocation_request.nonce = B(id16);
        break;
    case ONR_MSG_RELOCATE:
        m->body.relocate.voucher = B(blob);
        break;
    case ONR_MSG_RENEW_REQUEST:
        m->body.renew_request.serial = BN(id16, 9);
        m->body.renew_request.csr = B(blob);
        break;
    case ONR_MSG_RENEWED:
        m->body.renewed.serial = BN(id16, 9);
        break;
    case ONR_MSG_KIT_REGISTRATION:
        m->body.kit_registration.kit = S(ONR_SAMPLE_KIT);
        m->body.kit_registration.claim = B(sealed);
        m->body.kit_registration.op = S("op-1");
        m->body.kit_registration.op_key = B(key65);
        m->body.kit_registration.user = 1;
        m->body.kit_registration.policy = S("262:op-2,op-1;*:op-1");
        m->body.kit_registration.op_keys = sample_op_keys();
        break;
    case ONR_MSG_KIT_REGISTERED:
        m->body.kit_registered.re = B(id16);
        m->body.kit_registered.kit = S(ONR_SAMPLE_KIT);
        m->body.kit_registered.devs = S(ONR_SAMPLE_KIT_DEVS);
        m->body.kit_registered.assigned = S(ONR_SAMPLE_DEVID);
        break;
    case ONR_MSG_KIT_PAIRED:
        m->body.kit_paired.re = B(id16);
        m->body.kit_paired.kit = S(ONR_SAMPLE_KIT);
        m->body.kit_paired.mfr = S("acme");
        m->body.kit_paired.op = S("op-1");
        m->body.kit_paired.devs = S(ONR_SAMPLE_KIT_DEVS);
        break;
    case ONR_MSG_SERVICE_STATS:
        m->body.service_stats.uptime = 60;
        m->body.service_stats.handled = 42;
        m->body.service_stats.latency_max_us = UINT64_MAX;
        break;
    case ONR_MSG_PROFILE_CONTENT:
        m->body.profile_content.iccid = S("8901010000000000019");
        m->body.profile_content.imsi = S("001010000000001");
        m->body.profile_content.ki = B(id16);
        m->body.profile_content.opc = B(id16);
        m->body.profile_content.amf = BN(id16, 2);
        m->body.profile_content.plmn = S("00101");
        m->body.profile_content.apn = S("iot.example");
        break;
    default:
        fail_msg("no sample for type %d", type);
    }
}

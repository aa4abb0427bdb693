/*
 * Roaming's parsers of untrusted text and bytes (proto/SPEC.md sections
 * 13 to 15): a registration's policy text (onr_policy_parse), its
 * operators' keys (onr_op_keys_decode), and an operational device's
 * telemetry as its provider and onrampctl read it (onr_telemetry_decode).
 *
 * Input: a mode byte, then
 *   0  a policy's text;
 *   1  the records of an `op_keys` field;
 *   2  a telemetry's bytes.
 * Checks: what parses formats back to the same bytes (one spelling each),
 * and parses again to the same thing; every list is within its bounds, an
 * operator's id is a service id, a policy resolves for every country it
 * names to an operator it lists; what is refused leaves its output zeroed.
 */
#include <string.h>

#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/op_keys.h"
#include "onramp/policy.h"
#include "onramp/telemetry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void policy(const uint8_t *data, size_t size)
{
    static struct onr_policy p, back;
    char text[ONR_POLICY_TEXT_MAX + 1];
    size_t len = 0;
    int rc = onr_policy_parse((const char *)data, size, &p);

    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_ETOOBIG || rc == ONR_ECOUNT ||
                       rc == ONR_EEXIST,
                   "policy: %s", onr_error_name(rc));
        return;
    }
    FUZZ_CHECK(p.n >= 1 && p.n <= ONR_POLICY_MAX_ENTRIES, "%zu entries", p.n);
    rc = onr_policy_format(&p, text, sizeof(text), &len);
    FUZZ_CHECK(rc == ONR_OK && len == size && memcmp(text, data, size) == 0,
               "policy does not format back to its text: %s", onr_error_name(rc));
    FUZZ_CHECK(onr_policy_parse(text, len, &back) == ONR_OK &&
                   memcmp(&p, &back, sizeof(p)) == 0,
               "policy round trip");
    for (size_t i = 0; i < p.n; i++) {
        const struct onr_policy_entry *e = &p.entries[i];
        const char *op = NULL;
        enum onr_choice why = 0;

        FUZZ_CHECK(e->n_ops >= 1 && e->n_ops <= ONR_POLICY_MAX_OPS, "%zu operators", e->n_ops);
        for (size_t j = 0; j < e->n_ops; j++)
            FUZZ_CHECK(onr_service_id_check(e->ops[j], strlen(e->ops[j])) == ONR_OK,
                       "operator id");
        /* the country's own list, the user's choice where it allows it */
        rc = onr_policy_resolve(&p, strcmp(e->mcc, "*") == 0 ? NULL : e->mcc,
                                e->ops[e->n_ops - 1], &op, &why);
        FUZZ_CHECK(rc == ONR_OK && strcmp(op, e->ops[e->n_ops - 1]) == 0 &&
                       why == ONR_CHOICE_USER,
                   "resolution of %s", e->mcc);
    }
}

static void op_keys(const uint8_t *data, size_t size)
{
    static struct onr_op_keys k, back;
    uint8_t out[ONR_OP_KEYS_BIN_MAX];
    size_t len = 0;
    int rc = onr_op_keys_decode(data, size, &k);

    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_ECOUNT || rc == ONR_EEXIST, "op_keys: %s",
                   onr_error_name(rc));
        FUZZ_CHECK(zero(&k, sizeof(k)), "refused keys not zeroed");
        return;
    }
    FUZZ_CHECK(k.n >= 1 && k.n <= ONR_OP_KEYS_MAX && size <= ONR_OP_KEYS_BIN_MAX, "%zu keys",
               k.n);
    for (size_t i = 0; i < k.n; i++) {
        FUZZ_CHECK(onr_service_id_check(k.keys[i].op, strlen(k.keys[i].op)) == ONR_OK &&
                       k.keys[i].key[0] == 0x04,
                   "record %zu", i);
        FUZZ_CHECK(onr_op_keys_find(&k, k.keys[i].op) == k.keys[i].key, "operator twice");
    }
    rc = onr_op_keys_encode(&k, out, sizeof(out), &len);
    FUZZ_CHECK(rc == ONR_OK && len == size && memcmp(out, data, size) == 0,
               "op_keys do not encode back: %s", onr_error_name(rc));
    FUZZ_CHECK(onr_op_keys_decode(out, len, &back) == ONR_OK && memcmp(&k, &back, sizeof(k)) == 0,
               "op_keys round trip");
}

static void telemetry(const uint8_t *data, size_t size)
{
    struct onr_telemetry t, back;
    char out[ONR_TELEMETRY_MAX + 1];
    size_t len = 0;
    int rc = onr_telemetry_decode(data, size, &t);

    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT || rc == ONR_ETOOBIG, "telemetry: %s", onr_error_name(rc));
        FUZZ_CHECK(zero(&t, sizeof(t)), "refused telemetry not zeroed");
        return;
    }
    FUZZ_CHECK(t.reported ? onr_plmn_check(t.plmn, strlen(t.plmn)) == ONR_OK
                          : t.plmn[0] == '\0' && zero(t.nonce, sizeof(t.nonce)),
               "telemetry's PLMN");
    rc = onr_telemetry_encode(&t, out, sizeof(out), &len);
    FUZZ_CHECK(rc == ONR_OK && len == size && memcmp(out, data, size) == 0,
               "telemetry does not encode back: %s", onr_error_name(rc));
    FUZZ_CHECK(onr_telemetry_decode((const uint8_t *)out, len, &back) == ONR_OK &&
                   memcmp(&t, &back, sizeof(t)) == 0,
               "telemetry round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: policy(data + 1, size - 1); break;
    case 1: op_keys(data + 1, size - 1); break;
    default: telemetry(data + 1, size - 1); break;
    }
    return 0;
}

/*
 * onr_test_pop: device identity keys, proofs of possession and other
 * protocol material for tests that drive the broker and the services with
 * independent MQTT clients.
 *
 *   onr_test_pop new-key KEYFILE
 *       write a new P-256 identity key (mode 0600); print its device id
 *   onr_test_pop proof KEYFILE BROKER_NAME [CLIENT_ID [TIMESTAMP]]
 *       print a fresh 154-byte proof (proto/SPEC.md section 10) as hex;
 *       CLIENT_ID defaults to the key's device id, TIMESTAMP to now
 *   onr_test_pop hello KEYFILE MFR [SENDER [TIMESTAMP]]
 *       print a hello envelope (type 1) signed with KEYFILE for the topic
 *       onr/1/d/SENDER/up/mfr/MFR as hex; SENDER defaults to the key's
 *       device id (another id makes a hello signed by a foreign key)
 *   onr_test_pop revoucher KEYFILE TOKENFILE EXPIRES
 *       print the voucher token in TOKENFILE (a device's stored "voucher")
 *       signed again with KEYFILE (its manufacturer's voucher key), with
 *       `expires` set to EXPIRES: a genuine voucher that has expired
 *   onr_test_pop seal-app-key SEALING_PUB DEV OP PROV
 *       print a random key identifier (16 bytes) followed by a random
 *       application key sealed to provider PROV's X25519 SEALING_PUB as
 *       operator OP would seal it for device DEV (SPEC section 13), as hex:
 *       what a contracted operator can send the provider for any device
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/p256.h"
#include "onramp/pop.h"
#include "onramp/sealed.h"
#include "onramp/topic.h"
#include "onramp/x25519.h"

static int usage(void)
{
    fputs("usage: onr_test_pop new-key KEYFILE\n"
          "       onr_test_pop proof KEYFILE BROKER_NAME [CLIENT_ID [TIMESTAMP]]\n"
          "       onr_test_pop hello KEYFILE MFR [SENDER [TIMESTAMP]]\n"
          "       onr_test_pop revoucher KEYFILE TOKENFILE EXPIRES\n"
          "       onr_test_pop seal-app-key SEALING_PUB DEV OP PROV\n",
          stderr);
    return 2;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "onr_test_pop: %s: %s\n", what, onr_strerror(rc));
    return 1;
}

static void print_hex(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", p[i]);
    putchar('\n');
}

static int hello(const struct onr_p256_key *key, const char *sender, const char *mfr,
                 uint64_t now)
{
    uint8_t out[ONR_ENVELOPE_MAX];
    uint8_t nonce[ONR_NONCE_LEN];
    char topic[ONR_TOPIC_MAX + 1];
    size_t len = 0;
    struct onr_msg msg = {.type = ONR_MSG_HELLO};
    struct onr_envelope_signer self = {
        .role = ONR_ROLE_DEVICE,
        .sender = {(const uint8_t *)sender, strlen(sender)},
        .key = key,
    };
    int rc = onr_random(nonce, sizeof(nonce));

    if (rc == ONR_OK)
        rc = onr_topic_up(sender, ONR_ROLE_MANUFACTURER, mfr, topic, sizeof(topic));
    if (rc != ONR_OK)
        return rc;
    msg.body.hello.nonce = ONR_BYTES(nonce);
    rc = onr_envelope_encode(&msg, &self, (struct onr_bytes){(const uint8_t *)topic,
                                                             strlen(topic)},
                             now, out, sizeof(out), &len, NULL);
    if (rc == ONR_OK)
        print_hex(out, len);
    return rc;
}

static int revoucher(const char *keyfile, const char *tokenfile, uint64_t expires)
{
    struct onr_p256_key *key = NULL;
    struct onr_envelope env;
    struct onr_envelope_signer signer = {.role = ONR_ROLE_MANUFACTURER};
    uint8_t *token = NULL;
    uint8_t out[ONR_ENVELOPE_MAX];
    size_t token_len = 0;
    size_t len = 0;
    int rc;

    rc = onr_p256_load(keyfile, &key);
    if (rc == ONR_OK)
        rc = onr_file_read(tokenfile, ONR_ENVELOPE_MAX, 0, &token, &token_len);
    if (rc == ONR_OK)
        rc = onr_envelope_decode(token, token_len, &env);
    if (rc == ONR_OK && env.msg.type != ONR_MSG_VOUCHER_TOKEN)
        rc = ONR_EMSGTYPE;
    if (rc == ONR_OK) {
        env.msg.body.voucher_token.expires = expires;
        signer.sender = env.sender;
        signer.key = key;
        rc = onr_envelope_encode(&env.msg, &signer, ONR_BYTES_STR(ONR_TOPIC_VOUCHER),
                                 env.timestamp, out, sizeof(out), &len, NULL);
    }
    if (rc == ONR_OK)
        print_hex(out, len);
    free(token);
    onr_p256_free(key);
    return rc == ONR_OK ? 0 : fail("revoucher", rc);
}

static int seal_app_key(const char *pub_path, const char *dev, const char *op,
                        const char *prov)
{
    uint8_t pub[ONR_X25519_KEY_LEN];
    uint8_t kid[ONR_AKMA_KID_LEN];
    uint8_t k_af[ONR_AKMA_KEY_LEN];
    uint8_t sealed[ONR_SEALED_APP_KEY_LEN];
    int rc = onr_x25519_public_load(pub_path, pub);

    if (rc == ONR_OK)
        rc = onr_random(kid, sizeof(kid));
    if (rc == ONR_OK)
        rc = onr_random(k_af, sizeof(k_af));
    if (rc == ONR_OK)
        rc = onr_sealed_app_key_seal(pub, dev, op, prov, kid, k_af, sealed);
    onr_wipe(k_af, sizeof(k_af));
    if (rc != ONR_OK)
        return fail("seal-app-key", rc);
    for (size_t i = 0; i < sizeof(kid); i++)
        printf("%02x", kid[i]);
    print_hex(sealed, sizeof(sealed));
    return 0;
}

int main(int argc, char **argv)
{
    struct onr_p256_key *key = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t proof[ONR_POP_LEN];
    char id[ONR_DEVID_LEN + 1];
    const char *client_id;
    uint64_t now = (uint64_t)time(NULL);
    int rc;

    if (argc == 6 && strcmp(argv[1], "seal-app-key") == 0)
        return seal_app_key(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 5 && strcmp(argv[1], "revoucher") == 0)
        return revoucher(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "new-key") == 0) {
        rc = onr_p256_generate(&key);
        if (rc == ONR_OK)
            rc = onr_p256_save(key, argv[2]);
    } else if ((argc >= 4 && argc <= 6) &&
               (strcmp(argv[1], "proof") == 0 || strcmp(argv[1], "hello") == 0)) {
        rc = onr_p256_load(argv[2], &key);
    } else {
        return usage();
    }
    if (rc != ONR_OK)
        return fail(argv[2], rc);
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc != ONR_OK) {
        onr_p256_free(key);
        return fail("device id", rc);
    }
    if (strcmp(argv[1], "new-key") == 0) {
        printf("%s\n", id);
        onr_p256_free(key);
        return 0;
    }
    client_id = argc >= 5 ? argv[4] : id;
    if (argc == 6)
        now = strtoull(argv[5], NULL, 10);
    if (strcmp(argv[1], "hello") == 0) {
        rc = hello(key, client_id, argv[3], now);
        onr_p256_free(key);
        return rc == ONR_OK ? 0 : fail("hello", rc);
    }
    rc = onr_pop_encode(key, (struct onr_bytes){(const uint8_t *)client_id, strlen(client_id)},
                        (struct onr_bytes){(const uint8_t *)argv[3], strlen(argv[3])}, now, proof);
    onr_p256_free(key);
    if (rc != ONR_OK)
        return fail("proof", rc);
    print_hex(proof, sizeof(proof));
    return 0;
}

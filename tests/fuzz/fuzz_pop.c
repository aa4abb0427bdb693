/*
 * The proof of possession a device sends in CONNECT (proto/SPEC.md section
 * 10), checked the way the broker plugin checks it (broker-plugins/src/
 * auth.c: the client id as mosquitto hands it over, bounded with strnlen;
 * the plugin's configured broker name; a replay cache).
 *
 * Input: a flags byte, a length byte and that many bytes of client id,
 * then the authentication data. Flag 1: the client id is instead the
 * device id of the key inside the proof (so mutations reach the time and
 * signature checks); flag 2: "now" is the proof's own timestamp.
 * Checks: what a verified proof reports is what it carries; the same proof
 * again is a replay; any changed byte of a verified proof, of its client
 * id or broker name makes it fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/pop.h"
#include "onramp/replay.h"

#define WINDOW 300

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static uint64_t proof_time(const uint8_t *proof)
{
    uint64_t ts = 0;

    for (int i = 0; i < 8; i++)
        ts = ts << 8 | proof[1 + ONR_P256_PUB_LEN + i];
    return ts;
}

/* As the plugin does it: a NUL-terminated client id and broker name. */
static int plugin_verify(const uint8_t *proof, size_t len, const char *client_id,
                         const char *broker, uint64_t now, struct onr_replay *replay,
                         struct onr_pop *out)
{
    return onr_pop_verify(proof, len,
                          (struct onr_bytes){(const uint8_t *)client_id,
                                             strnlen(client_id, ONR_POP_MAX_NAME + 1)},
                          (struct onr_bytes){(const uint8_t *)broker, strlen(broker)}, now,
                          WINDOW, 0, replay, out);
}

/* A verified proof must stop verifying when any one input changes. */
static void tampered(const uint8_t *proof, const char *client_id, uint64_t now, uint8_t which)
{
    uint8_t copy[ONR_POP_LEN];
    char id[ONR_POP_MAX_NAME + 2];
    int rc;

    memcpy(copy, proof, sizeof(copy));
    if (which % 3 == 0) {
        copy[which % ONR_POP_LEN] ^= (uint8_t)(1u << (which % 8));
        rc = plugin_verify(copy, sizeof(copy), client_id, FUZZ_BROKER, now, NULL, NULL);
        FUZZ_CHECK(rc != ONR_OK, "proof byte %u changed, still verifies", which % ONR_POP_LEN);
    } else if (which % 3 == 1) {
        snprintf(id, sizeof(id), "%s", client_id);
        id[which % strlen(id)] ^= 0x01;
        rc = plugin_verify(copy, sizeof(copy), id, FUZZ_BROKER, now, NULL, NULL);
        FUZZ_CHECK(rc != ONR_OK, "another client id, still verifies");
    } else {
        rc = plugin_verify(copy, sizeof(copy), client_id, "bootstrap-2", now, NULL, NULL);
        FUZZ_CHECK(rc != ONR_OK, "another broker, still verifies");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char client_id[256 + 1];
    struct onr_replay *replay = NULL;
    struct onr_pop pop;
    const uint8_t *proof;
    size_t proof_len;
    uint64_t now = FUZZ_NOW;
    uint8_t flags;
    size_t id_len;
    int rc;

    if (size < 2)
        return 0;
    flags = data[0];
    id_len = data[1];
    if (size - 2 < id_len)
        return 0;
    memcpy(client_id, data + 2, id_len);
    client_id[id_len] = '\0';
    proof = data + 2 + id_len;
    proof_len = size - 2 - id_len;
    if ((flags & 1) && proof_len == ONR_POP_LEN &&
        onr_devid_from_public(proof + 1, client_id) != ONR_OK)
        return 0;
    if ((flags & 2) && proof_len == ONR_POP_LEN)
        now = proof_time(proof);
    /* the plugin refuses an empty client id before verifying */
    if (client_id[0] == '\0')
        return 0;

    FUZZ_CHECK(onr_replay_new(4, &replay) == ONR_OK, "replay cache");
    rc = plugin_verify(proof, proof_len, client_id, FUZZ_BROKER, now, replay, &pop);
    if (rc == ONR_OK) {
        FUZZ_CHECK(proof_len == ONR_POP_LEN && proof[0] == ONR_POP_VERSION, "shape");
        FUZZ_CHECK(memcmp(pop.public_key, proof + 1, ONR_P256_PUB_LEN) == 0 &&
                       pop.timestamp == proof_time(proof) &&
                       memcmp(pop.nonce, proof + 1 + ONR_P256_PUB_LEN + 8, ONR_POP_NONCE_LEN) == 0,
                   "what the proof says");
        FUZZ_CHECK(onr_devid_matches(client_id, strlen(client_id), pop.public_key) == ONR_OK,
                   "admitted a client id that is not the key's");
        rc = plugin_verify(proof, proof_len, client_id, FUZZ_BROKER, now, replay, NULL);
        FUZZ_CHECK(rc == ONR_EREPLAY, "second use: %s", onr_error_name(rc));
        tampered(proof, client_id, now, flags >> 2);
    } else {
        FUZZ_CHECK(rc < 0, "verify returned %d", rc);
        FUZZ_CHECK(onr_replay_count(replay) == 0, "a refused proof was recorded");
    }
    onr_replay_free(replay);
    return 0;
}

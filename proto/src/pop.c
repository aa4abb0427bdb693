#include "onramp/pop.h"

#include <string.h>

#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/replay.h"

#define POP_CONTEXT "onramp/1 pop"

/* Offsets in the proof. */
enum {
    OFF_VERSION = 0,
    OFF_PUB = 1,
    OFF_TS = OFF_PUB + ONR_P256_PUB_LEN,
    OFF_NONCE = OFF_TS + 8,
    OFF_SIG = OFF_NONCE + ONR_POP_NONCE_LEN,
};

static int name_ok(struct onr_bytes name)
{
    return name.ptr != NULL && name.len > 0 && name.len <= ONR_POP_MAX_NAME;
}

/* The signed input as parts; `lens` holds the two u16be lengths. */
static void signed_parts(struct onr_bytes client_id, struct onr_bytes broker,
                         const uint8_t *ts_and_nonce, uint8_t lens[4],
                         struct onr_bytes parts[6])
{
    lens[0] = (uint8_t)(client_id.len >> 8);
    lens[1] = (uint8_t)client_id.len;
    lens[2] = (uint8_t)(broker.len >> 8);
    lens[3] = (uint8_t)broker.len;
    parts[0] = (struct onr_bytes){(const uint8_t *)POP_CONTEXT, sizeof(POP_CONTEXT)};
    parts[1] = (struct onr_bytes){lens, 2};
    parts[2] = client_id;
    parts[3] = (struct onr_bytes){lens + 2, 2};
    parts[4] = broker;
    parts[5] = (struct onr_bytes){ts_and_nonce, 8 + ONR_POP_NONCE_LEN};
}

int onr_pop_encode(const struct onr_p256_key *key, struct onr_bytes client_id,
                   struct onr_bytes broker, uint64_t now, uint8_t out[ONR_POP_LEN])
{
    struct onr_bytes parts[6];
    uint8_t lens[4];
    int rc;

    if (key == NULL || out == NULL || !name_ok(client_id) || !name_ok(broker))
        return ONR_EINVAL;
    out[OFF_VERSION] = ONR_POP_VERSION;
    rc = onr_p256_public(key, out + OFF_PUB);
    if (rc != ONR_OK)
        return rc;
    for (int i = 0; i < 8; i++)
        out[OFF_TS + i] = (uint8_t)(now >> (56 - 8 * i));
    rc = onr_random(out + OFF_NONCE, ONR_POP_NONCE_LEN);
    if (rc != ONR_OK)
        return rc;
    signed_parts(client_id, broker, out + OFF_TS, lens, parts);
    return onr_p256_sign(key, parts, 6, out + OFF_SIG);
}

int onr_pop_verify(const uint8_t *data, size_t len, struct onr_bytes client_id,
                   struct onr_bytes broker, uint64_t now, uint32_t window,
                   uint64_t not_before, struct onr_replay *replay, struct onr_pop *out)
{
    struct onr_bytes parts[6];
    uint8_t lens[4];
    uint64_t ts = 0;
    uint64_t skew;
    int rc;

    if (data == NULL || !name_ok(client_id) || !name_ok(broker))
        return ONR_EINVAL;
    if (len != ONR_POP_LEN)
        return ONR_ELENGTH;
    if (data[OFF_VERSION] != ONR_POP_VERSION)
        return ONR_EVERSION;
    /* The client id must be the key's own device id: a proof for one id
     * never admits another. */
    rc = onr_devid_matches((const char *)client_id.ptr, client_id.len, data + OFF_PUB);
    if (rc != ONR_OK)
        return ONR_EBADKEY;
    for (int i = 0; i < 8; i++)
        ts = ts << 8 | data[OFF_TS + i];
    skew = ts > now ? ts - now : now - ts;
    if (skew > window || ts < not_before)
        return ONR_ESTALE;
    signed_parts(client_id, broker, data + OFF_TS, lens, parts);
    rc = onr_p256_verify(data + OFF_PUB, parts, 6, data + OFF_SIG);
    if (rc != ONR_OK)
        return rc;
    if (replay != NULL) {
        const struct onr_bytes name[] = {client_id, {data + OFF_NONCE, ONR_POP_NONCE_LEN}};
        uint64_t expires = ts > UINT64_MAX - window ? UINT64_MAX : ts + window;

        rc = onr_replay_add(replay, name, 2, expires, now);
        if (rc != ONR_OK)
            return rc;
    }
    if (out != NULL) {
        memcpy(out->public_key, data + OFF_PUB, ONR_P256_PUB_LEN);
        out->timestamp = ts;
        memcpy(out->nonce, data + OFF_NONCE, ONR_POP_NONCE_LEN);
    }
    return ONR_OK;
}

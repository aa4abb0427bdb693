#include "onramp/envelope.h"

#include <string.h>

#include "codec_internal.h"
#include "msg_internal.h"
#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/hash.h"
#include "onramp/replay.h"
#include "onramp/text.h"

/* The context string, sent with its terminating NUL as the separator. */
#define ENVELOPE_CONTEXT "onramp/1 envelope"
#define ELEMENTS 8
enum { E_VERSION, E_TYPE, E_ID, E_TIMESTAMP, E_ROLE, E_SENDER, E_BODY, E_AUTH };

/* An envelope is an array holding a map of scalars: depth 2. */
static const struct onr_codec_limits *envelope_limits(void)
{
    static struct onr_codec_limits lim;

    lim = onr_codec_default_limits;
    lim.max_depth = 2;
    return &lim;
}

static int role_known(uint64_t role)
{
    return role >= ONR_ROLE_DEVICE && role <= ONR_ROLE_BROKER;
}

/* Device senders are device ids; services and tools are short ids. */
static int check_sender(enum onr_role role, struct onr_bytes sender)
{
    if (role == ONR_ROLE_DEVICE)
        return onr_devid_check((const char *)sender.ptr, sender.len);
    if (sender.len == 0 || sender.len > ONR_SERVICE_ID_MAX)
        return ONR_ELENGTH;
    return onr_text_check(ONR_TEXT_ID, sender);
}

static size_t auth_len(enum onr_auth_kind kind)
{
    switch (kind) {
    case ONR_AUTH_SIG: return ONR_P256_SIG_LEN;
    case ONR_AUTH_MAC: return ONR_ENVELOPE_MAC_LEN;
    default: return 0;
    }
}

/* The authenticated input, as parts: context, topic length, topic, bytes. */
static int auth_parts(struct onr_bytes topic, struct onr_bytes authed, uint8_t topic_len[2],
                      struct onr_bytes parts[4])
{
    if ((topic.ptr == NULL && topic.len > 0) || topic.len > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    topic_len[0] = (uint8_t)(topic.len >> 8);
    topic_len[1] = (uint8_t)topic.len;
    parts[0] = (struct onr_bytes){(const uint8_t *)ENVELOPE_CONTEXT, sizeof(ENVELOPE_CONTEXT)};
    parts[1] = (struct onr_bytes){topic_len, 2};
    parts[2] = topic;
    parts[3] = authed;
    return ONR_OK;
}

int onr_envelope_encode(const struct onr_msg *msg, const struct onr_envelope_signer *signer,
                        struct onr_bytes topic, uint64_t now, uint8_t *out, size_t cap,
                        size_t *out_len, uint8_t id_out[ONR_MSG_ID_LEN])
{
    struct onr_bytes parts[4];
    uint8_t topic_len[2];
    uint8_t id[ONR_MSG_ID_LEN];
    uint8_t tag[ONR_P256_SIG_LEN];
    enum onr_auth_kind auth = ONR_AUTH_NONE;
    unsigned roles = 0;
    struct onr_writer w;
    size_t authed_len;
    int rc;

    if (msg == NULL || signer == NULL || out == NULL || out_len == NULL)
        return ONR_EINVAL;
    *out_len = 0;
    rc = onr_msg_type_rules((int)msg->type, &auth, &roles);
    if (rc != ONR_OK)
        return rc;
    if (!role_known(signer->role) || !(roles & (1u << signer->role)))
        return ONR_ESCHEMA;
    if ((auth == ONR_AUTH_SIG && signer->key == NULL) ||
        (auth == ONR_AUTH_MAC && signer->mac_key.len == 0))
        return ONR_EINVAL;
    rc = check_sender(signer->role, signer->sender);
    if (rc != ONR_OK)
        return rc;
    rc = onr_random(id, sizeof(id));
    if (rc != ONR_OK)
        return rc;

    onr_writer_init(&w, out, cap < ONR_ENVELOPE_MAX ? cap : ONR_ENVELOPE_MAX);
    onr_write_array(&w, ELEMENTS);
    onr_write_uint(&w, ONR_PROTOCOL_VERSION);
    onr_write_uint(&w, (uint64_t)msg->type);
    onr_write_bin(&w, ONR_BYTES(id));
    onr_write_uint(&w, now);
    onr_write_uint(&w, (uint64_t)signer->role);
    onr_write_bytes_str(&w, signer->sender);
    rc = onr_msg_body_write(msg, &w);
    if (rc == ONR_OK)
        rc = onr_writer_finish(&w);
    if (rc != ONR_OK)
        return rc;

    authed_len = w.len;
    rc = auth_parts(topic, (struct onr_bytes){out, authed_len}, topic_len, parts);
    if (rc != ONR_OK)
        return rc;
    switch (auth) {
    case ONR_AUTH_SIG:
        rc = onr_p256_sign(signer->key, parts, 4, tag);
        break;
    case ONR_AUTH_MAC:
        rc = onr_hmac_sha256(signer->mac_key, parts, 4, tag);
        break;
    default:
        break;
    }
    if (rc != ONR_OK)
        return rc;
    if (auth == ONR_AUTH_NONE)
        onr_write_nil(&w);
    else
        onr_write_bin(&w, (struct onr_bytes){tag, auth_len(auth)});
    rc = onr_writer_finish(&w);
    if (rc != ONR_OK)
        return rc;
    *out_len = w.len;
    if (id_out != NULL)
        memcpy(id_out, id, sizeof(id));
    return ONR_OK;
}

/* Element checks, in array order; the first failure is reported. */
static int read_header(const msgpack_object *e, struct onr_envelope *env)
{
    enum onr_auth_kind auth = ONR_AUTH_NONE;
    unsigned roles = 0;
    int rc;

    if (e[E_VERSION].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ONR_ETYPE;
    if (e[E_VERSION].via.u64 != ONR_PROTOCOL_VERSION)
        return ONR_EVERSION;
    env->version = e[E_VERSION].via.u64;

    if (e[E_TYPE].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ONR_ETYPE;
    if (e[E_TYPE].via.u64 > INT32_MAX)
        return ONR_EMSGTYPE;
    rc = onr_msg_type_rules((int)e[E_TYPE].via.u64, &auth, &roles);
    if (rc != ONR_OK)
        return rc;

    if (e[E_ID].type != MSGPACK_OBJECT_BIN)
        return ONR_ETYPE;
    if (e[E_ID].via.bin.size != ONR_MSG_ID_LEN)
        return ONR_ELENGTH;
    memcpy(env->id, e[E_ID].via.bin.ptr, ONR_MSG_ID_LEN);

    if (e[E_TIMESTAMP].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ONR_ETYPE;
    env->timestamp = e[E_TIMESTAMP].via.u64;

    if (e[E_ROLE].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ONR_ETYPE;
    if (!role_known(e[E_ROLE].via.u64) || !(roles & (1u << e[E_ROLE].via.u64)))
        return ONR_ESCHEMA;
    env->sender_role = (enum onr_role)e[E_ROLE].via.u64;

    if (e[E_SENDER].type != MSGPACK_OBJECT_STR)
        return ONR_ETYPE;
    env->sender = (struct onr_bytes){(const uint8_t *)e[E_SENDER].via.str.ptr,
                                     e[E_SENDER].via.str.size};
    rc = check_sender(env->sender_role, env->sender);
    if (rc != ONR_OK)
        return rc;

    env->auth = auth;
    return ONR_OK;
}

static int read_auth(const msgpack_object *a, struct onr_envelope *env)
{
    if (env->auth == ONR_AUTH_NONE)
        return a->type == MSGPACK_OBJECT_NIL ? ONR_OK : ONR_EAUTHKIND;
    if (a->type != MSGPACK_OBJECT_BIN)
        return ONR_EAUTHKIND;
    if (a->via.bin.size != auth_len(env->auth))
        return ONR_ELENGTH;
    env->auth_tag = (struct onr_bytes){(const uint8_t *)a->via.bin.ptr, a->via.bin.size};
    return ONR_OK;
}

int onr_envelope_decode(const uint8_t *buf, size_t len, struct onr_envelope *env)
{
    msgpack_unpacked obj;
    size_t offsets[ELEMENTS];
    size_t n_elements = 0;
    const msgpack_object *e;
    int rc;

    if (buf == NULL || env == NULL)
        return ONR_EINVAL;
    memset(env, 0, sizeof(*env));
    rc = onr_codec_unpack(buf, len, envelope_limits(), &obj, offsets, ELEMENTS, &n_elements);
    if (rc != ONR_OK)
        return rc;
    if (obj.data.type != MSGPACK_OBJECT_ARRAY || obj.data.via.array.size != ELEMENTS ||
        n_elements != ELEMENTS) {
        rc = ONR_ETYPE;
        goto out;
    }
    e = obj.data.via.array.ptr;
    rc = read_header(e, env);
    if (rc != ONR_OK)
        goto out;
    if (e[E_BODY].type != MSGPACK_OBJECT_MAP) {
        rc = ONR_ETYPE;
        goto out;
    }
    rc = onr_msg_body_read((int)e[E_TYPE].via.u64, &e[E_BODY], &env->msg);
    if (rc != ONR_OK)
        goto out;
    rc = read_auth(&e[E_AUTH], env);
    if (rc != ONR_OK)
        goto out;
    env->authed = (struct onr_bytes){buf, offsets[E_AUTH]};
    env->raw = (struct onr_bytes){buf, len};
out:
    msgpack_unpacked_destroy(&obj);
    if (rc != ONR_OK)
        memset(env, 0, sizeof(*env));
    return rc;
}

int onr_envelope_verify_sig(const struct onr_envelope *env, struct onr_bytes topic,
                            const uint8_t pub[ONR_P256_PUB_LEN])
{
    struct onr_bytes parts[4];
    uint8_t topic_len[2];
    int rc;

    if (env == NULL || pub == NULL)
        return ONR_EINVAL;
    if (env->auth != ONR_AUTH_SIG || env->auth_tag.len != ONR_P256_SIG_LEN)
        return ONR_EAUTHKIND;
    rc = auth_parts(topic, env->authed, topic_len, parts);
    if (rc != ONR_OK)
        return rc;
    return onr_p256_verify(pub, parts, 4, env->auth_tag.ptr);
}

int onr_envelope_verify_mac(const struct onr_envelope *env, struct onr_bytes topic,
                            struct onr_bytes key)
{
    struct onr_bytes parts[4];
    uint8_t topic_len[2];
    uint8_t tag[ONR_ENVELOPE_MAC_LEN];
    int rc;

    if (env == NULL || key.ptr == NULL || key.len == 0)
        return ONR_EINVAL;
    if (env->auth != ONR_AUTH_MAC || env->auth_tag.len != ONR_ENVELOPE_MAC_LEN)
        return ONR_EAUTHKIND;
    rc = auth_parts(topic, env->authed, topic_len, parts);
    if (rc != ONR_OK)
        return rc;
    rc = onr_hmac_sha256(key, parts, 4, tag);
    if (rc != ONR_OK)
        return rc;
    rc = onr_equal_ct(tag, env->auth_tag.ptr, sizeof(tag)) ? ONR_OK : ONR_EBADMAC;
    onr_wipe(tag, sizeof(tag));
    return rc;
}

int onr_envelope_accept(const struct onr_envelope *env, uint64_t now, uint32_t window,
                        struct onr_replay *replay)
{
    uint8_t role;
    uint8_t sender_len;
    uint64_t skew;
    uint64_t expires;

    if (env == NULL)
        return ONR_EINVAL;
    skew = env->timestamp > now ? env->timestamp - now : now - env->timestamp;
    if (skew > window)
        return ONR_ESTALE;
    if (replay == NULL)
        return ONR_OK;
    role = (uint8_t)env->sender_role;
    sender_len = (uint8_t)env->sender.len;
    {
        const struct onr_bytes parts[] = {
            {&role, 1},
            {&sender_len, 1},
            env->sender,
            ONR_BYTES(env->id),
        };

        /* Kept until the timestamp leaves the window: then ESTALE guards. */
        expires = env->timestamp > UINT64_MAX - window ? UINT64_MAX : env->timestamp + window;
        return onr_replay_add(replay, parts, 4, expires, now);
    }
}

int onr_envelope_verify(const struct onr_envelope *env, struct onr_bytes topic,
                        const uint8_t pub[ONR_P256_PUB_LEN], uint64_t now, uint32_t window,
                        struct onr_replay *replay)
{
    int rc = onr_envelope_verify_sig(env, topic, pub);

    if (rc != ONR_OK)
        return rc;
    return onr_envelope_accept(env, now, window, replay);
}
